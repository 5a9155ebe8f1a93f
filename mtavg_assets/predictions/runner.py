"""Evaluate the cells of one model that are not answered yet: async, bounded, retried, persisted."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

import pandas as pd

from mtavg_assets.evaluators.api import redact
from mtavg_assets.evaluators.base import (
    CallTimeout,
    EvalReply,
    EvalRequest,
    Evaluator,
    EvaluatorError,
    RateLimited,
    StopRun,
    Usage,
)
from mtavg_assets.evaluators.capabilities import family_capabilities
from mtavg_assets.evaluators.offline import learned_identity
from mtavg_assets.predictions.cache import FINAL_STATUSES, RETRYABLE_STATUSES, CellKeys
from mtavg_assets.predictions.costs import bill_usd, estimated_input_tokens
from mtavg_assets.predictions.pacing import OK, OTHER, THROTTLED, Pacer
from mtavg_assets.predictions.store import PredictionStore, with_rotation
from mtavg_assets.task.parsing import PARSER_VERSION, parse_answer
from mtavg_assets.task.prompts import render_prompt
from mtavg_assets.task.rotation import rotate, unrotate_letter
from mtavg_assets.task.status import Status

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


FAIL_FAST_CALLS = 5  # the first this many cells failing alike (same non-retryable class) stop the run


@dataclass
class RunSummary:
    model: str
    scheduled: int  # cells selected for this run
    asked: int = 0  # cells that got a row (a stop leaves the rest unasked)
    calls: int = 0
    statuses: Counter = field(default_factory=Counter)
    cost_usd: float = 0.0  # every billed attempt, answered or not
    input_tokens: int = 0  # every billed attempt's input tokens (beside the estimate)
    output_tokens: int = 0  # every billed attempt's output tokens, thinking included
    budget_stopped: bool = False
    stopped: str | None = None  # why the run stopped before asking every cell (daily quota, no credit, ...)
    preflight: str | None = None  # a preflight that could not tell (the run went on)
    rate_limit_waits: int = 0  # 429s of a per-minute quota waited out (not failed attempts)
    window_cuts: int = 0  # how often a 429 halved the concurrency window
    served: Counter = field(default_factory=Counter)  # model ids the provider says answered
    wall_s: float = 0.0

    def served_warnings(self, entry) -> list[str]:
        """A served model of another family than the one asked for (a silent alias or fallback)."""
        asked = entry.caps.family
        return [
            f"{entry.name}: asked for {entry.model} ({asked}), {n} replies came from {served} ({family})"
            for served, n in self.served.items()
            if (family := family_capabilities(entry.provider, served).family) != asked.split("+")[0]
        ]


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
    existing = with_rotation(existing)
    current = {
        (iid, int(rot)): (key, status)
        for iid, rot, key, status in zip(
            existing["instance_id"], existing["rotation"], existing["cache_key"], existing["status"], strict=True
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


def plain_record(record: dict) -> dict:
    """Parquet list columns arrive as numpy arrays; evaluators and parsers take plain lists."""
    return {k: (v.tolist() if hasattr(v, "tolist") and not isinstance(v, str) else v) for k, v in record.items()}


def read_reply(raw: str | None, inst: dict, refused: bool = False) -> dict:
    """The columns the parser fills for a reply to the cell `inst` (options as shown)."""
    parsed = parse_answer(raw, inst["question_type"], inst.get("options"))
    status = Status.REFUSED if refused else (Status.OK if parsed.ok else Status.UNPARSEABLE)
    return {
        "status": status.value,
        "raw_response": raw,
        "parsed_answer": unrotate_letter(parsed.letter, inst) if status == Status.OK else None,
        "parsed_span_start": parsed.span[0] if status == Status.OK and parsed.span else None,
        "parsed_span_end": parsed.span[1] if status == Status.OK and parsed.span else None,
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
        rows["status"].isin([Status.OK, Status.UNPARSEABLE])
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
        if fresh["status"] != Status.OK and row.get("parsed_by") == "judge":
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


def cell_cost(entry, usages: list[Usage]) -> float | None:
    """The bill of every billed attempt of a cell; None when it cannot be known (no prices, or the
    provider reported no usage), never 0 for an unknown."""
    if entry.offline:
        return 0.0
    known = [u for u in usages if u.known]
    if entry.price is None or not known:
        return None
    return sum(bill_usd(entry.price, u) for u in known)


def backoff_s(entry, n: int) -> float:
    """Exponential backoff with jitter for the n-th wait (1, 2, 4 ... x retry_initial_s, at most 60 s)."""
    base = min(entry.retry_initial_s * 2 ** (n - 1), 60.0)
    return base + random.uniform(0, entry.retry_initial_s)


class Unasked(Exception):
    """The run stopped before this cell got an answer: it stays unasked (no row)."""


async def call_with_retries(
    evaluator: Evaluator,
    request: EvalRequest,
    pacer: Pacer,
    on_attempt: Callable[[], None] = lambda: None,
    on_billed: Callable[[Usage], None] = lambda usage: None,
    stop: asyncio.Event | None = None,
    tokens: float = 0.0,
) -> EvalReply:
    """One cell's call: the entry's timeout per attempt, `max_retries` retries of retryable errors
    (backoff with jitter, or the provider's wait up to `max_retry_wait_s`). A per-minute rate limit
    is waited out without counting as a failed attempt, up to `max_rate_limit_wait_s` in all. Uploads
    (`prepare`) run outside the per-attempt timeout, bounded by `transport.upload_timeout_s`.
    Every billed attempt's usage goes to `on_billed`. Raises the last EvaluatorError, StopRun when
    nothing more can be answered, or Unasked when the run stopped meanwhile."""
    entry = evaluator.entry
    failures, throttles, waited = 0, 0, 0.0
    prepare = getattr(evaluator, "prepare", None)
    upload_bound = entry.transport.upload_timeout_s + entry.timeout_s  # the upload request, then ACTIVE polling
    while True:
        if stop is not None and stop.is_set():
            raise Unasked()
        started = await pacer.acquire(tokens)
        on_attempt()
        try:
            if prepare is not None:
                request = await asyncio.wait_for(prepare(request), timeout=upload_bound)
            reply = await asyncio.wait_for(evaluator.answer(request), timeout=entry.timeout_s)
        except TimeoutError:
            error: EvaluatorError = CallTimeout(f"no answer within {entry.timeout_s}s")
        except EvaluatorError as exc:
            error = exc
        except Exception as exc:  # an evaluator bug must cost one cell, not the run
            error = EvaluatorError(f"unexpected {type(exc).__name__}: {exc}", retryable=False)
        except BaseException:  # cancelled: give the slot back
            await pacer.release(OTHER, started)
            raise
        else:
            await pacer.release(OK, started)
            on_billed(reply.usage)
            return reply
        await pacer.release(THROTTLED if isinstance(error, RateLimited) else OTHER, started)
        if error.usage is not None:
            on_billed(error.usage)
        if isinstance(error, StopRun):
            raise error
        after = error.retry_after
        if error.retryable and after is not None and after > entry.max_retry_wait_s:
            error.args = (f"{error} (the provider asked to wait {after:.0f}s, over max_retry_wait_s "
                          f"{entry.max_retry_wait_s:.0f}s: not retried)",)  # fmt: skip
            raise error
        if isinstance(error, RateLimited):
            throttles += 1
            wait = after if after is not None else backoff_s(entry, throttles)
            if waited + wait > entry.max_rate_limit_wait_s:
                error.args = (f"{error} (still rate limited after waiting {waited:.0f}s, "
                              f"max_rate_limit_wait_s {entry.max_rate_limit_wait_s:.0f}s)",)  # fmt: skip
                raise error
            waited += wait
            await asyncio.sleep(wait)
            continue
        if not error.retryable or failures >= entry.max_retries:
            raise error
        failures += 1
        await asyncio.sleep(max(backoff_s(entry, failures), after or 0.0))


def _row(
    entry,
    inst: dict,
    reply: EvalReply | None,
    error: EvaluatorError | None,
    attempts: int,
    latency: float,
    usages: list[Usage],
) -> dict:
    """The prediction row; `inst` is the cell as shown (options rotated), answers are stored
    unrotated. Tokens and cost add up every billed attempt of the cell."""
    total = sum(usages, Usage())
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
        "input_tokens": total.input_tokens,
        "output_tokens": total.output_tokens,
        "thinking_tokens": total.thinking_tokens,
        "input_audio_tokens": total.input_audio_tokens,
        "input_image_tokens": total.input_image_tokens,
        "cached_input_tokens": total.cached_input_tokens,
        "billed_attempts": sum(1 for u in usages if u.known),
        "cost_usd": cell_cost(entry, usages),
    }
    if error is not None:
        return {**row, "status": error.status, "error": f"{type(error).__name__}: {error}"[:2000]}
    received = reply.received or {}
    return {
        **row,
        **read_reply(reply.raw_response, inst, refused=reply.refused),
        "served_model": reply.served_model,
        "response_id": reply.response_id,
        "system_fingerprint": reply.system_fingerprint,
        "received_modalities": received.get("modalities"),
        "received_frames": received.get("frames"),
        "received_fps": received.get("fps"),
        "received_resolution": received.get("resolution"),
        "received_audio": received.get("audio"),
    }


def _fails_alike(errors: list[EvaluatorError | None]) -> EvaluatorError | None:
    """The error when the first FAIL_FAST_CALLS cells all failed with one non-retryable class (a
    4xx of one status, or a configuration error): every other cell would fail the same way."""
    first = errors[:FAIL_FAST_CALLS]
    if len(first) < FAIL_FAST_CALLS or any(e is None or e.retryable for e in first):
        return None
    kinds = {e.kind for e in first}
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind and (kind == "configuration" or kind.startswith("http-4")):
        return first[-1]
    return None


async def evaluate_cells(
    evaluator: Evaluator,
    cells: pd.DataFrame,
    store: PredictionStore,
    media_for: Callable[[dict], list[dict]] = lambda inst: [],
    budget_usd: float | None = None,
    progress: ProgressFn | None = None,
) -> RunSummary:
    """Ask every selected cell once (with retries); each finished cell is appended to the store at
    once. A preflight (where the provider has one) first checks that the model exists. The run stops
    early, leaving the rest unasked, on the budget, on StopRun (daily quota, no credit) and when the
    first cells all fail alike."""
    entry = evaluator.entry
    summary = RunSummary(entry.name, scheduled=len(cells))
    semaphore = asyncio.Semaphore(entry.concurrency)
    pacer = Pacer(entry.concurrency, entry.rate_limit_rpm, entry.rate_limit_tpm)
    state = Progress(0, len(cells), 0, time.monotonic())
    stop = asyncio.Event()
    secrets = getattr(evaluator, "secrets", ())
    first_outcomes: list[EvaluatorError | None] = []

    def halt(reason: str) -> None:
        if summary.stopped is None:
            summary.stopped = reason
        stop.set()

    def billed(usage: Usage) -> None:
        summary.cost_usd += cell_cost(entry, [usage]) or 0.0
        summary.input_tokens += usage.input_tokens or 0
        summary.output_tokens += usage.output_tokens or 0
        if budget_usd is not None and summary.cost_usd >= budget_usd:
            summary.budget_stopped = True
            stop.set()

    async def one(inst: dict) -> None:
        async with semaphore:
            if stop.is_set():
                return
            started, attempts, reply, error, usages = time.monotonic(), 0, None, None, []
            shown = rotate(inst)
            media = media_for(inst)
            request = EvalRequest(shown, render_prompt(entry.prompt_version, shown), media)

            def counted() -> None:
                nonlocal attempts
                attempts += 1
                summary.calls += 1

            def bill(usage: Usage) -> None:
                usages.append(usage)
                billed(usage)

            try:
                if entry.media_recipe != "none" and len(media) < len(inst["clip_sha256s"]):
                    raise EvaluatorError(
                        f"no {entry.media_recipe} media for some clips of this instance (not derived yet, or "
                        "derivation failed: see clip_media): materialize clip_media",
                        retryable=False,
                    )
                most = entry.caps.max_videos
                if most is not None and entry.media in ("video", "video_and_audio") and len(media) > most:
                    raise EvaluatorError(
                        f"this drama has {len(media)} clips; {entry.model} takes at most {most} videos per request",
                        retryable=False,
                    )
                tokens = estimated_input_tokens(entry, inst) if entry.rate_limit_tpm else 0.0
                reply = await call_with_retries(evaluator, request, pacer, counted, bill, stop, tokens)
            except Unasked:
                return
            except StopRun as exc:
                halt(redact(str(exc), secrets) if secrets else str(exc))
                return
            except EvaluatorError as exc:
                error = exc
            row = _row(entry, shown, reply, error, attempts, time.monotonic() - started, usages)
            for column in ("error", "raw_response"):
                if secrets and isinstance(row.get(column), str):
                    row[column] = redact(row[column], secrets)
            store.append(row)
            summary.asked += 1
            summary.statuses[row["status"]] += 1
            if reply is not None and reply.served_model:
                summary.served[reply.served_model] += 1
            state.done += 1
            state.errors += row["status"] in RETRYABLE_STATUSES
            if len(first_outcomes) < FAIL_FAST_CALLS:
                first_outcomes.append(error)
                same = _fails_alike(first_outcomes)
                if same is not None:
                    message = redact(str(same), secrets) if secrets else str(same)
                    halt(f"the first {FAIL_FAST_CALLS} cells all failed alike: {message}")
            if progress:
                progress(state)

    started = time.monotonic()
    try:
        preflight = getattr(evaluator, "preflight", None)
        try:
            if preflight is not None:
                await asyncio.wait_for(preflight(), timeout=entry.timeout_s)
        except StopRun as exc:
            halt(redact(str(exc), secrets) if secrets else str(exc))
        except (EvaluatorError, TimeoutError) as exc:
            summary.preflight = f"preflight could not check the model ({type(exc).__name__}: {exc}); asking anyway"
        if not stop.is_set():
            await asyncio.gather(*(one(plain_record(inst)) for inst in cells.to_dict("records")))
    finally:
        if hasattr(evaluator, "aclose"):
            await evaluator.aclose()
    summary.rate_limit_waits = pacer.throttled
    summary.window_cuts = pacer.cuts
    summary.wall_s = time.monotonic() - started
    return summary
