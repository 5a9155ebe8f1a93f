"""The published numbers under real-world mess, each against a known answer: a backup copy of a
predictions folder, conflicting duplicate rows, a retired model, half-null and reversed spans,
duplicated circular rotations, and position bias as RStd."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mtavg_assets.metrics.build import build_metric_tables
from mtavg_assets.parquet_io import write_parquet
from mtavg_assets.predictions.store import COLUMNS, SCHEMA
from mtavg_assets.qa.validate import VALID_COLUMNS
from mtavg_assets.registry import load_registry, registry_frame
from mtavg_assets.settings import DataLayout
from mtavg_assets_tests.conftest import register_with_keys
from mtavg_assets_tests.test_metrics import GOLD, INSTANCES

MODELS_YAML = """models:
  - {name: good, provider: openai, model: x, api_key_env: K}
  - {name: dup, provider: openai, model: x, api_key_env: K}
  - {name: spans, provider: openai, model: x, api_key_env: K}
  - {name: circ, provider: random, circular: true}
"""


KEYS: dict = {}  # (model, instance_id, rotation) -> current cache key, filled by the fixture


def _row(model, iid, status="ok", answer=None, span=(None, None), rotation=0, created="2026-01-01T00:00:00"):
    gold = GOLD[iid]
    return {
        "model": model,
        "instance_id": iid,
        "rotation": rotation,
        "status": status,
        "parsed_answer": answer if answer is not None else gold["answer"],
        "parsed_span_start": span[0],
        "parsed_span_end": span[1],
        "cache_key": KEYS.get((model, iid, rotation), "stale"),
        "instance_content_hash": gold["content_hash"],
        "attempts": 1,
        "created_at": created,
    }


def _perfect(model):
    rows = []
    for iid, gold in GOLD.items():
        span = (
            (gold["answer_span_start"], gold["answer_span_end"])
            if gold["question_type"] == "temporal"
            else (None, None)
        )
        rows.append(_row(model, iid, answer=gold["answer"], span=span))
    return rows


def _write(layout: DataLayout, folder: str, rows: list[dict]) -> None:
    path = layout.predictions_file(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows).reindex(columns=COLUMNS)
    pq.write_table(pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False), path)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    layout = DataLayout(tmp_path_factory.mktemp("robust"))
    write_parquet(pd.DataFrame(INSTANCES, columns=VALID_COLUMNS), layout.derived("validated_qa"))
    write_parquet(pd.DataFrame({"instance_id": pd.Series([], dtype=str)}), layout.derived("qa_rejects"))
    write_parquet(pd.DataFrame({"clip_id": [f"c{i}" for i in range(1, 7)]}), layout.derived("clip_catalog"))
    write_parquet(pd.DataFrame({"clip_id": pd.Series([], dtype=str)}), layout.derived("clip_rejects"))
    KEYS.update(register_with_keys(layout, MODELS_YAML))
    _write(layout, "good", _perfect("good"))
    shutil.copytree(layout.predictions_file("good").parent, layout.predictions_dir / "good-backup")
    # 'dup': q1 twice, the later copy wrong; q2 twice, the later copy right.
    dup = [r for r in _perfect("dup") if r["instance_id"] not in ("q1", "q2")]
    dup += [
        _row("dup", "q1", answer="A", created="2026-01-01T00:00:00"),
        _row("dup", "q1", answer="B", created="2026-01-02T00:00:00"),
        _row("dup", "q2", answer="A", created="2026-01-01T00:00:00"),
        _row("dup", "q2", answer="B", created="2026-01-02T00:00:00"),
    ]
    _write(layout, "dup", dup)
    spans = [r for r in _perfect("spans") if GOLD[r["instance_id"]]["question_type"] != "temporal"]
    spans += [
        _row("spans", "t1", span=(None, 3.0)),  # half-null
        _row("spans", "t2", span=(float("nan"), float("nan"))),
        _row("spans", "t3", span=(6.0, 5.0)),  # reversed
    ]
    _write(layout, "spans", spans)
    # circular: q1 (4 options) answered right under rotation 0 four times: never complete.
    circ = [_row("circ", "q1", rotation=0, created=f"2026-01-0{i}T00:00:00") for i in range(1, 5)]
    circ += [_row("circ", "q5", rotation=r) for r in (0, 1)]  # yes_no, both rotations right
    _write(layout, "circ", circ)
    _write(layout, "random-2", _perfect("random-2"))  # removed from models.yaml
    layout.models_file.write_text(MODELS_YAML)
    write_parquet(
        registry_frame(load_registry(layout.models_file), layout.predictions_dir), layout.derived("model_registry")
    )
    build_metric_tables(layout, n_resamples=200, seed=5)
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as connection:
        yield connection


def _one(con, sql):
    return con.execute(sql).df()


def test_a_backup_folder_never_doubles_n(con):
    good = _one(con, "SELECT * FROM metrics_by_model WHERE model = 'good'").iloc[0]
    assert good["n_instances"] == 11 and good["accuracy"] == 1.0
    assert con.execute("SELECT count(*) FROM predictions WHERE model = 'good'").fetchone()[0] == len(GOLD)
    excluded = _one(con, "SELECT * FROM prediction_exclusions WHERE folder = 'good-backup'")
    assert len(excluded) == len(GOLD) and excluded["reason"].str.contains("does not match its folder").all()


def test_conflicting_duplicates_count_once_latest_wins(con):
    rows = _one(
        con, "SELECT instance_id, parsed_answer FROM predictions WHERE model = 'dup' AND instance_id IN ('q1','q2')"
    )
    assert dict(zip(rows["instance_id"], rows["parsed_answer"], strict=True)) == {"q1": "B", "q2": "B"}
    dup = _one(con, "SELECT * FROM metrics_by_model WHERE model = 'dup'").iloc[0]
    assert dup["n_instances"] == 11 and dup["n_correct"] == 10  # q1 now wrong (B vs A), q2 right (B)
    excluded = _one(con, "SELECT * FROM prediction_exclusions WHERE model = 'dup'")
    assert sorted(excluded["instance_id"]) == ["q1", "q2"] and excluded["reason"].str.startswith("duplicate").all()


def test_retired_model_is_listed_but_in_no_metric_table(con):
    models = _one(con, "SELECT name, status, baseline FROM models").set_index("name")
    assert models.loc["random-2", "status"] == "retired" and models.loc["good", "status"] == "active"
    assert bool(models.loc["circ", "baseline"]) and not bool(models.loc["good", "baseline"])
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'model' AND table_schema = 'main'"
        ).fetchall()
    ]
    assert "leaderboard" in tables and "scores" in tables
    for table in tables:
        if table == "prediction_exclusions":
            continue
        assert con.execute(f"SELECT count(*) FROM \"{table}\" WHERE model = 'random-2'").fetchone()[0] == 0, table
    for table in ("pairwise_tests",):
        n = con.execute(f"SELECT count(*) FROM {table} WHERE 'random-2' IN (model_a, model_b)").fetchone()[0]
        assert n == 0
    board = _one(con, "SELECT model, baseline FROM leaderboard").set_index("model")
    assert set(board.index) == {"good", "dup", "spans", "circ"}
    assert bool(board.loc["circ", "baseline"]) and not bool(board.loc["good", "baseline"])


def test_spans_count_only_when_finite_and_ordered(con):
    t = _one(con, "SELECT * FROM temporal_metrics WHERE model = 'spans' AND dimension = 'all'").iloc[0]
    assert t["miou"] == 0.0 and t["r1_iou_0_3"] == 0.0 and t["n_answered"] == 0
    assert t["invalid_span_rate"] == 1.0
    assert {"refused_rate", "missing_rate"} <= set(t.index)
    good = _one(con, "SELECT * FROM temporal_metrics WHERE model = 'good' AND dimension = 'all'").iloc[0]
    assert good["miou"] == 1.0


def test_duplicated_rotations_never_complete_a_circular_item(con):
    items = _one(con, "SELECT * FROM circular_items WHERE model = 'circ'").set_index("instance_id")
    assert items.loc["q1", "n_rotations"] == 1 and not items.loc["q1", "circular_correct"]
    assert items.loc["q5", "n_rotations"] == 2 and items.loc["q5", "circular_correct"]
    m = _one(con, "SELECT * FROM circular_metrics WHERE model = 'circ'").iloc[0]
    choice = [g for g in GOLD.values() if g["question_type"] != "temporal"]
    assert m["circular_accuracy"] == pytest.approx(1 / len(choice))
    assert m["circular_chance"] == pytest.approx(np.mean([(1 / g["n_options"]) ** g["n_options"] for g in choice]))


def test_position_bias_rstd(con):
    """RStd: population standard deviation of per-gold-position recall (Zheng et al., ICLR 2024)."""
    got = _one(con, "SELECT * FROM position_bias").set_index(["model", "question_type"])
    # 'dup' on mcq: gold A (q1: answered B, wrong), B (q2 right, q8 right), C (q3 right), D (q4 right)
    assert got.loc[("dup", "mcq"), "rstd"] == pytest.approx(np.std([0.0, 1.0, 1.0, 1.0]))
    assert got.loc[("good", "mcq"), "rstd"] == 0.0
    # 'circ' answered nothing of type drama: no recall to compare
    assert pd.isna(got.loc[("circ", "drama"), "rstd"])


def test_audit_names_duplicates_and_misplaced_rows(tmp_path):
    from mtavg_assets.predictions.audit import DUPLICATE, MISPLACED, audit_predictions

    layout = DataLayout(tmp_path)
    _write(layout, "good", _perfect("good"))
    shutil.copytree(layout.predictions_file("good").parent, layout.predictions_dir / "good-backup")
    _write(layout, "dup", _perfect("dup") + [_row("dup", "q1", answer="B")])
    problems = audit_predictions(layout)
    assert set(problems.loc[problems["problem"] == DUPLICATE, "instance_id"]) == {"q1"}
    misplaced = problems[problems["problem"] == MISPLACED]
    assert len(misplaced) == len(GOLD) and set(misplaced["folder"]) == {"good-backup"}


def test_predictions_check_names_misplaced_and_duplicate_rows(pipeline):
    import dagster as dg

    from mtavg_assets.assets.predictions import predictions_one_row_per_cell
    from mtavg_assets.resources import MtavgData

    assert pipeline.run("prepare_benchmark").success
    result = pipeline.run("evaluate_model", partition_key="random")
    assert result.get_asset_check_evaluations()[0].passed
    shutil.copytree(pipeline.layout.predictions_file("random").parent, pipeline.layout.predictions_dir / "random-old")
    result = pipeline.run("evaluate_model", partition_key="random")
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["misplaced_keys"].value == len(pd.read_parquet(pipeline.layout.predictions_file("random")))
    # A file with duplicate keys (written by hand: the store itself never keeps two) is an ERROR.
    path = pipeline.layout.predictions_file("random")
    rows = pd.read_parquet(path)
    pq.write_table(pa.Table.from_pandas(pd.concat([rows, rows.head(3)]), schema=SCHEMA, preserve_index=False), path)
    direct = predictions_one_row_per_cell(mtavg=MtavgData(data_dir=str(pipeline.layout.root)))
    assert not direct.passed and direct.severity == dg.AssetCheckSeverity.ERROR
    assert direct.metadata["duplicate_keys"].value == 3
