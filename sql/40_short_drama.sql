-- Short-drama level: accuracy over questions of the short_drama subset, and per-episode
-- consistency (an episode counts only if every one of its questions is right), beside its chance
-- (the mean over episodes of the product of 1/k: a uniform guesser's episode consistency).
-- Intervals for both are in headline_metrics (50_uncertainty.sql). Episode consistency is read on
-- an entry's first run; accuracy, like every accuracy, is the mean over its runs (scored_runs).
CREATE OR REPLACE TABLE drama_episodes AS
SELECT model, coalesce(episode_id, instance_id) AS episode_id, count(*) AS n_questions,
       bool_and(correct) AS all_correct,
       product(chance) AS all_correct_chance  -- a uniform guesser gets every question right
FROM scores
WHERE subset = 'short_drama' AND question_type <> 'temporal'
GROUP BY ALL;

CREATE OR REPLACE TABLE short_drama_metrics AS
SELECT
    s.model,
    round(sum(s.weight))::BIGINT AS n_questions,
    sum(s.weight * s.correct::INT) / sum(s.weight) AS accuracy,  -- an entry with repeats: mean over its runs
    sum(s.weight * s.chance) / sum(s.weight) AS chance,
    (SELECT count(*) FROM drama_episodes e WHERE e.model = s.model) AS n_episodes,
    (SELECT avg(e.n_questions) FROM drama_episodes e WHERE e.model = s.model) AS questions_per_episode,
    (SELECT avg(e.all_correct::INT) FROM drama_episodes e WHERE e.model = s.model) AS episode_consistency,
    (SELECT avg(e.all_correct_chance) FROM drama_episodes e WHERE e.model = s.model) AS episode_consistency_chance
FROM scored_runs s
WHERE s.subset = 'short_drama' AND s.question_type <> 'temporal'
GROUP BY s.model;
