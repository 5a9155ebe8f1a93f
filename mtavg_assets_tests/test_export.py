"""`export --format eee`: Every Eval Ever 0.3.0 files valid against the published schemas (copies
in schemas/every_eval_ever_0_3_0 with their license), the leaderboard's numbers and intervals,
every instance once with its content hash, and an accuracy that recomputes from the samples."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import jsonschema
import pytest

from mtavg_assets.cli import main as cli

SCHEMAS = Path(__file__).parent / "schemas" / "every_eval_ever_0_3_0"


def _validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture
def exported(pipeline, tmp_path):
    pipeline.layout.models_file.write_text(
        "models:\n  - {name: random, provider: random, seed: 3}\n  - {name: prior, provider: prior}\n"
    )
    pipeline.run_all(["random", "prior"])
    out = tmp_path / "eee"
    assert cli(["--data-dir", str(pipeline.layout.root), "export", "--format", "eee", "--out", str(out)]) == 0
    return pipeline.layout, out


def test_the_export_is_valid_and_carries_the_leaderboard_numbers(exported):
    layout, out = exported
    aggregate_schema, sample_schema = _validator("eval.schema.json"), _validator("instance_level_eval.schema.json")
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
        board = con.execute("SELECT * FROM leaderboard").df().set_index("model")
        scores = con.execute("SELECT model, instance_id, question_type, correct FROM scores").df()
        hashes = dict(con.execute("SELECT instance_id, content_hash FROM qa_instances").fetchall())
    aggregates = sorted(out.glob("data/*/*/*/*.json"))
    assert len(aggregates) == 2
    for path in aggregates:
        record = json.loads(path.read_text())
        errors = sorted(aggregate_schema.iter_errors(record), key=str)
        assert not errors, errors[0].message
        name = record["model_info"]["name"]
        results = {r["evaluation_result_id"]: r for r in record["evaluation_results"]}
        accuracy = results["accuracy"]["score_details"]
        interval = accuracy["uncertainty"]["confidence_interval"]
        row = board.loc[name]
        assert accuracy["score"] == row["accuracy"]
        assert (interval["lower"], interval["upper"]) == (row["ci_low"], row["ci_high"])
        assert results["balanced_accuracy"]["score_details"]["score"] == row["balanced_accuracy"]

        details = record["detailed_evaluation_results"]
        samples_path = out / details["file_path"]
        text = samples_path.read_text()
        assert hashlib.sha256(text.encode()).hexdigest() == details["checksum"]
        samples = [json.loads(line) for line in text.splitlines()]
        assert details["total_rows"] == len(samples)
        for sample in samples:
            errors = sorted(sample_schema.iter_errors(sample), key=str)
            assert not errors, errors[0].message
            assert sample["evaluation_id"] == record["evaluation_id"]
            assert sample["sample_hash"] == hashes[sample["sample_id"]]
        own = scores[scores["model"] == name]
        assert sorted(s["sample_id"] for s in samples) == sorted(own["instance_id"])  # every instance once
        choice = [s for s in samples if s["evaluation_result_id"] == "accuracy"]
        recomputed = sum(s["evaluation"]["is_correct"] for s in choice) / len(choice)
        assert round(recomputed, 4) == row["accuracy"]


def test_exporting_a_build_twice_gives_the_same_files(exported, tmp_path):
    layout, out = exported
    again = tmp_path / "again"
    assert cli(["--data-dir", str(layout.root), "export", "--format", "eee", "--out", str(again)]) == 0
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second


def test_an_incomplete_model_is_not_exported(exported, monkeypatch, tmp_path, pipeline):
    layout, _ = exported
    monkeypatch.setenv("MTAVG_MIN_COMPLETENESS", "1.01")
    assert not pipeline.run("build_metrics").success  # refused: not a share
    monkeypatch.setenv("MTAVG_MIN_COMPLETENESS", "1")
    path = layout.predictions_file("prior")
    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(path).slice(5), path)
    assert pipeline.run("build_metrics").success
    out = tmp_path / "partial"
    assert cli(["--data-dir", str(layout.root), "export", "--format", "eee", "--out", str(out)]) == 0
    names = {json.loads(p.read_text())["model_info"]["name"] for p in out.glob("data/*/*/*/*.json")}
    assert names == {"random"}


def test_export_without_a_build_is_an_error(tmp_path, capsys):
    assert cli(["--data-dir", str(tmp_path), "export", "--format", "eee", "--out", str(tmp_path / "x")]) == 2
    assert "no metric build" in capsys.readouterr().err
