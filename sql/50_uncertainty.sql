-- Accuracy with 95% bootstrap confidence intervals. bootstrap_ci is computed by the metric
-- build (resampling clips with replacement, so questions on one clip move together; fixed seed).
CREATE OR REPLACE TABLE metrics_by_group AS
SELECT a.*, b.ci_low, b.ci_high, b.n_resamples
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
    c.macro_accuracy,
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
WHERE o.group_by = 'overall';

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
