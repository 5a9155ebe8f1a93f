-- The leaderboard: one row per active model; models with enough answered cells (completeness,
-- 85_completeness.sql) ranked by accuracy, the others listed after them as `incomplete`, unranked,
-- with the reason. Ranked (missing, error and unparseable
-- cells count as wrong). Offline baselines (provider random/prior) are marked. `tied_with_above`
-- is true unless the model ranked just above is significantly better (pairwise_tests.significant,
-- Holm-corrected, in that direction). Interval endpoints are rounded outward (low down, high up)
-- to the decimals the resample count supports (ci_digits), so rounding never narrows an interval;
-- point estimates to 4 decimals. With a judge configured, accuracy is
-- judge-assisted and accuracy_strict (rules only) stands beside it, with n_judged answers.
-- balanced_accuracy and kappa (yes/no questions as a failure detector, detection_metrics) stand
-- beside accuracy: a model that always says "No failure" scores 0.5 and 0 on them.
-- An entry with repeats is ranked by the mean over its runs (scored_runs), its intervals and tests
-- from the shares of its runs that were right per question: n_repeats and accuracy_repeat_sd (the
-- spread of one run's accuracy, from stability) stand beside it.
-- served_models lists the model ids the provider says answered (an alias or fallback shows here).
CREATE OR REPLACE VIEW leaderboard AS
WITH detection AS (
    SELECT model, balanced_accuracy, balanced_accuracy_ci_low, balanced_accuracy_ci_high, kappa, kappa_ci_low,
           kappa_ci_high, n AS n_yes_no
    FROM detection_metrics WHERE dimension IS NULL AND category IS NULL AND generator IS NULL
),
rank_ci AS (  -- each ranked model's rank in every resample (accuracy_resamples), 2.5% and 97.5% points
    SELECT model, quantile_disc(resample_rank, 0.025) AS rank_ci_low, quantile_disc(resample_rank, 0.975) AS rank_ci_high
    FROM (
        SELECT a.model, rank() OVER (PARTITION BY a.resample ORDER BY a.accuracy DESC) AS resample_rank
        FROM accuracy_resamples a
        JOIN completeness k ON k.model = a.model AND k.standing = 'ranked'
        ANTI JOIN entry_copies copies ON copies.name = a.model
    )
    GROUP BY model
),
served AS (
    SELECT model, string_agg(DISTINCT served_model, ', ' ORDER BY served_model) AS served_models
    FROM predictions WHERE served_model IS NOT NULL GROUP BY model
),
ci AS (
    SELECT model,
        any_value(floor(ci_low * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'accuracy') AS accuracy_ci_low,
        any_value(ceil(ci_high * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'accuracy') AS accuracy_ci_high,
        any_value(floor(ci_low * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'macro_accuracy') AS macro_ci_low,
        any_value(ceil(ci_high * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'macro_accuracy') AS macro_ci_high,
        any_value(floor(ci_low * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'temporal_miou') AS miou_ci_low,
        any_value(ceil(ci_high * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'temporal_miou') AS miou_ci_high,
        any_value(floor(ci_low * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'temporal_r1_at_0_5') AS r1_ci_low,
        any_value(ceil(ci_high * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'temporal_r1_at_0_5') AS r1_ci_high,
        any_value(floor(ci_low * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'drama_accuracy') AS drama_ci_low,
        any_value(ceil(ci_high * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'drama_accuracy') AS drama_ci_high,
        any_value(floor(ci_low * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'episode_consistency') AS episode_ci_low,
        any_value(ceil(ci_high * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'episode_consistency') AS episode_ci_high,
        any_value(floor(ci_low * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'circular_accuracy') AS circular_ci_low,
        any_value(ceil(ci_high * pow(10, ci_digits)) / pow(10, ci_digits)) FILTER (WHERE metric = 'circular_accuracy') AS circular_ci_high
    FROM headline_metrics GROUP BY model
),
ranked AS (
    SELECT
        CASE WHEN k.standing = 'ranked' THEN rank() OVER (
            PARTITION BY k.standing ORDER BY m.accuracy DESC, coalesce(t.miou, 0) DESC, m.model) END AS rank,
        CASE WHEN k.standing = 'ranked' THEN lag(m.model) OVER (
            PARTITION BY k.standing ORDER BY m.accuracy DESC, coalesce(t.miou, 0) DESC, m.model) END AS model_above,
        k.standing,
        k.completeness,
        k.incomplete_reason,
        k.n_missing,
        k.n_failed,
        m.*,
        t.miou,
        t.miou_strict,
        t.r1_iou_0_5,
        d.accuracy AS drama_accuracy,
        d.episode_consistency,
        d.episode_consistency_chance,
        c.circular_accuracy,
        c.circular_chance,
        b.total_variation_distance,
        b.rstd
    FROM metrics_by_model m
    JOIN completeness k ON k.model = m.model
    -- ablated and repeat copies are controls, read in modality_reliance and stability
    ANTI JOIN entry_copies copies ON copies.name = m.model
    LEFT JOIN temporal_metrics t ON t.model = m.model AND t.dimension = 'all'
    LEFT JOIN short_drama_metrics d ON d.model = m.model
    LEFT JOIN circular_metrics c ON c.model = m.model
    LEFT JOIN (
        SELECT model, avg(total_variation_distance) AS total_variation_distance, avg(rstd) AS rstd
        FROM position_bias GROUP BY model
    ) b ON b.model = m.model
)
SELECT
    r.rank,
    rank_ci.rank_ci_low,
    rank_ci.rank_ci_high,
    r.model,
    r.standing,
    round(r.completeness, 4) AS completeness,
    r.incomplete_reason,
    r.n_missing,
    r.n_failed,
    coalesce(reg.baseline, false) AS baseline,
    r.n_instances AS n_choice,
    coalesce(st.n_repeats, 1) AS n_repeats,
    round(r.accuracy, 4) AS accuracy,
    ci.accuracy_ci_low AS ci_low,
    ci.accuracy_ci_high AS ci_high,
    round(st.accuracy_sd, 4) AS accuracy_repeat_sd,
    r.model_above IS NOT NULL AND coalesce(NOT (p.significant AND (
        CASE WHEN p.model_a = r.model_above THEN p.accuracy_diff ELSE -p.accuracy_diff END) > 0), true
    ) AS tied_with_above,
    det.n_yes_no,
    round(det.balanced_accuracy, 4) AS balanced_accuracy,
    floor(det.balanced_accuracy_ci_low * 1e4) / 1e4 AS balanced_accuracy_ci_low,
    ceil(det.balanced_accuracy_ci_high * 1e4) / 1e4 AS balanced_accuracy_ci_high,
    round(det.kappa, 4) AS kappa,
    floor(det.kappa_ci_low * 1e4) / 1e4 AS kappa_ci_low,
    ceil(det.kappa_ci_high * 1e4) / 1e4 AS kappa_ci_high,
    round(r.macro_accuracy, 4) AS macro_accuracy,
    ci.macro_ci_low AS macro_accuracy_ci_low,
    ci.macro_ci_high AS macro_accuracy_ci_high,
    round(r.accuracy_answered, 4) AS accuracy_answered,
    round(r.accuracy_strict, 4) AS accuracy_strict,
    r.n_judged,
    round(r.chance, 4) AS chance,
    round(r.miou, 4) AS temporal_miou,
    round(r.miou_strict, 4) AS temporal_miou_strict,
    ci.miou_ci_low AS temporal_miou_ci_low,
    ci.miou_ci_high AS temporal_miou_ci_high,
    round(r.r1_iou_0_5, 4) AS temporal_r1_at_0_5,
    ci.r1_ci_low AS temporal_r1_at_0_5_ci_low,
    ci.r1_ci_high AS temporal_r1_at_0_5_ci_high,
    round(r.drama_accuracy, 4) AS drama_accuracy,
    ci.drama_ci_low AS drama_accuracy_ci_low,
    ci.drama_ci_high AS drama_accuracy_ci_high,
    round(r.episode_consistency, 4) AS episode_consistency,
    round(r.episode_consistency_chance, 4) AS episode_consistency_chance,
    ci.episode_ci_low AS episode_consistency_ci_low,
    ci.episode_ci_high AS episode_consistency_ci_high,
    round(r.circular_accuracy, 4) AS circular_accuracy,
    ci.circular_ci_low AS circular_accuracy_ci_low,
    ci.circular_ci_high AS circular_accuracy_ci_high,
    round(r.circular_chance, 4) AS circular_chance,
    round(r.rstd, 4) AS position_rstd,
    round(r.total_variation_distance, 4) AS letter_bias_tvd,
    round(r.unparseable_rate, 4) AS unparseable_rate,
    round(r.error_rate, 4) AS error_rate,
    round(r.missing_rate, 4) AS missing_rate,
    served.served_models
FROM ranked r
LEFT JOIN ci USING (model)
LEFT JOIN served USING (model)
LEFT JOIN rank_ci USING (model)
LEFT JOIN detection det USING (model)
LEFT JOIN stability st USING (model)
LEFT JOIN models reg ON reg.name = r.model AND reg.status = 'active'
LEFT JOIN pairwise_tests p
       ON (p.model_a = least(r.model, r.model_above) AND p.model_b = greatest(r.model, r.model_above))
ORDER BY r.standing = 'incomplete', r.rank, r.model;
