-- Accuracy of choice questions (mcq, yes_no, drama) per model and per grouping. Two readings:
--   accuracy          = correct / all instances (missing, error and unparseable cells count as wrong)
--   accuracy_answered = correct / cells with an 'ok' answer (non-answers excluded)
--   accuracy_strict   = like accuracy, counting only answers the rules read (a judge's reading
--                       counts as unparseable); equal to accuracy for entries without a judge
-- chance is the mean of 1/k over the same instances. Confidence intervals are added in
-- 50_uncertainty.sql from the clustered bootstrap.
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
    count(*) AS n_instances,
    count(*) FILTER (WHERE answered) AS n_answered,
    count(*) FILTER (WHERE correct) AS n_correct,
    count(*) FILTER (WHERE correct)::DOUBLE / count(*) AS accuracy,
    count(*) FILTER (WHERE correct_strict)::DOUBLE / count(*) AS accuracy_strict,
    count(*) FILTER (WHERE parsed_by = 'judge') AS n_judged,
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
