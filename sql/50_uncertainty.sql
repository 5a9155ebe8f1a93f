-- Accuracy with 95% bootstrap confidence intervals. bootstrap_ci and headline_ci are computed by
-- the metric build: connected components of the instance-clip graph (clips linked by a shared
-- question or by their episode) are resampled with replacement, fixed seed, the same resamples
-- for every model and metric. ci_digits is the number of decimals the resample count supports. A
-- group's interval (per dimension, category, ...) expands by the clusters its own questions are in;
-- under 5 such clusters it is NULL and ci_note says so.
CREATE OR REPLACE TABLE metrics_by_group AS
SELECT a.*, b.ci_low::DOUBLE AS ci_low, b.ci_high::DOUBLE AS ci_high, b.ci_digits::INT AS ci_digits, b.n_resamples,
       b.ci_note
FROM accuracy_by_group a
LEFT JOIN bootstrap_ci b USING (model, group_by, group_value);

-- Overall per model: micro accuracy (over instances) and macro accuracy (mean over categories).
CREATE OR REPLACE TABLE metrics_by_model AS
SELECT
    o.model,
    o.n_instances,
    o.n_answered,
    o.n_correct,
    o.accuracy,
    o.ci_low,
    o.ci_high,
    o.accuracy_answered,
    o.accuracy_strict,
    o.n_judged,
    c.macro_accuracy,
    h.ci_low::DOUBLE AS macro_accuracy_ci_low,
    h.ci_high::DOUBLE AS macro_accuracy_ci_high,
    c.n_categories,
    o.chance,
    o.unparseable_rate,
    o.error_rate,
    o.refused_rate,
    o.missing_rate
FROM metrics_by_group o
LEFT JOIN (
    SELECT model, avg(accuracy) AS macro_accuracy, count(*) AS n_categories
    FROM metrics_by_group WHERE group_by = 'category' GROUP BY model
) c USING (model)
LEFT JOIN headline_ci h ON h.model = o.model AND h.metric = 'macro_accuracy'
WHERE o.group_by = 'overall';

-- Every headline number of every model with its interval, one row per (model, metric).
CREATE OR REPLACE TABLE headline_metrics AS
WITH v AS (
    SELECT model, 'accuracy' AS metric, accuracy AS value FROM metrics_by_model
    UNION ALL SELECT model, 'macro_accuracy', macro_accuracy FROM metrics_by_model
    UNION ALL SELECT model, 'temporal_miou', miou FROM temporal_metrics WHERE dimension = 'all'
    UNION ALL SELECT model, 'temporal_r1_at_0_5', r1_iou_0_5 FROM temporal_metrics WHERE dimension = 'all'
    UNION ALL SELECT model, 'drama_accuracy', accuracy FROM short_drama_metrics
    UNION ALL SELECT model, 'episode_consistency', episode_consistency FROM short_drama_metrics
    UNION ALL SELECT model, 'circular_accuracy', circular_accuracy FROM circular_metrics
)
SELECT v.model, v.metric, v.value, h.ci_low::DOUBLE AS ci_low, h.ci_high::DOUBLE AS ci_high,
       h.ci_digits::INT AS ci_digits, h.n_resamples
FROM v LEFT JOIN headline_ci h USING (model, metric);

CREATE OR REPLACE VIEW metrics_by_dimension AS
SELECT * EXCLUDE (group_by) RENAME (group_value AS dimension) FROM metrics_by_group WHERE group_by = 'dimension';
CREATE OR REPLACE VIEW metrics_by_category AS
SELECT * EXCLUDE (group_by) RENAME (group_value AS category) FROM metrics_by_group WHERE group_by = 'category';
CREATE OR REPLACE VIEW metrics_by_subset AS
SELECT * EXCLUDE (group_by) RENAME (group_value AS subset) FROM metrics_by_group WHERE group_by = 'subset';
CREATE OR REPLACE VIEW metrics_by_question_type AS
SELECT * EXCLUDE (group_by) RENAME (group_value AS question_type) FROM metrics_by_group WHERE group_by = 'question_type';
CREATE OR REPLACE VIEW metrics_by_generator AS
SELECT * EXCLUDE (group_by) RENAME (group_value AS source_generator)
FROM metrics_by_group WHERE group_by = 'source_generator';
