"""Referential and schema validation of QA instances: every input line ends valid or rejected."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pandas as pd
from pydantic import ValidationError

from mtavg_assets.qa.schema import QARecord
from mtavg_assets.taxonomy import Taxonomy
from mtavg_assets.validation import validation_reason

SPAN_TOLERANCE_S = 0.05
VALID_COLUMNS = [
    "instance_id",
    "clip_ids",
    "n_clips",
    "subset",
    "question_type",
    "dimension",
    "category",
    "question",
    "options",
    "n_options",
    "answer",
    "answer_span_start",
    "answer_span_end",
    "source_generator",
    "clip_duration_s",
    "clip_sha256s",
    "content_hash",
    "meta",
    "source_file",
    "line_no",
]
REJECT_COLUMNS = ["source_file", "line_no", "instance_id", "reason", "record_json"]


class QARejected(Exception):
    """An instance that cannot be scored, with the reason in its message."""


@dataclass(frozen=True)
class ValidationResult:
    valid: pd.DataFrame
    rejects: pd.DataFrame


def content_hash(record: dict, clip_shas: list[str]) -> str:
    """What an evaluator sees of an instance: question, options, type and clip content (not the answer)."""
    seen = {k: record.get(k) for k in ("question", "options", "question_type")}
    blob = json.dumps({"seen": seen, "clips": clip_shas}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _check_record(rec: dict, taxonomy: Taxonomy, clips: pd.DataFrame, clip_rejects: dict[str, str]) -> dict:
    try:
        typed = QARecord.model_validate(rec)
    except ValidationError as exc:
        raise QARejected(validation_reason(exc)) from None
    qtype, subset = typed.question_type, typed.subset
    dim = taxonomy.dimension_of(typed.category)
    if dim is None:
        raise QARejected(f"unknown category {typed.category[:100]!r} (taxonomy {taxonomy.version})")
    if dim != typed.dimension:
        raise QARejected(f"category {typed.category!r} belongs to {dim!r}, not {typed.dimension[:100]!r}")
    clip_ids = typed.clip_ids
    for clip in clip_ids:
        if clip in clip_rejects:
            raise QARejected(f"clip {clip!r} was rejected: {clip_rejects[clip]}")
        if clip not in clips.index:
            raise QARejected(f"clip {clip[:100]!r} not in the clip catalog")
    duration = float(clips.at[clip_ids[0], "duration_s"])
    options, answer = typed.options, typed.answer
    start = end = None
    if qtype == "temporal":
        start, end = typed.answer_span
        if end > duration + SPAN_TOLERANCE_S:
            raise QARejected(f"answer_span end {end} is past the clip's duration {duration:.3f}s")
    shas = [str(clips.at[c, "sha256"]) for c in clip_ids]
    return {
        "instance_id": typed.instance_id,
        "clip_ids": clip_ids,
        "n_clips": len(clip_ids),
        "subset": subset,
        "question_type": qtype,
        "dimension": dim,
        "category": typed.category,
        "question": typed.question,
        "options": options if qtype != "temporal" else None,
        "n_options": len(options) if qtype != "temporal" else None,
        "answer": answer if qtype != "temporal" else None,
        "answer_span_start": start,
        "answer_span_end": end,
        "source_generator": typed.source_generator or "",
        "clip_duration_s": duration,
        "clip_sha256s": shas,
        "content_hash": content_hash(rec, shas),
        "meta": json.dumps(typed.meta or {}, sort_keys=True),
    }


def validate_qa(
    lines: pd.DataFrame, catalog: pd.DataFrame, clip_rejects: pd.DataFrame, taxonomy: Taxonomy
) -> ValidationResult:
    """Split input lines into valid instances and rejects; `len(valid) + len(rejects) == len(lines)`."""
    clips = catalog.set_index("clip_id")
    rejected_clips = {r.clip_id: str(r.reason) for r in clip_rejects.itertuples() if isinstance(r.clip_id, str)}
    valid, rejects, first_seen = [], [], {}
    for line in lines.itertuples(index=False):
        where = {"source_file": line.source_file, "line_no": int(line.line_no)}
        if isinstance(line.parse_error, str):
            rejects.append({**where, "instance_id": None, "reason": line.parse_error, "record_json": None})
            continue
        rec = json.loads(line.record_json)
        iid = rec.get("instance_id") if isinstance(rec.get("instance_id"), str) else None
        try:
            row = _check_record(rec, taxonomy, clips, rejected_clips)
            if iid in first_seen:
                raise QARejected(f"duplicate instance_id (first at {first_seen[iid]})")
            first_seen[iid] = f"{line.source_file}:{line.line_no}"
            valid.append({**row, **where})
        except QARejected as exc:
            rejects.append({**where, "instance_id": iid, "reason": str(exc), "record_json": line.record_json})
    return ValidationResult(pd.DataFrame(valid, columns=VALID_COLUMNS), pd.DataFrame(rejects, columns=REJECT_COLUMNS))
