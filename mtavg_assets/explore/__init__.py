"""The static results explorer: `python -m mtavg_assets explore --out DIR` (data.py reads a build,
site.py writes and serves the folder)."""

from __future__ import annotations

from pathlib import Path

from mtavg_assets.settings import DataLayout


def build_explorer(layout: DataLayout, out: Path) -> dict:
    """Write the explorer of the last metric build of `layout` into `out`; returns its counts."""
    from datetime import UTC, datetime

    from mtavg_assets.explore.data import read_build
    from mtavg_assets.explore.site import write_site

    if not layout.duckdb_file.exists():
        raise FileNotFoundError(f"no metric build in {layout.root}: run `python -m mtavg_assets run` (or demo) first")
    built = datetime.fromtimestamp(layout.duckdb_file.stat().st_mtime, UTC).isoformat(timespec="seconds")
    return write_site(read_build(layout.duckdb_file), layout.clips_dir, out, built_at=built)
