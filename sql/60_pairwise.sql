-- Paired comparison of every pair of models on all choice instances, scored as the ranking scores
-- them (missing, error and unparseable cells count as wrong):
--   cluster_p  the clustered paired test (metrics/pairwise.py: per-cluster differences d_k,
--              t = sum d_k / sqrt(K/(K-1) sum d_k^2), Student's t with K - 1 df over the K
--              resampling clusters): valid when errors are correlated within clips and episodes,
--              where McNemar is not
--   family     'models' (two non-baseline models) or 'baseline' (a pair with an offline
--              baseline); Holm runs within each family over all its pairs of this build
--   p_holm     Holm's step-down adjustment of cluster_p within the family
--   diff_ci_*  95% interval of accuracy(a) - accuracy(b) that inverts the same test: a
--              significant pair's interval always excludes 0
--   significant  p_holm < 0.05
--   mcnemar_p, bootstrap_*  McNemar's exact test and the paired bootstrap interval and p-value
--              ((1 + k) / (1 + B)) from the shared resamples, for reference only (mcnemar_p is
--              NULL for an entry with repeats: its a_only/b_only counts are means over its runs)
CREATE OR REPLACE TABLE pairwise_tests AS
WITH cells AS (  -- share of each entry's runs that got the question right (0 or 1 without repeats)
    SELECT model, instance_id, sum(weight * correct::INT) AS share
    FROM scored_runs
    WHERE question_type <> 'temporal' AND model NOT IN (SELECT name FROM entry_copies)
    GROUP BY model, instance_id
),
pairs AS (
    SELECT
        a.model AS model_a,
        b.model AS model_b,
        count(*) AS n_shared,
        sum(a.share * (1 - b.share)) AS a_only_correct,
        sum(b.share * (1 - a.share)) AS b_only_correct,
        avg(a.share) - avg(b.share) AS accuracy_diff
    FROM cells a
    JOIN cells b ON a.instance_id = b.instance_id AND a.model < b.model
    GROUP BY a.model, b.model
),
exact AS (
    SELECT
        p.*,
        a_only_correct + b_only_correct AS n_discordant,
        CASE WHEN a_only_correct <> round(a_only_correct) OR b_only_correct <> round(b_only_correct) THEN NULL
             WHEN a_only_correct + b_only_correct = 0 THEN 1.0 ELSE least(1.0, 2 * (
            SELECT sum(exp(lgamma(n + 1) - lgamma(i + 1) - lgamma(n - i + 1) - n * ln(2)))
            FROM (SELECT (p.a_only_correct + p.b_only_correct)::DOUBLE AS n) t,
                 range(0, least(p.a_only_correct, p.b_only_correct)::BIGINT + 1) r(i)
        )) END AS mcnemar_p
    FROM pairs p
),
tested AS (
    SELECT
        e.*,
        b.cluster_p,
        b.n_clusters,
        CASE WHEN coalesce(ra.baseline, false) OR coalesce(rb.baseline, false) THEN 'baseline' ELSE 'models' END
            AS family
    FROM exact e
    LEFT JOIN pairwise_bootstrap b USING (model_a, model_b)
    LEFT JOIN (SELECT name, any_value(baseline) AS baseline FROM models m WHERE m.status = 'active' GROUP BY name) ra
           ON ra.name = e.model_a
    LEFT JOIN (SELECT name, any_value(baseline) AS baseline FROM models m WHERE m.status = 'active' GROUP BY name) rb
           ON rb.name = e.model_b
),
ordered AS (
    SELECT
        t.*,
        count(*) OVER (PARTITION BY family) AS n_pairs,
        row_number() OVER (PARTITION BY family ORDER BY coalesce(t.cluster_p, 1.0), t.model_a, t.model_b) AS holm_rank
    FROM tested t
),
holm AS (
    SELECT
        o.*,
        max(least(1.0, (o.n_pairs - o.holm_rank + 1) * coalesce(o.cluster_p, 1.0))) OVER (
            PARTITION BY o.family ORDER BY o.holm_rank ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS p_holm,
        0.05 / (o.n_pairs - o.holm_rank + 1) AS holm_level
    FROM ordered o
)
SELECT
    h.model_a,
    h.model_b,
    h.family,
    h.n_shared,
    h.n_clusters,
    h.a_only_correct,
    h.b_only_correct,
    h.n_discordant,
    h.accuracy_diff,
    b.cluster_se::DOUBLE AS diff_se,
    h.cluster_p,
    h.p_holm,
    h.n_pairs,
    h.holm_level,
    b.diff_ci_low::DOUBLE AS diff_ci_low,
    b.diff_ci_high::DOUBLE AS diff_ci_high,
    h.mcnemar_p,
    b.bootstrap_ci_low::DOUBLE AS bootstrap_ci_low,
    b.bootstrap_ci_high::DOUBLE AS bootstrap_ci_high,
    b.bootstrap_p::DOUBLE AS bootstrap_p,
    coalesce(h.p_holm < 0.05, false) AS significant
FROM holm h
LEFT JOIN pairwise_bootstrap b USING (model_a, model_b);
