"""The Postgres instance profile of docs/scale-out.md, for real: a PostgreSQL server started from
the OS package in a temp dir (initdb, loopback only) holds Dagster's run, event and schedule
storage while the CLI runs the benchmark."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mtavg_assets_tests.conftest import run_cli
from mtavg_assets_tests.dagster_dev import free_port

PROFILE = """storage:
  postgres:
    postgres_db:
      username: mtavg
      password: ""
      hostname: 127.0.0.1
      port: {port}
      db_name: postgres
      scheme: postgresql+psycopg2  # dagster-postgres speaks psycopg2 (SQLAlchemy 2.1 defaults to psycopg 3)
concurrency:
  pools:
    default_limit: 1
"""


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


pytestmark = pytest.mark.skipif(_bin("initdb") is None, reason="PostgreSQL not installed (install_system_deps.sh)")


@pytest.fixture
def postgres():
    """A throwaway server on a free loopback port; run as the `postgres` user when we are root."""
    folder = Path(tempfile.mkdtemp(prefix="mtavg-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    subprocess.run(
        [*as_user, _bin("initdb"), "-D", str(data), "-A", "trust", "-U", "mtavg"], check=True, capture_output=True
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [*as_user, _bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield port
    finally:
        subprocess.run(
            [*as_user, _bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True, timeout=120
        )
        shutil.rmtree(folder, ignore_errors=True)


def test_the_pipeline_runs_on_a_postgres_instance(postgres, demo_layout, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(PROFILE.format(port=postgres))
    done = run_cli("run", demo_layout.root, home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| random" in done.stdout
    runs = subprocess.run(
        [
            _bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres),
            "-U",
            "mtavg",
            "-d",
            "postgres",
            "-tAc",
            "SELECT count(*), count(*) FILTER (WHERE status = 'SUCCESS') FROM runs",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    total, succeeded = map(int, runs.split("|"))
    assert total == succeeded == 4  # prepare, two evaluations, metrics: all in Postgres
    assert not list(home.glob("*.db")) and not (home / "history").exists()  # nothing fell back to SQLite
