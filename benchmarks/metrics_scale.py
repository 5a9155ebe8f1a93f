"""Build every metric table for N instances x M models of synthetic predictions (default
10,000 x 100 = 1,000,000 rows) with 1,000 clustered bootstrap resamples; print the wall time.

    .venv/bin/python benchmarks/metrics_scale.py [--instances 10000] [--models 100] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtavg_assets.metrics.build import build_metric_tables, register_models  # noqa: E402
from mtavg_assets.parquet_io import write_parquet  # noqa: E402
from mtavg_assets.predictions.store import SCHEMA  # noqa: E402
from mtavg_assets.qa.validate import VALID_COLUMNS  # noqa: E402
from mtavg_assets.settings import DEFAULT_DATA_DIR, DataLayout  # noqa: E402
from mtavg_assets.taxonomy import load_taxonomy  # noqa: E402


def synthetic_benchmark(layout: DataLayout, n: int, n_models: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    taxonomy = load_taxonomy(DEFAULT_DATA_DIR / "taxonomy.yaml")
    categories = np.array(sorted(taxonomy.categories))
    qtypes = rng.choice(["mcq", "yes_no", "temporal", "drama"], size=n, p=[0.45, 0.3, 0.2, 0.05])
    n_options = np.where(qtypes == "yes_no", 2, np.where(qtypes == "temporal", 0, 4))
    answers = np.array([chr(65 + rng.integers(k)) if k else None for k in n_options], dtype=object)
    cats = rng.choice(categories, size=n)
    clips = rng.integers(0, n // 3, size=n)
    starts = rng.uniform(0, 8, size=n)
    ids = np.array([f"i{i:06d}" for i in range(n)])
    qa = pd.DataFrame(
        {
            "instance_id": ids,
            "clip_ids": [[f"c{c}"] for c in clips],
            "n_clips": 1,
            "subset": np.where(
                qtypes == "temporal", "temporal_localization", np.where(qtypes == "drama", "short_drama", "core")
            ),
            "question_type": qtypes,
            "dimension": [taxonomy.categories[c] for c in cats],
            "category": cats,
            "question": "q",
            "options": [[f"o{j}" for j in range(k)] if k else None for k in n_options],
            "n_options": np.where(n_options > 0, n_options, np.nan),
            "answer": answers,
            "answer_span_start": np.where(qtypes == "temporal", starts, np.nan),
            "answer_span_end": np.where(qtypes == "temporal", starts + 2, np.nan),
            "source_generator": rng.choice(["g1", "g2", "g3"], size=n),
            "clip_duration_s": 12.0,
            "clip_sha256s": [[f"s{c}"] for c in clips],
            "content_hash": ids,
            "meta": [json.dumps({"episode_id": f"e{c // 3}"}) for c in clips],
            "source_file": "f",
            "line_no": 1,
        }
    )[VALID_COLUMNS]
    write_parquet(qa, layout.derived("validated_qa"))
    write_parquet(pd.DataFrame({"source_file": ["f"], "reason": ["x"]}), layout.derived("qa_rejects"))
    write_parquet(pd.DataFrame({"clip_id": [f"c{c}" for c in range(n // 3)]}), layout.derived("clip_catalog"))
    write_parquet(pd.DataFrame({"clip_id": ["none"], "reason": ["x"]}), layout.derived("clip_rejects"))
    names = [f"model-{m:03d}" for m in range(n_models)]
    keys = register_models(layout, names)
    for m, name in enumerate(names):
        skill = 0.3 + 0.6 * m / max(n_models - 1, 1)
        right = rng.random(n) < skill
        status = rng.choice(["ok", "unparseable", "error"], size=n, p=[0.95, 0.03, 0.02])
        guess = np.array([chr(65 + rng.integers(max(k, 1))) for k in n_options], dtype=object)
        letter = np.where(right, answers, guess)
        jitter = rng.normal(0, 1.0 - skill, size=n)
        frame = pd.DataFrame(
            {
                "model": name,
                "instance_id": ids,
                "rotation": 0,
                "status": status,
                "parsed_answer": np.where((status == "ok") & (qtypes != "temporal"), letter, None),
                "parsed_span_start": np.where((status == "ok") & (qtypes == "temporal"), starts + jitter, np.nan),
                "parsed_span_end": np.where((status == "ok") & (qtypes == "temporal"), starts + 2 + jitter, np.nan),
                "cache_key": keys[name].reindex(ids).to_numpy(),
                "instance_content_hash": ids,
                "attempts": 1,
            }
        )
        path = layout.predictions_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pandas(frame.reindex(columns=SCHEMA.names), schema=SCHEMA, preserve_index=False), path
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        layout = DataLayout(Path(tmp))
        started = time.monotonic()
        synthetic_benchmark(layout, args.instances, args.models)
        print(
            f"synthetic data: {args.instances} instances x {args.models} models "
            f"({args.instances * args.models:,} prediction rows) in {time.monotonic() - started:.1f}s"
        )
        started = time.monotonic()
        counts = build_metric_tables(layout, n_resamples=args.resamples)
        wall = time.monotonic() - started
        print(
            f"metric tables built in {wall:.1f}s with {args.resamples} bootstrap resamples "
            f"(target < 60s); rows: predictions={counts['predictions']:,} scores={counts['scores']:,} "
            f"bootstrap_ci={counts['bootstrap_ci']:,} pairwise_tests={counts['pairwise_tests']:,}"
        )


if __name__ == "__main__":
    main()
