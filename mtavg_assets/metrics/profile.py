"""Generator failure profiles: how often each generator's clips show each failure, read through an
evaluator and corrected for its errors (Rogan & Gladen, "Estimating prevalence from the results of
a screening test", Am. J. Epidemiol. 1978).

An evaluator with sensitivity Se and specificity Sp that calls a failure present on a share q of
a group's yes/no questions implies a true rate p = (q + Sp - 1) / (Se + Sp - 1), clipped to [0, 1].
Se and Sp come from the evaluator's answered labelled questions (all of them, pooled); q from its
answered questions of the group, labelled or not: a generator whose clips carry no answer key
(subset `unlabelled`) gets gold_rate NULL and a corrected rate from the labelled set's errors.
The interval resamples clusters with the shared resample matrix
and recomputes Se, Sp and q in every resample, so the uncertainty of the error rates is carried
into the corrected rate. An evaluator whose Youden's J = Se + Sp - 1 has an interval reaching 0 is
no better than chance: its corrected rate is NULL with that reason. A group with fewer than 5
clusters gets no interval.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mtavg_assets.metrics.bootstrap import tail_probability
from mtavg_assets.metrics.detection import MIN_CLUSTERS, TOO_FEW

COLUMNS = [
    "generator",
    "dimension",
    "category",
    "evaluator",
    "n",
    "n_answered",
    "gold_rate",
    "detected_rate",
    "corrected_rate",
    "corrected_ci_low",
    "corrected_ci_high",
    "sensitivity",
    "specificity",
    "youden_j_ci_low",
    "n_clusters",
    "note",
]
NO_BETTER_THAN_CHANCE = "evaluator no better than chance (Youden's J interval reaches 0)"


def _percentiles(samples: np.ndarray, q: float) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(samples, [100 * q, 100 * (1 - q)])
    return float(low), float(high)


def _gold_rate(group: pd.DataFrame) -> float | None:
    """Share of the group's labelled questions whose gold is "present" (None: no labelled one)."""
    labelled = group[group["labelled"].astype(bool)]
    return float(labelled["gold_positive"].astype(bool).mean()) if len(labelled) else None


def rogan_gladen(detected, sensitivity, specificity):
    """The corrected rate (element-wise), clipped to [0, 1]; NaN where Se + Sp = 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip((detected + specificity - 1) / (sensitivity + specificity - 1), 0.0, 1.0)


def generator_profile(items: pd.DataFrame, weights: np.ndarray, n_clusters_total: int) -> pd.DataFrame:
    """generator_profile from detection items carrying `cluster` (one row per model and yes/no
    question: gold_positive, said_positive, answered, generator, dimension, category)."""
    if items.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    q_all = tail_probability(n_clusters_total)
    if "labelled" not in items:
        items = items.assign(labelled=True)
    for model, own in items.groupby("model", sort=True):
        answered = own[own["answered"].astype(bool)]
        cluster = answered["cluster"].to_numpy()
        labelled = answered["labelled"].astype(bool).to_numpy()
        gold = answered["gold_positive"].fillna(False).astype(bool).to_numpy() & labelled
        negative = ~answered["gold_positive"].fillna(True).astype(bool).to_numpy() & labelled
        said = answered["said_positive"].fillna(False).astype(bool).to_numpy()

        def resampled(mask: np.ndarray, cluster: np.ndarray = cluster) -> np.ndarray:
            """How many of the masked answered questions each resample draws."""
            per_cluster = np.bincount(cluster[mask], minlength=weights.shape[0]).astype(np.float64)
            return per_cluster @ weights

        with np.errstate(divide="ignore", invalid="ignore"):
            se_samples = resampled(gold & said) / resampled(gold)
            sp_samples = resampled(negative & ~said) / resampled(negative)
        sensitivity = (gold & said).sum() / gold.sum() if gold.any() else np.nan
        specificity = (negative & ~said).sum() / negative.sum() if negative.any() else np.nan
        j_low, _ = _percentiles(se_samples + sp_samples - 1, q_all)
        chance = not (j_low > 0)  # NaN (no positives or negatives) is no evidence either
        for (generator, dimension, category), group in own.groupby(
            ["generator", "dimension", "category"], sort=True, dropna=False
        ):
            in_group = answered.index.isin(group.index)
            group_answered = answered[in_group]
            n_clusters = int(group["cluster"].nunique())
            detected = float(group_answered["said_positive"].astype(bool).mean()) if len(group_answered) else np.nan
            row = {
                "generator": generator,
                "dimension": dimension,
                "category": category,
                "evaluator": model,
                "n": len(group),
                "n_answered": len(group_answered),
                "gold_rate": _gold_rate(group),
                "detected_rate": detected,
                "corrected_rate": None,
                "corrected_ci_low": None,
                "corrected_ci_high": None,
                "sensitivity": sensitivity,
                "specificity": specificity,
                "youden_j_ci_low": j_low,
                "n_clusters": n_clusters,
                "note": None,
            }
            if chance:
                row["note"] = NO_BETTER_THAN_CHANCE
            elif len(group_answered):
                row["corrected_rate"] = float(rogan_gladen(detected, sensitivity, specificity))
                if n_clusters < MIN_CLUSTERS:
                    row["note"] = TOO_FEW
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        q_samples = resampled(in_group & said) / resampled(in_group)
                    corrected = rogan_gladen(q_samples, se_samples, sp_samples)
                    low, high = _percentiles(corrected, tail_probability(n_clusters))
                    row["corrected_ci_low"], row["corrected_ci_high"] = low, high
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)
