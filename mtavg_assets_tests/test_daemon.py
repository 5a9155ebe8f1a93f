"""The real thing: `dagster dev` (webserver + daemon) on 127.0.0.1 with a fresh instance runs the
benchmark by itself, picks up a new model and a new QA line asking exactly the new cells, and drops
a removed model from the leaderboard. Every wait is bounded and polls real state."""

from __future__ import annotations

import json
import os
import subprocess
import time

import duckdb
import pytest

from mtavg_assets.local_runs import open_instance
from mtavg_assets_tests.dagster_dev import dagster_dev

WAIT_S = 420
# Three bounded waits follow one another; the test as a whole may take all of them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3 * WAIT_S + 120)]


def _leaderboard(layout) -> set[str]:
    try:
        with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
            return {m for (m,) in con.execute("SELECT model FROM leaderboard").fetchall()}
    except (duckdb.Error, OSError):  # not built yet, or being replaced this instant
        return set()


def _wait(what: str, condition, process: subprocess.Popen, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "dagster dev exited"
        value = condition()
        if value:
            return value
        time.sleep(1.0)  # polling real state written by another process
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _latest_predictions(instance, partition: str) -> dict:
    import dagster as dg

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("predictions"), asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return {}
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_the_daemon_runs_the_benchmark_and_follows_its_inputs(demo_layout, tmp_path):
    home = tmp_path / "home"
    instance = open_instance(home)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MTAVG_DATA_DIR": str(demo_layout.root),
        "MTAVG_AUTOMATION_INTERVAL_S": "5",
    }
    with dagster_dev(env) as (_, process):
        _wait("the first leaderboard", lambda: _leaderboard(demo_layout) == {"random", "prior"}, process)
        n_instances = _latest_predictions(instance, "random")["instances"]

        models = demo_layout.models_file.read_text()
        demo_layout.models_file.write_text(models + "  - {name: random-2, provider: random, seed: 2}\n")
        record = json.loads((demo_layout.qa_dir / "demo_core.jsonl").read_text().splitlines()[0])
        (demo_layout.qa_dir / "added.jsonl").write_text(
            json.dumps({**record, "instance_id": "added-1", "question": record["question"] + " (new)"}) + "\n"
        )
        _wait(
            "the new model and the new instance on the leaderboard",
            lambda: (
                _leaderboard(demo_layout) == {"random", "prior", "random-2"}
                and _latest_predictions(instance, "random").get("instances") == n_instances + 1
                and _latest_predictions(instance, "prior").get("instances") == n_instances + 1
                and _latest_predictions(instance, "random-2").get("instances") == n_instances + 1
            ),
            process,
        )
        for partition in ("random", "prior"):
            assert _latest_predictions(instance, partition)["asked_now"] == 1  # exactly the new cell
        new = _latest_predictions(instance, "random-2")
        assert new["already_answered"] + new["asked_now"] == n_instances + 1

        demo_layout.models_file.write_text(models)
        _wait("the removed model to leave", lambda: _leaderboard(demo_layout) == {"random", "prior"}, process)
        assert instance.get_dynamic_partitions("models") == ["random", "prior"]
