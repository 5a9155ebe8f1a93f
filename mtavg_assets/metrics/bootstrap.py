"""Clustered bootstrap for every headline number and for paired differences, with matrix products.

Resampling unit: a connected component of the instance-clip graph. Instances are linked through
the clips they ask about and through their episode (`meta.episode_id`): questions about one clip,
or about the clips of one short drama, are not independent, so they move together. Components are
drawn with replacement with a fixed seed. One resample matrix W (components x resamples) serves
every model, metric and grouping, so model comparisons are paired. A ratio metric of a group in
resample r is (K @ W)[g, r] / (N @ W)[g, r], where K and N hold per-component numerator and
denominator sums.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import norm
from scipy.stats import t as student_t

from mtavg_assets.metrics.pairwise import COLUMNS as CLUSTER_TEST_COLUMNS
from mtavg_assets.metrics.pairwise import paired_cluster_tests

GROUPINGS = ("overall", "dimension", "category", "subset", "question_type", "source_generator")
# Every headline number with an interval, defined here once: headline_intervals computes exactly
# these, and sql/50_uncertainty.sql (headline_metrics) and sql/90_leaderboard.sql name exactly these
# (a test holds the three equal).
HEADLINE_METRICS = (
    "accuracy",
    "macro_accuracy",
    "temporal_miou",
    "temporal_r1_at_0_5",
    "drama_accuracy",
    "episode_consistency",
    "circular_accuracy",
)
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20261125
LEVEL = 0.95
CI_COLUMNS = ["model", "group_by", "group_value", "ci_low", "ci_high", "ci_digits", "n_resamples", "seed", "ci_note"]
HEADLINE_COLUMNS = ["model", "metric", "ci_low", "ci_high", "ci_digits", "n_resamples"]
PAIR_COLUMNS = ["model_a", "model_b", "bootstrap_ci_low", "bootstrap_ci_high", "bootstrap_p"]
CLUSTER_COLUMNS = ["instance_id", "cluster_id", "cluster_size"]


def _episode(meta) -> str | None:
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            return None
    value = meta.get("episode_id") if isinstance(meta, dict) else None
    return str(value) if value is not None else None


def instance_clusters(instances: pd.DataFrame) -> pd.DataFrame:
    """Connected components of the graph linking each instance to its clips and its episode."""
    if instances.empty:
        return pd.DataFrame(columns=CLUSTER_COLUMNS)
    nodes: dict[str, int] = {}
    rows, cols = [], []
    for pos, (clip_ids, meta) in enumerate(zip(instances["clip_ids"], instances["meta"], strict=True)):
        linked = [f"clip:{c}" for c in list(clip_ids)]
        episode = _episode(meta)
        if episode is not None:
            linked.append(f"episode:{episode}")
        for name in linked:
            rows.append(pos)
            cols.append(len(instances) + nodes.setdefault(name, len(nodes)))
    size = len(instances) + len(nodes)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    codes, _ = pd.factorize(labels[: len(instances)])
    frame = pd.DataFrame({"instance_id": instances["instance_id"].to_numpy(), "cluster_id": codes})
    frame["cluster_size"] = frame.groupby("cluster_id")["instance_id"].transform("size")
    return frame


def resample_weights(n_clusters: int, n_resamples: int, seed: int) -> np.ndarray:
    """W[c, r]: how often cluster c is drawn in resample r (each resample draws n_clusters)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_resamples).T.astype(np.float64)


def ci_digits(samples: np.ndarray, n_resamples: int, q: float) -> np.ndarray:
    """Decimals an interval endpoint supports: the Monte Carlo standard error of a bootstrap
    percentile q is sqrt(q(1-q)/B) / phi(z_q) times the bootstrap standard deviation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(samples, axis=1)
    mc_se = math.sqrt(q * (1 - q) / n_resamples) / norm.pdf(norm.ppf(q)) * sd
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = np.floor(-np.log10(2 * mc_se))
    return np.clip(np.nan_to_num(digits, nan=4, posinf=4), 1, 4).astype(int)


def tail_probability(n_clusters: int, level: float = LEVEL) -> float:
    """Lower tail of the expanded percentile interval (Hesterberg, "What Teachers Should Know About
    the Bootstrap", 2015): Phi(sqrt(n/(n-1)) * t_{q, n-1}) instead of q, which corrects the
    narrowness of the plain percentile interval when there are few independent clusters."""
    q = (1 - level) / 2
    if n_clusters < 2:
        return q
    return float(norm.cdf(math.sqrt(n_clusters / (n_clusters - 1)) * student_t.ppf(q, n_clusters - 1)))


def intervals(samples: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, supported decimals) per row of samples[row, resample]; W is clusters x resamples."""
    q = tail_probability(weights.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: a group no resample contains
        low, high = np.nanpercentile(samples, 100 * q, axis=1), np.nanpercentile(samples, 100 * (1 - q), axis=1)
    return low, high, ci_digits(samples, weights.shape[1], q)


def ratio_samples(keys: pd.Series | pd.MultiIndex, cluster: np.ndarray, num, den, weights: np.ndarray):
    """(unique keys, samples[key, resample]) of sum(num)/sum(den) per key under each resample."""
    codes, uniques = pd.factorize(keys)
    k = np.zeros((len(uniques), weights.shape[0]))
    n = np.zeros_like(k)
    np.add.at(k, (codes, cluster), np.asarray(num, dtype=np.float64))
    np.add.at(n, (codes, cluster), np.asarray(den, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return uniques, (k @ weights) / (n @ weights)


MIN_GROUP_CLUSTERS = 5
TOO_FEW_CLUSTERS = f"too few clusters (under {MIN_GROUP_CLUSTERS}) for an interval"


def accuracy_intervals(scores: pd.DataFrame, weights: np.ndarray, seed: int) -> pd.DataFrame:
    """Intervals of accuracy for every (model, grouping, value); `scores` carries `cluster`. The
    overall interval expands by the number of clusters; a group's (a dimension, category, ...) by
    the clusters that group's questions are in, and a group in fewer than MIN_GROUP_CLUSTERS
    clusters gets no interval (ci_note says why): its percentile interval would not hold 95%."""
    out = []
    cluster = scores["cluster"].to_numpy()
    for group_by in GROUPINGS:
        values = scores[group_by] if group_by != "overall" else pd.Series("all", index=scores.index)
        keys = pd.MultiIndex.from_arrays([scores["model"], values])
        uniques, samples = ratio_samples(keys, cluster, scores["correct"], 1.0, weights)
        if group_by == "overall":
            low, high, digits = intervals(samples, weights)
            notes = [None] * len(uniques)
        else:
            codes, _ = pd.factorize(keys)
            own = pd.Series(cluster).groupby(codes).nunique().reindex(range(len(uniques))).to_numpy()
            low, high, digits = (np.full(len(uniques), np.nan) for _ in range(3))
            notes = [None] * len(uniques)
            for index, n_clusters in enumerate(own):
                if n_clusters < MIN_GROUP_CLUSTERS:
                    notes[index] = TOO_FEW_CLUSTERS
                    continue
                q = tail_probability(int(n_clusters))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    low[index], high[index] = np.nanpercentile(samples[index], [100 * q, 100 * (1 - q)])
                digits[index] = ci_digits(samples[index : index + 1], weights.shape[1], q)[0]
        for (model, value), lo, hi, d, note in zip(uniques, low, high, digits, notes, strict=True):
            d = 4 if d != d else int(d)  # no interval: no digits to support
            out.append((model, group_by, value, float(lo), float(hi), d, weights.shape[1], seed, note))
    return pd.DataFrame(out, columns=CI_COLUMNS)


def _headline_rows(metric: str, uniques, samples: np.ndarray, weights: np.ndarray) -> list[tuple]:
    low, high, digits = intervals(samples, weights)
    return [
        (model, metric, float(lo), float(hi), int(d), weights.shape[1])
        for model, lo, hi, d in zip(uniques, low, high, digits, strict=True)
    ]


def headline_intervals(
    choice: pd.DataFrame,
    temporal: pd.DataFrame,
    episodes: pd.DataFrame,
    circular: pd.DataFrame,
    weights: np.ndarray,
) -> pd.DataFrame:
    """Intervals of accuracy, macro accuracy, temporal mIoU and R@1@0.5, drama accuracy, episode
    consistency and circular accuracy, all from the same resamples. Every frame carries `cluster`."""
    rows: list[tuple] = []

    def ratio(metric: str, frame: pd.DataFrame, num) -> None:
        if len(frame):
            uniques, samples = ratio_samples(frame["model"], frame["cluster"].to_numpy(), num, 1.0, weights)
            rows.extend(_headline_rows(metric, uniques, samples, weights))

    ratio("accuracy", choice, choice["correct"])
    if len(choice):
        keys = pd.MultiIndex.from_arrays([choice["model"], choice["category"]])
        uniques, samples = ratio_samples(keys, choice["cluster"].to_numpy(), choice["correct"], 1.0, weights)
        models = pd.Index([m for m, _ in uniques])
        codes, model_names = pd.factorize(models)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a category absent from one resample
            macro = np.vstack([np.nanmean(samples[codes == i], axis=0) for i in range(len(model_names))])
        rows.extend(_headline_rows("macro_accuracy", model_names, macro, weights))
    ratio("temporal_miou", temporal, temporal["iou"])
    ratio("temporal_r1_at_0_5", temporal, temporal["iou"] >= 0.5)
    drama = choice[choice["subset"] == "short_drama"]
    ratio("drama_accuracy", drama, drama["correct"])
    ratio("episode_consistency", episodes, episodes["all_correct"])
    ratio("circular_accuracy", circular, circular["circular_correct"])
    frame = pd.DataFrame(rows, columns=HEADLINE_COLUMNS)
    unknown = set(frame["metric"]) - set(HEADLINE_METRICS)
    if unknown:
        raise ValueError(f"headline metrics computed but not defined in HEADLINE_METRICS: {sorted(unknown)}")
    return frame


def _accuracy_matrix(choice: pd.DataFrame, weights: np.ndarray, n_clusters: int):
    """(models, per-instance correct matrix, cluster of each instance, accuracy[model, resample])
    over all choice instances, non-answers wrong (as the ranking scores them)."""
    models = sorted(choice["model"].unique())
    instances = pd.Index(sorted(choice["instance_id"].unique()))
    cluster_of = choice.drop_duplicates("instance_id").set_index("instance_id")["cluster"].reindex(instances)
    correct = np.zeros((len(models), len(instances)))
    correct[pd.Index(models).get_indexer(choice["model"]), instances.get_indexer(choice["instance_id"])] = choice[
        "correct"
    ].to_numpy(dtype=np.float64)
    per_cluster = np.zeros((len(models), n_clusters))
    np.add.at(per_cluster, (slice(None), cluster_of.to_numpy()), correct)
    counts = np.bincount(cluster_of.to_numpy(), minlength=n_clusters).astype(np.float64)
    totals = counts @ weights
    acc = (per_cluster @ weights) / totals  # models x resamples
    return models, correct, cluster_of, acc


def accuracy_resamples(choice: pd.DataFrame, weights: np.ndarray, n_clusters: int) -> pd.DataFrame:
    """Each model's accuracy in each resample (long form): the leaderboard ranks the models within
    every resample to give each rank its interval."""
    models, _, _, acc = _accuracy_matrix(choice, weights, n_clusters)
    resample = np.tile(np.arange(acc.shape[1]), len(models))
    return pd.DataFrame({"model": np.repeat(models, acc.shape[1]), "resample": resample, "accuracy": acc.ravel()})


def pairwise_intervals(choice: pd.DataFrame, weights: np.ndarray, n_clusters: int) -> pd.DataFrame:
    """Per pair, over all choice instances (non-answers count as wrong, as in the ranking): the
    clustered paired test and the 95% interval of accuracy(a) - accuracy(b) that inverts it
    (metrics/pairwise.py: what `significant` and the published interval use), beside the paired
    bootstrap percentile interval and p-value from the shared resamples (for reference)."""
    models, correct, cluster_of, acc = _accuracy_matrix(choice, weights, n_clusters)
    out = []
    resamples = weights.shape[1]
    for a in range(len(models) - 1):
        samples = acc[a] - acc[a + 1 :]
        low, high, _ = intervals(samples, weights)
        below = (samples <= 0).sum(axis=1)
        above = (samples >= 0).sum(axis=1)
        # (1 + k) / (1 + B): a resampled p-value is never 0 (Davison & Hinkley 1997, eq. 4.11)
        p = np.minimum(1.0, 2 * (1 + np.minimum(below, above)) / (1 + resamples))
        for offset, (lo, hi, pv) in enumerate(zip(low, high, p, strict=True)):
            out.append((models[a], models[a + 1 + offset], float(lo), float(hi), float(pv)))
    tests = paired_cluster_tests(correct, cluster_of.to_numpy(), models)
    return pd.DataFrame(out, columns=PAIR_COLUMNS).merge(tests, on=["model_a", "model_b"])


def bootstrap_tables(
    scores: pd.DataFrame,
    clusters: pd.DataFrame,
    episodes: pd.DataFrame | None = None,
    circular: pd.DataFrame | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    detection: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """bootstrap_ci, headline_ci, pairwise_bootstrap and detection_ci from the scores table (choice
    and temporal rows), the instance clusters, drama episodes, circular items and yes/no detection
    items, all from one resample matrix."""
    from mtavg_assets.metrics.detection import CI_COLUMNS as DETECTION_CI_COLUMNS
    from mtavg_assets.metrics.detection import detection_intervals
    from mtavg_assets.metrics.profile import COLUMNS as PROFILE_COLUMNS
    from mtavg_assets.metrics.profile import generator_profile

    empty = {
        "bootstrap_ci": pd.DataFrame(columns=CI_COLUMNS),
        "headline_ci": pd.DataFrame(columns=HEADLINE_COLUMNS),
        "pairwise_bootstrap": pd.DataFrame(
            columns=PAIR_COLUMNS + [c for c in CLUSTER_TEST_COLUMNS if c not in PAIR_COLUMNS]
        ),
        "detection_ci": pd.DataFrame(columns=DETECTION_CI_COLUMNS),
        "generator_profile": pd.DataFrame(columns=PROFILE_COLUMNS),
        "accuracy_resamples": pd.DataFrame(
            {"model": pd.Series(dtype=str), "resample": pd.Series(dtype="int64"), "accuracy": pd.Series(dtype=float)}
        ),
    }
    if scores.empty or clusters.empty:
        return empty
    cluster_of = clusters.set_index("instance_id")["cluster_id"]
    n_clusters = int(clusters["cluster_id"].max()) + 1
    weights = resample_weights(n_clusters, n_resamples, seed)
    scores = scores.assign(cluster=cluster_of.reindex(scores["instance_id"]).to_numpy())
    scores = scores[scores["cluster"].notna()].astype({"cluster": "int64"})
    # correct: 0/1, or the share of an entry's runs that were right (repeats); missing counts as wrong
    choice = scores[scores["question_type"] != "temporal"].assign(
        correct=lambda f: f["correct"].astype(float).fillna(0.0)
    )
    temporal = scores[scores["question_type"] == "temporal"].assign(iou=lambda f: f["iou"].fillna(0.0))
    episodes = _with_cluster_of_episode(episodes, choice)
    circular = _with_cluster(circular, cluster_of)
    detection = _with_cluster(detection, cluster_of, "gold_positive") if detection is not None else None
    has_detection = detection is not None and len(detection)
    return {
        "detection_ci": detection_intervals(detection, weights) if has_detection else empty["detection_ci"],
        "generator_profile": generator_profile(detection, weights, n_clusters)
        if has_detection
        else empty["generator_profile"],
        "bootstrap_ci": accuracy_intervals(choice, weights, seed) if len(choice) else empty["bootstrap_ci"],
        "headline_ci": headline_intervals(choice, temporal, episodes, circular, weights),
        "accuracy_resamples": accuracy_resamples(choice, weights, n_clusters)
        if len(choice)
        else empty["accuracy_resamples"],
        "pairwise_bootstrap": pairwise_intervals(choice, weights, n_clusters)
        if len(choice)
        else empty["pairwise_bootstrap"],
    }


def _with_cluster(frame: pd.DataFrame | None, cluster_of: pd.Series, value: str = "circular_correct") -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["model", "cluster", value])
    frame = frame.assign(cluster=cluster_of.reindex(frame["instance_id"]).to_numpy())
    return frame[frame["cluster"].notna()].astype({"cluster": "int64"})


def _with_cluster_of_episode(episodes: pd.DataFrame | None, choice: pd.DataFrame) -> pd.DataFrame:
    """An episode's questions all lie in one component (they share the episode node)."""
    if episodes is None or episodes.empty:
        return pd.DataFrame(columns=["model", "cluster", "all_correct"])
    drama = choice[choice["subset"] == "short_drama"]
    key = drama["episode_id"].fillna(drama["instance_id"])
    cluster_of = pd.Series(drama["cluster"].to_numpy(), index=key.to_numpy()).groupby(level=0).first()
    frame = episodes.assign(cluster=cluster_of.reindex(episodes["episode_id"]).to_numpy())
    return frame[frame["cluster"].notna()].astype({"cluster": "int64"})
