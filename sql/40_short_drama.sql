-- Short-drama level: accuracy over questions of the short_drama subset, and per-episode
-- consistency (an episode counts only if every one of its questions is right).
CREATE OR REPLACE TABLE short_drama_metrics AS
WITH drama AS (
    SELECT s.*, json_extract_string(q.meta, '$.episode_id') AS episode_id
    FROM scores s JOIN qa_instances q USING (instance_id)
    WHERE s.subset = 'short_drama' AND s.question_type <> 'temporal'
),
episodes AS (
    SELECT model, coalesce(episode_id, instance_id) AS episode_id, bool_and(correct) AS all_correct
    FROM drama GROUP BY ALL
)
SELECT
    d.model,
    count(*) AS n_questions,
    avg(d.correct::INT) AS accuracy,
    avg(d.chance) AS chance,
    (SELECT count(*) FROM episodes e WHERE e.model = d.model) AS n_episodes,
    (SELECT avg(e.all_correct::INT) FROM episodes e WHERE e.model = d.model) AS episode_consistency
FROM drama d
GROUP BY d.model;
