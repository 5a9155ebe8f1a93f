"""Runs that the command line executes in its own process, on the instance in DAGSTER_HOME.

Such a run has no run launcher and no run monitoring watching it: if its process is killed, the
run stays STARTED and keeps any pool slot it claimed (`duckdb_writer`), so every later run would
wait for it forever. Every CLI run is tagged with its host and process id; before running, the CLI
marks runs whose process is gone as failed and frees their slots, and any wait for a slot held by
a live run says what it waits for and ends with a clear error after a bounded time.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from filelock import FileLock

from mtavg_assets.settings import REPO_ROOT

PID_TAG = "mtavg/pid"
HOST_TAG = "mtavg/host"
SETUP_LOCK_TIMEOUT_S = 120.0
LIVE_STATUSES = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def cli_tags() -> dict[str, str]:
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_instance(home: Path) -> dg.DagsterInstance:
    """The persistent instance in `home`, created (with the project's dagster.yaml) and its storage
    schema set up by one process at a time: two CLIs started together on a fresh home both work."""
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / ".mtavg-setup.lock"), timeout=SETUP_LOCK_TIMEOUT_S):
        settings = home / "dagster.yaml"
        if not settings.exists():
            settings.write_text((REPO_ROOT / "dagster.yaml").read_text())
        instance = dg.DagsterInstance.from_config(str(home))
        instance.get_runs(limit=1)  # create the run, event and schedule storage now, under the lock
        instance.event_log_storage.get_concurrency_keys()
        if instance.schedule_storage:
            instance.schedule_storage.all_instigator_state()
    return instance


def _owner_alive(run: dg.DagsterRun) -> bool | None:
    """False when the run was started by a CLI process on this host that no longer exists."""
    pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
    if pid is None or host != socket.gethostname():
        return None
    return process_alive(int(pid))


def reclaim_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark CLI runs whose process is gone as failed and free every pool slot held by a run that
    is finished or dead. Returns the run ids reclaimed."""
    reclaimed = []
    host = socket.gethostname()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=LIVE_STATUSES, tags={HOST_TAG: host})):
        if _owner_alive(run) is False:
            instance.report_run_failed(run, f"process {run.tags[PID_TAG]} that ran it is gone (killed)")
            reclaimed.append(run.run_id)
    storage = instance.event_log_storage
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        for run_id in info.active_run_ids | {step.run_id for step in info.pending_steps}:
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished or _owner_alive(run) is False:
                storage.free_concurrency_slots_for_run(run_id)
                if run_id not in reclaimed:
                    reclaimed.append(run_id)
    return reclaimed


def wait_for_pool(
    instance: dg.DagsterInstance, pool: str, timeout_s: float, say: Callable[[str], None], poll_s: float = 1.0
) -> None:
    """Return once `pool` has a free slot; say who holds it while waiting; raise TimeoutError after
    `timeout_s` with the holder's run id."""
    deadline = time.monotonic() + timeout_s
    told = None
    while True:
        reclaim_dead_runs(instance)
        info = instance.event_log_storage.get_concurrency_info(pool)
        limit = info.limit if info.limit is not None else info.slot_count
        if not limit or len(info.claimed_slots) < limit:
            return
        holders = ", ".join(sorted(info.active_run_ids))
        if told != holders:
            say(f"waiting for pool {pool}: its slot is held by run {holders} (up to {timeout_s:.0f}s)")
            told = holders
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"pool {pool} still held by run {holders} after {timeout_s:.0f}s; if that run is stuck, "
                "terminate it in the Dagster UI (Runs), which frees its slot, and run again"
            )
        time.sleep(poll_s)
