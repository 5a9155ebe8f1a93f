-- Position bias: the share of each answer letter a model gives, against the gold share, per
-- question type; summarised as total variation distance (0 = same distribution as the key).
CREATE OR REPLACE TABLE answer_distribution AS
WITH letters AS (
    SELECT DISTINCT s.model, q.question_type, chr(65 + i::INT) AS letter
    FROM (SELECT DISTINCT model FROM scores) s
    CROSS JOIN (SELECT DISTINCT question_type, n_options FROM qa_instances WHERE question_type <> 'temporal') q
    CROSS JOIN range(0, 26) r(i)
    WHERE i < q.n_options
),
predicted AS (
    SELECT model, question_type, parsed_answer AS letter, count(*) AS n
    FROM scores WHERE question_type <> 'temporal' AND status = 'ok' GROUP BY ALL
),
gold AS (
    SELECT question_type, answer AS letter, count(*) AS n FROM qa_instances WHERE answer IS NOT NULL GROUP BY ALL
)
SELECT
    l.model,
    l.question_type,
    l.letter,
    coalesce(p.n, 0) AS n_predicted,
    coalesce(p.n, 0) / nullif(sum(coalesce(p.n, 0)) OVER (PARTITION BY l.model, l.question_type), 0) AS share_predicted,
    coalesce(g.n, 0) AS n_gold,
    coalesce(g.n, 0) / nullif(sum(coalesce(g.n, 0)) OVER (PARTITION BY l.model, l.question_type), 0) AS share_gold
FROM letters l
LEFT JOIN predicted p USING (model, question_type, letter)
LEFT JOIN gold g USING (question_type, letter);

CREATE OR REPLACE TABLE position_bias AS
SELECT
    model,
    question_type,
    sum(n_predicted)::BIGINT AS n_answered,
    0.5 * sum(abs(coalesce(share_predicted, 0) - coalesce(share_gold, 0))) AS total_variation_distance,
    arg_max(letter, share_predicted) AS most_chosen_letter,
    max(share_predicted) AS most_chosen_share
FROM answer_distribution
GROUP BY model, question_type;

-- Circular evaluation (models with `circular: true`): an item counts right only if it is right
-- under every rotation of its options; a missing rotation counts as wrong.
CREATE OR REPLACE TABLE circular_metrics AS
WITH circular_models AS (
    SELECT DISTINCT model FROM predictions WHERE coalesce(rotation, 0) > 0
),
per_item AS (
    SELECT
        m.model,
        q.instance_id,
        q.n_options,
        count(p.rotation) AS n_rotations,
        coalesce(bool_and(p.status = 'ok' AND p.parsed_answer = q.answer), false) AS right_in_answered
    FROM circular_models m
    CROSS JOIN qa_instances q
    LEFT JOIN predictions p
           ON p.model = m.model AND p.instance_id = q.instance_id AND p.instance_content_hash = q.content_hash
    WHERE q.question_type <> 'temporal'
    GROUP BY m.model, q.instance_id, q.n_options
)
SELECT
    model,
    count(*) AS n_instances,
    avg((right_in_answered AND n_rotations = n_options)::INT) AS circular_accuracy,
    avg((n_rotations = n_options)::INT) AS complete_rate
FROM per_item
GROUP BY model;
