"""The data-quality gate between validated QA and evaluation, read from the instance.

The blocking checks of `validated_qa` record, with their verdict, the sha256 of the exact file they
checked. An evaluation (automation, asset page, backfill or CLI) starts only if the latest
execution of every one of them passed on the current file: a failed check stops evaluation in
every later run, not only in the run that failed, and a file changed since its checks (by hand,
say) waits for them. Declarative Automation applies the same rule through
`all_deps_blocking_checks_passed`.
"""

from __future__ import annotations

import hashlib

import dagster as dg
from dagster._core.storage.asset_check_execution_record import (  # no public name for it
    AssetCheckExecutionRecordStatus,
)

from mtavg_assets.settings import DataLayout

QA_CHECKS = ("qa_counts_reconcile", "qa_expectations")
CHECKED_FILE = "validated_qa_sha256"  # metadata key every QA check records


def validated_qa_sha256(layout: DataLayout) -> str:
    return hashlib.sha256(layout.derived("validated_qa").read_bytes()).hexdigest()


def _latest_completed(instance: dg.DagsterInstance, key: dg.AssetCheckKey):
    """The evaluation of the newest completed execution of a check (an execution still running in
    another run, on the same content, must not hide it)."""
    records = instance.event_log_storage.get_asset_check_execution_history(
        key, limit=1, status={AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}
    )
    return records[0].event.asset_check_evaluation if records and records[0].event else None


def qa_gate_status(instance: dg.DagsterInstance, layout: DataLayout) -> tuple[str, str]:
    """("open" | "failed" | "pending", reason)."""
    if not layout.derived("validated_qa").exists():
        return "pending", "validated_qa does not exist yet: run prepare_benchmark"
    current, failed = validated_qa_sha256(layout), []
    for name in QA_CHECKS:
        key = dg.AssetCheckKey(dg.AssetKey("validated_qa"), name)
        evaluation = _latest_completed(instance, key)
        if evaluation is None:
            return "pending", "validated_qa has not been checked yet: run prepare_benchmark (its checks gate it)"
        checked = evaluation.metadata.get(CHECKED_FILE)
        if checked is None or checked.value != current:
            return "pending", "validated_qa changed since its last check: run prepare_benchmark or the check_qa job"
        if not evaluation.passed:
            detail = evaluation.metadata.get("failed")
            failed.append(name + (f" ({detail.value})" if detail else ""))
    if failed:
        return "failed", f"validated_qa failed its data-quality checks ({', '.join(failed)}): evaluation blocked"
    return "open", "passed"
