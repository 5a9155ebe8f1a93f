-- The leaderboard: one row per evaluated model, offline baselines labelled as such.
CREATE OR REPLACE VIEW leaderboard AS
SELECT
    rank() OVER (ORDER BY m.accuracy DESC, coalesce(t.miou, 0) DESC) AS rank,
    m.model,
    coalesce(r.provider IN ('random', 'prior'), false) AS baseline,
    m.n_instances AS n_choice,
    round(m.accuracy, 4) AS accuracy,
    round(m.macro_accuracy, 4) AS macro_accuracy,
    round(m.accuracy_answered, 4) AS accuracy_answered,
    round(m.chance, 4) AS chance,
    round(t.miou, 4) AS temporal_miou,
    round(t.r1_iou_0_5, 4) AS temporal_r1_at_0_5,
    round(d.accuracy, 4) AS drama_accuracy,
    round(m.unparseable_rate, 4) AS unparseable_rate,
    round(m.error_rate, 4) AS error_rate,
    round(m.missing_rate, 4) AS missing_rate
FROM metrics_by_model m
LEFT JOIN temporal_metrics t ON t.model = m.model AND t.dimension = 'all'
LEFT JOIN short_drama_metrics d ON d.model = m.model
LEFT JOIN models r ON r.name = m.model
ORDER BY rank, m.model;
