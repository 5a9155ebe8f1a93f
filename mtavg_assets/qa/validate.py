"""Referential and schema validation of QA instances: every input line ends valid or rejected."""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass

import pandas as pd

from mtavg_assets.taxonomy import QUESTION_TYPES, SUBSETS, Taxonomy

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
REQUIRED_STR = ("instance_id", "subset", "question_type", "dimension", "category", "question")


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
    missing = [k for k in REQUIRED_STR if not isinstance(rec.get(k), str) or not rec.get(k).strip()]
    if missing:
        raise QARejected(f"missing or non-string field(s): {', '.join(missing)}")
    qtype, subset = rec["question_type"], rec["subset"]
    if qtype not in QUESTION_TYPES:
        raise QARejected(f"unknown question_type {qtype!r}")
    if subset not in SUBSETS:
        raise QARejected(f"unknown subset {subset!r}")
    dim = taxonomy.dimension_of(rec["category"])
    if dim is None:
        raise QARejected(f"unknown category {rec['category']!r} (taxonomy {taxonomy.version})")
    if dim != rec["dimension"]:
        raise QARejected(f"category {rec['category']!r} belongs to {dim!r}, not {rec['dimension']!r}")
    clip_ids = rec.get("clip_ids")
    if not isinstance(clip_ids, list) or not clip_ids or not all(isinstance(c, str) for c in clip_ids):
        raise QARejected("clip_ids must be a non-empty list of strings")
    if qtype == "drama" and len(clip_ids) < 2:
        raise QARejected("drama questions need two or more clips in order")
    if qtype != "drama" and len(clip_ids) != 1:
        raise QARejected(f"{qtype} questions take exactly one clip, got {len(clip_ids)}")
    for clip in clip_ids:
        if clip in clip_rejects:
            raise QARejected(f"clip {clip!r} was rejected: {clip_rejects[clip]}")
        if clip not in clips.index:
            raise QARejected(f"clip {clip!r} not in the clip catalog")
    duration = float(clips.at[clip_ids[0], "duration_s"])
    options, answer, span = rec.get("options"), rec.get("answer"), rec.get("answer_span")
    start = end = None
    if qtype in ("mcq", "yes_no", "drama"):
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
            raise QARejected("options must be a list of two or more strings")
        if len(options) > 26:
            raise QARejected("more than 26 options")
        letters = string.ascii_uppercase[: len(options)]
        if not isinstance(answer, str) or answer not in letters:
            raise QARejected(f"answer {answer!r} is not among the option letters {letters[0]}..{letters[-1]}")
    else:
        if not isinstance(span, list) or len(span) != 2 or not all(isinstance(x, int | float) for x in span):
            raise QARejected("temporal questions need answer_span [start_s, end_s]")
        start, end = float(span[0]), float(span[1])
        if start < 0 or start >= end:
            raise QARejected(f"answer_span start must be >= 0 and < end, got [{start}, {end}]")
        if end > duration + SPAN_TOLERANCE_S:
            raise QARejected(f"answer_span end {end} is past the clip's duration {duration:.3f}s")
    shas = [str(clips.at[c, "sha256"]) for c in clip_ids]
    return {
        "instance_id": rec["instance_id"],
        "clip_ids": clip_ids,
        "n_clips": len(clip_ids),
        "subset": subset,
        "question_type": qtype,
        "dimension": dim,
        "category": rec["category"],
        "question": rec["question"],
        "options": options if qtype != "temporal" else None,
        "n_options": len(options) if qtype != "temporal" else None,
        "answer": answer if qtype != "temporal" else None,
        "answer_span_start": start,
        "answer_span_end": end,
        "source_generator": str(rec.get("source_generator") or ""),
        "clip_duration_s": duration,
        "clip_sha256s": shas,
        "content_hash": content_hash(rec, shas),
        "meta": json.dumps(rec.get("meta") or {}, sort_keys=True),
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
