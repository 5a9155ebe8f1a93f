"""Where mtavg reads and writes: one data directory, chosen by configuration, never by code."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data"
SQL_DIR = REPO_ROOT / "sql"


def configured_data_dir() -> Path:
    """The data directory: `MTAVG_DATA_DIR` if set, else the repository's `data/`."""
    return Path(os.environ.get("MTAVG_DATA_DIR", str(DEFAULT_DATA_DIR))).resolve()


def prepare_workers() -> int:
    """Parallel ffprobe/ffmpeg processes in the prepare stage (each runs single-threaded):
    `MTAVG_PREPARE_WORKERS` if set, else one per core."""
    configured = os.environ.get("MTAVG_PREPARE_WORKERS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


# Every derived table the assets write, by name (file `derived/<name>.parquet`).
DERIVED_TABLES = (
    "clip_catalog",
    "clip_rejects",
    "clip_media",
    "qa_instances",
    "validated_qa",
    "qa_rejects",
    "qa_subsets",
    "model_registry",
    "cell_keys",  # every (model, instance, rotation) an active entry answers now, with its current cache key
    "runs",  # every evaluation run's manifest (runs/<model>/<run_id>.json), gathered by the metric build
)


@dataclass(frozen=True)
class DataLayout:
    """Every path of the data contracts, derived from one root."""

    root: Path

    @property
    def clips_dir(self) -> Path:
        return self.root / "clips"

    @property
    def clip_manifest(self) -> Path:
        return self.clips_dir / "manifest.jsonl"

    @property
    def qa_dir(self) -> Path:
        return self.root / "qa"

    @property
    def models_file(self) -> Path:
        return self.root / "models.yaml"

    @property
    def taxonomy_file(self) -> Path:
        own = self.root / "taxonomy.yaml"
        return own if own.exists() else DEFAULT_DATA_DIR / "taxonomy.yaml"

    @property
    def derived_dir(self) -> Path:
        return self.root / "derived"

    def derived(self, name: str) -> Path:
        """The Parquet file of a derived table (the SQL in sql/ reads these names)."""
        if name not in DERIVED_TABLES:
            raise KeyError(f"unknown derived table {name!r}; known: {', '.join(DERIVED_TABLES)}")
        return self.derived_dir / f"{name}.parquet"

    def read(self, name: str):
        """A derived table, read whole: every asset reads derived tables through here."""
        from mtavg_assets.parquet_io import read_parquet

        return read_parquet(self.derived(name))

    def write(self, name: str, frame) -> Path:
        """Replace a derived table atomically: every asset writes derived tables through here."""
        from mtavg_assets.parquet_io import write_parquet

        return write_parquet(frame, self.derived(name))

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    @property
    def predictions_dir(self) -> Path:
        return self.root / "predictions"

    def predictions_file(self, model: str) -> Path:
        return self.predictions_dir / model / "predictions.parquet"

    def journal_file(self, model: str) -> Path:
        return self.predictions_dir / model / "journal.jsonl"

    @property
    def locks_dir(self) -> Path:
        return self.root / ".locks"

    @property
    def duckdb_file(self) -> Path:
        return self.root / "mtavg.duckdb"
