"""Every Eval Ever 0.3.0 export of one metric build: per ranked model an aggregate JSON
(`eval.schema.json`) and its instance-level JSONL (`instance_level_eval.schema.json`), in the
layout the Every Eval Ever datastore uses: `data/<benchmark>/<developer>/<model>/<uuid>.json` and
`<uuid>_samples.jsonl` beside it.

- The aggregate's results are the leaderboard's headline numbers, each with the interval the
  leaderboard publishes (clustered bootstrap, 95%), so the overall accuracy and its interval equal
  the leaderboard's.
- Every scored instance appears once per model (rotation 0; circular rotations are in
  `circular_accuracy`), with `sample_hash` = the instance's content hash (question, options, gold
  and clip bytes), the rendered prompt, the raw reply, how the answer was read (`rules` or the
  judge: `answer_attribution`), the status and error of a non-answer, tokens, latency, and what
  the model received (frames, fps, audio, resolution) in `metadata`.
- The uuid is derived from the model's name and the build, so exporting the same build twice
  gives the same files.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from mtavg_assets.explore.data import finite as _finite
from mtavg_assets.task.letters import format_options
from mtavg_assets.task.prompts import rebuilt_prompt

SCHEMA_VERSION = "0.3.0"
BENCHMARK = "mtavg-bench"
LEVEL = 0.95
CI_METHOD = (
    "clustered percentile bootstrap over connected components of the instance-clip graph "
    "(questions about one clip or episode move together), expanded for the number of clusters"
)
# leaderboard column -> (metric_id, display name, description, instance-level score column)
HEADLINE = {
    "accuracy": ("accuracy", "Accuracy", "share of choice questions answered right; non-answers are wrong"),
    "macro_accuracy": ("mtavg.macro_accuracy", "Macro accuracy", "mean over failure categories of accuracy"),
    "balanced_accuracy": (
        "balanced_accuracy",
        "Balanced accuracy",
        "yes/no questions as a failure detector: mean of sensitivity and specificity",
    ),
    "kappa": ("cohen_kappa", "Cohen's kappa", "yes/no questions: agreement with the gold beyond chance"),
    "temporal_miou": ("mtavg.temporal_miou", "Temporal mIoU", "mean IoU of predicted and gold failure spans"),
    "temporal_r1_at_0_5": ("mtavg.temporal_r1_at_0_5", "R@1, IoU 0.5", "share of spans with IoU >= 0.5"),
    "drama_accuracy": ("mtavg.drama_accuracy", "Short-drama accuracy", "accuracy on short-drama questions"),
    "episode_consistency": (
        "mtavg.episode_consistency",
        "Episode consistency",
        "share of short dramas with every question right",
    ),
    "circular_accuracy": (
        "mtavg.circular_accuracy",
        "Circular accuracy",
        "share of questions right under every rotation of their options",
    ),
}
INTERVAL_COLUMNS = {
    "accuracy": ("ci_low", "ci_high"),
    **{name: (f"{name}_ci_low", f"{name}_ci_high") for name in HEADLINE if name != "accuracy"},
}


@dataclass(frozen=True)
class ExportSummary:
    models: int
    instances: int
    files: list[Path]


def _count(value) -> int | None:
    number = _finite(value)
    return int(number) if number is not None and number >= 0 else None


def _strings(values: dict) -> dict[str, str]:
    """additional_details / metadata: string values only (the schema's rule), nulls left out."""
    out = {}
    for key, value in values.items():
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            continue
        out[key] = (
            value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        )
    return out


def _developer(provider: str, model_id: str | None) -> str:
    if provider == "gemini":
        return "google"
    if provider == "openai":
        return "openai"
    if provider in ("random", "prior"):
        return "mtavg"
    if model_id and "/" in model_id:
        return model_id.split("/", 1)[0]
    return "unknown"


def _safe(part: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in part) or "_"


def _uuid(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _result(name: str, row: pd.Series, n_resamples: int | None, n_samples: int | None) -> dict | None:
    metric_id, display, description = HEADLINE[name]
    score = _finite(row.get(name))
    if score is None:
        return None
    low_col, high_col = INTERVAL_COLUMNS[name]
    low, high = _finite(row.get(low_col)), _finite(row.get(high_col))
    details: dict = {}
    uncertainty: dict = {}
    if low is not None and high is not None:
        uncertainty["confidence_interval"] = {
            "lower": low,
            "upper": high,
            "confidence_level": LEVEL,
            "method": CI_METHOD,
        }
        if n_resamples:
            uncertainty["num_bootstrap_samples"] = int(n_resamples)
    if n_samples:
        uncertainty["num_samples"] = int(n_samples)
    if name == "accuracy":
        details = _strings(
            {"chance": _finite(row.get("chance")), "completeness": _finite(row.get("completeness"))}
            | {"rank": _count(row.get("rank")), "rank_ci_low": _count(row.get("rank_ci_low"))}
            | {"rank_ci_high": _count(row.get("rank_ci_high")), "n_repeats": _count(row.get("n_repeats"))}
        )
    lower_bound = -1.0 if name == "kappa" else 0.0
    result = {
        "evaluation_result_id": name,
        "evaluation_name": f"{BENCHMARK}/{name}",
        "source_data": {"dataset_name": "MTAVG-Bench 2.0", "source_type": "other"},
        "metric_config": {
            "evaluation_description": description,
            "metric_id": metric_id,
            "metric_name": display,
            "metric_kind": "accuracy" if "accuracy" in name else name,
            "metric_unit": "proportion",
            "lower_is_better": False,
            "score_type": "continuous",
            "min_score": lower_bound,
            "max_score": 1.0,
        },
        "score_details": {"score": score, **({"details": details} if details else {})},
    }
    if uncertainty:
        result["score_details"]["uncertainty"] = uncertainty
    return result


def _prompt(row: dict) -> str | None:
    shown = {
        "question": row["question"],
        "question_type": row["question_type"],
        "options": list(row["options"]) if row["options"] is not None else None,
        "clip_duration_s": _finite(row.get("clip_duration_s")) or 0.0,
        "n_clips": len(list(row["clip_ids"])),
    }
    return rebuilt_prompt(row.get("prompt_version"), shown)


def _raw_input(row: dict) -> str:
    options = list(row["options"]) if row["options"] is not None else None
    return f"{row['question']}\n{format_options(options)}" if options else row["question"]


def _sample(row: dict, evaluation_id: str, model_id: str) -> dict:
    temporal = row["question_type"] == "temporal"
    status = row["status"]
    if temporal:
        score = _finite(row.get("iou")) or 0.0
        correct = score >= 0.5
        reference = [f"{row['answer_span_start']}-{row['answer_span_end']}"]
        extracted = (
            f"{row['parsed_span_start']}-{row['parsed_span_end']}"
            if _finite(row.get("parsed_span_start")) is not None
            else ""
        )
    else:
        correct = bool(row.get("correct"))
        score = 1.0 if correct else 0.0
        reference = [row["answer"]]
        extracted = row.get("parsed_answer") if isinstance(row.get("parsed_answer"), str) else ""
    judged = row.get("parsed_by") == "judge"
    sample = {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": evaluation_id,
        "model_id": model_id,
        "evaluation_name": f"{BENCHMARK}/{'temporal_miou' if temporal else 'accuracy'}",
        "evaluation_result_id": "temporal_miou" if temporal else "accuracy",
        "sample_id": row["instance_id"],
        "sample_hash": row["content_hash"],
        "interaction_type": "single_turn",
        "input": {
            "raw": _raw_input(row),
            "formatted": _prompt(row),
            "reference": reference,
            "choices": list(row["options"]) if row["options"] is not None else None,
        },
        "output": {"raw": [row["raw_response"]] if isinstance(row.get("raw_response"), str) else []},
        "messages": None,
        "answer_attribution": [
            {
                "turn_idx": 0,
                "source": "output.raw",
                "extracted_value": extracted if status == "ok" else "",
                "extraction_method": (
                    f"judge ({row.get('judge_key') or 'judge model'})"
                    if judged
                    else f"rules v{row.get('parser_version')}"
                ),
                "is_terminal": True,
            }
        ],
        "evaluation": {"score": score, "is_correct": correct, "num_turns": 1},
        "error": None if status == "ok" else f"{status}: {row.get('error') or 'no answer'}",
        "metadata": _strings(
            {
                "status": status,
                "subset": row["subset"],
                "question_type": row["question_type"],
                "dimension": row["dimension"],
                "category": row["category"],
                "source_generator": row.get("source_generator"),
                "clip_ids": list(row["clip_ids"]),
                "parsed_by": row.get("parsed_by"),
                "judge_response": row.get("judge_response"),
                "received_modalities": row.get("received_modalities"),
                "received_frames": _count(row.get("received_frames")),
                "received_fps": _finite(row.get("received_fps")),
                "received_resolution": row.get("received_resolution"),
                "received_audio": None if row.get("received_audio") is None else bool(row.get("received_audio")),
                "media_recipe": row.get("media_recipe"),
                "prompt_version": row.get("prompt_version"),
                "served_model": row.get("served_model"),
                "cost_usd": _finite(row.get("cost_usd")),
                "attempts": _count(row.get("attempts")),
                "cache_key": row.get("cache_key"),
            }
        ),
    }
    tokens_in, tokens_out = _count(row.get("input_tokens")), _count(row.get("output_tokens"))
    if tokens_in is not None and tokens_out is not None:
        sample["token_usage"] = {
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
            "input_tokens_cache_read": _count(row.get("cached_input_tokens")),
            "reasoning_tokens": _count(row.get("thinking_tokens")),
        }
    latency = _finite(row.get("latency_s"))
    if latency is not None and latency >= 0:
        sample["performance"] = {"latency_ms": latency * 1000.0}
    return sample


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]


def export_eee(duckdb_file: Path, out: Path, retrieved_timestamp: str, library_version: str) -> ExportSummary:
    """Write the export of the build in `duckdb_file` under `out`."""
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        board = con.execute("SELECT * FROM leaderboard WHERE standing = 'ranked' ORDER BY rank, model").df()
        registry = con.execute(
            "SELECT name, any_value(provider) AS provider, any_value(model) AS model_id, any_value(entry) AS entry "
            "FROM models WHERE status = 'active' GROUP BY name"
        ).df()
        n_resamples = con.execute("SELECT max(n_resamples) FROM headline_ci").fetchone()[0]
        cells = con.execute(
            "SELECT s.model, s.instance_id, s.status, s.correct, s.iou, q.question, q.question_type, q.options, "
            "q.answer, q.answer_span_start, q.answer_span_end, q.subset, q.dimension, q.category, "
            "q.source_generator, q.clip_ids, q.content_hash, "
            "(SELECT sum(c.duration_s) FROM clips c WHERE list_contains(q.clip_ids, c.clip_id)) AS clip_duration_s, "
            "p.raw_response, p.parsed_answer, p.parsed_span_start, p.parsed_span_end, p.parsed_by, p.parser_version, "
            "p.judge_key, p.judge_response, p.error, p.prompt_version, p.media_recipe, p.served_model, p.cost_usd, "
            "p.attempts, p.input_tokens, p.output_tokens, p.thinking_tokens, p.cached_input_tokens, p.latency_s, "
            "p.cache_key, p.received_modalities, p.received_frames, p.received_fps, p.received_resolution, "
            "p.received_audio "
            "FROM scores s JOIN qa_instances q USING (instance_id) "
            "LEFT JOIN predictions p ON p.model = s.model AND p.instance_id = s.instance_id AND p.rotation = 0 "
            "AND p.instance_content_hash = q.content_hash "
            "ORDER BY s.model, s.instance_id"
        ).df()
    registry = registry.set_index("name")
    by_model = {name: frame for name, frame in cells.groupby("model", sort=False)}
    files: list[Path] = []
    n_instances = 0
    for row in board.itertuples(index=False):
        row = pd.Series(row._asdict())
        name = row["model"]
        reg = registry.loc[name] if name in registry.index else pd.Series(dtype=object)
        provider = str(reg.get("provider") or "unknown")
        provider_model = reg.get("model_id") if isinstance(reg.get("model_id"), str) else name
        developer = _developer(provider, provider_model)
        model_id = provider_model if "/" in provider_model else f"{developer}/{provider_model}"
        file_uuid = _uuid(name, retrieved_timestamp, str(duckdb_file))
        evaluation_id = f"{BENCHMARK}/{model_id.replace('/', '_')}/{retrieved_timestamp}"
        folder = out / "data" / BENCHMARK / _safe(developer) / _safe(name)
        folder.mkdir(parents=True, exist_ok=True)
        samples = [_sample(r, evaluation_id, model_id) for r in _records(by_model.get(name, cells.iloc[:0]))]
        samples_path = folder / f"{file_uuid}_samples.jsonl"
        text = "".join(json.dumps(s, ensure_ascii=False, allow_nan=False) + "\n" for s in samples)
        samples_path.write_text(text, encoding="utf-8")
        n_choice = int(row["n_choice"]) if _count(row.get("n_choice")) is not None else None
        results = [
            r
            for r in (
                _result(metric, row, n_resamples, n_choice if metric in ("accuracy", "macro_accuracy") else None)
                for metric in HEADLINE
            )
            if r is not None
        ]
        aggregate = {
            "schema_version": SCHEMA_VERSION,
            "evaluation_id": evaluation_id,
            "retrieved_timestamp": retrieved_timestamp,
            "source_metadata": {
                "source_name": "MTAVG-Bench 2.0 (mtavg pipeline)",
                "source_type": "evaluation_run",
                "source_organization_name": "MTAVG-Bench",
                "evaluator_relationship": "third_party",
            },
            "eval_library": {"name": "mtavg", "version": library_version},
            "model_info": {
                "name": name,
                "id": model_id,
                "developer": developer,
                "inference_platform": provider,
                "additional_details": _strings(
                    {
                        "deployment_type": "self_deployed"
                        if provider in ("openai_compatible", "random", "prior")
                        else "externally_managed",
                        "model_availability": "unknown",
                        "baseline": bool(row.get("baseline")),
                        "served_models": row.get("served_models"),
                        "registry_entry": reg.get("entry") if isinstance(reg.get("entry"), str) else None,
                    }
                ),
            },
            "evaluation_results": results,
            "detailed_evaluation_results": {
                "format": "jsonl",
                "file_path": samples_path.relative_to(out).as_posix(),
                "hash_algorithm": "sha256",
                "checksum": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "total_rows": len(samples),
            },
        }
        aggregate_path = folder / f"{file_uuid}.json"
        aggregate_path.write_text(
            json.dumps(aggregate, indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8"
        )
        files += [aggregate_path, samples_path]
        n_instances += len(samples)
    return ExportSummary(models=len(board), instances=n_instances, files=files)
