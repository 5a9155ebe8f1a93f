"""Coverage of generator_profile's corrected failure rate (Rogan-Gladen with the evaluator's
errors resampled with the data) against the naive detected rate.

Each simulation: a labelled benchmark of clips (5 yes/no questions each, failure present on 20%)
from other generators, and a target generator's clips whose true failure rate is `--rate`; an
evaluator with sensitivity `--se` and specificity `--sp` answers all of them. The interval of the
corrected rate (metrics/profile.py, the same code the metric build runs, on the same kind of
resample matrix) and the percentile interval of the raw detected rate are checked against the
true rate. Printed: coverage of each (target 0.93-0.97 for the corrected one) and mean widths.

    .venv/bin/python benchmarks/profile_coverage.py [--sims 300] [--rate 0.02] [--se 0.8] [--sp 0.9]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtavg_assets.metrics.bootstrap import resample_weights, tail_probability  # noqa: E402
from mtavg_assets.metrics.profile import generator_profile  # noqa: E402


def simulate(rng, args) -> pd.DataFrame:
    rows = []
    clips = args.labelled_clips + args.target_clips
    for clip in range(clips):
        target = clip >= args.labelled_clips
        for _ in range(5):
            present = rng.random() < (args.rate if target else 0.2)
            said = rng.random() < (args.se if present else 1 - args.sp)
            rows.append(
                {
                    "model": "evaluator",
                    "generator": "target" if target else "other",
                    "dimension": "acting",
                    "category": "identity_drift",
                    "gold_positive": present,
                    "said_positive": said,
                    "answered": True,
                    "cluster": clip,
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=300)
    parser.add_argument("--rate", type=float, default=0.02)
    parser.add_argument("--se", type=float, default=0.8)
    parser.add_argument("--sp", type=float, default=0.9)
    parser.add_argument("--labelled-clips", type=int, default=400)
    parser.add_argument("--target-clips", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(4)
    covered = naive_covered = 0
    widths, naive_widths, estimates = [], [], []
    clusters = args.labelled_clips + args.target_clips
    for sim in range(args.sims):
        items = simulate(rng, args)
        weights = resample_weights(clusters, args.resamples, sim)
        row = generator_profile(items, weights, clusters).set_index("generator").loc["target"]
        covered += row["corrected_ci_low"] <= args.rate <= row["corrected_ci_high"]
        widths.append(row["corrected_ci_high"] - row["corrected_ci_low"])
        estimates.append(row["corrected_rate"])
        target = items[items["generator"] == "target"]
        per_cluster = np.bincount(target["cluster"], weights=target["said_positive"].astype(float), minlength=clusters)
        counts = np.bincount(target["cluster"], minlength=clusters).astype(float)
        with np.errstate(invalid="ignore"):
            q_samples = (per_cluster @ weights) / (counts @ weights)
        tail = tail_probability(args.target_clips)
        low, high = np.nanpercentile(q_samples, [100 * tail, 100 * (1 - tail)])
        naive_covered += low <= args.rate <= high
        naive_widths.append(high - low)
    print(
        f"{args.sims} simulations: true rate {args.rate}, evaluator Se {args.se} Sp {args.sp}, "
        f"{args.labelled_clips} labelled + {args.target_clips} target clips x 5 questions, {args.resamples} resamples"
    )
    print(
        f"corrected (Rogan-Gladen, errors resampled): coverage {covered / args.sims:.3f} (target 0.93-0.97), "
        f"mean width {np.mean(widths):.3f}, mean estimate {np.mean(estimates):.4f}"
    )
    print(f"naive detected rate: coverage {naive_covered / args.sims:.3f}, mean width {np.mean(naive_widths):.3f}")


if __name__ == "__main__":
    main()
