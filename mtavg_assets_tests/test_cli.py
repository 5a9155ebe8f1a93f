"""The command line as a user meets it: `--help` answers at once (nothing heavy is imported), the
printed leaderboard fits the terminal with the full table a flag away, and an incomplete model
makes the run exit non-zero with its reason."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow.parquet as pq

from mtavg_assets.settings import REPO_ROOT
from mtavg_assets_tests.conftest import run_cli

HEAVY = ("dagster", "pandas", "duckdb", "numpy", "great_expectations", "google.genai", "openai")


def test_help_imports_nothing_heavy():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mtavg_assets", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "explore" in done.stdout and "export" in done.stdout
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not {m for m in imported if m.split(".")[0] in {h.split(".")[0] for h in HEAVY}}


def _cli(args: list[str], data_dir, columns: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "mtavg_assets", "--data-dir", str(data_dir), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_leaderboard_fits_the_terminal_and_an_incomplete_model_fails_the_run(pipeline):
    pipeline.run_all(["random", "prior"])
    root = pipeline.layout.root
    narrow = _cli(["leaderboard"], root, 80)
    assert narrow.returncode == 0
    table = [line for line in narrow.stdout.splitlines() if line.startswith("|")]
    assert table and max(len(line) for line in table) <= 80
    assert "`leaderboard --all`" in narrow.stdout
    full = _cli(["leaderboard", "--all"], root, 80)
    assert "served_models" in full.stdout and "rank_ci_high" in full.stdout

    path = pipeline.layout.predictions_file("prior")
    pq.write_table(pq.read_table(path).slice(20), path)  # as a stopped run leaves it: 20 cells unasked
    path.with_name("journal.jsonl").unlink(missing_ok=True)
    done = run_cli("run", root)
    assert "prior: asked 20 cells" in done.stdout  # the next run asks what is missing, and completes
    assert done.returncode == 0, done.stderr[-2000:]
