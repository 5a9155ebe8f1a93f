-- Which failure an evaluator takes for which: for mcq questions whose every option names a failure
-- category of this benchmark (its text is the category with spaces, "lip sync drift") or no failure
-- ("No failure is present", "None of the clips", "No clip ..."), one row per model, gold option's
-- category and chosen option's category ("no failure"; "no answer" for a non-answer), with n and
-- the share of the gold category's questions.
CREATE OR REPLACE TABLE category_confusion AS
WITH known AS (SELECT DISTINCT category FROM qa_instances WHERE category IS NOT NULL),
options AS (
    SELECT instance_id, unnest(options) AS text, generate_subscripts(options, 1) AS position
    FROM qa_instances WHERE question_type = 'mcq'
),
labelled AS (
    SELECT
        o.instance_id,
        o.position,
        CASE WHEN regexp_matches(lower(trim(o.text)), '^(no failure|none of the|no clip)') THEN 'no failure'
             ELSE k.category END AS option_category
    FROM options o
    LEFT JOIN known k ON k.category = regexp_replace(lower(trim(o.text)), '[^a-z0-9]+', '_', 'g')
),
items AS (  -- questions whose every option is a category or no failure
    SELECT instance_id FROM labelled GROUP BY instance_id HAVING count(option_category) = count(*)
),
answers AS (
    SELECT
        s.model,
        s.instance_id,
        g.option_category AS gold_category,
        CASE WHEN s.answered THEN c.option_category ELSE 'no answer' END AS chosen_category
    FROM scores s
    JOIN items USING (instance_id)
    JOIN labelled g ON g.instance_id = s.instance_id AND g.position = ascii(s.gold_answer) - 64
    LEFT JOIN labelled c ON c.instance_id = s.instance_id AND c.position = ascii(s.parsed_answer) - 64
    WHERE s.question_type = 'mcq'
)
SELECT
    model,
    gold_category,
    chosen_category,
    count(*) AS n,
    count(*)::DOUBLE / sum(count(*)) OVER (PARTITION BY model, gold_category) AS share
FROM answers
GROUP BY model, gold_category, chosen_category
ORDER BY model, gold_category, chosen_category;
