"""Run wall time of automation cycles through the real daemon (`dagster dev`, webserver + daemon),
not `execute_in_process`: the first full cycle, a nightly with no change, and a nightly after 1%
new QA lines. A cycle's figure is the sum of the wall times of the runs it launched (start to end,
from the instance's run records), plus its span from first start to last end.

The nightly cron (MTAVG_NIGHTLY_CRON) is set a few minutes ahead, after the full cycle ends.

    .venv/bin/python benchmarks/daemon_cycles.py [--episodes 16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg  # noqa: E402

from mtavg_assets.cli import ensure_demo_data  # noqa: E402
from mtavg_assets.local_runs import open_instance  # noqa: E402
from mtavg_assets.settings import DataLayout  # noqa: E402
from mtavg_assets_tests.dagster_dev import dagster_dev  # noqa: E402

TIMEOUT_S = 900


def wait(what: str, condition, timeout_s: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1.0)
    raise TimeoutError(f"timed out waiting for {what}")


def runs_since(instance: dg.DagsterInstance, since: float) -> list:
    return [r for r in instance.get_run_records() if r.create_timestamp.timestamp() >= since]


def settled_cycle(instance: dg.DagsterInstance, since: float, expect_job_runs: int, quiet_s: float = 60.0) -> list:
    """Wait until at least `expect_job_runs` runs started after `since` and every one has ended,
    with no new run for `quiet_s`; return their records."""

    def done():
        records = runs_since(instance, since)
        if len(records) < expect_job_runs or any(not r.dagster_run.is_finished for r in records):
            return None
        last_end = max(r.end_time or 0 for r in records)
        return records if time.time() - last_end >= quiet_s else None

    return wait("the cycle's runs", done)


def summary(name: str, records: list) -> float:
    total = sum((r.end_time or 0) - (r.start_time or 0) for r in records)
    span = max(r.end_time for r in records) - min(r.start_time for r in records) if records else 0.0
    failed = sum(r.dagster_run.status != dg.DagsterRunStatus.SUCCESS for r in records)
    print(f"{name}: {len(records)} runs, run wall time {total:.1f}s in total, span {span:.1f}s, {failed} failed")
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--night-in-minutes", type=int, default=5, help="when the nightly tick comes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, home = Path(tmp) / "data", Path(tmp) / "home"
        ensure_demo_data(DataLayout(data), args.episodes, regenerate=False)
        instance = open_instance(home)
        night_at = datetime.now(UTC) + timedelta(minutes=args.night_in_minutes)
        env = {
            **os.environ,
            "MTAVG_DATA_DIR": str(data),
            "DAGSTER_HOME": str(home),
            "MTAVG_AUTOMATION_INTERVAL_S": "5",
            "MTAVG_NIGHTLY_CRON": f"{night_at.minute} {night_at.hour} * * *",
        }
        started = time.time()
        with dagster_dev(env):
            full = summary("full run (prepare, 2 models, metrics)", settled_cycle(instance, started, 4))
            wait("the nightly tick", lambda: datetime.now(UTC) >= night_at.replace(second=0), timeout_s=3600)
            night = time.time()
            nightly = summary("nightly, no change", settled_cycle(instance, night - 60, 1))
            qa = data / "qa" / "demo_core.jsonl"
            lines = qa.read_text().splitlines()
            n_new = max(1, len(lines) // 100)
            with (data / "qa" / "added.jsonl").open("w") as fh:
                for i, line in enumerate(lines[:n_new]):
                    record = json.loads(line)
                    fh.write(json.dumps({**record, "instance_id": f"added-{i}", "question": record["question"] + "?"}))
                    fh.write("\n")
            change = time.time()
            changed = summary(f"1% change ({n_new} new QA lines)", settled_cycle(instance, change, 4))
            print(
                f"no-change nightly: {nightly:.1f}s of run wall time ({100 * nightly / full:.0f}% of the full run; "
                f"target < 10s); 1% change: {changed:.1f}s ({100 * changed / full:.0f}%)"
            )


if __name__ == "__main__":
    main()
