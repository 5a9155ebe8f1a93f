"""What the explorer shows, read from one metric build (the DuckDB file) in one read-only pass.

Two shapes: `index` (loaded at once) holds every instance's facets and, per model, one character
per instance for its status and answer, so the instance x model matrix of 10,000 x 20 is a few
megabytes; `details` (loaded one chunk at a time, when an instance is opened) holds the question,
options, gold, clips and, per model, the raw reply, parsed answer, judge reply, what the model
received, tokens, cost, latency, status, error and the exact prompt it was sent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from mtavg_assets.task.prompts import rebuilt_prompt, template_hash
from mtavg_assets.task.status import Status

CHUNK_SIZE = 100  # instances per detail file
FACETS = ("dimension", "category", "source_generator", "question_type", "subset", "kind", "episode")
# one character per (model, instance) in the matrix strings; "." = no row at all for that cell
STATUS_CODES = {s.value: s.value[0] for s in Status} | {"missing": "m", None: "."}
NO_ANSWER = "."


@dataclass(frozen=True)
class ExplorerData:
    index: dict
    details: list[dict]  # one dict per chunk: instance_id -> detail
    clip_files: dict[str, Path]  # clip_id -> file on disk


def finite(value) -> float | None:
    """A finite float, or None (missing, non-numeric, NaN or infinite)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _clean(value):
    """A JSON-safe value: NaN/inf and pandas' missing values become null."""
    if value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    if value is pd.NaT or (isinstance(value, type(pd.NA)) and value is pd.NA):
        return None
    return value


def _meta(raw) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _kind(meta: dict, question_type: str, answer, options) -> str:
    """'control' (a question about a failure that is absent), 'failure', or '' when unknown."""
    if isinstance(meta.get("control"), bool):
        return "control" if meta["control"] else "failure"
    if question_type == "yes_no" and isinstance(answer, str) and options is not None:
        positive = meta.get("positive") or "A"
        return "failure" if answer == positive else "control"
    return ""


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def read_build(duckdb_file: Path) -> ExplorerData:
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        tables = _tables(con)
        instances = con.execute(
            "SELECT q.*, c.cluster_id FROM qa_instances q LEFT JOIN instance_clusters c USING (instance_id) "
            "ORDER BY q.instance_id"
        ).df()
        board = con.execute(
            "SELECT model, rank, standing, baseline, accuracy, ci_low, ci_high, chance, completeness, "
            "incomplete_reason FROM leaderboard"
        ).df()
        active = con.execute(
            "SELECT DISTINCT name, ablation_of, repeat_of FROM models WHERE status = 'active' ORDER BY name"
        ).df()
        cells = con.execute(
            "SELECT p.* EXCLUDE (rotation), s.correct, s.iou FROM predictions p "
            "LEFT JOIN scores s ON s.model = p.model AND s.instance_id = p.instance_id "
            "WHERE p.rotation = 0"
        ).df()
        scored = con.execute("SELECT model, instance_id, status FROM scores").df()
        clips = con.execute("SELECT * FROM clips").df()
        rejects = {
            name: con.execute(f'SELECT * FROM "{name}"').df()
            for name in ("qa_rejects", "clip_rejects")
            if name in tables
        }
    return _assemble(instances, board, active, cells, scored, clips, rejects)


def _model_list(board: pd.DataFrame, active: pd.DataFrame, cells: pd.DataFrame) -> list[dict]:
    """Leaderboard order first (ranked, then incomplete), then the entries' copies (ablations,
    repeats) and any other model with answers."""
    models = []
    for row in board.itertuples():
        models.append(
            {
                "name": row.model,
                "rank": _clean(row.rank),
                "standing": row.standing,
                "baseline": bool(row.baseline),
                "accuracy": finite(row.accuracy),
                "ci_low": finite(row.ci_low),
                "ci_high": finite(row.ci_high),
                "completeness": finite(row.completeness),
                "incomplete_reason": _clean(row.incomplete_reason),
                "copy_of": None,
            }
        )
    seen = {m["name"] for m in models}
    for row in active.itertuples():
        if row.name not in seen and row.name in set(cells["model"]):
            copy_of = row.ablation_of if isinstance(row.ablation_of, str) else row.repeat_of
            models.append({"name": row.name, "standing": "copy", "copy_of": _clean(copy_of), "baseline": False})
            seen.add(row.name)
    return models


def _assemble(instances, board, active, cells, scored, clips, rejects) -> ExplorerData:
    models = _model_list(board, active, cells)
    names = [m["name"] for m in models]
    ids = instances["instance_id"].tolist()
    position = {iid: i for i, iid in enumerate(ids)}
    metas = [_meta(m) for m in instances["meta"]]

    columns: dict[str, list] = {
        "instance_id": ids,
        "cluster": [int(c) if c == c and c is not None else -1 for c in instances["cluster_id"]],
        "gold": [a if isinstance(a, str) else None for a in instances["answer"]],
        "n_options": [int(n) if n == n and n is not None else 0 for n in instances["n_options"]],
        "chunk": [i // CHUNK_SIZE for i in range(len(ids))],
    }
    for facet in FACETS:
        if facet == "kind":
            values = [
                _kind(meta, qt, a, o)
                for meta, qt, a, o in zip(
                    metas, instances["question_type"], instances["answer"], instances["options"], strict=True
                )
            ]
        elif facet == "episode":
            values = [str(m.get("episode_id", "")) if m.get("episode_id") is not None else "" for m in metas]
        else:
            values = [v if isinstance(v, str) else "" for v in instances[facet]]
        columns[facet] = values

    # the matrix: per model one character per instance for status, answer letter, correctness
    status = {m: ["."] * len(ids) for m in names}
    answer = {m: [NO_ANSWER] * len(ids) for m in names}
    correct = {m: ["-"] * len(ids) for m in names}
    iou = {m: [None] * len(ids) for m in names}
    judged = {m: ["0"] * len(ids) for m in names}
    for row in scored.itertuples():
        if row.model in status and row.instance_id in position:
            status[row.model][position[row.instance_id]] = STATUS_CODES.get(row.status, "?")
    by_instance: dict[str, dict[str, dict]] = {}
    for row in cells.to_dict("records"):
        model, iid = row["model"], row["instance_id"]
        if model not in status or iid not in position:
            continue
        i = position[iid]
        status[model][i] = STATUS_CODES.get(row["status"], "?")
        letter = row["parsed_answer"]
        if isinstance(letter, str) and len(letter) == 1 and row["status"] == Status.OK:
            answer[model][i] = letter
        if row["correct"] is not None and row["correct"] == row["correct"]:
            correct[model][i] = "1" if row["correct"] else "0"
        iou[model][i] = None if finite(row["iou"]) is None else round(float(row["iou"]), 3)
        judged[model][i] = "1" if row.get("parsed_by") == "judge" else "0"
        by_instance.setdefault(iid, {})[model] = row
    for model in names:  # a scored cell without a prediction row: missing, counts as wrong
        for i, code in enumerate(status[model]):
            if code == "m" and correct[model][i] == "-" and columns["gold"][i] is not None:
                correct[model][i] = "0"

    clip_rows = {r["clip_id"]: r for r in clips.to_dict("records")}
    details = [{} for _ in range((len(ids) + CHUNK_SIZE - 1) // CHUNK_SIZE)]
    for i, row in enumerate(instances.to_dict("records")):
        details[i // CHUNK_SIZE][row["instance_id"]] = _detail(
            row, metas[i], clip_rows, by_instance.get(row["instance_id"], {})
        )

    index = {
        "models": models,
        "instances": columns,
        "matrix": {
            m: {
                "status": "".join(status[m]),
                "answer": "".join(answer[m]),
                "correct": "".join(correct[m]),
                "judged": "".join(judged[m]),
                "iou": iou[m],
            }
            for m in names
        },
        "status_codes": {code: name for name, code in STATUS_CODES.items() if name},
        "facets": list(FACETS),
        "chunk_size": CHUNK_SIZE,
        "rejects": {name: _clean(frame.head(5000).to_dict("records")) for name, frame in rejects.items()},
        "n_rejects": {name: len(frame) for name, frame in rejects.items()},
    }
    clip_files = {cid: Path(r["path"]) for cid, r in clip_rows.items() if isinstance(r.get("path"), str)}
    return ExplorerData(index=_clean(index), details=[_clean(d) for d in details], clip_files=clip_files)


RECEIVED = ("received_modalities", "received_frames", "received_fps", "received_resolution", "received_audio")
CELL_FIELDS = (
    "status",
    "raw_response",
    "parsed_answer",
    "parsed_span_start",
    "parsed_span_end",
    "parsed_by",
    "parser_version",
    "judge_response",
    "error",
    "attempts",
    "billed_attempts",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "input_audio_tokens",
    "input_image_tokens",
    "cached_input_tokens",
    "cost_usd",
    "served_model",
    "prompt_version",
    "media_recipe",
    "created_at",
    "correct",
    "iou",
    *RECEIVED,
)


def _detail(row: dict, meta: dict, clip_rows: dict, cells: dict[str, dict]) -> dict:
    options = row.get("options")
    options = list(options) if options is not None else None
    clip_ids = list(row["clip_ids"])
    shown = {
        "question": row["question"],
        "question_type": row["question_type"],
        "options": options,
        "clip_duration_s": sum(finite(clip_rows.get(c, {}).get("duration_s")) or 0.0 for c in clip_ids),
        "n_clips": len(clip_ids),
    }
    per_model = {}
    for model, cell in cells.items():
        entry = {k: cell.get(k) for k in CELL_FIELDS}
        version = cell.get("prompt_version")
        entry["prompt"] = rebuilt_prompt(version, shown)
        entry["template_hash"] = template_hash(version, row["question_type"]) if entry["prompt"] else None
        per_model[model] = entry
    return {
        "instance_id": row["instance_id"],
        "question": row["question"],
        "question_type": row["question_type"],
        "subset": row["subset"],
        "dimension": row["dimension"],
        "category": row["category"],
        "source_generator": row.get("source_generator"),
        "options": options,
        "gold": row.get("answer"),
        "gold_span": [finite(row.get("answer_span_start")), finite(row.get("answer_span_end"))],
        "meta": meta,
        "clips": [
            {
                "clip_id": c,
                "src": f"media/{c}{Path(str(clip_rows.get(c, {}).get('path') or '.mp4')).suffix}",
                "duration_s": finite(clip_rows.get(c, {}).get("duration_s")),
                "generator": clip_rows.get(c, {}).get("generator"),
            }
            for c in clip_ids
        ],
        "models": per_model,
    }
