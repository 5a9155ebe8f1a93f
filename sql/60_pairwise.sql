-- Paired comparison of every pair of models on all choice instances, scored as the ranking scores
-- them (missing, error and unparseable cells count as wrong):
--   mcnemar_p  McNemar's exact test (two-sided binomial on the discordant pairs)
--   p_holm     Holm's step-down adjustment of mcnemar_p over all pairs of this build
--   diff_ci_*  95% paired bootstrap interval of accuracy(a) - accuracy(b) (pairwise_bootstrap,
--              computed by the metric build with the same resamples as every other interval)
--   significant  p_holm < 0.05 and the bootstrap interval at Holm's level for this pair
--              (1 - 0.05 / (m - i + 1) for the pair with the i-th smallest p) excludes 0,
--              i.e. bootstrap_p < 0.05 / (m - i + 1)
CREATE OR REPLACE TABLE pairwise_tests AS
WITH pairs AS (
    SELECT
        a.model AS model_a,
        b.model AS model_b,
        count(*) AS n_shared,
        count(*) FILTER (WHERE a.correct AND NOT b.correct) AS a_only_correct,
        count(*) FILTER (WHERE b.correct AND NOT a.correct) AS b_only_correct,
        avg(a.correct::INT) - avg(b.correct::INT) AS accuracy_diff
    FROM scores a
    JOIN scores b ON a.instance_id = b.instance_id AND a.model < b.model
    WHERE a.question_type <> 'temporal'
    GROUP BY a.model, b.model
),
exact AS (
    SELECT
        p.*,
        a_only_correct + b_only_correct AS n_discordant,
        CASE WHEN a_only_correct + b_only_correct = 0 THEN 1.0 ELSE least(1.0, 2 * (
            SELECT sum(exp(lgamma(n + 1) - lgamma(i + 1) - lgamma(n - i + 1) - n * ln(2)))
            FROM (SELECT (p.a_only_correct + p.b_only_correct)::DOUBLE AS n) t,
                 range(0, least(p.a_only_correct, p.b_only_correct) + 1) r(i)
        )) END AS mcnemar_p
    FROM pairs p
),
ordered AS (
    SELECT
        e.*,
        count(*) OVER () AS n_pairs,
        row_number() OVER (ORDER BY e.mcnemar_p, e.model_a, e.model_b) AS holm_rank
    FROM exact e
),
holm AS (
    SELECT
        o.*,
        max(least(1.0, (o.n_pairs - o.holm_rank + 1) * o.mcnemar_p)) OVER (
            ORDER BY o.holm_rank ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS p_holm,
        0.05 / (o.n_pairs - o.holm_rank + 1) AS holm_level
    FROM ordered o
)
SELECT
    h.model_a,
    h.model_b,
    h.n_shared,
    h.a_only_correct,
    h.b_only_correct,
    h.n_discordant,
    h.accuracy_diff,
    h.mcnemar_p,
    h.p_holm,
    h.n_pairs,
    h.holm_level,
    b.diff_ci_low::DOUBLE AS diff_ci_low,
    b.diff_ci_high::DOUBLE AS diff_ci_high,
    b.bootstrap_p::DOUBLE AS bootstrap_p,
    coalesce(h.p_holm < 0.05 AND b.bootstrap_p < h.holm_level, false) AS significant
FROM holm h
LEFT JOIN pairwise_bootstrap b USING (model_a, model_b);
