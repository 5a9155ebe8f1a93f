"""Clip assets: the catalog of probed clips and the derived media each evaluator needs."""

import time

import dagster as dg
import pandas as pd

from mtavg_assets.assets import OWNERS
from mtavg_assets.assets.inputs import clip_files, taxonomy_file
from mtavg_assets.assets.models import registered_models
from mtavg_assets.conditions import PREPARE
from mtavg_assets.jsonl import read_jsonl
from mtavg_assets.media.probe import build_catalog
from mtavg_assets.media.recipes import CLIP_CHANGED, derive_all
from mtavg_assets.parquet_io import fingerprint, read_parquet
from mtavg_assets.resources import MtavgData
from mtavg_assets.settings import prepare_workers


@dg.asset(
    group_name="clips",
    owners=OWNERS,
    tags={"mtavg/stage": "prepare"},
    kinds={"ffmpeg", "parquet"},
    code_version="clip-catalog-3",
    deps=[clip_files, taxonomy_file],
    automation_condition=PREPARE,
    description="ffprobe facts and sha256 of every clip in the manifest; unreadable clips go to clip_rejects.",
)
def clip_catalog(context: dg.AssetExecutionContext, mtavg: MtavgData) -> dg.MaterializeResult:
    with mtavg.lock("clip_catalog", context):
        layout = mtavg.layout
        previous_path = layout.derived("clip_catalog")
        previous = read_parquet(previous_path) if previous_path.exists() else None
        if previous is not None and layout.derived("clip_media").exists():  # bytes changed under the catalog
            media = layout.read("clip_media")
            changed = media[media["error"].fillna("").str.contains(CLIP_CHANGED, regex=False)]["sha256"]
            previous = previous[~previous["sha256"].isin(set(changed))]
        started = time.perf_counter()
        result = build_catalog(layout.clips_dir, layout.clip_manifest, previous=previous)
        seconds = time.perf_counter() - started
        layout.write("clip_catalog", result.catalog)
        layout.write("clip_rejects", result.rejects)
        for reject in result.rejects.itertuples():
            context.log.warning(
                f"clip rejected: {reject.clip_id or '(line ' + str(reject.line_no) + ')'}: {reject.reason}"
            )
        reasons = result.rejects["reason"].value_counts().rename_axis("reason").reset_index(name="clips")
        return dg.MaterializeResult(
            metadata={
                "manifest_lines": result.manifest_lines,
                "clips": len(result.catalog),
                "rejected": len(result.rejects),
                "probed": len(result.catalog) + len(result.rejects) - result.reused,
                "reused_unchanged": result.reused,
                "probe_seconds": round(seconds, 3),
                "total_duration_s": float(result.catalog["duration_s"].sum()) if len(result.catalog) else 0.0,
                "reject_reasons": dg.MetadataValue.md(reasons.to_markdown(index=False) if len(reasons) else "none"),
                "dagster/row_count": len(result.catalog),
            },
            data_version=dg.DataVersion(fingerprint(result.catalog["sha256"])),
        )


@dg.asset_check(asset=clip_catalog, description="Every manifest line ends in the catalog or in clip_rejects.")
def clip_catalog_reconciles(mtavg: MtavgData) -> dg.AssetCheckResult:
    layout = mtavg.layout
    catalog, rejects = layout.read("clip_catalog"), layout.read("clip_rejects")
    lines = sum(1 for _ in read_jsonl(layout.clip_manifest)) if layout.clip_manifest.exists() else 0
    return dg.AssetCheckResult(
        passed=len(catalog) + len(rejects) == lines,
        metadata={"catalog": len(catalog), "rejected": len(rejects), "manifest_lines": lines},
    )


@dg.asset(
    group_name="clips",
    owners=OWNERS,
    tags={"mtavg/stage": "prepare"},
    kinds={"ffmpeg", "parquet"},
    deps=[clip_catalog, "model_registry"],
    automation_condition=PREPARE,
    code_version="clip-media-3",
    description="Evaluator inputs per (clip sha256, media recipe) for the recipes registered models use; "
    "made once and reused while the content is unchanged.",
)
def clip_media(context: dg.AssetExecutionContext, mtavg: MtavgData) -> dg.MaterializeResult:
    with mtavg.lock("clip_media", context):
        layout = mtavg.layout
        catalog = layout.read("clip_catalog")
        runnable = [e for e in registered_models(layout).entries if not e.offline and not e.missing_key]
        recipes = sorted({e.media_recipe for e in runnable} - {"none"})  # only for entries that can run here
        frame, timing = derive_all(catalog, recipes, layout.clips_dir, layout.media_dir, prepare_workers())
        layout.write("clip_media", frame)
        failed = frame[frame["error"].notna()]
        for bad in failed.itertuples():
            context.log.warning(f"no {bad.recipe} media for clip {bad.clip_id}: {bad.error}")
        context.log.info(
            f"{len(frame) - len(failed)} derived inputs for recipes {recipes or '(none: offline models only)'}"
        )
        return dg.MaterializeResult(
            metadata={
                "recipes": ", ".join(recipes) or "none",
                "derived_inputs": len(frame) - len(failed),
                "failed": len(failed),
                "workers": prepare_workers(),
                "seconds_by_recipe": dg.MetadataValue.json({t["recipe"]: t["seconds"] for t in timing}),
                "timing": dg.MetadataValue.md(pd.DataFrame(timing).to_markdown(index=False) if timing else "none"),
                "failures": dg.MetadataValue.md(
                    failed[["clip_id", "recipe", "error"]].to_markdown(index=False) if len(failed) else "none"
                ),
            }
        )
