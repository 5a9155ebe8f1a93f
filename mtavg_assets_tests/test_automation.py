"""Schedule and sensors produce the expected run requests; a failed QA check blocks evaluation;
1% new QA instances make the next nightly cycle evaluate exactly those cells."""

from __future__ import annotations

import json
from datetime import datetime

import dagster as dg
import pandas as pd

from mtavg_assets import automation
from mtavg_assets.resources import MtavgData


def _sensor(sensor, pipeline, cursor=None):
    context = dg.build_sensor_context(
        instance=pipeline.instance, cursor=cursor, resources={"mtavg": MtavgData(data_dir=str(pipeline.layout.root))}
    )
    return sensor(context)


def _execute(pipeline, job, requests):
    results = []
    for request in requests:
        result = pipeline.defs.resolve_job_def(job).execute_in_process(
            instance=pipeline.instance, partition_key=request.partition_key, tags=request.tags, raise_on_error=False
        )
        assert result.success
        results.append(result)
    return results


def test_nightly_schedule_requests_a_dated_prepare_run():
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 25, 2, 0))
    request = automation.nightly_reevaluation(context)
    assert request.run_key == "nightly-2026-11-25" and request.tags["mtavg/trigger"] == "nightly"
    assert automation.nightly_reevaluation.job_name == "prepare_benchmark"


def test_input_sensor_fires_on_new_or_changed_files_and_registers_models(pipeline):
    first = _sensor(automation.input_files_sensor, pipeline)
    assert len(first.run_requests) == 1 and first.cursor
    assert {"random", "prior"} <= set(first.dynamic_partitions_requests[0].partition_keys)
    pipeline.instance.add_dynamic_partitions("models", ["random", "prior"])
    same = _sensor(automation.input_files_sensor, pipeline, cursor=first.cursor)
    assert not same.run_requests and not same.dynamic_partitions_requests
    with (pipeline.layout.qa_dir / "extra.jsonl").open("w") as fh:
        fh.write("{}\n")
    pipeline.layout.models_file.write_text(
        pipeline.layout.models_file.read_text() + "  - {name: random-2, provider: random, seed: 2}\n"
    )
    changed = _sensor(automation.input_files_sensor, pipeline, cursor=first.cursor)
    assert len(changed.run_requests) == 1 and changed.cursor != first.cursor
    assert changed.dynamic_partitions_requests[0].partition_keys == ["random-2"]


def test_evaluation_sensor_requests_one_tagged_run_per_model_once(pipeline, monkeypatch):
    monkeypatch.delenv("MTAVG_UNSET_KEY", raising=False)
    pipeline.layout.models_file.write_text(
        pipeline.layout.models_file.read_text()
        + ("  - {name: keyless, provider: openai, model: gpt-x, api_key_env: MTAVG_UNSET_KEY, media: frames}\n")
    )
    assert not _sensor(automation.evaluate_after_prepare, pipeline).run_requests  # nothing prepared yet
    assert pipeline.run("prepare_benchmark").success
    result = _sensor(automation.evaluate_after_prepare, pipeline)
    assert {r.partition_key for r in result.run_requests} == {"random", "prior"}  # keyless skipped
    assert {r.tags["mtavg/provider"] for r in result.run_requests} == {"random", "prior"}
    again = _sensor(automation.evaluate_after_prepare, pipeline, cursor=result.cursor)
    assert not again.run_requests


def test_failed_quality_check_blocks_manual_and_automated_evaluation(pipeline):
    assert pipeline.run("prepare_benchmark").success
    path = pipeline.layout.derived("validated_qa")
    valid = pd.read_parquet(path)
    pd.concat([valid, valid.iloc[[0]]]).to_parquet(path, index=False)  # a duplicated id slips in
    pending = _sensor(automation.evaluate_after_prepare, pipeline)
    assert not pending.run_requests and "changed since its last check" in pending.skip_reason.skip_message
    assert not pipeline.run("check_qa").success
    blocked = _sensor(automation.evaluate_after_prepare, pipeline)
    assert not blocked.run_requests and "evaluation blocked" in blocked.skip_reason.skip_message
    result = pipeline.run("evaluate_model", partition_key="random")
    assert not result.success
    assert "failed its data-quality checks" in result.get_step_failure_events()[0].event_specific_data.error.message


def test_one_percent_new_instances_are_exactly_what_the_next_night_evaluates(pipeline):
    pipeline.run_all(["random", "prior"])
    metrics = _sensor(automation.metrics_after_predictions, pipeline)
    cursor = metrics.cursor
    valid = pd.read_parquet(pipeline.layout.derived("validated_qa"))
    n_new = max(1, len(valid) // 100)
    source = [json.loads(x) for x in (pipeline.layout.qa_dir / "demo_core.jsonl").read_text().splitlines()]
    with (pipeline.layout.qa_dir / "added.jsonl").open("w") as fh:
        for i, record in enumerate(source[:n_new]):
            fh.write(
                json.dumps({**record, "instance_id": f"added-{i}", "question": record["question"] + " (v2)"}) + "\n"
            )

    prepare = automation.nightly_reevaluation(
        dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 26))
    )
    assert (
        pipeline.defs.resolve_job_def(prepare.job_name or "prepare_benchmark")
        .execute_in_process(instance=pipeline.instance, tags=prepare.tags)
        .success
    )
    evaluations = _sensor(automation.evaluate_after_prepare, pipeline).run_requests
    assert {r.partition_key for r in evaluations} == {"random", "prior"}
    for result in _execute(pipeline, "evaluate_model", evaluations):
        meta = pipeline.materializations(result, "predictions")[0]
        assert meta["asked_now"] == meta["calls"] == n_new

    after = _sensor(automation.metrics_after_predictions, pipeline, cursor=cursor)
    assert len(after.run_requests) == 1
    assert _execute(pipeline, "build_metrics", after.run_requests)
    assert not _sensor(automation.metrics_after_predictions, pipeline, cursor=after.cursor).run_requests


def test_every_evaluation_run_carries_its_provider_tag(pipeline):
    assert pipeline.run("prepare_benchmark").success
    result = pipeline.run("evaluate_model", partition_key="prior")
    assert result.success and result.dagster_run.tags["mtavg/provider"] == "prior"
