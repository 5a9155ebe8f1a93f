"""End to end on a rendered demo: jobs succeed, re-runs are incremental, metrics match an
independent computation in pandas."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from mtavg_assets.predictions.store import PredictionStore
from mtavg_assets_tests.conftest import run_cli


def _db(layout, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
        return con.execute(sql).df()


def test_pipeline_builds_every_table_and_reruns_call_no_evaluator(pipeline):
    first = pipeline.run_all(["random", "prior"])
    valid = pd.read_parquet(pipeline.layout.derived("validated_qa"))
    assert first["random"]["asked_now"] == first["random"]["calls"] == len(valid) > 30

    tables = set(_db(pipeline.layout, "SELECT table_name FROM information_schema.tables")["table_name"])
    assert tables >= {
        "qa_instances",
        "qa_rejects",
        "clips",
        "predictions",
        "scores",
        "metrics_by_model",
        "metrics_by_dimension",
        "metrics_by_category",
        "temporal_metrics",
        "short_drama_metrics",
        "detection_metrics",
        "category_confusion",
        "completeness",
        "leaderboard",
        "runs",
    }
    board = _db(pipeline.layout, "SELECT * FROM leaderboard")
    assert set(board["model"]) == {"random", "prior"} and board["baseline"].all()
    assert set(board["standing"]) == {"ranked"} and board["balanced_accuracy"].notna().all()
    by_options = _db(pipeline.layout, "SELECT * FROM position_bias_by_options")
    own = by_options[by_options["model"] == "random"]
    assert len(own) and (own["rstd"] == own["random_rstd"]).all()  # the reference is the random baseline's
    assert by_options["random_rstd"].notna().all()
    confusion = _db(pipeline.layout, "SELECT * FROM category_confusion")
    assert len(confusion) > 0 and (pipeline.layout.root / "plots" / "category_confusion.png").exists()
    plots = pipeline.layout.root / "plots"
    for name in ("accuracy_by_dimension", "accuracy_by_category", "category_confusion", "category_by_generator"):
        assert (plots / f"{name}.png").stat().st_size
        assert (plots / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    runs = _db(pipeline.layout, "SELECT * FROM runs")
    assert sorted(runs["model"]) == ["prior", "random"] and runs["git_revision"].notna().all()
    assert (runs["asked"] == len(valid)).all() and runs["template_hashes"].str.contains("mcq").all()
    assert (pipeline.layout.root / "explorer" / "data" / "index.json").exists()  # the leaderboard writes it

    second = pipeline.run("evaluate_model", partition_key="random")
    meta = pipeline.materializations(second, "predictions")[0]
    assert meta["calls"] == 0 and meta["asked_now"] == 0 and meta["already_answered"] == len(valid)


def test_changed_instance_is_the_only_cell_asked_again(pipeline):
    pipeline.run_all(["random"])
    qa_file = pipeline.layout.qa_dir / "demo_core.jsonl"
    lines = qa_file.read_text().splitlines()
    lines[0] = lines[0].replace('"question": "', '"question": "Look closely. ')
    qa_file.write_text("\n".join(lines) + "\n")
    assert pipeline.run("prepare_benchmark").success
    meta = pipeline.materializations(pipeline.run("evaluate_model", partition_key="random"), "predictions")[0]
    assert meta["asked_now"] == 1 and meta["calls"] == 1


def test_unknown_or_invalid_model_partition_fails_with_reason(pipeline):
    pipeline.layout.models_file.write_text(
        pipeline.layout.models_file.read_text() + "  - name: Bad Name\n    provider: random\n"
        "  - name: needs-key\n    provider: openai\n    model: gpt-x\n    api_key_env: MTAVG_TEST_UNSET_KEY\n"
    )
    assert pipeline.run("prepare_benchmark").success
    registry = pd.read_parquet(pipeline.layout.derived("model_registry"))
    assert registry.set_index("valid").loc[False, "reason"].startswith("name: must be 1-100 characters of [a-z0-9._-]")
    result = pipeline.run("evaluate_model", partition_key="needs-key")
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "MTAVG_TEST_UNSET_KEY" in failure
    assert pipeline.run("evaluate_model", partition_key="random").success


def _iou(ps, pe, gs, ge):
    if pd.isna(ps) or pd.isna(pe):
        return 0.0
    inter = max(0.0, min(pe, ge) - max(ps, gs))
    union = max(pe, ge) - min(ps, gs)
    return inter / union if union > 0 else 0.0


def test_metrics_match_an_independent_computation(pipeline):
    pipeline.run_all(["random", "prior"])
    # Make some cells non-answers to exercise both accuracy readings.
    store = PredictionStore(pipeline.layout, "random")
    rows = store.load()
    rows.loc[rows.index[:5], ["status", "parsed_answer", "parsed_span_start", "parsed_span_end"]] = [
        "unparseable",
        None,
        np.nan,
        np.nan,
    ]
    for row in rows.to_dict("records"):
        store.append(row)
    store.compact()
    assert pipeline.run("build_metrics").success

    qa = pd.read_parquet(pipeline.layout.derived("validated_qa"))
    for model in ("random", "prior"):
        preds = pd.read_parquet(pipeline.layout.predictions_file(model)).set_index("instance_id")
        merged = qa.join(preds, on="instance_id")
        choice = merged[merged["question_type"] != "temporal"]
        correct = (choice["status"] == "ok") & (choice["parsed_answer"] == choice["answer"])
        answered = choice["status"] == "ok"
        got = _db(pipeline.layout, f"SELECT * FROM metrics_by_model WHERE model = '{model}'").iloc[0]
        assert got["n_instances"] == len(choice)
        assert got["accuracy"] == pytest.approx(correct.mean())
        assert got["accuracy_answered"] == pytest.approx(correct[answered].mean())
        assert got["chance"] == pytest.approx((1 / choice["n_options"]).mean())
        assert got["unparseable_rate"] == pytest.approx((choice["status"] == "unparseable").mean())
        per_cat = correct.groupby(choice["category"]).mean()
        assert got["macro_accuracy"] == pytest.approx(per_cat.mean())

        by_dim = _db(pipeline.layout, f"SELECT * FROM metrics_by_dimension WHERE model = '{model}'")
        expected_dim = correct.groupby(choice["dimension"]).mean()
        assert dict(zip(by_dim["dimension"], by_dim["accuracy"], strict=True)) == pytest.approx(expected_dim.to_dict())

        temporal = merged[merged["question_type"] == "temporal"]
        ious = [
            _iou(
                r.parsed_span_start if r.status == "ok" else np.nan,
                r.parsed_span_end,
                r.answer_span_start,
                r.answer_span_end,
            )
            for r in temporal.itertuples()
        ]
        t = _db(pipeline.layout, f"SELECT * FROM temporal_metrics WHERE model = '{model}' AND dimension = 'all'")
        assert t.iloc[0]["miou"] == pytest.approx(np.mean(ious))
        for threshold, column in ((0.3, "r1_iou_0_3"), (0.5, "r1_iou_0_5"), (0.7, "r1_iou_0_7")):
            assert t.iloc[0][column] == pytest.approx(np.mean([i >= threshold for i in ious]))

        drama = choice[choice["subset"] == "short_drama"]
        d = _db(pipeline.layout, f"SELECT * FROM short_drama_metrics WHERE model = '{model}'").iloc[0]
        assert d["accuracy"] == pytest.approx(correct[drama.index].mean())


def test_each_sql_file_runs_on_its_own_against_the_published_database(pipeline, tmp_path):
    import shutil
    import subprocess
    import sys

    from mtavg_assets.metrics.build import sql_files

    pipeline.run_all(["random", "prior"])
    assert pipeline.layout.root == tmp_path / "data"  # the CLI's default ./data, seen from tmp_path
    for path in sql_files():
        copy = tmp_path / f"copy-{path.stem}.duckdb"
        shutil.copy(pipeline.layout.duckdb_file, copy)
        code = f"import duckdb; duckdb.connect({str(copy)!r}).execute(open({str(path)!r}).read())"
        result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, f"{path.name}: {result.stderr[-1500:]}"


def test_cli_run_prints_reconciled_counts_and_the_leaderboard(demo_layout):
    first = run_cli("run", demo_layout.root)
    assert first.returncode == 0, first.stderr[-2000:]
    valid = len(pd.read_parquet(demo_layout.derived("validated_qa")))
    assert f"QA: {valid} lines = {valid} valid + 0 rejected" in first.stdout
    assert f"random: asked {valid} cells (0 already answered), {valid} calls" in first.stdout
    assert (
        "MTAVG-Bench leaderboard" in first.stdout
        and "| random " in first.stdout
        and "main job finished" in first.stdout
    )
    again = run_cli("run", demo_layout.root)
    assert f"random: asked 0 cells ({valid} already answered), 0 calls" in again.stdout


def test_a_removed_model_leaves_partitions_and_every_metric_table(pipeline):
    pipeline.run_all(["random", "prior"])
    pipeline.layout.models_file.write_text("models:\n  - {name: random, provider: random, seed: 7}\n")
    result = pipeline.run("prepare_benchmark")
    assert result.success
    assert pipeline.instance.get_dynamic_partitions("models") == ["random"]
    meta = pipeline.materializations(result, "model_registry")[0]
    assert meta["partitions_removed"] == "prior" and meta["retired"] == 1
    assert pipeline.run("build_metrics").success
    assert list(_db(pipeline.layout, "SELECT model FROM leaderboard")["model"]) == ["random"]
    models = _db(pipeline.layout, "SELECT name, status FROM models").set_index("name")["status"]
    assert models.to_dict() == {"random": "active", "prior": "retired"}
    assert pipeline.layout.predictions_file("prior").exists()  # its Parquet stays on disk
