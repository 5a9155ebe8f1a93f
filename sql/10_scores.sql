-- One row per (model, valid instance). A cell with no prediction for the instance's current
-- content is 'missing'. Errors are statuses: they never count as answers. A temporal answer
-- counts only with both ends finite and start <= end. Only the unrotated question (rotation 0)
-- is scored here; circular evaluation is scored in 35_circular.sql.
CREATE OR REPLACE TABLE scores AS
WITH evaluated_models AS (SELECT DISTINCT model FROM predictions),
cells AS (
    SELECT m.model, q.*
    FROM evaluated_models m CROSS JOIN qa_instances q
    WHERE q.subset <> 'unlabelled'  -- no answer key: asked, read in generator_profile, never scored
)
SELECT
    c.model,
    c.instance_id,
    c.subset,
    c.question_type,
    c.dimension,
    c.category,
    c.source_generator,
    c.clip_ids[1] AS clip_id,
    json_extract_string(c.meta, '$.episode_id') AS episode_id,
    c.n_options,
    CASE WHEN c.question_type = 'temporal' THEN NULL ELSE 1.0 / c.n_options END AS chance,
    coalesce(p.status, 'missing') AS status,
    p.parsed_answer,
    c.answer AS gold_answer,
    p.parsed_span_start,
    p.parsed_span_end,
    c.answer_span_start AS gold_span_start,
    c.answer_span_end AS gold_span_end,
    coalesce(p.status = 'ok' AND (c.question_type <> 'temporal' OR (
        isfinite(p.parsed_span_start) AND isfinite(p.parsed_span_end) AND p.parsed_span_start <= p.parsed_span_end
    )), false) AS answered,
    CASE WHEN c.question_type <> 'temporal'
         THEN coalesce(p.status = 'ok' AND p.parsed_answer = c.answer, false) END AS correct,
    -- parsed_by: 'rules' (the parser), or 'judge' (the entry's judge model read a reply the rules
    -- could not); correct_strict counts only what the rules read
    CASE WHEN p.status = 'ok' THEN coalesce(p.parsed_by, 'rules') END AS parsed_by,
    CASE WHEN c.question_type <> 'temporal'
         THEN coalesce(p.status = 'ok' AND p.parsed_answer = c.answer AND coalesce(p.parsed_by, 'rules') <> 'judge',
                       false) END AS correct_strict,
    CASE WHEN c.question_type = 'temporal' THEN
        CASE WHEN coalesce(p.status = 'ok' AND isfinite(p.parsed_span_start) AND isfinite(p.parsed_span_end)
                           AND p.parsed_span_start <= p.parsed_span_end, false) THEN
            greatest(0.0, least(p.parsed_span_end, c.answer_span_end) - greatest(p.parsed_span_start, c.answer_span_start))
            / nullif(greatest(p.parsed_span_end, c.answer_span_end) - least(p.parsed_span_start, c.answer_span_start), 0)
        ELSE 0.0 END
    END AS iou,
    p.cost_usd,
    p.latency_s,
    p.received_audio
FROM cells c
LEFT JOIN predictions p
       ON p.model = c.model AND p.instance_id = c.instance_id AND p.instance_content_hash = c.content_hash
      AND p.rotation = 0;

-- Every scored row under the entry it counts for, with its weight. An entry with `repeats: N`
-- is measured by all its runs: its own rows and those of each repeat copy (`<name>.r<k>`) count
-- for it with weight 1 / (runs scored), so its accuracy and counts are means over its runs, and
-- the clustered intervals (the per-cluster sums of those means vary with the runs) include the
-- between-repeat variance. A copy's rows also count for the copy itself (weight 1), as does
-- every row of an entry without repeats. `run` names the entry that produced the row.
CREATE OR REPLACE VIEW scored_runs AS
WITH copies AS (
    SELECT DISTINCT m.name AS run, m.repeat_of AS model FROM models m WHERE m.repeat_of IS NOT NULL AND m.status = 'active'
),
runs AS (  -- per repeated entry, the runs that have scores (itself and its copies)
    SELECT c.model, count(DISTINCT s.model) + 1 AS n_runs
    FROM copies c JOIN (SELECT DISTINCT model FROM scores) s ON s.model = c.run
    GROUP BY c.model
)
SELECT s.*, s.model AS run, 1.0::DOUBLE / coalesce(r.n_runs, 1) AS weight
FROM scores s LEFT JOIN runs r ON r.model = s.model
UNION ALL
SELECT s.* REPLACE (c.model AS model), s.model AS run, 1.0::DOUBLE / r.n_runs AS weight
FROM scores s JOIN copies c ON c.run = s.model JOIN runs r ON r.model = c.model;
