"""QA assets: every input line, the validated instances with their rejects, and the subsets."""

import dagster as dg

from mtavg_assets.assets import OWNERS
from mtavg_assets.assets.clips import clip_catalog
from mtavg_assets.assets.gate import CHECKED_FILE, validated_qa_sha256
from mtavg_assets.assets.inputs import qa_files, taxonomy_file
from mtavg_assets.conditions import PREPARE
from mtavg_assets.parquet_io import fingerprint
from mtavg_assets.qa.load import ignored_files, load_qa_lines
from mtavg_assets.qa.validate import validate_qa
from mtavg_assets.resources import MtavgData


@dg.asset(
    group_name="qa",
    owners=OWNERS,
    tags={"mtavg/stage": "prepare"},
    kinds={"parquet"},
    code_version="qa-instances-1",
    deps=[qa_files],
    automation_condition=PREPARE,
    description="Every non-blank line of data/qa/*.jsonl (any case), parsed or with its parse error; nothing "
    "dropped. Other files in data/qa are listed as ignored.",
)
def qa_instances(context: dg.AssetExecutionContext, mtavg: MtavgData) -> dg.MaterializeResult:
    with mtavg.lock("qa_instances", context):
        layout = mtavg.layout
        lines = load_qa_lines(layout.qa_dir)
        ignored = ignored_files(layout.qa_dir)
        if ignored:
            context.log.warning(f"not QA files (only *.jsonl is read), ignored: {', '.join(ignored)}")
        layout.write("qa_instances", lines)
        per_file = lines.groupby("source_file").size().rename("lines").reset_index()
        return dg.MaterializeResult(
            metadata={
                "lines": len(lines),
                "malformed": int(lines["parse_error"].notna().sum()),
                "ignored_files": ", ".join(ignored) or "none",
                "files": dg.MetadataValue.md(per_file.to_markdown(index=False) if len(per_file) else "no QA files"),
                "dagster/row_count": len(lines),
            }
        )


@dg.multi_asset(
    group_name="qa",
    specs=[
        dg.AssetSpec(
            "validated_qa",
            code_version="validated-qa-2",
            deps=[qa_instances, clip_catalog, taxonomy_file],
            automation_condition=PREPARE,
            kinds={"parquet"},
            owners=OWNERS,
            tags={"mtavg/stage": "prepare"},
            description="QA instances that passed schema, taxonomy and referential checks.",
        ),
        dg.AssetSpec(
            "qa_rejects",
            code_version="validated-qa-2",
            deps=[qa_instances, clip_catalog, taxonomy_file],
            automation_condition=PREPARE,
            kinds={"parquet"},
            owners=OWNERS,
            tags={"mtavg/stage": "prepare"},
            description="Rejected QA lines with the reason; valid + rejected == input, always.",
        ),
    ],
)
def validated_qa_and_rejects(context: dg.AssetExecutionContext, mtavg: MtavgData):
    with mtavg.lock("validated_qa", context):
        layout = mtavg.layout
        taxonomy = mtavg.taxonomy()
        lines = layout.read("qa_instances")
        result = validate_qa(lines, layout.read("clip_catalog"), layout.read("clip_rejects"), taxonomy)
        layout.write("validated_qa", result.valid)
        layout.write("qa_rejects", result.rejects)
        for reject in result.rejects.itertuples():
            context.log.warning(f"QA rejected {reject.source_file}:{reject.line_no}: {reject.reason}")
        by_type = result.valid.groupby(["subset", "question_type"]).size().rename("instances").reset_index()
        reasons = result.rejects["reason"].str.replace(r"'[^']*'", "'…'", regex=True).value_counts()
        yield dg.MaterializeResult(
            asset_key="validated_qa",
            metadata={
                "input_lines": len(lines),
                "valid": len(result.valid),
                "rejected": len(result.rejects),
                "taxonomy_version": taxonomy.version,
                "by_subset_and_type": dg.MetadataValue.md(by_type.to_markdown(index=False) if len(by_type) else "none"),
                "dagster/row_count": len(result.valid),
            },
            data_version=dg.DataVersion(fingerprint(result.valid["content_hash"])),
        )
        yield dg.MaterializeResult(
            asset_key="qa_rejects",
            metadata={
                "rejected": len(result.rejects),
                "reasons": dg.MetadataValue.md(
                    reasons.rename_axis("reason").reset_index(name="lines").to_markdown(index=False)
                    if len(reasons)
                    else "none"
                ),
                "dagster/row_count": len(result.rejects),
            },
        )


@dg.asset_check(
    asset="validated_qa",
    blocking=True,
    description="valid + rejected == input lines (nothing lost, nothing counted twice).",
)
def qa_counts_reconcile(mtavg: MtavgData) -> dg.AssetCheckResult:
    layout = mtavg.layout
    lines = layout.read("qa_instances")
    valid, rejects = layout.read("validated_qa"), layout.read("qa_rejects")
    return dg.AssetCheckResult(
        passed=len(valid) + len(rejects) == len(lines),
        metadata={
            "input_lines": len(lines),
            "valid": len(valid),
            "rejected": len(rejects),
            CHECKED_FILE: validated_qa_sha256(layout),
        },
    )


@dg.asset_check(
    asset="validated_qa",
    blocking=True,
    description="Great Expectations suite over validated QA; failure blocks evaluation.",
)
def qa_expectations(mtavg: MtavgData) -> dg.AssetCheckResult:
    from mtavg_assets.qa.expectations import run_qa_suite

    layout = mtavg.layout
    checked = validated_qa_sha256(layout)
    outcome = run_qa_suite(layout.read("validated_qa"), mtavg.taxonomy())
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "expectations": outcome.evaluated,
            "failed": ", ".join(outcome.failed) or "none",
            CHECKED_FILE: checked,
        },
    )


@dg.asset(
    group_name="qa",
    owners=OWNERS,
    tags={"mtavg/stage": "prepare"},
    kinds={"parquet"},
    deps=["validated_qa"],
    automation_condition=PREPARE,
    code_version="qa-subsets-1",
    description="Subset membership (core, short_drama, temporal_localization) of validated instances.",
)
def qa_subsets(context: dg.AssetExecutionContext, mtavg: MtavgData) -> dg.MaterializeResult:
    with mtavg.lock("qa_subsets", context):
        layout = mtavg.layout
        valid = layout.read("validated_qa")
        subsets = valid[["subset", "instance_id", "question_type", "dimension", "category"]]
        layout.write("qa_subsets", subsets)
        counts = subsets.groupby("subset").size()
        return dg.MaterializeResult(metadata={f"{name}_instances": int(n) for name, n in counts.items()})
