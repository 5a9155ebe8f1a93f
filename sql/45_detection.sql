-- Yes/no questions scored as a failure detector. The option meaning "the failure is present" is
-- meta.positive when given (a letter, or an option's text), else the "Yes" option; an item with
-- neither is left out. A non-answer counts as wrong: a miss on a positive item, a false alarm on
-- a negative one. Unlabelled questions (subset unlabelled) are items too, with gold_positive NULL:
-- only generator_profile reads them. detection_points holds the point estimates per model, overall (dimension,
-- category and generator NULL) and per dimension, category and generator; the metric build adds
-- the clustered intervals (detection_ci) and 52_detection.sql joins them into detection_metrics.
CREATE OR REPLACE TABLE detection_items AS
WITH yes_no AS (
    SELECT
        instance_id,
        list_transform(options, lambda o: lower(trim(o))) AS folded,
        json_extract_string(meta, '$.positive') AS positive
    FROM qa_instances
    WHERE question_type = 'yes_no'
),
positive AS (
    SELECT
        instance_id,
        CASE
            WHEN positive IN ('A', 'B') THEN positive
            WHEN positive IS NOT NULL AND list_position(folded, lower(trim(positive))) > 0
                THEN chr(64 + list_position(folded, lower(trim(positive))))
            WHEN positive IS NULL AND list_position(folded, 'yes') > 0 THEN chr(64 + list_position(folded, 'yes'))
        END AS positive_letter
    FROM yes_no
)
SELECT
    s.model,
    s.instance_id,
    s.dimension,
    s.category,
    s.source_generator AS generator,
    true AS labelled,
    s.gold_answer = p.positive_letter AS gold_positive,
    CASE WHEN s.answered THEN s.parsed_answer = p.positive_letter ELSE s.gold_answer <> p.positive_letter END
        AS said_positive,
    s.answered
FROM scores s
JOIN positive p USING (instance_id)
WHERE s.question_type = 'yes_no' AND p.positive_letter IS NOT NULL
UNION ALL
-- unlabelled questions (subset unlabelled: new clips, no answer key) of every evaluated model:
-- read for generator_profile only, never for the detector statistics
SELECT
    m.model,
    q.instance_id,
    q.dimension,
    q.category,
    q.source_generator,
    false,
    NULL,
    CASE WHEN pr.status = 'ok' THEN pr.parsed_answer = p.positive_letter END,
    coalesce(pr.status = 'ok', false)
FROM (SELECT DISTINCT model FROM predictions) m
CROSS JOIN qa_instances q
JOIN positive p ON p.instance_id = q.instance_id
LEFT JOIN predictions pr
       ON pr.model = m.model AND pr.instance_id = q.instance_id AND pr.instance_content_hash = q.content_hash
      AND pr.rotation = 0
WHERE q.subset = 'unlabelled' AND q.question_type = 'yes_no' AND p.positive_letter IS NOT NULL;

CREATE OR REPLACE TABLE detection_points AS
WITH counts AS (  -- a grouping set's missing columns are NULL: the overall row has all three NULL
    SELECT
        model, dimension, category, generator,
        count(*) AS n,
        count(*) FILTER (WHERE gold_positive AND said_positive) AS tp,
        count(*) FILTER (WHERE gold_positive AND NOT said_positive) AS fn,
        count(*) FILTER (WHERE NOT gold_positive AND said_positive) AS fp,
        count(*) FILTER (WHERE NOT gold_positive AND NOT said_positive) AS tn
    FROM detection_items
    WHERE labelled
    GROUP BY GROUPING SETS ((model), (model, dimension), (model, category), (model, generator))
),
rates AS (
    SELECT *,
        (tp + fn)::DOUBLE / n AS prevalence,
        tp::DOUBLE / nullif(tp + fn, 0) AS sensitivity,
        tn::DOUBLE / nullif(tn + fp, 0) AS specificity,
        (tp + fp)::DOUBLE / n AS yes_ratio,
        (tp + tn)::DOUBLE / n AS observed_agreement,
        ((tp + fp)::DOUBLE * (tp + fn) + (fn + tn)::DOUBLE * (fp + tn)) / (n::DOUBLE * n) AS chance_agreement
    FROM counts
)
SELECT
    model, dimension, category, generator, n, tp, fn, fp, tn, prevalence, sensitivity, specificity,
    (sensitivity + specificity) / 2 AS balanced_accuracy,
    yes_ratio,
    (observed_agreement - chance_agreement) / nullif(1 - chance_agreement, 0) AS kappa,
    (tp::DOUBLE * tn - fp::DOUBLE * fn)
        / nullif(sqrt((tp + fp)::DOUBLE * (tp + fn) * (tn + fp) * (tn + fn)), 0) AS mcc,
    2.0 * tp / nullif(2 * tp + fp + fn, 0) AS f1
FROM rates;
