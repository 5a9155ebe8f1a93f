"""Evaluate the cells of one model that are not answered yet: async, bounded, retried, persisted."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

import pandas as pd
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryError, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from mtavg_assets.evaluators.api import redact
from mtavg_assets.evaluators.base import CallTimeout, EvalReply, EvalRequest, Evaluator, EvaluatorError
from mtavg_assets.evaluators.offline import learned_identity
from mtavg_assets.evaluators.parsing import PARSER_VERSION, parse_answer
from mtavg_assets.evaluators.prompts import render_prompt
from mtavg_assets.predictions.cache import FINAL_STATUSES, RETRYABLE_STATUSES, CellKeys
from mtavg_assets.predictions.store import PredictionStore

CellMode = Literal["missing", "failed", "missing_and_failed"]  # which cells a run asks
CELL_MODES = get_args(CellMode)
ProgressFn = Callable[["Progress"], None]


@dataclass
class Progress:
    done: int
    total: int
    errors: int
    started: float

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        return (self.total - self.done) / self.rate if self.rate > 0 else None


@dataclass
class RunSummary:
    model: str
    scheduled: int  # cells selected for this run
    asked: int = 0  # cells that got a row (a budget stop leaves the rest unasked)
    calls: int = 0
    statuses: Counter = field(default_factory=Counter)
    cost_usd: float = 0.0
    budget_stopped: bool = False
    wall_s: float = 0.0


def expand_rotations(instances: pd.DataFrame, circular: bool) -> pd.DataFrame:
    """One cell per instance; with circular evaluation, one per rotation of a choice question's options."""
    rotations = [
        list(range(int(n))) if circular and qtype != "temporal" and pd.notna(n) else [0]
        for qtype, n in zip(instances["question_type"], instances["n_options"], strict=True)
    ]
    return instances.assign(rotation=rotations).explode("rotation").astype({"rotation": "int64"})


def expected_cells(instances: pd.DataFrame, entry) -> pd.DataFrame:
    """Every cell the entry answers as it is now (instance x rotation) with its current cache key:
    the only keys whose rows count for the entry."""
    cells = expand_rotations(instances, entry.circular)
    key = CellKeys(entry, learned_identity(entry, instances))
    keys = [
        key(h, q, r) for h, q, r in zip(cells["content_hash"], cells["question_type"], cells["rotation"], strict=True)
    ]
    return cells.assign(cache_key=keys)


def select_cells(
    instances: pd.DataFrame, existing: pd.DataFrame, entry, mode: str = "missing"
) -> tuple[pd.DataFrame, int]:
    """The cells to ask now, and how many are already answered under the current cache key."""
    if mode not in CELL_MODES:
        raise ValueError(f"mode must be one of {CELL_MODES}")
    cells = expected_cells(instances, entry)
    rotation = existing["rotation"] if "rotation" in existing else pd.Series(0, index=existing.index)
    current = {
        (iid, int(rot)): (key, status)
        for iid, rot, key, status in zip(
            existing["instance_id"], rotation.fillna(0), existing["cache_key"], existing["status"], strict=True
        )
    }
    todo, answered = [], 0
    for iid, rot, key in zip(cells["instance_id"], cells["rotation"], cells["cache_key"], strict=True):
        prior_key, prior_status = current.get((iid, int(rot)), (None, None))
        fresh = prior_key == key
        failed = fresh and prior_status in RETRYABLE_STATUSES
        answered += fresh and prior_status in FINAL_STATUSES
        todo.append(
            (mode == "missing" and not fresh)
            or (mode == "failed" and failed)
            or (mode == "missing_and_failed" and (not fresh or failed))
        )
    return cells[todo], answered


def rotate(instance: dict) -> dict:
    """The instance as shown for its rotation: options shifted left by `rotation`."""
    k = int(instance.get("rotation") or 0)
    if not k or not instance.get("options"):
        return instance
    options = list(instance["options"])
    return {**instance, "options": options[k:] + options[:k]}


def unrotate_letter(letter: str | None, instance: dict) -> str | None:
    """Map a letter chosen among rotated options back to the original option letter."""
    k = int(instance.get("rotation") or 0)
    if letter is None or not k:
        return letter
    n = len(instance["options"])
    return chr(ord("A") + (ord(letter) - ord("A") + k) % n)


def plain_record(record: dict) -> dict:
    """Parquet list columns arrive as numpy arrays; evaluators and parsers take plain lists."""
    return {k: (v.tolist() if hasattr(v, "tolist") and not isinstance(v, str) else v) for k, v in record.items()}


def read_reply(raw: str | None, inst: dict, refused: bool = False) -> dict:
    """The columns the parser fills for a reply to the cell `inst` (options as shown)."""
    parsed = parse_answer(raw, inst["question_type"], inst.get("options"))
    status = "refused" if refused else ("ok" if parsed.ok else "unparseable")
    return {
        "status": status,
        "raw_response": raw,
        "parsed_answer": unrotate_letter(parsed.letter, inst) if status == "ok" else None,
        "parsed_span_start": parsed.span[0] if status == "ok" and parsed.span else None,
        "parsed_span_end": parsed.span[1] if status == "ok" and parsed.span else None,
        "parser_version": PARSER_VERSION,
        "parsed_by": "rules",
        "judge_key": None,
        "judge_response": None,
    }


def reread_rows(rows: pd.DataFrame, instances: pd.DataFrame) -> list[dict]:
    """Stored replies read by an older parser version, read again by this one (no model call).
    Only rows of the instance's current content are re-read: others will be asked again anyway.
    A judge's reading is kept when the rules still cannot read the reply."""
    if rows.empty:
        return []
    current = {r["instance_id"]: r for r in instances.to_dict("records")}
    stale = rows[
        rows["status"].isin(["ok", "unparseable"])
        & rows["raw_response"].notna()
        & (rows["parser_version"].fillna("1") != PARSER_VERSION)
    ]
    updated = []
    for row in stale.to_dict("records"):
        inst = current.get(row["instance_id"])
        if inst is None or inst["content_hash"] != row["instance_content_hash"]:
            continue
        shown = rotate({**plain_record(inst), "rotation": row["rotation"]})
        fresh = read_reply(row["raw_response"], shown)
        if fresh["status"] != "ok" and row.get("parsed_by") == "judge":
            fresh = {**fresh, **{k: row[k] for k in JUDGED_COLUMNS}}
        updated.append({**row, **fresh, "parser_version": PARSER_VERSION})
    return updated


JUDGED_COLUMNS = (
    "status",
    "parsed_answer",
    "parsed_span_start",
    "parsed_span_end",
    "parsed_by",
    "judge_key",
    "judge_response",
)


def _cost(entry, reply: EvalReply) -> float | None:
    if entry.offline:
        return 0.0
    if entry.price is None or (reply.input_tokens is None and reply.output_tokens is None):
        return None
    return (
        (reply.input_tokens or 0) * entry.price.input_per_mtok
        + (reply.output_tokens or 0) * entry.price.output_per_mtok
    ) / 1e6


def _wait_for(entry):
    backoff = wait_exponential_jitter(initial=entry.retry_initial_s, max=60, jitter=entry.retry_initial_s)

    def wait(state) -> float:
        exc = state.outcome.exception() if state.outcome else None
        delay = min(backoff(state), entry.max_retry_wait_s)
        after = getattr(exc, "retry_after", None)
        return max(delay, after) if after else delay

    return wait


def _worth_retrying(entry):
    """Retry a retryable error unless the provider asks for a longer wait than the entry allows."""

    def retry(exc: BaseException) -> bool:
        if not (isinstance(exc, EvaluatorError) and exc.retryable):
            return False
        after = exc.retry_after
        return after is None or after <= entry.max_retry_wait_s

    return retry


async def call_with_retries(
    evaluator: Evaluator, request: EvalRequest, limiter: AsyncLimiter | None, on_attempt: Callable[[], None]
) -> EvalReply:
    """One call with the entry's timeout and retries (retryable errors only, backoff with jitter,
    Retry-After honoured up to `max_retry_wait_s`: a provider asking for longer ends the cell with
    the error's status and says so). Raises the last EvaluatorError when every attempt failed."""
    entry = evaluator.entry
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(entry.max_retries + 1),
            wait=_wait_for(entry),
            retry=retry_if_exception(_worth_retrying(entry)),
            reraise=True,
        ):
            with attempt:
                on_attempt()
                if limiter:
                    await limiter.acquire()
                try:
                    return await asyncio.wait_for(evaluator.answer(request), timeout=entry.timeout_s)
                except TimeoutError as exc:
                    raise CallTimeout(f"no answer within {entry.timeout_s}s") from exc
                except EvaluatorError:
                    raise
                except Exception as exc:  # an evaluator bug must cost one cell, not the run
                    raise EvaluatorError(f"unexpected {type(exc).__name__}: {exc}", retryable=False) from exc
    except EvaluatorError as exc:
        after = exc.retry_after
        if exc.retryable and after is not None and after > entry.max_retry_wait_s:
            exc.args = (f"{exc} (the provider asked to wait {after:.0f}s, over max_retry_wait_s "
                        f"{entry.max_retry_wait_s:.0f}s: not retried)",)  # fmt: skip
        raise
    raise EvaluatorError("no attempt was made")  # unreachable: AsyncRetrying makes at least one


def _row(
    entry, inst: dict, reply: EvalReply | None, error: EvaluatorError | None, attempts: int, latency: float
) -> dict:
    """The prediction row; `inst` is the cell as shown (options rotated), answers are stored unrotated."""
    row = {
        "model": entry.name,
        "instance_id": inst["instance_id"],
        "rotation": int(inst.get("rotation") or 0),
        "prompt_version": entry.prompt_version,
        "media_recipe": entry.media_recipe,
        "cache_key": inst["cache_key"],
        "instance_content_hash": inst["content_hash"],
        "attempts": attempts,
        "latency_s": round(latency, 4),
        "created_at": datetime.now(UTC).isoformat(),
    }
    if error is not None:
        return {**row, "status": error.status, "error": f"{type(error).__name__}: {error}"[:2000]}
    received = reply.received or {}
    return {
        **row,
        **read_reply(reply.raw_response, inst, refused=reply.refused),
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
        "cost_usd": _cost(entry, reply),
        "received_modalities": received.get("modalities"),
        "received_frames": received.get("frames"),
        "received_fps": received.get("fps"),
        "received_resolution": received.get("resolution"),
        "received_audio": received.get("audio"),
    }


async def evaluate_cells(
    evaluator: Evaluator,
    cells: pd.DataFrame,
    store: PredictionStore,
    media_for: Callable[[dict], list[dict]] = lambda inst: [],
    budget_usd: float | None = None,
    progress: ProgressFn | None = None,
) -> RunSummary:
    """Ask every selected cell once (with retries); each finished cell is appended to the store at once."""
    entry = evaluator.entry
    summary = RunSummary(entry.name, scheduled=len(cells))
    semaphore = asyncio.Semaphore(entry.concurrency)
    limiter = AsyncLimiter(entry.rate_limit_rpm, 60) if entry.rate_limit_rpm else None
    state = Progress(0, len(cells), 0, time.monotonic())
    stop = asyncio.Event()
    secrets = getattr(evaluator, "secrets", ())

    async def one(inst: dict) -> None:
        async with semaphore:
            if stop.is_set():
                return
            started, attempts, reply, error = time.monotonic(), 0, None, None
            shown = rotate(inst)
            media = media_for(inst)
            request = EvalRequest(shown, render_prompt(entry.prompt_version, shown), media)
            try:
                if entry.media_recipe != "none" and len(media) < len(inst["clip_sha256s"]):
                    raise EvaluatorError(
                        f"no {entry.media_recipe} media for some clips of this instance (not derived yet, or "
                        "derivation failed: see clip_media): materialize clip_media",
                        retryable=False,
                    )

                def counted() -> None:
                    nonlocal attempts
                    attempts += 1
                    summary.calls += 1

                reply = await call_with_retries(evaluator, request, limiter, counted)
            except (EvaluatorError, RetryError) as exc:
                error = exc if isinstance(exc, EvaluatorError) else EvaluatorError(str(exc))
            row = _row(entry, shown, reply, error, attempts, time.monotonic() - started)
            for column in ("error", "raw_response"):
                if secrets and isinstance(row.get(column), str):
                    row[column] = redact(row[column], secrets)
            store.append(row)
            summary.asked += 1
            summary.statuses[row["status"]] += 1
            summary.cost_usd += row.get("cost_usd") or 0.0
            state.done += 1
            state.errors += row["status"] in RETRYABLE_STATUSES
            if budget_usd is not None and summary.cost_usd >= budget_usd:
                summary.budget_stopped = True
                stop.set()
            if progress:
                progress(state)

    started = time.monotonic()
    try:
        await asyncio.gather(*(one(plain_record(inst)) for inst in cells.to_dict("records")))
    finally:
        if hasattr(evaluator, "aclose"):
            await evaluator.aclose()
    summary.wall_s = time.monotonic() - started
    return summary
