"""The models registry as an asset: valid entries become `predictions` partitions."""

from pathlib import Path

import dagster as dg
import pandas as pd

from mtavg_assets.assets import OWNERS
from mtavg_assets.assets.inputs import models_file
from mtavg_assets.conditions import PREPARE
from mtavg_assets.registry import ModelEntry, RegistryLoad, load_registry
from mtavg_assets.resources import MtavgData

models_partitions = dg.DynamicPartitionsDefinition(name="models")
REGISTRY_COLUMNS = [
    "name",
    "provider",
    "model",
    "media",
    "media_recipe",
    "prompt_version",
    "api_key_env",
    "concurrency",
    "baseline",
    "status",  # MODEL_STATUSES
    "valid",
    "reason",
    "entry",  # the validated entry as JSON: what the downstream assets use (key names only, no keys)
]
MODEL_STATUSES = ("active", "invalid", "retired")


def registry_frame(load, predictions_dir: Path | None = None) -> pd.DataFrame:
    """Active and invalid entries side by side, plus `retired` models: predictions on disk, no entry.
    Key *names* only, never key values."""
    rows = [
        {
            "name": e.name,
            "provider": e.provider,
            "model": e.model,
            "media": e.media,
            "media_recipe": e.media_recipe,
            "prompt_version": e.prompt_version,
            "api_key_env": e.api_key_env,
            "concurrency": e.concurrency,
            "baseline": e.baseline,
            "status": "active",
            "valid": True,
            "reason": None,
            "entry": e.model_dump_json(),
        }
        for e in load.entries
    ]
    rows += [
        {"name": bad["name"], "status": "invalid", "valid": False, "reason": bad["reason"]} for bad in load.invalid
    ]
    named = {row["name"] for row in rows}
    if predictions_dir is not None and predictions_dir.is_dir():
        rows += [
            {"name": folder.name, "status": "retired", "valid": False, "reason": "not in models.yaml"}
            for folder in sorted(predictions_dir.iterdir())
            if folder.is_dir() and folder.name not in named
        ]
    return pd.DataFrame(rows, columns=REGISTRY_COLUMNS).astype({"baseline": "boolean"})


def registered_models(layout) -> RegistryLoad:
    """The registry as `model_registry` last validated it: the edge every downstream asset reads
    (so a run uses the entries its upstream materialization checked, not a file edited since)."""
    if not layout.derived("model_registry").exists():
        return RegistryLoad([], [])
    frame = layout.read("model_registry")
    active = frame[frame["status"] == "active"]
    invalid = frame[frame["status"] == "invalid"]
    return RegistryLoad(
        [ModelEntry.model_validate_json(text) for text in active["entry"]],
        [{"index": None, "name": row.name, "reason": row.reason} for row in invalid.itertuples()],
    )


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
