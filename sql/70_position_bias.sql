-- Position bias, per model and question type:
--   rstd: the standard deviation (population) of recall across gold answer positions, the RStd of
--         Zheng et al., "Large Language Models Are Not Robust Multiple Choice Selectors" (ICLR
--         2024), as a fraction (x100 for the paper's units); NULL when nothing was answered.
--   answer_distribution / total_variation_distance: the share of each letter a model gives,
--         against the answer key's share (0 = same distribution as the key).
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

CREATE OR REPLACE TABLE recall_by_position AS
SELECT model, question_type, gold_answer AS letter, count(*) AS n_gold, avg(correct::INT) AS recall
FROM scores
WHERE question_type <> 'temporal' AND gold_answer IS NOT NULL
GROUP BY ALL;

CREATE OR REPLACE TABLE position_bias AS
WITH tvd AS (
    SELECT
        model,
        question_type,
        sum(n_predicted)::BIGINT AS n_answered,
        0.5 * sum(abs(coalesce(share_predicted, 0) - coalesce(share_gold, 0))) AS total_variation_distance,
        arg_max(letter, share_predicted) AS most_chosen_letter,
        max(share_predicted) AS most_chosen_share
    FROM answer_distribution
    GROUP BY model, question_type
),
rstd AS (
    SELECT model, question_type, stddev_pop(recall) AS rstd, count(*) AS n_positions
    FROM recall_by_position GROUP BY ALL
)
SELECT t.model, t.question_type, t.n_answered,
       CASE WHEN t.n_answered > 0 THEN r.rstd END AS rstd, r.n_positions,
       t.total_variation_distance, t.most_chosen_letter, t.most_chosen_share
FROM tvd t LEFT JOIN rstd r USING (model, question_type);

-- RStd per number of options (a 2-option and a 5-option question do not spread recall alike),
-- beside the random baseline's RStd for the same question type and option count: the spread that
-- sampling alone produces at this benchmark's size (NULL without a random baseline entry).
CREATE OR REPLACE TABLE position_bias_by_options AS
WITH recall AS (
    SELECT model, question_type, n_options, gold_answer AS letter, avg(correct::INT) AS recall, count(*) AS n
    FROM scores
    WHERE question_type <> 'temporal' AND gold_answer IS NOT NULL
    GROUP BY ALL
),
by_model AS (
    SELECT model, question_type, n_options, stddev_pop(recall) AS rstd, count(*) AS n_positions, sum(n) AS n
    FROM recall GROUP BY ALL
),
reference AS (
    SELECT question_type, n_options, avg(rstd) AS random_rstd
    FROM by_model b
    JOIN (SELECT DISTINCT name FROM models m WHERE m.provider = 'random' AND m.status = 'active') r ON r.name = b.model
    GROUP BY ALL
)
SELECT b.model, b.question_type, b.n_options::INT AS n_options, b.n, b.n_positions, b.rstd, f.random_rstd
FROM by_model b
LEFT JOIN reference f USING (question_type, n_options);
