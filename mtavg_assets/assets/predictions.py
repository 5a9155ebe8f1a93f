"""Predictions: one partition per registered model, incremental and crash-safe."""

import asyncio
import contextlib
import json
import os
import time

import dagster as dg
from pydantic import Field
from tqdm import tqdm

from mtavg_assets.assets import OWNERS
from mtavg_assets.assets.clips import clip_media
from mtavg_assets.assets.gate import qa_gate_status
from mtavg_assets.assets.models import model_registry, models_partitions, registered_models
from mtavg_assets.conditions import EVALUATE
from mtavg_assets.evaluators.factory import build_evaluator
from mtavg_assets.predictions.audit import DUPLICATE, audit_predictions
from mtavg_assets.predictions.costs import estimate_cells
from mtavg_assets.predictions.judge import judge_rows, rows_to_judge
from mtavg_assets.predictions.manifest import manifest as run_manifest
from mtavg_assets.predictions.manifest import now as manifest_now
from mtavg_assets.predictions.manifest import write_manifest
from mtavg_assets.predictions.runner import CellMode, Progress, evaluate_cells, reread_rows, select_cells
from mtavg_assets.predictions.store import SCHEMA as PREDICTION_SCHEMA
from mtavg_assets.predictions.store import PredictionStore
from mtavg_assets.resources import MtavgData, step_failure
from mtavg_assets.settings import DataLayout
from mtavg_assets.task.parsing import PARSER_VERSION

MAX_LOCK_WAIT_S = 7 * 24 * 3600.0


class PredictionsConfig(dg.Config):
    """Run config of one evaluation; a negative, non-finite or absurd value is refused before the run."""

    mode: CellMode = Field(default="missing", description="which cells to ask: missing | failed | missing_and_failed")
    budget_usd: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="stop scheduling new cells once spent (overrides the entry's)",
    )
    lock_timeout_s: float = Field(
        default=3600.0,
        ge=0,
        le=MAX_LOCK_WAIT_S,
        allow_inf_nan=False,
        description="wait at most this long for another run evaluating the same model or provider",
    )


def media_lookup(layout: DataLayout, recipe: str):
    """Map an instance to the derived media of its clips for a recipe (empty for offline models)."""
    if recipe == "none" or not layout.derived("clip_media").exists():
        return lambda inst: []
    media = layout.read("clip_media")
    media = media[(media["recipe"] == recipe) & (media["error"].isna() if "error" in media else True)]
    by_sha = {
        row.sha256: {
            **json.loads(row.files),
            "frames_count": row.frames,
            "fps": row.fps,
            "resolution": row.resolution,
            "has_audio": row.has_audio,
            "sha256": row.sha256,
        }
        for row in media.itertuples()
    }
    return lambda inst: [by_sha[sha] for sha in inst["clip_sha256s"] if sha in by_sha]


PROGRESS_BAR_ENV = "MTAVG_PROGRESS_BAR"  # set by the CLI: also draw a terminal progress bar


def progress_logger(log, bar: tqdm | None = None, every_s: float = 10.0):
    """Log done/total, errors, rate and ETA into the run log every `every_s`, and at the end."""
    last = {"t": 0.0}

    def report(p: Progress) -> None:
        if bar is not None:
            bar.update(p.done - bar.n)
            bar.set_postfix(errors=p.errors, refresh=False)
        now = time.monotonic()
        if p.done == p.total or now - last["t"] >= every_s:
            last["t"] = now
            eta = f"{p.eta_s:.0f}s" if p.eta_s is not None else "?"
            log.info(f"progress {p.done}/{p.total} errors={p.errors} rate={p.rate:.1f}/s eta={eta}")

    return report


def judge_replies(context, mtavg: MtavgData, entry, entries, instances, store, timeout_s: float) -> dict:
    """Send the entry's unparseable choice replies to its judge, if it names one that can run here."""
    done = {"calls": 0, "answered": 0}
    if not entry.judge:
        return done
    judge = next((e for e in entries if e.name == entry.judge), None)
    if judge is None or judge.missing_key:
        why = "is not registered" if judge is None else f"needs its key in {judge.api_key_env}"
        context.log.warning(f"{entry.name}: judge {entry.judge!r} {why}; unparseable replies stay unparseable")
        return done
    todo = rows_to_judge(store.load(), instances, judge)
    if not todo:
        return done
    lock = (
        contextlib.nullcontext()
        if judge.provider == entry.provider
        else mtavg.lock(f"provider-{judge.provider}", context, timeout_s=timeout_s)
    )

    def count() -> None:
        done["calls"] += 1

    with lock:
        judged = asyncio.run(judge_rows(build_evaluator(judge, instances, mtavg.layout.media_dir), todo, count))
    for row in judged:
        store.append(row)
    done["answered"] = sum(row["parsed_by"] == "judge" for row in judged)
    context.log.info(
        f"{entry.name}: judge {judge.name} read {len(judged)} of {len(todo)} unparseable replies "
        f"({done['answered']} committed to an option)"
    )
    return done


@dg.asset(
    partitions_def=models_partitions,
    group_name="evaluation",
    owners=OWNERS,
    tags={"mtavg/stage": "evaluate"},
    kinds={"python", "parquet"},
    deps=["validated_qa", clip_media, model_registry],
    automation_condition=EVALUATE,
    metadata={
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(field.name, str(field.type)) for field in PREDICTION_SCHEMA]
        )
    },
    code_version=f"predictions-1+parser-{PARSER_VERSION}",  # a new parser re-reads stored replies
    description="Answers of one registered model to every validated instance; only cells not yet answered "
    "under the current cache key are asked. Each answer is journaled on arrival.",
)
def predictions(context: dg.AssetExecutionContext, config: PredictionsConfig, mtavg: MtavgData) -> dg.MaterializeResult:
    layout = mtavg.layout
    name = context.partition_key
    load = registered_models(layout)
    entry = next((e for e in load.entries if e.name == name), None)
    if entry is None:
        reason = next(
            (b["reason"] for b in load.invalid if b["name"] == name),
            "not among the registered models (materialize model_registry after editing models.yaml)",
        )
        raise dg.Failure(f"model {name!r} cannot run: {reason}", allow_retries=False)
    if entry.missing_key:
        raise dg.Failure(
            f"model {name!r} needs its API key: set the environment variable {entry.api_key_env}", allow_retries=False
        )
    started_at = manifest_now()
    gate, reason = qa_gate_status(context.instance, layout)
    if gate != "open":
        raise dg.Failure(f"evaluation of {name!r} blocked: {reason}", allow_retries=False)
    instances = layout.read("validated_qa")
    store = PredictionStore(layout, name)
    holder = f"run {context.run_id} (pid {os.getpid()})"
    # One evaluation per model, and one per API provider (so the entry's concurrency and rate limit
    # are the provider's), whatever launched the run: asset page, backfill, automation or CLI.
    provider_lock = (
        contextlib.nullcontext()
        if entry.offline
        else mtavg.lock(f"provider-{entry.provider}", context, timeout_s=config.lock_timeout_s)
    )
    with store.exclusive(holder, config.lock_timeout_s, context.log.warning, step_failure), provider_lock:
        reread = reread_rows(store.load(), instances)
        for row in reread:
            store.append(row)
        if reread:
            context.log.info(f"{name}: {len(reread)} stored replies read again by parser v{PARSER_VERSION}")
        cells, answered = select_cells(instances, store.load(), entry, config.mode)
        planned = estimate_cells(entry, cells)
        estimate = planned.cost_usd
        context.log.info(
            f"{name}: {len(instances)} instances, {answered} already answered, {len(cells)} to ask; "
            f"estimated cost {'unknown (no price in models.yaml)' if estimate is None else f'${estimate:.4f}'}"
        )
        budget = config.budget_usd if config.budget_usd is not None else entry.budget_usd
        if budget is not None and estimate is not None and estimate > budget:
            context.log.warning(
                f"{name}: the estimate (${estimate:.4f}) is over budget_usd ${budget:.4f}: the run will stop at the "
                "budget and leave the rest unasked (raise the budget, or see `python -m mtavg_assets estimate`)"
            )
        evaluator = build_evaluator(entry, instances, layout.media_dir)
        bar = tqdm(
            total=len(cells),
            desc=name,
            unit="cell",
            mininterval=1.0,
            disable=not (os.environ.get(PROGRESS_BAR_ENV) and len(cells)),
        )
        summary = asyncio.run(
            evaluate_cells(
                evaluator,
                cells,
                store,
                media_lookup(layout, entry.media_recipe),
                budget_usd=budget,
                progress=progress_logger(context.log, bar),
            )
        )
        bar.close()
        judging = judge_replies(context, mtavg, entry, load.entries, instances, store, config.lock_timeout_s)
        rows = store.compact()
    current = rows[rows["instance_id"].isin(instances["instance_id"])]
    status_counts = current["status"].value_counts().to_dict()
    if summary.budget_stopped:
        context.log.warning(f"{name}: budget reached after ${summary.cost_usd:.4f}; remaining cells left unasked")
    if summary.preflight:
        context.log.warning(f"{name}: {summary.preflight}")
    for warning in summary.served_warnings(entry):
        context.log.warning(warning)
    metadata = {
        "model": entry.model,
        "provider": entry.provider,
        "family": entry.caps.family,
        "baseline": entry.offline,
        "instances": len(instances),
        "already_answered": answered,
        "reread_by_parser": len(reread),
        "judge": entry.judge or "none",
        "judge_calls": judging["calls"],
        "judged_now": judging["answered"],
        "parser_version": PARSER_VERSION,
        "scheduled_now": len(cells),
        "asked_now": summary.asked,
        "calls": summary.calls,
        "rate_limit_waits": summary.rate_limit_waits,
        "concurrency_cuts": summary.window_cuts,
        "served_models": dg.MetadataValue.json(dict(summary.served)),
        "statuses_this_run": dg.MetadataValue.json(dict(summary.statuses)),
        "statuses_total": dg.MetadataValue.json({k: int(v) for k, v in status_counts.items()}),
        "cost_usd_this_run": round(summary.cost_usd, 6),
        "estimated_cost_usd": round(estimate, 6) if estimate is not None else "unknown",
        "estimated_over_budget": bool(budget is not None and estimate is not None and estimate > budget),
        "estimated_input_tokens": round(planned.input_tokens),
        "input_tokens_this_run": int(summary.input_tokens),
        "budget_stopped": summary.budget_stopped,
        "stopped": summary.stopped or "no",
        "wall_s": round(summary.wall_s, 3),
        "dagster/row_count": len(rows),
        "path": dg.MetadataValue.path(str(store.parquet_path)),
    }
    record = write_manifest(
        layout,
        run_manifest(
            context.run_id,
            entry,
            started_at,
            {
                "mode": config.mode,
                "wall_s": round(summary.wall_s, 3),
                "scheduled": len(cells),
                "asked": summary.asked,
                "calls": summary.calls,
                "statuses": dict(summary.statuses),
                "served_models": dict(summary.served),
                "cost_usd": round(summary.cost_usd, 6),
                "input_tokens": int(summary.input_tokens),
                "output_tokens": int(summary.output_tokens),
                "budget_stopped": summary.budget_stopped,
                "stopped": summary.stopped,
            },
        ),
    )
    metadata["run_manifest"] = dg.MetadataValue.path(str(record))
    if summary.stopped:
        unasked = len(cells) - summary.asked
        raise dg.Failure(
            description=f"{name} stopped: {summary.stopped}. {summary.asked} cells answered and kept, "
            f"{unasked} left unasked (asked by the next run)",
            metadata=metadata,
            allow_retries=False,
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=predictions,
    blocking=True,
    description="(model, instance_id, rotation) is a key of every prediction file and every row sits in its "
    "model's folder. Duplicates fail the check (ERROR); rows in another model's folder, such as a backup copy, "
    "warn. The metric build scores neither: it keeps one copy per key, from the model's own folder.",
)
def predictions_one_row_per_cell(mtavg: MtavgData) -> dg.AssetCheckResult:
    problems = audit_predictions(mtavg.layout)
    duplicates = problems[problems["problem"] == DUPLICATE]
    shown = problems.head(50)
    return dg.AssetCheckResult(
        passed=problems.empty,
        severity=dg.AssetCheckSeverity.ERROR if len(duplicates) else dg.AssetCheckSeverity.WARN,
        metadata={
            "duplicate_keys": len(duplicates),
            "misplaced_keys": len(problems) - len(duplicates),
            "problems": dg.MetadataValue.md(shown.to_markdown(index=False) if len(shown) else "none"),
        },
    )
