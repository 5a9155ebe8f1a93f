"""Does an evaluator really listen or look? Each ablated copy of an entry (audio_off, video_off,
text_only) answers the same questions without that modality; modality_reliance compares it with
its base entry on the questions both answered rows for, overall and per dimension and category:
accuracy_full, accuracy_ablated, diff = ablated - full, and the paired, clustered 95% interval of
the difference (the interval of metrics/pairwise.py: per-cluster differences, Student t with
K - 1 df, inverted in closed form). A category whose accuracy drops when the audio is removed is
one the evaluator answers by listening."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mtavg_assets.metrics.pairwise import score_interval

COLUMNS = [
    "model",
    "ablation",
    "dimension",
    "category",
    "n",
    "n_clusters",
    "accuracy_full",
    "accuracy_ablated",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
]


def modality_reliance(choice: pd.DataFrame, ablations: pd.DataFrame) -> pd.DataFrame:
    """`choice`: scored choice rows (model, instance_id, dimension, category, correct, cluster);
    `ablations`: registry rows of ablated copies (name, ablation_of, ablation)."""
    rows = []
    for copy in ablations.itertuples():
        full = choice[choice["model"] == copy.ablation_of]
        ablated = choice[choice["model"] == copy.name][["instance_id", "correct"]]
        paired = full.merge(ablated, on="instance_id", suffixes=("_full", "_ablated"))
        if paired.empty:
            continue
        groups = [(None, None, paired)]
        groups += [(d, None, g) for d, g in paired.groupby("dimension", sort=True)]
        groups += [(g["dimension"].iloc[0], c, g) for c, g in paired.groupby("category", sort=True)]
        for dimension, category, group in groups:
            full_right = group["correct_full"].astype(float).to_numpy()
            ablated_right = group["correct_ablated"].astype(float).to_numpy()
            codes, _ = pd.factorize(group["cluster"])
            k = int(codes.max()) + 1
            d = np.bincount(codes, weights=ablated_right - full_right, minlength=k)
            n = np.bincount(codes, minlength=k).astype(np.float64)
            low, high = score_interval(d, n) if k >= 2 and np.any(d) else ((0.0, 0.0) if k >= 2 else (None, None))
            rows.append(
                (
                    copy.ablation_of,
                    copy.ablation,
                    dimension,
                    category,
                    len(group),
                    k,
                    float(full_right.mean()),
                    float(ablated_right.mean()),
                    float(ablated_right.mean() - full_right.mean()),
                    low,
                    high,
                )
            )
    return pd.DataFrame(rows, columns=COLUMNS)
