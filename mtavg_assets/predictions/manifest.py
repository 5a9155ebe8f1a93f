"""A run manifest: what produced an evaluation run, written beside its predictions as
`runs/<model>/<run_id>.json` (one immutable file per run) and gathered into the `runs` table by the
metric build. It holds the code (git revision, package, Python and ffmpeg versions), the resolved
registry entry without secrets (key *names* only; credentials in a base URL are masked), the
template hashes and parser version the cells were asked and read with, the model ids the provider
says answered, the start and end, the counts and the cost."""

from __future__ import annotations

import functools
import json
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from mtavg_assets.atomic import temp_beside
from mtavg_assets.settings import REPO_ROOT, DataLayout

PACKAGES = ("mtavg", "dagster", "duckdb", "pandas", "pyarrow", "google-genai", "openai", "ffmpeg-python")
JSON_COLUMNS = ("packages", "entry", "template_hashes", "served_models", "statuses")
COLUMNS = [
    "run_id",
    "model",
    "started_at",
    "ended_at",
    "wall_s",
    "mode",
    "git_revision",
    "python_version",
    "ffmpeg_version",
    "packages",
    "entry",
    "prompt_version",
    "template_hashes",
    "parser_version",
    "served_models",
    "scheduled",
    "asked",
    "calls",
    "statuses",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "budget_stopped",
    "stopped",
]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@functools.cache
def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{out}{'-dirty' if dirty else ''}" if out else "unknown"


@functools.cache
def ffmpeg_version() -> str:
    try:
        out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.splitlines()[0] if out else "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def manifest(run_id: str, entry, started_at: str, facts: dict) -> dict:
    """The manifest of one run of `entry`; `facts` holds what the run measured (mode, scheduled,
    asked, calls, statuses, served_models, cost_usd, input/output tokens, wall_s, budget_stopped,
    stopped)."""
    from mtavg_assets.registry import public_entry
    from mtavg_assets.task.parsing import PARSER_VERSION
    from mtavg_assets.task.prompts import PROMPTS, template_hash

    hashes = {qt: template_hash(entry.prompt_version, qt) for qt in PROMPTS.get(entry.prompt_version, {})}
    return {
        "run_id": run_id,
        "model": entry.name,
        "started_at": started_at,
        "ended_at": now(),
        "git_revision": git_revision(),
        "python_version": platform.python_version(),
        "ffmpeg_version": ffmpeg_version(),
        "packages": package_versions(),
        "entry": public_entry(entry),
        "prompt_version": entry.prompt_version,
        "template_hashes": hashes,
        "parser_version": str(PARSER_VERSION),
        **facts,
    }


def write_manifest(layout: DataLayout, record: dict) -> Path:
    path = layout.root / "runs" / record["model"] / f"{record['run_id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, allow_nan=False))
    tmp.replace(path)
    return path


def read_manifests(layout: DataLayout) -> pd.DataFrame:
    """Every run manifest of the data directory, one row each (nested values as JSON text); a file
    that is not a readable manifest is skipped (it names no run)."""
    rows = []
    folder = layout.root / "runs"
    for path in sorted(folder.glob("*/*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(record, dict) or not isinstance(record.get("run_id"), str):
            continue
        rows.append(
            {c: json.dumps(record.get(c), sort_keys=True) if c in JSON_COLUMNS else record.get(c) for c in COLUMNS}
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    numeric = ("wall_s", "cost_usd")
    counts = ("scheduled", "asked", "calls", "input_tokens", "output_tokens")
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in counts:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    frame["budget_stopped"] = frame["budget_stopped"].astype("boolean")
    for column in set(COLUMNS) - set(numeric) - set(counts) - {"budget_stopped"}:
        frame[column] = frame[column].astype("string")
    return frame
