"""Automation: the nightly schedule and the sensors that carry work down the asset graph.

    nightly schedule / new or changed input files ──► prepare_benchmark
    prepare_benchmark materialized, QA gate open   ──► evaluate_model, one run per model partition
    predictions materialized, no evaluation left   ──► build_metrics

Evaluation runs are incremental (only unanswered cells are asked), so a night with no change makes
no model call. Runs carry an `mtavg/provider` tag; dagster.yaml limits concurrent runs per provider.
"""

import hashlib

import dagster as dg

from mtavg_assets.assets.models import models_partitions, partition_changes
from mtavg_assets.media.probe import file_identity
from mtavg_assets.qa.gate import qa_gate_status
from mtavg_assets.qa.load import qa_files
from mtavg_assets.registry import load_registry
from mtavg_assets.resources import MtavgData
from mtavg_assets.settings import DataLayout

PROVIDER_TAG = "mtavg/provider"
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def input_fingerprint(layout: DataLayout) -> str:
    """Changes when a QA file, the clip manifest, a clip file or the models registry changes."""
    paths = [*qa_files(layout.qa_dir), layout.clip_manifest, layout.models_file, layout.taxonomy_file]
    if layout.clips_dir.exists():
        paths += sorted(p for p in layout.clips_dir.rglob("*") if p.is_file() and p.suffix != ".jsonl")
    parts = [identity for identity in map(file_identity, paths) if identity]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def evaluation_requests(layout: DataLayout, run_key_suffix: str, log=None) -> list[dg.RunRequest]:
    """One evaluate_model run per runnable registry entry (entries whose API key is missing are skipped)."""
    requests = []
    for entry in load_registry(layout.models_file).entries:
        if entry.missing_key:
            if log:
                log.warning(f"not evaluating {entry.name}: {entry.api_key_env} is not set for the daemon")
            continue
        requests.append(
            dg.RunRequest(
                partition_key=entry.name,
                run_key=f"{entry.name}:{run_key_suffix}",
                tags={PROVIDER_TAG: entry.provider},
            )
        )
    return requests


@dg.schedule(
    job_name="prepare_benchmark",
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly: re-prepare the benchmark; the sensors then re-evaluate every model partition "
    "(only new or changed cells) and rebuild the metrics.",
)
def nightly_reevaluation(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    date = context.scheduled_execution_time.strftime("%Y-%m-%d") if context.scheduled_execution_time else "now"
    return dg.RunRequest(run_key=f"nightly-{date}", tags={"mtavg/trigger": "nightly"})


@dg.sensor(
    job_name="prepare_benchmark",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed QA files, clips or models registry: validate them (prepare_benchmark) "
    "and register new model partitions.",
)
def input_files_sensor(context: dg.SensorEvaluationContext, mtavg: MtavgData) -> dg.SensorResult:
    layout = mtavg.layout
    fingerprint = input_fingerprint(layout)
    known = set(context.instance.get_dynamic_partitions(models_partitions.name))
    added, removed = partition_changes(known, load_registry(layout.models_file).entries)
    partition_requests = [models_partitions.build_add_request(added)] if added else []
    partition_requests += [models_partitions.build_delete_request(removed)] if removed else []
    if fingerprint == context.cursor:
        return dg.SensorResult(skip_reason="inputs unchanged", dynamic_partitions_requests=partition_requests)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"inputs-{fingerprint[:16]}", tags={"mtavg/trigger": "inputs"})],
        dynamic_partitions_requests=partition_requests,
        cursor=fingerprint,
    )


def _latest_storage_id(instance: dg.DagsterInstance, asset: str) -> int:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
    return records[0].storage_id if records else 0


@dg.sensor(
    job_name="evaluate_model",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After the benchmark is prepared and its QA checks pass, evaluate every model partition.",
)
def evaluate_after_prepare(context: dg.SensorEvaluationContext, mtavg: MtavgData) -> dg.SensorResult:
    layout = mtavg.layout
    latest = max(_latest_storage_id(context.instance, a) for a in ("validated_qa", "model_registry", "clip_media"))
    if latest == 0 or str(latest) == context.cursor:
        return dg.SensorResult(skip_reason="no newly prepared benchmark")
    preparing = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name="prepare_benchmark", statuses=IN_FLIGHT), limit=1
    )
    gate, reason = qa_gate_status(layout)
    if preparing or gate == "pending":
        return dg.SensorResult(skip_reason=f"waiting: {'preparation in flight' if preparing else reason}")
    if gate == "failed":
        return dg.SensorResult(skip_reason=f"evaluation blocked: {reason}", cursor=str(latest))
    known = set(context.instance.get_dynamic_partitions(models_partitions.name))
    requests = evaluation_requests(layout, str(latest), context.log)
    new = [r.partition_key for r in requests if r.partition_key not in known]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[models_partitions.build_add_request(new)] if new else [],
        cursor=str(latest),
    )


@dg.sensor(
    job_name="build_metrics",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rebuild the DuckDB metrics once new predictions exist and no evaluation is still running.",
)
def metrics_after_predictions(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    latest = _latest_storage_id(context.instance, "predictions")
    if latest == 0 or str(latest) == context.cursor:
        return dg.SensorResult(skip_reason="no new predictions")
    running = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name="evaluate_model", statuses=IN_FLIGHT), limit=1
    )
    if running:
        return dg.SensorResult(skip_reason="waiting for evaluations still in flight")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"metrics-{latest}")], cursor=str(latest))
