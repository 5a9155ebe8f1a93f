"""The models registry as an asset: valid entries become `predictions` partitions."""

import dagster as dg

from mtavg_assets.assets import OWNERS
from mtavg_assets.assets.inputs import models_file
from mtavg_assets.conditions import PREPARE
from mtavg_assets.registry import load_registry, registered_models, registry_frame
from mtavg_assets.resources import MtavgData

models_partitions = dg.DynamicPartitionsDefinition(name="models")
__all__ = ["registered_models", "registry_frame"]  # read here by the assets downstream of model_registry


def partition_changes(known: set[str], entries) -> tuple[list[str], list[str]]:
    """(to add, to remove): the `predictions` partitions are exactly the valid registry entries."""
    names = [e.name for e in entries]
    return [n for n in names if n not in known], sorted(known - set(names))


def sync_model_partitions(instance: dg.DagsterInstance, entries) -> tuple[list[str], list[str]]:
    """Make the partitions follow the registry; return (added, removed)."""
    added, removed = partition_changes(set(instance.get_dynamic_partitions(models_partitions.name)), entries)
    if added:
        instance.add_dynamic_partitions(models_partitions.name, added)
    for name in removed:
        instance.delete_dynamic_partition(models_partitions.name, name)
    return added, removed


@dg.asset(
    group_name="evaluation",
    owners=OWNERS,
    tags={"mtavg/stage": "evaluate"},
    kinds={"yaml", "parquet"},
    code_version="model-registry-2",
    deps=[models_file],
    automation_condition=PREPARE,
    description="Entries of data/models.yaml, validated one by one; invalid entries are kept with their reason.",
)
def model_registry(context: dg.AssetExecutionContext, mtavg: MtavgData) -> dg.MaterializeResult:
    with mtavg.lock("model_registry", context):
        layout = mtavg.layout
        load = load_registry(layout.models_file)
        frame = registry_frame(load, layout.predictions_dir)
        layout.write("model_registry", frame)
        for bad in load.invalid:
            context.log.error(f"models.yaml entry {bad['index']} ({bad['name']}): {bad['reason']}")
        added, removed = sync_model_partitions(context.instance, load.entries)
        return dg.MaterializeResult(
            metadata={
                "valid": len(load.entries),
                "invalid": len(load.invalid),
                "retired": int((frame["status"] == "retired").sum()),
                "partitions_added": ", ".join(added) or "none",
                "partitions_removed": ", ".join(removed) or "none",
                "registry": dg.MetadataValue.md(frame.drop(columns=["api_key_env"]).to_markdown(index=False)),
            },
        )
