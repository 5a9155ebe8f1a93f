"""Clip assets: the catalog of probed clips and the derived media each evaluator needs."""

import json
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pandas as pd

from mtavg_assets.assets import OWNERS
from mtavg_assets.assets.inputs import clip_files, taxonomy_file
from mtavg_assets.assets.models import registered_models
from mtavg_assets.conditions import PREPARE
from mtavg_assets.jsonl import read_jsonl
from mtavg_assets.media.probe import build_catalog
from mtavg_assets.media.recipes import MEDIA_COLUMNS, derive
from mtavg_assets.parquet_io import fingerprint, read_parquet
from mtavg_assets.resources import MtavgData


@dg.asset(
    group_name="clips",
    owners=OWNERS,
    tags={"mtavg/stage": "prepare"},
    kinds={"ffmpeg", "parquet"},
    code_version="clip-catalog-2",
    deps=[clip_files, taxonomy_file],
    automation_condition=PREPARE,
    description="ffprobe facts and sha256 of every clip in the manifest; unreadable clips go to clip_rejects.",
)
def clip_catalog(context: dg.AssetExecutionContext, mtavg: MtavgData) -> dg.MaterializeResult:
    with mtavg.lock("clip_catalog", context):
        layout = mtavg.layout
        previous_path = layout.derived("clip_catalog")
        previous = read_parquet(previous_path) if previous_path.exists() else None
        result = build_catalog(layout.clips_dir, layout.clip_manifest, previous=previous)
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
    code_version="clip-media-2",
    description="Evaluator inputs per (clip sha256, media recipe) for the recipes registered models use; "
    "made once and reused while the content is unchanged.",
)
def clip_media(context: dg.AssetExecutionContext, mtavg: MtavgData) -> dg.MaterializeResult:
    with mtavg.lock("clip_media", context):
        layout = mtavg.layout
        catalog = layout.read("clip_catalog")
        runnable = [e for e in registered_models(layout).entries if not e.offline and not e.missing_key]
        recipes = sorted({e.media_recipe for e in runnable})  # only for entries that can run here
        jobs = [(clip, recipe) for recipe in recipes for clip in catalog.itertuples()]

        def make(job):
            clip, recipe = job
            row = {"clip_id": clip.clip_id, "sha256": clip.sha256, "recipe": recipe}
            try:
                media = derive(
                    layout.clips_dir / clip.path,
                    clip.sha256,
                    clip.duration_s,
                    clip.width,
                    clip.height,
                    recipe,
                    layout.media_dir,
                )
            except Exception as exc:  # noqa: BLE001 - one clip that ffmpeg cannot convert must not stop the others
                return {**row, "files": {}, "error": f"{type(exc).__name__}: {str(exc).strip()[-300:]}"}
            return {
                **row,
                "files": media.files,
                "frames": media.frames,
                "fps": media.fps,
                "resolution": media.resolution,
                "has_audio": media.has_audio,
                "error": None,
            }

        with ThreadPoolExecutor(max_workers=2) as pool:
            rows = list(pool.map(make, jobs))
        frame = pd.DataFrame(rows, columns=MEDIA_COLUMNS)
        frame["files"] = frame["files"].map(json.dumps)
        layout.write("clip_media", frame)
        failed = frame[frame["error"].notna()]
        for bad in failed.itertuples():
            context.log.warning(f"no {bad.recipe} media for clip {bad.clip_id}: {bad.error}")
        context.log.info(
            f"{len(rows) - len(failed)} derived inputs for recipes {recipes or '(none: offline models only)'}"
        )
        return dg.MaterializeResult(
            metadata={
                "recipes": ", ".join(recipes) or "none",
                "derived_inputs": len(rows) - len(failed),
                "failed": len(failed),
                "failures": dg.MetadataValue.md(
                    failed[["clip_id", "recipe", "error"]].to_markdown(index=False) if len(failed) else "none"
                ),
            }
        )
