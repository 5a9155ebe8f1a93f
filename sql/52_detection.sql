-- detection_metrics: detection_points (45_detection.sql) with the clustered bootstrap interval of
-- each metric (detection_ci, computed by the metric build from the same resamples as every other
-- interval). A group's interval expands by that group's own number of clusters; with fewer than 5
-- clusters it is NULL and ci_note says so.
CREATE OR REPLACE TABLE detection_metrics AS
SELECT
    p.model, p.dimension, p.category, p.generator, p.n, p.prevalence,
    p.sensitivity, c.sensitivity_ci_low, c.sensitivity_ci_high,
    p.specificity, c.specificity_ci_low, c.specificity_ci_high,
    p.balanced_accuracy, c.balanced_accuracy_ci_low, c.balanced_accuracy_ci_high,
    p.yes_ratio, c.yes_ratio_ci_low, c.yes_ratio_ci_high,
    p.kappa, c.kappa_ci_low, c.kappa_ci_high,
    p.mcc, c.mcc_ci_low, c.mcc_ci_high,
    p.f1, c.f1_ci_low, c.f1_ci_high,
    c.n_clusters, c.ci_note,
    p.tp, p.fn, p.fp, p.tn
FROM detection_points p
LEFT JOIN detection_ci c
       ON c.model = p.model
      AND c.dimension IS NOT DISTINCT FROM p.dimension
      AND c.category IS NOT DISTINCT FROM p.category
      AND c.generator IS NOT DISTINCT FROM p.generator;
