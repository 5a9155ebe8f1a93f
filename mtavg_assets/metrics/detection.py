"""Yes/no questions as a failure detector: the statistics of a 2x2 table (gold present/absent x
said present/absent) and their clustered bootstrap intervals.

The point estimates are in sql/45_detection.sql; this module gives the intervals from the same
resample matrix W as every other interval. Each group's interval expands by that group's own
number of clusters (the resampling units it contains), and a group with fewer than MIN_CLUSTERS
gets no interval ("too few clusters"): a percentile interval over 2-4 units is not a 95% interval.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mtavg_assets.metrics.bootstrap import tail_probability

METRICS = ("sensitivity", "specificity", "balanced_accuracy", "yes_ratio", "kappa", "mcc", "f1")
GROUPS = ("dimension", "category", "generator")  # besides the overall row (all three NULL)
MIN_CLUSTERS = 5
TOO_FEW = f"too few clusters (under {MIN_CLUSTERS}) for an interval"
CI_COLUMNS = [
    "model",
    *GROUPS,
    "n_clusters",
    "ci_note",
    *[f"{m}_ci_{end}" for m in METRICS for end in ("low", "high")],
]


def statistics(tp, fn, fp, tn) -> dict[str, np.ndarray]:
    """Every detector statistic from the cell counts (arrays of any shape, element-wise); NaN where
    a statistic is undefined (no positive item for sensitivity, a constant rater for kappa)."""
    tp, fn, fp, tn = (np.asarray(x, dtype=np.float64) for x in (tp, fn, fp, tn))
    n = tp + fn + fp + tn
    with np.errstate(divide="ignore", invalid="ignore"):
        sensitivity = tp / (tp + fn)
        specificity = tn / (tn + fp)
        observed = (tp + tn) / n
        expected = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
        return {
            "sensitivity": sensitivity,
            "specificity": specificity,
            "balanced_accuracy": (sensitivity + specificity) / 2,
            "yes_ratio": (tp + fp) / n,
            "kappa": (observed - expected) / (1 - expected),
            "mcc": (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)),
            "f1": 2 * tp / (2 * tp + fp + fn),
        }


def _cells(items: pd.DataFrame) -> dict[str, np.ndarray]:
    gold, said = items["gold_positive"].astype(bool).to_numpy(), items["said_positive"].astype(bool).to_numpy()
    return {"tp": gold & said, "fn": gold & ~said, "fp": ~gold & said, "tn": ~gold & ~said}


def detection_intervals(items: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """detection_ci: one row per (model, overall or one grouping value), `items` carrying `cluster`
    (detection_items of sql/45_detection.sql)."""
    if "labelled" in items:
        items = items[items["labelled"].astype(bool)]
    if items.empty:
        return pd.DataFrame(columns=CI_COLUMNS)
    cells = _cells(items)
    cluster = items["cluster"].to_numpy()
    rows = []
    for group_by in ("overall", *GROUPS):
        values = items[group_by] if group_by != "overall" else pd.Series(None, index=items.index, dtype=object)
        keys = pd.MultiIndex.from_arrays([items["model"], values.fillna("\0none")])
        codes, uniques = pd.factorize(keys)
        resampled = {}
        for name, flags in cells.items():
            per_cluster = np.zeros((len(uniques), weights.shape[0]))
            np.add.at(per_cluster, (codes, cluster), flags.astype(np.float64))
            resampled[name] = per_cluster @ weights
        samples = statistics(resampled["tp"], resampled["fn"], resampled["fp"], resampled["tn"])
        present = np.zeros((len(uniques), weights.shape[0]), dtype=bool)
        present[codes, cluster] = True
        for index, (model, value) in enumerate(uniques):
            n_clusters = int(present[index].sum())
            row = {"model": model, **dict.fromkeys(GROUPS), "n_clusters": n_clusters, "ci_note": None}
            if group_by != "overall":
                row[group_by] = None if value == "\0none" else value
            if n_clusters < MIN_CLUSTERS:
                row["ci_note"] = TOO_FEW
            else:
                q = tail_probability(n_clusters)
                for metric in METRICS:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)  # undefined in every resample
                        low, high = np.nanpercentile(samples[metric][index], [100 * q, 100 * (1 - q)])
                    row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = float(low), float(high)
            rows.append(row)
    return pd.DataFrame(rows).reindex(columns=CI_COLUMNS)
