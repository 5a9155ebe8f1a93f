"""Evaluate N instances with 20% injected faults (429/500/503, slow, malformed, empty, dropped);
print how every instance ended and whether any row was lost or duplicated.

    .venv/bin/python benchmarks/fault_tolerance.py [--n 2000] [--fault-rate 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import provider_server, server_calls, synthetic_instances, tiny_frames_media  # noqa: E402
from mtavg_assets.evaluators.openai_chat import OpenAIChatEvaluator  # noqa: E402
from mtavg_assets.predictions.runner import evaluate_cells, select_cells  # noqa: E402
from mtavg_assets.predictions.store import PredictionStore  # noqa: E402
from mtavg_assets.registry import parse_entry  # noqa: E402
from mtavg_assets.settings import DataLayout  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--max-retries", type=int, default=3)
    args = parser.parse_args()
    instances = synthetic_instances(args.n)
    with provider_server(0.02, fault_rate=args.fault_rate, seed=1) as base_url, tempfile.TemporaryDirectory() as tmp:
        entry = parse_entry(
            {
                "name": "faulty",
                "provider": "openai_compatible",
                "model": "omni",
                "media": "frames",
                "base_url": f"{base_url}/v1",
                "concurrency": 32,
                "timeout_s": 0.5,
                "max_retries": args.max_retries,
                "retry_initial_s": 0.02,
            }
        )
        store = PredictionStore(DataLayout(Path(tmp)), entry.name)
        cells, _ = select_cells(instances, store.load(), entry)
        media_for = tiny_frames_media(Path(tmp))
        summary = asyncio.run(evaluate_cells(OpenAIChatEvaluator(entry, None), cells, store, media_for))
        rows = store.compact()
        print(f"instances={args.n} fault_rate={args.fault_rate} max_retries={args.max_retries}")
        print(f"server requests={server_calls(base_url)} evaluator attempts={summary.calls}")
        print(f"final statuses: {rows['status'].value_counts().to_dict()}")
        print(f"attempts per cell: {rows['attempts'].value_counts().sort_index().to_dict()}")
        print(rows.loc[rows["status"] != "ok", "error"].str.slice(0, 60).value_counts().head(5).to_string())
        missing = set(instances["instance_id"]) - set(rows["instance_id"])
        print(
            f"rows={len(rows)} unique={rows['instance_id'].nunique()} missing={len(missing)} "
            f"duplicated={len(rows) - rows['instance_id'].nunique()} "
            f"answers on error rows={int(rows.loc[rows['status'] != 'ok', 'parsed_answer'].notna().sum())}"
        )


if __name__ == "__main__":
    main()
