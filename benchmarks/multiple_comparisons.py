"""Family-wise false-positive rate of `pairwise_tests.significant` when every model is equally good.

Each simulation draws a benchmark of episodes (3 clips each, questions per clip plus drama
questions spanning the episode; question difficulty shared by all models through episode and
instance effects), then M models that answer every question right with the same probability. The
real metric build (SQL + clustered bootstrap) runs on it; a simulation is a false positive when
any pair is flagged significant. Printed: the Holm-corrected rate the pipeline publishes (target
<= 0.05) and, for reference, the rate of the same tests without correction.

    .venv/bin/python benchmarks/multiple_comparisons.py [--sims 200] [--models 10] [--episodes 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtavg_assets.metrics.build import build_metric_tables, register_models  # noqa: E402
from mtavg_assets.parquet_io import write_parquet  # noqa: E402
from mtavg_assets.predictions.store import SCHEMA  # noqa: E402
from mtavg_assets.qa.validate import VALID_COLUMNS  # noqa: E402
from mtavg_assets.settings import DataLayout  # noqa: E402

CATEGORIES = ("lip_sync_drift", "identity_drift", "music_mood_mismatch", "turn_taking_error")


def episode_benchmark(rng: np.random.Generator, n_episodes: int, per_clip: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """QA rows and each question's probability of being answered right (logit: 0.4 + episode + question)."""
    rows, logits = [], []
    for e in range(n_episodes):
        u = rng.normal(0, 1.0)
        clips = [f"e{e}c{c}" for c in range(3)]
        for clip in clips:
            for q in range(per_clip):
                rows.append(
                    {"instance_id": f"{clip}q{q}", "clip_ids": [clip], "subset": "core", "question_type": "mcq"}
                )
                logits.append(0.4 + u + rng.normal(0, 0.5))
        for q in range(2):
            rows.append(
                {"instance_id": f"e{e}d{q}", "clip_ids": clips, "subset": "short_drama", "question_type": "drama"}
            )
            logits.append(0.4 + u + rng.normal(0, 0.5))
    qa = pd.DataFrame(rows)
    n = len(qa)
    qa = qa.assign(
        n_clips=qa["clip_ids"].map(len),
        dimension="acting",
        category=[CATEGORIES[i % len(CATEGORIES)] for i in range(n)],
        question="q",
        options=[["a", "b", "c", "d"]] * n,
        n_options=4.0,
        answer="A",
        answer_span_start=np.nan,
        answer_span_end=np.nan,
        source_generator="g",
        clip_duration_s=10.0,
        clip_sha256s=qa["clip_ids"],
        content_hash=qa["instance_id"],
        meta=[json.dumps({"episode_id": iid.split("c")[0].split("d")[0]}) for iid in qa["instance_id"]],
        source_file="f",
        line_no=1,
    )
    return qa[VALID_COLUMNS], 1 / (1 + np.exp(-np.array(logits)))


def write_benchmark(layout: DataLayout, qa: pd.DataFrame, p_right: np.ndarray, n_models: int, rng) -> None:
    write_parquet(qa, layout.derived("validated_qa"))
    write_parquet(pd.DataFrame({"instance_id": pd.Series([], dtype=str)}), layout.derived("qa_rejects"))
    write_parquet(pd.DataFrame({"clip_id": ["c"]}), layout.derived("clip_catalog"))
    write_parquet(pd.DataFrame({"clip_id": pd.Series([], dtype=str)}), layout.derived("clip_rejects"))
    names = [f"m{i:02d}" for i in range(n_models)]
    keys = register_models(layout, names)
    for name in names:
        right = rng.random(len(qa)) < p_right
        frame = pd.DataFrame(
            {
                "model": name,
                "instance_id": qa["instance_id"],
                "rotation": 0,
                "status": "ok",
                "parsed_answer": np.where(right, "A", "B"),
                "cache_key": keys[name].reindex(qa["instance_id"]).to_numpy(),
                "instance_content_hash": qa["content_hash"],
                "attempts": 1,
            }
        ).reindex(columns=SCHEMA.names)
        path = layout.predictions_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False), path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=200)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    holm_hits = raw_hits = 0
    started = time.monotonic()
    for sim in range(args.sims):
        qa, p_right = episode_benchmark(rng, args.episodes)
        with tempfile.TemporaryDirectory() as tmp:
            layout = DataLayout(Path(tmp))
            write_benchmark(layout, qa, p_right, args.models, rng)
            build_metric_tables(layout, n_resamples=args.resamples, seed=sim)
            with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
                tests = con.execute("SELECT * FROM pairwise_tests").df()
        holm_hits += bool(tests["significant"].any())
        raw_hits += bool(((tests["mcnemar_p"] < 0.05) & (tests["bootstrap_p"] < 0.05)).any())
    n_pairs = args.models * (args.models - 1) // 2
    se = (holm_hits / args.sims * (1 - holm_hits / args.sims) / args.sims) ** 0.5
    print(
        f"{args.sims} simulations, {args.models} equally good models ({n_pairs} pairs), {len(qa)} questions in "
        f"{args.episodes} episodes, {args.resamples} resamples, {time.monotonic() - started:.0f}s"
    )
    print(
        f"family-wise false-positive rate, Holm-corrected (published): {holm_hits / args.sims:.3f} "
        f"(+/- {se:.3f} SE; target <= 0.05)"
    )
    print(f"family-wise false-positive rate, uncorrected (for reference): {raw_hits / args.sims:.3f}")


if __name__ == "__main__":
    main()
