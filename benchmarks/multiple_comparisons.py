"""Family-wise false-positive rate of `pairwise_tests.significant` when every model is equally
good, with errors correlated within episodes, and the power of the same test.

Each simulation draws a benchmark of episodes (3 clips each, questions per clip plus drama
questions spanning the episode; difficulty shared by all models through episode and question
effects). Then M equally good models answer it, each with its *own* episode effect of standard
deviation `strength` on the logit: a model that misreads an episode misreads its questions
together, which is what makes McNemar (independent questions) too liberal. The real metric build
(SQL + bootstrap + the cluster-robust paired test) runs on it; a simulation is a false positive
when any pair is flagged significant. Printed per strength: the FWER the pipeline publishes
(target <= 0.05) and, for reference, McNemar + Holm's. Then the power of the published test for a
5-point difference at 10,000 questions in 900 episodes (target >= 0.95), from the same test
function the build uses (metrics/pairwise.py), without the build around it.

    .venv/bin/python benchmarks/multiple_comparisons.py [--sims 100] [--models 10] [--episodes 60]
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


def episode_benchmark(
    rng: np.random.Generator, n_episodes: int, per_clip: int = 3
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """QA rows, each question's shared logit (0.4 + episode + question effect) and its episode."""
    rows, logits, episode_of = [], [], []
    for e in range(n_episodes):
        u = rng.normal(0, 1.0)
        clips = [f"e{e}c{c}" for c in range(3)]
        for clip in clips:
            for q in range(per_clip):
                rows.append(
                    {"instance_id": f"{clip}q{q}", "clip_ids": [clip], "subset": "core", "question_type": "mcq"}
                )
                logits.append(0.4 + u + rng.normal(0, 0.5))
                episode_of.append(e)
        for q in range(2):
            rows.append(
                {"instance_id": f"e{e}d{q}", "clip_ids": clips, "subset": "short_drama", "question_type": "drama"}
            )
            logits.append(0.4 + u + rng.normal(0, 0.5))
            episode_of.append(e)
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
    return qa[VALID_COLUMNS], np.array(logits), np.array(episode_of)


def answers(rng, logits: np.ndarray, episode_of: np.ndarray, strength: float, shift: float = 0.0) -> np.ndarray:
    """One equally good model's right/wrong answers, with its own episode effect (sd `strength`)."""
    own = rng.normal(0, strength, episode_of.max() + 1)[episode_of] if strength else 0.0
    p_right = np.clip(1 / (1 + np.exp(-(logits + own))) - shift, 0, 1)
    return rng.random(len(logits)) < p_right


def write_benchmark(layout: DataLayout, qa: pd.DataFrame, logits, episode_of, n_models: int, rng, strength) -> None:
    write_parquet(qa, layout.derived("validated_qa"))
    write_parquet(pd.DataFrame({"instance_id": pd.Series([], dtype=str)}), layout.derived("qa_rejects"))
    write_parquet(pd.DataFrame({"clip_id": ["c"]}), layout.derived("clip_catalog"))
    write_parquet(pd.DataFrame({"clip_id": pd.Series([], dtype=str)}), layout.derived("clip_rejects"))
    names = [f"m{i:02d}" for i in range(n_models)]
    keys = register_models(layout, names)
    for name in names:
        right = answers(rng, logits, episode_of, strength)
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


def holm_any(p: np.ndarray, alpha: float = 0.05) -> bool:
    """Does Holm's step-down procedure reject anything among these p-values?"""
    return bool(len(p)) and float(np.sort(p)[0]) < alpha / len(p)


def fwer(args, strength: float, rng) -> tuple[float, float]:
    published = mcnemar = 0
    for sim in range(args.sims):
        qa, logits, episode_of = episode_benchmark(rng, args.episodes)
        with tempfile.TemporaryDirectory() as tmp:
            layout = DataLayout(Path(tmp))
            write_benchmark(layout, qa, logits, episode_of, args.models, rng, strength)
            build_metric_tables(layout, n_resamples=args.resamples, seed=sim)
            with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
                tests = con.execute("SELECT * FROM pairwise_tests").df()
        published += bool(tests["significant"].any())
        mcnemar += holm_any(tests["mcnemar_p"].to_numpy())
    return published / args.sims, mcnemar / args.sims


def power(args, rng, strength: float = 0.5) -> float:
    """Two models 5 points apart, 10,000 questions in 900 episodes (about 11 questions each)."""
    from mtavg_assets.metrics.pairwise import paired_cluster_tests

    n_episodes, n = 900, 10_000
    hits = 0
    for _ in range(args.power_sims):
        episode_of = np.sort(rng.integers(0, n_episodes, n))
        logits = 0.4 + rng.normal(0, 1.0, n_episodes)[episode_of] + rng.normal(0, 0.5, n)
        a = answers(rng, logits, episode_of, strength)
        b = answers(rng, logits, episode_of, strength, shift=0.05)
        test = paired_cluster_tests(np.vstack([a, b]).astype(float), episode_of, ["a", "b"]).iloc[0]
        hits += test["cluster_p"] < 0.05
    return hits / args.power_sims


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=100, help="simulations per strength")
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--strengths", default="0,0.5,1.0", help="sd of each model's own episode effect (logit)")
    parser.add_argument("--power-sims", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n_pairs = args.models * (args.models - 1) // 2
    print(
        f"{args.sims} simulations per strength, {args.models} equally good models ({n_pairs} pairs), "
        f"{args.episodes} episodes (11 questions each), the real metric build"
    )
    for strength in (float(s) for s in args.strengths.split(",")):
        started = time.monotonic()
        published, mcnemar = fwer(args, strength, rng)
        se = (published * (1 - published) / args.sims) ** 0.5
        print(
            f"  strength {strength:.1f}: FWER published (cluster-robust + Holm) {published:.3f} (+/- {se:.3f} SE; "
            f"target <= 0.05); McNemar + Holm {mcnemar:.3f}  [{time.monotonic() - started:.0f}s]"
        )
    print(
        f"power for a 5-point difference, 10,000 questions in 900 episodes, strength 0.5: "
        f"{power(args, rng):.3f} over {args.power_sims} simulations (target >= 0.95)"
    )


if __name__ == "__main__":
    main()
