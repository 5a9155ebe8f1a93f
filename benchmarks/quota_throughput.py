"""A run under a per-minute quota: does it settle at the quota's rate without losing cells?

Starts the test provider in its own process with a per-model quota (`--quota` requests per
`--window` seconds: a per-minute quota with the minute scaled down, the same rule), and evaluates
`--n` cells through the real SDKs with a concurrency well above what the quota allows and no
`rate_limit_rpm` set: the client learns the quota from the 429s alone (Gemini: RetryInfo in the
body; OpenAI: retry-after-ms). Prints, per provider, the wall time against the quota-limited ideal
(n / rate), the number of 429s met, the concurrency cuts, and the number of `rate_limited` cells.
Target: wall <= 1.2x ideal, 0 rate_limited cells.

    .venv/bin/python benchmarks/quota_throughput.py [--n 1000] [--quota 100] [--window 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import provider_server, synthetic_instances  # noqa: E402
from mtavg_assets.evaluators.providers import build_api_evaluator  # noqa: E402
from mtavg_assets.predictions.runner import evaluate_cells, select_cells  # noqa: E402
from mtavg_assets.predictions.store import PredictionStore  # noqa: E402
from mtavg_assets.registry import parse_entry  # noqa: E402
from mtavg_assets.settings import DataLayout  # noqa: E402

MODELS = {"gemini": "gemini-2.5-flash", "openai": "gpt-4.1-mini"}


def run(provider: str, base_url: str, args) -> dict:
    os.environ.setdefault("MTAVG_BENCH_KEY", "sk-bench")
    entry = parse_entry(
        {
            "name": f"quota-{provider}",
            "provider": provider,
            "model": MODELS[provider],
            "base_url": base_url if provider == "gemini" else f"{base_url}/v1",
            "api_key_env": "MTAVG_BENCH_KEY",
            "media": "video" if provider == "gemini" else "frames",
            "concurrency": args.concurrency,
            "max_retries": 2,
            "retry_initial_s": 0.2,
        }
    )
    instances = synthetic_instances(args.n).assign(n_clips=0, clip_sha256s=[[] for _ in range(args.n)])
    with tempfile.TemporaryDirectory() as tmp:
        store = PredictionStore(DataLayout(Path(tmp)), entry.name)
        cells, _ = select_cells(instances, store.load(), entry)
        summary = asyncio.run(evaluate_cells(build_api_evaluator(entry), cells, store))
        rows = store.compact()
    rate = args.quota / args.window
    ideal = len(cells) / rate
    return {
        "provider": provider,
        "cells": len(cells),
        "rows": len(rows),
        "wall_s": summary.wall_s,
        "ideal_s": ideal,
        "ratio": summary.wall_s / ideal,
        "batched_ideal_s": (math.ceil(len(cells) / args.quota) - 1) * args.window + args.latency,
        "429s": summary.rate_limit_waits,
        "cuts": summary.window_cuts,
        "rate_limited": int((rows["status"] == "rate_limited").sum()),
        "ok": int((rows["status"] == "ok").sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--quota", type=int, default=100, help="requests per window per model")
    parser.add_argument("--window", type=float, default=5.0, help="the quota window (60 for a real minute)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--providers", default="gemini,openai")
    args = parser.parse_args()
    print(f"{args.n} cells, quota {args.quota} requests / {args.window:g} s per model, concurrency {args.concurrency}")
    for provider in args.providers.split(","):
        quota = ("--quota-rpm", str(args.quota), "--quota-window", str(args.window))
        with provider_server(args.latency, 0.0, 0, *quota) as base_url:
            r = run(provider, base_url, args)
        print(
            f"{r['provider']:>7}: {r['rows']}/{r['cells']} rows ({r['ok']} ok, {r['rate_limited']} rate_limited); "
            f"wall {r['wall_s']:.1f} s vs ideal {r['ideal_s']:.1f} s = {r['ratio']:.2f}x "
            f"(batched-window ideal {r['batched_ideal_s']:.1f} s); {r['429s']} 429s met, {r['cuts']} concurrency cuts"
        )


if __name__ == "__main__":
    main()
