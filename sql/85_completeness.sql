-- Incomplete is not a result. completeness = share of a model's cells (every valid instance) that
-- got an answer status (ok, unparseable, refused); a model below the threshold (variable
-- mtavg_min_completeness, set by the metric build from MTAVG_MIN_COMPLETENESS; 0.95 by default)
-- is `incomplete`: listed on the leaderboard with its counts and the reason, never ranked.
-- A table, not a view: the threshold in force at build time is the one it records.
CREATE OR REPLACE TABLE completeness AS
WITH counts AS (
    SELECT
        model,
        count(*) AS n_cells,
        count(*) FILTER (WHERE status IN ('ok', 'unparseable', 'refused')) AS n_answer_status,
        count(*) FILTER (WHERE status = 'missing') AS n_missing,
        count(*) FILTER (WHERE status IN ('error', 'timeout', 'rate_limited')) AS n_failed
    FROM scored_runs GROUP BY model  -- an entry with repeats: the cells of all its runs
)
SELECT
    model, n_cells, n_answer_status, n_missing, n_failed,
    n_answer_status::DOUBLE / n_cells AS completeness,
    coalesce(getvariable('mtavg_min_completeness'), 0.95)::DOUBLE AS min_completeness,
    CASE WHEN n_answer_status::DOUBLE / n_cells >= coalesce(getvariable('mtavg_min_completeness'), 0.95)
         THEN 'ranked' ELSE 'incomplete' END AS standing,
    CASE WHEN n_answer_status::DOUBLE / n_cells < coalesce(getvariable('mtavg_min_completeness'), 0.95)
         THEN printf('%d of %d cells have no answer: %d missing (never asked, or the run stopped: budget, '
                     || 'daily quota, a failed partition), %d error/timeout/rate_limited',
                     n_cells - n_answer_status, n_cells, n_missing, n_failed)
    END AS incomplete_reason
FROM counts;
