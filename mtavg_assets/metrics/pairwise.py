"""Cluster-robust paired comparison of two models' accuracies on the same questions.

McNemar's test assumes independent questions; questions about one clip or one episode are not
(a model that misreads an episode misreads its questions together), and McNemar + Holm then flags
equally good models as different far more often than 5%. Here the unit is the resampling cluster
(a connected component of the instance-clip graph): with d_k = (a right, b wrong) - (b right,
a wrong) in cluster k, n_k its questions and N = sum n_k,

    diff = sum d_k / N,   se^2 = K/(K-1) * sum (d_k - n_k * diff)^2 / N^2   (CR1, K clusters)

and t = diff / se is referred to Student's t with K - 1 degrees of freedom. The 95% interval of
the difference is diff +/- t_{0.975, K-1} * se: the same statistic, so a pair Holm calls
significant always has an interval that excludes 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

COLUMNS = ["model_a", "model_b", "n_clusters", "cluster_se", "cluster_t", "cluster_p", "diff_ci_low", "diff_ci_high"]
LEVEL = 0.95


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
            d = per_cluster[a] - per_cluster[b]
            diff = d.sum() / total
            if n_clusters < 2:
                rows.append((models[a], models[b], n_clusters, np.nan, np.nan, np.nan, np.nan, np.nan))
                continue
            resid = d - sizes * diff
            se = np.sqrt(n_clusters / (n_clusters - 1) * (resid**2).sum()) / total
            df = n_clusters - 1
            if se > 0:
                t_stat = diff / se
                p = float(2 * student_t.sf(abs(t_stat), df))
            else:  # identical answers in every cluster: no evidence of a difference
                t_stat, p = 0.0, 1.0 if diff == 0 else 0.0
            half = student_t.ppf(0.5 + LEVEL / 2, df) * se
            rows.append((models[a], models[b], n_clusters, se, t_stat, p, diff - half, diff + half))
    return pd.DataFrame(rows, columns=COLUMNS)
