"""Coverage of the 95% bootstrap interval of accuracy when questions are correlated within episodes.

Each simulation draws a benchmark of episodes (3 clips each; questions per clip and drama questions
over the whole episode), with an episode effect and a clip effect on each question's probability
of being answered right, then one model's answers. The interval is computed three ways from the
same resample machinery: resampling connected components of the instance-clip graph (what the
pipeline publishes), resampling each question's first clip, and resampling questions. Coverage is
the share of simulations whose interval contains the true population accuracy (target 0.93-0.97).
Then, as the metric build does for a dimension or category: a group made of the questions of its
first g episodes, resampled with the whole benchmark's resample matrix and expanded by the group's
own g clusters, for each of --group-sizes; and all of it again with --unequal episodes (1 to 6
questions per clip, drawn per episode).

    .venv/bin/python benchmarks/bootstrap_coverage.py [--sims 500] [--episodes 80] [--group-sizes 5,10,20] [--unequal]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtavg_assets.metrics.bootstrap import (  # noqa: E402
    instance_clusters,
    intervals,
    ratio_samples,
    resample_weights,
    tail_probability,
)

EPISODE_SD, CLIP_SD, QUESTION_SD, MU = 1.0, 0.5, 0.5, 0.4


def p_right(logit):
    return 1 / (1 + np.exp(-logit))


def true_accuracy(per_clip: float, drama: int, rng: np.random.Generator, draws: int = 2_000_000) -> float:
    """Population accuracy: the expected share of right answers over episodes of the same design."""
    u = rng.normal(0, EPISODE_SD, draws)
    clip_q = p_right(MU + u + rng.normal(0, CLIP_SD, draws) + rng.normal(0, QUESTION_SD, draws))
    drama_q = p_right(MU + u + rng.normal(0, QUESTION_SD, draws))
    n_clip, n_drama = 3 * per_clip, drama
    return float((n_clip * clip_q.mean() + n_drama * drama_q.mean()) / (n_clip + n_drama))


def simulate(
    rng: np.random.Generator, n_episodes: int, per_clip: int, drama: int, unequal: bool = False
) -> pd.DataFrame:
    rows = []
    for e in range(n_episodes):
        u = rng.normal(0, EPISODE_SD)
        clips = [f"e{e}c{c}" for c in range(3)]
        questions = int(rng.integers(1, 7)) if unequal else per_clip
        for clip in clips:
            w = rng.normal(0, CLIP_SD)
            for q in range(questions):
                p = p_right(MU + u + w + rng.normal(0, QUESTION_SD))
                rows.append((f"{clip}q{q}", [clip], e, rng.random() < p))
        for q in range(drama):
            p = p_right(MU + u + rng.normal(0, QUESTION_SD))
            rows.append((f"e{e}d{q}", clips, e, rng.random() < p))
    frame = pd.DataFrame(rows, columns=["instance_id", "clip_ids", "episode", "correct"])
    frame["meta"] = [json.dumps({"episode_id": f"e{e}"}) for e in frame["episode"]]
    return frame


def interval(frame: pd.DataFrame, cluster: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    codes, _ = pd.factorize(cluster)
    weights = resample_weights(int(codes.max()) + 1, n_resamples, seed)
    _, samples = ratio_samples(pd.Series("m", index=frame.index), codes, frame["correct"], 1.0, weights)
    low, high, _ = intervals(samples, weights)
    return float(low[0]), float(high[0])


def group_interval(frame, cluster: np.ndarray, group: np.ndarray, n_resamples: int, seed: int):
    """The interval of one group's accuracy as accuracy_intervals computes it: the benchmark-wide
    resample matrix, expanded by the number of clusters the group's questions are in."""
    codes, _ = pd.factorize(cluster)
    weights = resample_weights(int(codes.max()) + 1, n_resamples, seed)
    own = frame[group]
    _, samples = ratio_samples(pd.Series("m", index=own.index), codes[group], own["correct"], 1.0, weights)
    q = tail_probability(len(set(codes[group])))
    low, high = np.nanpercentile(samples[0], [100 * q, 100 * (1 - q)])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=500)
    parser.add_argument("--episodes", type=int, default=80)
    parser.add_argument("--per-clip", type=int, default=3)
    parser.add_argument("--drama", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--group-sizes", default="5,10,20", help="episodes per group for the group intervals")
    parser.add_argument("--unequal", action="store_true", help="1 to 6 questions per clip, drawn per episode")
    args = parser.parse_args()
    sizes = [int(s) for s in args.group_sizes.split(",") if s]
    group_hits = dict.fromkeys(sizes, 0)
    rng = np.random.default_rng(args.seed)
    # with 1-6 questions per clip drawn independently of the effects, the population accuracy is
    # that of the mean design (3.5 questions per clip)
    truth = true_accuracy(3.5 if args.unequal else args.per_clip, args.drama, rng)
    hits = {"components (published)": 0, "first clip": 0, "question": 0}
    started = time.monotonic()
    for sim in range(args.sims):
        frame = simulate(rng, args.episodes, args.per_clip, args.drama, args.unequal)
        clusters = instance_clusters(frame[["instance_id", "clip_ids", "meta"]])["cluster_id"].to_numpy()
        units = {
            "components (published)": clusters,
            "first clip": frame["clip_ids"].map(lambda c: c[0]).to_numpy(),
            "question": frame["instance_id"].to_numpy(),
        }
        for name, cluster in units.items():
            low, high = interval(frame, cluster, args.resamples, seed=sim)
            hits[name] += low <= truth <= high
        for g in sizes:
            low, high = group_interval(frame, clusters, (frame["episode"] < g).to_numpy(), args.resamples, sim)
            group_hits[g] += low <= truth <= high
    n_questions = args.episodes * (3 * args.per_clip + args.drama)
    print(
        f"{args.sims} simulations, {args.episodes} episodes x {3 * args.per_clip + args.drama} questions "
        f"({n_questions} questions), true accuracy {truth:.4f}, {args.resamples} resamples, "
        f"{time.monotonic() - started:.0f}s"
    )
    se = (0.95 * 0.05 / args.sims) ** 0.5
    for name, hit in hits.items():
        print(f"coverage of the 95% interval, resampling by {name}: {hit / args.sims:.3f} (+/- {se:.3f} SE)")
    for g, hit in group_hits.items():
        print(f"coverage of a group of {g} episodes, expanded by its own {g} clusters: {hit / args.sims:.3f}")
    print("target for the published interval: 0.93-0.97")


if __name__ == "__main__":
    main()
