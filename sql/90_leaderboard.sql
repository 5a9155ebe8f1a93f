-- The leaderboard: one row per evaluated model, ranked by accuracy (missing, error and
-- unparseable cells count as wrong). Offline baselines are marked. `tied_with_above` is true when
-- the model is not significantly different from the model ranked just above it (McNemar p >= 0.05
-- or the paired bootstrap interval of the difference contains 0).
CREATE OR REPLACE VIEW leaderboard AS
WITH ranked AS (
    SELECT
        rank() OVER (ORDER BY m.accuracy DESC, coalesce(t.miou, 0) DESC, m.model) AS rank,
        lag(m.model) OVER (ORDER BY m.accuracy DESC, coalesce(t.miou, 0) DESC, m.model) AS model_above,
        m.*,
        t.miou,
        t.r1_iou_0_5,
        d.accuracy AS drama_accuracy,
        d.episode_consistency,
        c.circular_accuracy,
        b.total_variation_distance
    FROM metrics_by_model m
    LEFT JOIN temporal_metrics t ON t.model = m.model AND t.dimension = 'all'
    LEFT JOIN short_drama_metrics d ON d.model = m.model
    LEFT JOIN circular_metrics c ON c.model = m.model
    LEFT JOIN (
        SELECT model, avg(total_variation_distance) AS total_variation_distance FROM position_bias GROUP BY model
    ) b ON b.model = m.model
)
SELECT
    r.rank,
    r.model,
    coalesce(reg.provider IN ('random', 'prior'), false) AS baseline,
    r.n_instances AS n_choice,
    round(r.accuracy, 4) AS accuracy,
    round(r.ci_low, 4) AS ci_low,
    round(r.ci_high, 4) AS ci_high,
    coalesce(NOT p.significant, false) AS tied_with_above,
    round(r.macro_accuracy, 4) AS macro_accuracy,
    round(r.accuracy_answered, 4) AS accuracy_answered,
    round(r.chance, 4) AS chance,
    round(r.miou, 4) AS temporal_miou,
    round(r.r1_iou_0_5, 4) AS temporal_r1_at_0_5,
    round(r.drama_accuracy, 4) AS drama_accuracy,
    round(r.episode_consistency, 4) AS episode_consistency,
    round(r.circular_accuracy, 4) AS circular_accuracy,
    round(r.total_variation_distance, 4) AS letter_bias_tvd,
    round(r.unparseable_rate, 4) AS unparseable_rate,
    round(r.error_rate, 4) AS error_rate,
    round(r.missing_rate, 4) AS missing_rate
FROM ranked r
LEFT JOIN models reg ON reg.name = r.model
LEFT JOIN pairwise_tests p
       ON (p.model_a = least(r.model, r.model_above) AND p.model_b = greatest(r.model, r.model_above))
ORDER BY r.rank, r.model;
