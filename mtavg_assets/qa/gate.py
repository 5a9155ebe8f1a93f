"""The data-quality gate between validated QA and evaluation.

The Great Expectations check records its verdict for the exact validated_qa file it checked.
Evaluation (manual, scheduled or sensor-triggered) refuses to start unless the current file has
passed, so a failed check stops evaluation in every later run, not only in the run that failed.
"""

from __future__ import annotations

import hashlib
import json

from mtavg_assets.atomic import write_text_atomic
from mtavg_assets.settings import DataLayout


def _gate_file(layout: DataLayout):
    return layout.derived_dir / "qa_gate.json"


def validated_qa_fingerprint(layout: DataLayout) -> str:
    return hashlib.sha256(layout.derived("validated_qa").read_bytes()).hexdigest()


def record_qa_gate(layout: DataLayout, passed: bool, failed: list[str]) -> None:
    doc = {"validated_qa_sha256": validated_qa_fingerprint(layout), "passed": passed, "failed": failed}
    write_text_atomic(_gate_file(layout), json.dumps(doc))


def qa_gate_status(layout: DataLayout) -> tuple[str, str]:
    """("open" | "failed" | "pending", reason). Pending: the current file has not been checked yet."""
    path = _gate_file(layout)
    if not layout.derived("validated_qa").exists():
        return "pending", "validated_qa does not exist yet: run prepare_benchmark"
    if not path.exists():
        return "pending", "validated_qa has not been checked yet: run prepare_benchmark (its checks gate evaluation)"
    doc = json.loads(path.read_text())
    if doc["validated_qa_sha256"] != validated_qa_fingerprint(layout):
        return "pending", "validated_qa changed since its last check: run prepare_benchmark or the check_qa job"
    if not doc["passed"]:
        return "failed", f"validated_qa failed its data-quality checks ({', '.join(doc['failed'])}): evaluation blocked"
    return "open", "passed"
