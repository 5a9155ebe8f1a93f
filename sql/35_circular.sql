-- Circular evaluation (models with `circular: true`): an item counts right only if it is right
-- under every distinct rotation of its options (a duplicated rotation never completes an item; a
-- missing rotation counts as wrong). circular_chance is what uniform guessing scores: (1/k)^k.
CREATE OR REPLACE TABLE circular_items AS
WITH circular_models AS (
    SELECT DISTINCT model FROM predictions WHERE rotation > 0
)
SELECT
    m.model,
    q.instance_id,
    q.n_options,
    count(DISTINCT p.rotation) FILTER (WHERE p.rotation < q.n_options) AS n_rotations,
    count(DISTINCT p.rotation) FILTER (WHERE p.rotation < q.n_options) = q.n_options
        AND coalesce(bool_and(p.status = 'ok' AND p.parsed_answer = q.answer), false) AS circular_correct
FROM circular_models m
CROSS JOIN qa_instances q
LEFT JOIN predictions p
       ON p.model = m.model AND p.instance_id = q.instance_id AND p.instance_content_hash = q.content_hash
WHERE q.question_type <> 'temporal'
GROUP BY m.model, q.instance_id, q.n_options;

CREATE OR REPLACE TABLE circular_metrics AS
SELECT
    model,
    count(*) AS n_instances,
    avg(circular_correct::INT) AS circular_accuracy,
    avg((n_rotations = n_options)::INT) AS complete_rate,
    avg(pow(1.0 / n_options, n_options)) AS circular_chance
FROM circular_items
GROUP BY model;
