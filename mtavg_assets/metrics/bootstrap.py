"""Clustered bootstrap for accuracy and paired differences, computed with matrix products.

Resampling unit: the clip (questions about one clip are not independent), drawn with replacement
from all clips with a fixed seed. One resample matrix W (clips x resamples) serves every model and
every grouping, so model comparisons are paired. For a group, accuracy in resample r is
(K @ W)[g, r] / (N @ W)[g, r], where K and N hold per-clip correct and question counts.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

GROUPINGS = ("overall", "dimension", "category", "subset", "question_type", "source_generator")
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20261125
CI_COLUMNS = ["model", "group_by", "group_value", "ci_low", "ci_high", "n_resamples", "seed"]
PAIR_COLUMNS = ["model_a", "model_b", "diff_ci_low", "diff_ci_high"]


def resample_weights(n_clusters: int, n_resamples: int, seed: int) -> np.ndarray:
    """W[c, r]: how often cluster c is drawn in resample r (each resample draws n_clusters)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_resamples).T.astype(np.float32)


def _interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: a group no resample contains
        return np.nanpercentile(samples, 2.5, axis=1), np.nanpercentile(samples, 97.5, axis=1)


def accuracy_intervals(scores: pd.DataFrame, weights: np.ndarray, clip_index: pd.Index, seed: int) -> pd.DataFrame:
    """95% percentile intervals of accuracy for every (model, grouping, value)."""
    out = []
    clip_pos = clip_index.get_indexer(scores["clip_id"])
    for group_by in GROUPINGS:
        values = scores[group_by] if group_by != "overall" else pd.Series("all", index=scores.index)
        keys = pd.MultiIndex.from_arrays([scores["model"], values])
        codes, uniques = pd.factorize(keys)
        k = np.zeros((len(uniques), len(clip_index)), dtype=np.float32)
        n = np.zeros_like(k)
        np.add.at(k, (codes, clip_pos), scores["correct"].to_numpy(dtype=np.float32))
        np.add.at(n, (codes, clip_pos), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            samples = (k @ weights) / (n @ weights)
        low, high = _interval(samples)
        for (model, value), lo, hi in zip(uniques, low, high, strict=True):
            out.append((model, group_by, value, float(lo), float(hi), weights.shape[1], seed))
    return pd.DataFrame(out, columns=CI_COLUMNS)


def pairwise_intervals(scores: pd.DataFrame, weights: np.ndarray, clip_index: pd.Index) -> pd.DataFrame:
    """95% interval of accuracy(a) - accuracy(b) on the instances both models have a cell for."""
    models = sorted(scores["model"].unique())
    instances = pd.Index(sorted(scores["instance_id"].unique()))
    clip_of = scores.drop_duplicates("instance_id").set_index("instance_id")["clip_id"].reindex(instances)
    clip_pos = clip_index.get_indexer(clip_of)
    correct = np.zeros((len(models), len(instances)), dtype=np.float32)
    present = np.zeros_like(correct)
    m_pos = pd.Index(models).get_indexer(scores["model"])
    i_pos = instances.get_indexer(scores["instance_id"])
    correct[m_pos, i_pos] = scores["correct"].to_numpy(dtype=np.float32)
    present[m_pos, i_pos] = (scores["status"] != "missing").to_numpy(dtype=np.float32)
    order = np.argsort(clip_pos, kind="stable")
    sorted_clips = clip_pos[order]
    starts = np.flatnonzero(np.r_[True, sorted_clips[1:] != sorted_clips[:-1]])
    clips_present = sorted_clips[starts]
    w = weights[clips_present]
    out = []
    for a in range(len(models) - 1):
        shared = present[a] * present[a + 1 :]
        diff = shared * (correct[a] - correct[a + 1 :])
        d_clip = np.add.reduceat(diff[:, order], starts, axis=1)
        s_clip = np.add.reduceat(shared[:, order], starts, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            samples = (d_clip @ w) / (s_clip @ w)
        low, high = _interval(samples)
        for offset, (lo, hi) in enumerate(zip(low, high, strict=True)):
            out.append((models[a], models[a + 1 + offset], float(lo), float(hi)))
    return pd.DataFrame(out, columns=PAIR_COLUMNS)


def bootstrap_tables(
    scores: pd.DataFrame, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bootstrap_ci, pairwise_bootstrap) from the choice rows of the scores table."""
    choice = scores[scores["question_type"] != "temporal"].reset_index(drop=True)
    if choice.empty:
        return pd.DataFrame(columns=CI_COLUMNS), pd.DataFrame(columns=PAIR_COLUMNS)
    clip_index = pd.Index(sorted(choice["clip_id"].unique()))
    weights = resample_weights(len(clip_index), n_resamples, seed)
    choice = choice.assign(correct=choice["correct"].astype(bool))
    return accuracy_intervals(choice, weights, clip_index, seed), pairwise_intervals(choice, weights, clip_index)
