"""Build the DuckDB file from `sql/*.sql`, in file-name order, into a temporary file that then
replaces the published one: readers never see a half-built database, and only this writes it."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from mtavg_assets.metrics.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_tables
from mtavg_assets.settings import SQL_DIR, DataLayout


class NoPredictionsYet(RuntimeError):
    pass


STATISTICS_STAGE = "50"  # SQL files from this prefix on read the bootstrap tables


def sql_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted(p for p in sql_dir.glob("*.sql") if p.name[:2].isdigit())


def write_bootstrap_tables(con: duckdb.DuckDBPyConnection, n_resamples: int, seed: int) -> None:
    """Compute the clustered bootstrap from `scores` and store bootstrap_ci and pairwise_bootstrap."""
    scores = con.execute(
        "SELECT model, instance_id, clip_id, question_type, dimension, category, subset, source_generator, "
        "status, correct FROM scores WHERE question_type <> 'temporal'"
    ).df()
    ci, pairs = bootstrap_tables(scores, n_resamples=n_resamples, seed=seed)
    con.register("ci_frame", ci)
    con.register("pairs_frame", pairs)
    con.execute("CREATE OR REPLACE TABLE bootstrap_ci AS SELECT * FROM ci_frame")
    con.execute("CREATE OR REPLACE TABLE pairwise_bootstrap AS SELECT * FROM pairs_frame")
    con.unregister("ci_frame")
    con.unregister("pairs_frame")


def build_metric_tables(
    layout: DataLayout, sql_dir: Path = SQL_DIR, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> dict[str, int]:
    """Run every SQL file against a fresh database; return the row count of each table and view."""
    if not any(layout.predictions_dir.glob("*/predictions.parquet")):
        raise NoPredictionsYet("no predictions yet: materialize at least one predictions partition first")
    target = layout.duckdb_file
    tmp = target.with_name(target.name + ".building")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"SET VARIABLE mtavg_data_dir = '{str(layout.root).replace(chr(39), chr(39) * 2)}'")
        files = sql_files(sql_dir)
        for path in [f for f in files if f.name < STATISTICS_STAGE]:
            con.execute(path.read_text())
        write_bootstrap_tables(con, n_resamples, seed)
        for path in [f for f in files if f.name >= STATISTICS_STAGE]:
            con.execute(path.read_text())
        con.execute("RESET VARIABLE mtavg_data_dir")
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            ).fetchall()
        ]
        counts = {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    return counts


def read_table(layout: DataLayout, name: str) -> pd.DataFrame:
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
        return con.execute(f'SELECT * FROM "{name}"').df()
