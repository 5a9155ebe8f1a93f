-- Accuracy of choice questions (mcq, yes_no, drama) per model and per grouping. Two readings:
--   accuracy          = correct / all instances (missing, error and unparseable cells count as wrong)
--   accuracy_answered = correct / cells with an 'ok' answer (non-answers excluded)
-- chance is the mean of 1/k over the same instances.
CREATE OR REPLACE TABLE metrics_by_group AS
SELECT
    model,
    CASE
        WHEN grouping(dimension) = 0 THEN 'dimension'
        WHEN grouping(category) = 0 THEN 'category'
        WHEN grouping(subset) = 0 THEN 'subset'
        WHEN grouping(question_type) = 0 THEN 'question_type'
        WHEN grouping(source_generator) = 0 THEN 'source_generator'
        ELSE 'overall'
    END AS group_by,
    coalesce(dimension, category, subset, question_type, source_generator, 'all') AS group_value,
    count(*) AS n_instances,
    count(*) FILTER (WHERE answered) AS n_answered,
    count(*) FILTER (WHERE correct) AS n_correct,
    count(*) FILTER (WHERE correct)::DOUBLE / count(*) AS accuracy,
    count(*) FILTER (WHERE correct)::DOUBLE / nullif(count(*) FILTER (WHERE answered), 0) AS accuracy_answered,
    avg(chance) AS chance,
    count(*) FILTER (WHERE status = 'unparseable')::DOUBLE / count(*) AS unparseable_rate,
    count(*) FILTER (WHERE status IN ('error', 'timeout', 'rate_limited'))::DOUBLE / count(*) AS error_rate,
    count(*) FILTER (WHERE status = 'refused')::DOUBLE / count(*) AS refused_rate,
    count(*) FILTER (WHERE status = 'missing')::DOUBLE / count(*) AS missing_rate
FROM scores
WHERE question_type <> 'temporal'
GROUP BY GROUPING SETS (
    (model), (model, dimension), (model, category), (model, subset), (model, question_type), (model, source_generator)
);

-- Overall per model, with the macro average over categories beside the micro average.
CREATE OR REPLACE TABLE metrics_by_model AS
SELECT
    o.model,
    o.n_instances,
    o.n_answered,
    o.n_correct,
    o.accuracy,
    o.accuracy_answered,
    c.macro_accuracy,
    o.chance,
    o.unparseable_rate,
    o.error_rate,
    o.refused_rate,
    o.missing_rate
FROM metrics_by_group o
LEFT JOIN (
    SELECT model, avg(accuracy) AS macro_accuracy FROM metrics_by_group WHERE group_by = 'category' GROUP BY model
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
SELECT * EXCLUDE (group_by) RENAME (group_value AS source_generator) FROM metrics_by_group WHERE group_by = 'source_generator';
