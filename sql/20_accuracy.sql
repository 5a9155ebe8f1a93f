-- Accuracy of choice questions (mcq, yes_no, drama) per model and per grouping. Two readings:
--   accuracy          = correct / all instances (missing, error and unparseable cells count as wrong)
--   accuracy_answered = correct / cells with an 'ok' answer (non-answers excluded)
--   accuracy_strict   = like accuracy, counting only answers the rules read (a judge's reading
--                       counts as unparseable); equal to accuracy for entries without a judge
-- chance is the mean of 1/k over the same instances. Confidence intervals are added in
-- 50_uncertainty.sql from the clustered bootstrap. Rows are weighted (scored_runs): an entry with
-- repeats is the mean over its runs, so its counts can be fractional.
CREATE OR REPLACE TABLE accuracy_by_group AS
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
    round(sum(weight))::BIGINT AS n_instances,
    coalesce(sum(weight) FILTER (WHERE answered), 0) AS n_answered,
    coalesce(sum(weight) FILTER (WHERE correct), 0) AS n_correct,
    coalesce(sum(weight) FILTER (WHERE correct), 0) / sum(weight) AS accuracy,
    coalesce(sum(weight) FILTER (WHERE correct_strict), 0) / sum(weight) AS accuracy_strict,
    coalesce(sum(weight) FILTER (WHERE parsed_by = 'judge'), 0) AS n_judged,
    sum(weight) FILTER (WHERE correct) / nullif(sum(weight) FILTER (WHERE answered), 0) AS accuracy_answered,
    sum(weight * chance) / sum(weight) AS chance,
    coalesce(sum(weight) FILTER (WHERE status = 'unparseable'), 0) / sum(weight) AS unparseable_rate,
    coalesce(sum(weight) FILTER (WHERE status IN ('error', 'timeout', 'rate_limited')), 0) / sum(weight) AS error_rate,
    coalesce(sum(weight) FILTER (WHERE status = 'refused'), 0) / sum(weight) AS refused_rate,
    coalesce(sum(weight) FILTER (WHERE status = 'missing'), 0) / sum(weight) AS missing_rate
FROM scored_runs
WHERE question_type <> 'temporal'
GROUP BY GROUPING SETS (
    (model), (model, dimension), (model, category), (model, subset), (model, question_type), (model, source_generator)
);
