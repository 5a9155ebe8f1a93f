"""Dagster definitions: assets, checks, jobs and resources of the MTAVG-Bench pipeline."""

import dagster as dg

from mtavg_assets import automation
from mtavg_assets.assets import clips, inputs, metrics, models, predictions, qa
from mtavg_assets.resources import MtavgData

ALL_ASSETS = [*inputs.INPUTS, *dg.load_assets_from_modules([clips, qa, models, predictions, metrics])]
PROVIDER_TAG = "mtavg/provider"
ALL_CHECKS = dg.load_asset_checks_from_modules([clips, qa, models, predictions, metrics])

prepare_benchmark_job = dg.define_asset_job(
    "prepare_benchmark",
    selection=dg.AssetSelection.groups("clips", "qa") | dg.AssetSelection.assets("model_registry"),
    description="Catalog clips, validate QA, load the models registry and derive evaluator media.",
)
check_qa_job = dg.define_asset_job(
    "check_qa",
    selection=dg.AssetSelection.checks_for_assets(dg.AssetKey("validated_qa")),
    description="Re-run the data-quality checks of validated QA (they gate evaluation).",
)
build_metrics_job = dg.define_asset_job(
    "build_metrics",
    selection=dg.AssetSelection.groups("metrics"),
    description="Rebuild the DuckDB metric tables and the leaderboard.",
)


def evaluate_model_job(resource: MtavgData):
    """Each run of a partition is tagged with its provider, so dagster.yaml's per-provider run
    limits hold for runs launched by hand as well as by the sensors."""

    def provider_tags(partition_key: str) -> dict[str, str]:
        entries = {e.name: e for e in models.registered_models(resource.layout).entries}
        entry = entries.get(partition_key)
        return {PROVIDER_TAG: entry.provider if entry else "unknown"}

    return dg.define_asset_job(
        "evaluate_model",
        selection=dg.AssetSelection.assets("predictions"),
        partitions_def=models.models_partitions,
        config=dg.PartitionedConfig(
            partitions_def=models.models_partitions,
            run_config_for_partition_key_fn=lambda _: {},
            tags_for_partition_key_fn=provider_tags,
        ),
        description="Evaluate one model partition (only unanswered cells).",
    )


def build_definitions(data_dir: str | None = None) -> dg.Definitions:
    """The project's definitions; `data_dir` overrides MTAVG_DATA_DIR (tests, one-off runs)."""
    resource = MtavgData(data_dir=data_dir) if data_dir else MtavgData()
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_CHECKS,
        jobs=[prepare_benchmark_job, evaluate_model_job(resource), build_metrics_job, check_qa_job],
        sensors=[automation.input_changes, automation.automation_sensor],
        executor=dg.in_process_executor,  # steps are small: no process per step
        resources={"mtavg": resource},
    )


defs = build_definitions()
