"""Evaluator throughput, incremental re-run and crash-resume against a local provider server.

Prints: achieved throughput as a ratio of the ideal (concurrency / latency) for N instances through
the real OpenAI SDK; calls made by an immediate re-run; calls made after a SIGKILL mid-run and a
resume, against the number of cells the killed run had not persisted.

    .venv/bin/python benchmarks/evaluator_throughput.py [--n 2000] [--concurrency 32] [--latency 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import provider_server, server_calls, synthetic_instances, tiny_frames_media  # noqa: E402
from mtavg_assets.evaluators.openai_chat import OpenAIChatEvaluator  # noqa: E402
from mtavg_assets.predictions.runner import evaluate_cells, select_cells  # noqa: E402
from mtavg_assets.predictions.store import PredictionStore  # noqa: E402
from mtavg_assets.registry import parse_entry  # noqa: E402
from mtavg_assets.settings import DataLayout  # noqa: E402


def entry_for(base_url: str, concurrency: int, timeout_s: float = 30.0):
    return parse_entry(
        {
            "name": "bench",
            "provider": "openai_compatible",
            "model": "omni-bench",
            "base_url": f"{base_url}/v1",
            "media": "frames",
            "concurrency": concurrency,
            "timeout_s": timeout_s,
            "max_retries": 5,
            "retry_initial_s": 0.05,
        }
    )


def run(base_url: str, data_dir: Path, n: int, concurrency: int):
    entry = entry_for(base_url, concurrency)
    instances = synthetic_instances(n)
    store = PredictionStore(DataLayout(data_dir), entry.name)
    cells, answered = select_cells(instances, store.load(), entry)
    media_for = tiny_frames_media(data_dir.parent)
    summary = asyncio.run(evaluate_cells(OpenAIChatEvaluator(entry, None), cells, store, media_for))
    store.compact()
    return summary, len(cells), answered


def child(base_url: str, data_dir: str, n: int, concurrency: int) -> None:
    run(base_url, Path(data_dir), n, concurrency)


def journal_rows(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.endswith("}")) if path.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--child", nargs=2, metavar=("BASE_URL", "DATA_DIR"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.n, args.concurrency)
        return

    with provider_server(args.latency) as base_url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "full"
        summary, asked, _ = run(base_url, data, args.n, args.concurrency)
        ideal = args.n * args.latency / args.concurrency
        print(f"instances={args.n} concurrency={args.concurrency} latency={args.latency}s")
        print(
            f"full run: {summary.wall_s:.2f}s wall, ideal {ideal:.2f}s -> throughput ratio {ideal / summary.wall_s:.3f}"
            f" ({args.n / summary.wall_s:.1f} req/s of ideal {args.concurrency / args.latency:.1f}); "
            f"statuses {dict(summary.statuses)}"
        )

        before = server_calls(base_url)
        again, asked_again, answered = run(base_url, data, args.n, args.concurrency)
        print(
            f"immediate re-run: {again.calls} evaluator calls, {server_calls(base_url) - before} server requests, "
            f"{answered} cells already answered"
        )

        killed = Path(tmp) / "killed"
        proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--n",
                str(args.n),
                "--concurrency",
                str(args.concurrency),
                "--child",
                base_url,
                str(killed),
            ]
        )
        journal = DataLayout(killed).journal_file("bench")
        deadline = time.monotonic() + 120
        while journal_rows(journal) < args.n // 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)  # polling the child's journal to pick the kill moment
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        persisted = len(PredictionStore(DataLayout(killed), "bench").load())
        before = server_calls(base_url)
        resumed, asked_resume, answered = run(base_url, killed, args.n, args.concurrency)
        calls = server_calls(base_url) - before
        print(
            f"SIGKILL after {persisted} persisted answers; resume asked {asked_resume} cells with {calls} server "
            f"requests; unanswered at kill = {args.n - persisted} -> "
            f"{'exact' if calls == args.n - persisted == asked_resume else 'MISMATCH'}"
        )
        final = PredictionStore(DataLayout(killed), "bench").load()
        print(f"after resume: {len(final)} rows, unique instances {final['instance_id'].nunique()}")


if __name__ == "__main__":
    main()
