-- Paired comparison of every pair of models on the choice instances both have a cell for:
-- McNemar's exact test (two-sided binomial on the discordant pairs) and the paired bootstrap
-- difference of accuracy (pairwise_bootstrap, computed by the metric build with the same
-- clip resamples as bootstrap_ci).
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
    WHERE a.question_type <> 'temporal' AND a.status <> 'missing' AND b.status <> 'missing'
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
)
SELECT
    e.model_a,
    e.model_b,
    e.n_shared,
    e.a_only_correct,
    e.b_only_correct,
    e.n_discordant,
    e.accuracy_diff,
    e.mcnemar_p,
    b.diff_ci_low,
    b.diff_ci_high,
    e.mcnemar_p < 0.05 AND (b.diff_ci_low > 0 OR b.diff_ci_high < 0) AS significant
FROM exact e
LEFT JOIN pairwise_bootstrap b USING (model_a, model_b);
