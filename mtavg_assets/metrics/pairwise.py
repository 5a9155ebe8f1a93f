"""Cluster-robust paired comparison of two models' accuracies on the same questions.

McNemar's test assumes independent questions; questions about one clip or one episode are not
(a model that misreads an episode misreads its questions together), and McNemar + Holm then flags
equally good models as different far more often than 5%. Here the unit is the resampling cluster
(a connected component of the instance-clip graph). With d_k = (a right, b wrong) - (b right,
a wrong) in cluster k, n_k its questions, N = sum n_k and K clusters:

    diff = sum d_k / N
    t(delta) = sum (d_k - n_k delta) / sqrt(K/(K-1) * sum (d_k - n_k delta)^2)

The test of "no difference" is t(0) (the clustered McNemar statistic of Durkalski et al., Stat.
Med. 2003, with the small-sample factor K/(K-1)) referred to Student's t with K - 1 degrees of
freedom. The 95% interval of the difference is every delta that test would not reject,
{delta : t(delta)^2 < t_{0.975, K-1}^2}, solved in closed form (a quadratic in delta): the same
statistic, so a pair Holm calls significant always has an interval that excludes 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

COLUMNS = ["model_a", "model_b", "n_clusters", "cluster_se", "cluster_t", "cluster_p", "diff_ci_low", "diff_ci_high"]
LEVEL = 0.95


def score_interval(d: np.ndarray, n: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """{delta : t(delta)^2 < t_crit^2}: the roots of
    delta^2 (N^2 - c sum n^2) - 2 delta (A N - c sum d n) + (A^2 - c sum d^2) with c = t_crit^2 K/(K-1),
    clipped to [-1, 1] (a difference of accuracies); the whole range when it is unbounded."""
    k = len(d)
    c = student_t.ppf(0.5 + level / 2, k - 1) ** 2 * k / (k - 1)
    total, a = n.sum(), d.sum()
    quad = total**2 - c * (n**2).sum()
    lin = a * total - c * (d * n).sum()
    const = a**2 - c * (d**2).sum()
    disc = lin**2 - quad * const
    if quad <= 0 or disc < 0:
        return -1.0, 1.0
    root = math.sqrt(disc)
    return max(-1.0, (lin - root) / quad), min(1.0, (lin + root) / quad)


def paired_cluster_tests(correct: np.ndarray, cluster: np.ndarray, models: list[str]) -> pd.DataFrame:
    """One row per pair (a < b in `models` order): `correct` is models x instances (0/1), `cluster`
    the cluster code of each instance."""
    codes, _ = pd.factorize(cluster)
    n_clusters = int(codes.max()) + 1 if len(codes) else 0
    per_cluster = np.zeros((len(models), n_clusters))
    np.add.at(per_cluster, (slice(None), codes), correct)
    sizes = np.bincount(codes, minlength=n_clusters).astype(np.float64)
    total = sizes.sum()
    rows = []
    for a in range(len(models) - 1):
        for b in range(a + 1, len(models)):
            if n_clusters < 2:
                rows.append((models[a], models[b], n_clusters, np.nan, np.nan, np.nan, np.nan, np.nan))
                continue
            d = per_cluster[a] - per_cluster[b]
            se = math.sqrt(n_clusters / (n_clusters - 1) * (d**2).sum()) / total  # under "no difference"
            diff = d.sum() / total
            if se > 0:
                t_stat = diff / se
                p = float(2 * student_t.sf(abs(t_stat), n_clusters - 1))
            else:  # both models answered every question alike
                t_stat, p = 0.0, 1.0
            low, high = score_interval(d, sizes) if se > 0 else (0.0, 0.0)
            rows.append((models[a], models[b], n_clusters, se, t_stat, p, low, high))
    return pd.DataFrame(rows, columns=COLUMNS)
