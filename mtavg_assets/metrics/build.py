"""Build the DuckDB file from `sql/*.sql`, in file-name order, into a temporary file that then
replaces the published one: readers never see a half-built database, and only this writes it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
from filelock import FileLock, Timeout

from mtavg_assets.metrics.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_tables, instance_clusters
from mtavg_assets.predictions.manifest import read_manifests
from mtavg_assets.predictions.runner import expected_cells
from mtavg_assets.registry import registered_models
from mtavg_assets.settings import DERIVED_TABLES, SQL_DIR, DataLayout


class NoPredictionsYet(RuntimeError):
    pass


class WriterBusy(RuntimeError):
    """Another process is building the metric tables of this data directory."""


STATISTICS_STAGE = "50"  # SQL files from this prefix on read the bootstrap tables
MIN_COMPLETENESS_ENV = "MTAVG_MIN_COMPLETENESS"
DEFAULT_MIN_COMPLETENESS = 0.95


def min_completeness() -> float:
    """The share of answered cells below which a model is `incomplete`, not ranked (a number in
    [0, 1] from MTAVG_MIN_COMPLETENESS; anything else is refused with a clear error)."""
    raw = os.environ.get(MIN_COMPLETENESS_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_MIN_COMPLETENESS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise ValueError(f"{MIN_COMPLETENESS_ENV}={raw!r}: must be a number from 0 to 1")
    return value


def sql_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted(p for p in sql_dir.glob("*.sql") if p.name[:2].isdigit())


def remove_leftovers(root: Path) -> None:
    """Snapshots and build folders of a build that was killed (called holding the writer lock)."""
    for leftover in [*root.glob(".mtavg-snapshot-*"), *root.glob(".mtavg-build-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def building_path(target: Path) -> Path:
    """Where the next database is built before it replaces `target`. DuckDB reads `?` in a path
    it writes as the start of options, so under such a directory the build happens in a private
    folder of the nearest ancestor without one (same file system: the final rename stays atomic)."""
    if "?" not in str(target):
        return target.with_name(target.name + ".building")
    base = next(p for p in target.parents if "?" not in str(p))
    return Path(tempfile.mkdtemp(prefix=".mtavg-build-", dir=base)) / (target.name + ".building")


CELL_KEY_COLUMNS = ["model", "instance_id", "rotation", "cache_key"]


def current_cell_keys(layout: DataLayout) -> pd.DataFrame:
    """Every cell each active registry entry answers as it is now, with its current cache key: a
    prediction row counts only when its key is among these (sql/00_sources.sql), so an answer asked
    under an entry's earlier model id, settings or seed, or a stale baseline's, is never scored."""
    empty = pd.DataFrame({c: pd.Series(dtype="int64" if c == "rotation" else str) for c in CELL_KEY_COLUMNS})
    if not layout.derived("validated_qa").exists():
        return empty
    instances = layout.read("validated_qa")
    frames = [
        expected_cells(instances, entry).assign(model=entry.name)[CELL_KEY_COLUMNS]
        for entry in registered_models(layout).entries
    ]
    return pd.concat([empty, *frames], ignore_index=True).astype({"rotation": "int64"})


def register(layout: DataLayout, models_yaml: str) -> pd.DataFrame:
    """For tests and simulations: write models.yaml and its model_registry table (as the asset
    does) and return the current cache key of every cell (`current_cell_keys`)."""
    from mtavg_assets.registry import load_registry, registry_frame

    layout.root.mkdir(parents=True, exist_ok=True)
    layout.models_file.write_text(models_yaml)
    layout.write("model_registry", registry_frame(load_registry(layout.models_file), layout.predictions_dir))
    return current_cell_keys(layout)


def register_models(layout: DataLayout, names: list[str]) -> dict[str, pd.Series]:
    """For simulations: API entries under these names; each one's current cache key per instance_id."""
    lines = "".join(f"  - {{name: {n}, provider: openai, model: sim, api_key_env: SIM_KEY}}\n" for n in names)
    keys = register(layout, "models:\n" + lines)
    keys = keys[keys["rotation"] == 0]
    return {name: group.set_index("instance_id")["cache_key"] for name, group in keys.groupby("model")}


def snapshot_inputs(layout: DataLayout, beside: Path) -> DataLayout:
    """Hard links to every file the SQL reads (derived tables, prediction files), taken at once:
    a run of another process that replaces one of them meanwhile (atomically, by rename) cannot
    change what this build reads halfway through. Links cost no copy; across file systems the
    files are copied."""
    root = Path(tempfile.mkdtemp(prefix=".mtavg-snapshot-", dir=beside))
    snapshot = DataLayout(root)
    pairs = [(layout.derived(n), snapshot.derived(n)) for n in DERIVED_TABLES if layout.derived(n).exists()]
    pairs += [(p, snapshot.predictions_file(p.parent.name)) for p in prediction_files(layout)]
    for source, link in pairs:
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, link)
        except OSError:
            shutil.copy2(source, link)
    return snapshot


def glob_escape(path: str) -> str:
    """DuckDB expands glob characters in every path it reads: make them literal."""
    return "".join(f"[{c}]" if c in "[*?" else c for c in path)


def prediction_files(layout: DataLayout) -> list[Path]:
    """Every model folder's Parquet file, listed without glob patterns (a data directory may be
    named with `[` or `?`)."""
    folder = layout.predictions_dir
    if not folder.is_dir():
        return []
    return sorted(p / "predictions.parquet" for p in folder.iterdir() if (p / "predictions.parquet").is_file())


def write_bootstrap_tables(con: duckdb.DuckDBPyConnection, n_resamples: int, seed: int) -> None:
    """Compute the clustered bootstrap and store instance_clusters, bootstrap_ci, headline_ci,
    pairwise_bootstrap, detection_ci, generator_profile, modality_reliance, stability and
    human_agreement."""
    clusters = instance_clusters(con.execute("SELECT instance_id, clip_ids, meta FROM qa_instances").df())
    # choice questions from scored_runs: an entry with repeats scores the share of its runs that got
    # a question right (0 or 1 without repeats), so its intervals carry the between-repeat variance
    scores = con.execute(
        "SELECT model, instance_id, any_value(episode_id) AS episode_id, any_value(question_type) AS question_type, "
        "any_value(dimension) AS dimension, any_value(category) AS category, any_value(subset) AS subset, "
        "any_value(source_generator) AS source_generator, sum(weight * coalesce(correct, false)::INT) AS correct, "
        "NULL::DOUBLE AS iou FROM scored_runs WHERE question_type <> 'temporal' GROUP BY model, instance_id "
        "UNION ALL SELECT model, instance_id, episode_id, question_type, dimension, category, subset, "
        "source_generator, NULL::DOUBLE AS correct, iou FROM scores WHERE question_type = 'temporal'"
    ).df()
    episodes = con.execute("SELECT model, episode_id, all_correct FROM drama_episodes").df()
    circular = con.execute("SELECT model, instance_id, circular_correct FROM circular_items").df()
    detection = con.execute(
        "SELECT model, instance_id, dimension, category, generator, labelled, gold_positive, said_positive, answered "
        "FROM detection_items"
    ).df()
    tables = {"instance_clusters": clusters} | bootstrap_tables(
        scores, clusters, episodes, circular, n_resamples=n_resamples, seed=seed, detection=detection
    )
    tables["modality_reliance"] = _modality_reliance(con, tables["instance_clusters"])
    tables["stability"] = _stability(con)
    tables["human_agreement"] = _human_agreement(con)
    for name, frame in tables.items():
        con.register("frame", frame)
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM frame')
        con.unregister("frame")


def _modality_reliance(con: duckdb.DuckDBPyConnection, clusters: pd.DataFrame) -> pd.DataFrame:
    from mtavg_assets.metrics.modality import modality_reliance

    ablations = con.execute(
        "SELECT DISTINCT name, ablation_of, ablation FROM models WHERE ablation_of IS NOT NULL AND status = 'active'"
    ).df()
    choice = con.execute(
        "SELECT model, instance_id, dimension, category, coalesce(correct, false) AS correct FROM scores "
        "WHERE question_type <> 'temporal'"
    ).df()
    cluster_of = clusters.set_index("instance_id")["cluster_id"]
    choice = choice.assign(cluster=cluster_of.reindex(choice["instance_id"]).to_numpy())
    return modality_reliance(choice[choice["cluster"].notna()], ablations)


def _stability(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    from mtavg_assets.metrics.stability import COLUMNS, stability

    repeats = con.execute(
        "SELECT DISTINCT name, repeat_of FROM models WHERE repeat_of IS NOT NULL AND status = 'active'"
    ).df()
    if repeats.empty:
        return pd.DataFrame({c: pd.Series(dtype=str if c == "model" else float) for c in COLUMNS})
    choice = con.execute(
        "SELECT model, instance_id, status, parsed_answer, gold_answer, coalesce(correct, false) AS correct "
        "FROM scores WHERE question_type <> 'temporal'"
    ).df()
    return stability(choice, repeats)


def _human_agreement(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    from mtavg_assets.metrics.agreement import COLUMNS, human_agreement

    instances = con.execute("SELECT instance_id, meta FROM qa_instances WHERE question_type <> 'temporal'").df()
    choice = con.execute(
        "SELECT model, instance_id, status, parsed_answer FROM scores WHERE question_type <> 'temporal' "
        "AND model NOT IN (SELECT name FROM entry_copies)"
    ).df()
    frame = human_agreement(instances, choice)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=str if c == "model" else float) for c in COLUMNS})
    return frame


def build_metric_tables(
    layout: DataLayout,
    sql_dir: Path = SQL_DIR,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    lock_timeout_s: float = 600.0,
) -> dict[str, int]:
    """Run every SQL file against a fresh database; return the row count of each table and view.
    One build at a time per data directory, whatever launched it: an OS file lock (released by
    the OS if the builder dies) guards the DuckDB file."""
    if not prediction_files(layout):
        raise NoPredictionsYet("no predictions yet: materialize at least one predictions partition first")
    target = layout.duckdb_file
    lock = FileLock(str(target.with_name(target.name + ".lock")), timeout=lock_timeout_s)
    try:
        lock.acquire()
    except Timeout:
        raise WriterBusy(
            f"another metric build holds {lock.lock_file} (DuckDB takes one writer); waited {lock_timeout_s:.0f}s"
        ) from None
    try:
        remove_leftovers(layout.root)
        layout.write("cell_keys", current_cell_keys(layout))
        layout.write("runs", read_manifests(layout))
        return _build(layout, target, sql_dir, n_resamples, seed)
    finally:
        lock.release()


def _build(layout: DataLayout, target: Path, sql_dir: Path, n_resamples: int, seed: int) -> dict[str, int]:
    tmp = building_path(target)
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    snapshot = snapshot_inputs(layout, tmp.parent)
    con = duckdb.connect(str(tmp))
    try:
        con.execute("SET VARIABLE mtavg_data_dir = ?", [glob_escape(str(snapshot.root))])
        files = [glob_escape(str(p)) for p in prediction_files(snapshot)]
        con.execute("SET VARIABLE mtavg_prediction_files = ?::VARCHAR[]", [files])
        con.execute("SET VARIABLE mtavg_min_completeness = ?::DOUBLE", [min_completeness()])
        scripts = sql_files(sql_dir)
        for path in [f for f in scripts if f.name < STATISTICS_STAGE]:
            con.execute(path.read_text())
        write_bootstrap_tables(con, n_resamples, seed)
        for path in [f for f in scripts if f.name >= STATISTICS_STAGE]:
            con.execute(path.read_text())
        con.execute("RESET VARIABLE mtavg_data_dir")
        con.execute("RESET VARIABLE mtavg_prediction_files")
        con.execute("RESET VARIABLE mtavg_min_completeness")
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
        shutil.rmtree(snapshot.root, ignore_errors=True)
    os.replace(tmp, target)
    if tmp.parent != target.parent:
        tmp.parent.rmdir()
    return counts


def read_table(layout: DataLayout, name: str) -> pd.DataFrame:
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
        return con.execute(f'SELECT * FROM "{name}"').df()
