"""Wall time of a nightly cycle (prepare -> evaluate every model partition -> metrics) when nothing
changed and when 1% new QA instances arrived, relative to the first full run. The evaluator is an
OpenAI-compatible omni model served by the local fake provider with a fixed latency.

    .venv/bin/python benchmarks/nightly_incremental.py [--episodes 60] [--latency 1.0] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import provider_server, server_calls  # noqa: E402
from mtavg_assets.definitions import build_definitions  # noqa: E402
from mtavg_assets.demo.generate import generate_demo  # noqa: E402
from mtavg_assets.settings import DEFAULT_DATA_DIR, DataLayout  # noqa: E402


def nightly(defs: dg.Definitions, instance: dg.DagsterInstance, models: list[str]) -> tuple[float, int]:
    """One nightly cycle; returns (wall seconds, cells asked)."""
    started, asked = time.monotonic(), 0
    assert defs.resolve_job_def("prepare_benchmark").execute_in_process(instance=instance).success
    for model in models:
        result = defs.resolve_job_def("evaluate_model").execute_in_process(instance=instance, partition_key=model)
        event = result.get_asset_materialization_events()[0].materialization
        asked += event.metadata["asked_now"].value
    assert defs.resolve_job_def("build_metrics").execute_in_process(instance=instance).success
    return time.monotonic() - started, asked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with provider_server(args.latency) as base_url, tempfile.TemporaryDirectory() as tmp:
        layout = DataLayout(Path(tmp))
        shutil.copy(DEFAULT_DATA_DIR / "taxonomy.yaml", layout.root / "taxonomy.yaml")
        summary = generate_demo(layout, n_episodes=args.episodes)
        layout.models_file.write_text(
            "models:\n  - {name: random, provider: random}\n"
            f"  - {{name: omni, provider: openai_compatible, model: omni, base_url: '{base_url}/v1', media: frames,"
            f" frames: 4, concurrency: {args.concurrency}}}\n"
        )
        defs = build_definitions(str(layout.root))
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions("models", ["random", "omni"])
        print(
            f"benchmark: {summary.clips} clips, {summary.qa_instances} QA instances, models random + omni "
            f"(latency {args.latency}s, concurrency {args.concurrency})"
        )

        full, asked_full = nightly(defs, instance, ["random", "omni"])
        print(f"full run: {full:.1f}s, {asked_full} cells asked")

        calls = server_calls(base_url)
        same, asked_same = nightly(defs, instance, ["random", "omni"])
        print(
            f"no-change nightly: {same:.1f}s = {100 * same / full:.1f}% of full (target < 5%), "
            f"{asked_same} cells asked, {server_calls(base_url) - calls} model calls"
        )

        valid = pd.read_parquet(layout.derived("validated_qa"))
        n_new = max(1, len(valid) // 100)
        source = [json.loads(x) for x in (layout.qa_dir / "demo_core.jsonl").read_text().splitlines()][:n_new]
        with (layout.qa_dir / "nightly_additions.jsonl").open("w") as fh:
            for i, record in enumerate(source):
                fh.write(
                    json.dumps({**record, "instance_id": f"new-{i}", "question": record["question"] + " (new)"}) + "\n"
                )
        calls = server_calls(base_url)
        changed, asked_changed = nightly(defs, instance, ["random", "omni"])
        print(
            f"1%-change nightly ({n_new} new instances): {changed:.1f}s = {100 * changed / full:.1f}% of full, "
            f"{asked_changed} cells asked over 2 models, {server_calls(base_url) - calls} model calls "
            f"(expected {n_new})"
        )


if __name__ == "__main__":
    main()
