"""An optional judge for replies the rules cannot read (never the default).

A registry entry may name a `judge`: another API entry. After the entry's run, each stored reply
left `unparseable` is shown to the judge with a strict extraction prompt: the question, options,
one more option meaning "no single option", and the reply. For a choice question the options are
the ones the model saw; for a temporal question they are the spans the reply itself mentions (the
judge chooses among them and never invents one; a reply that mentions none is not sent). The
judge answers a letter as a choice question (so any provider's answer schema holds it), and the
rules read that letter. A real option becomes the row's answer with `parsed_by = judge`; the extra
option leaves the row `unparseable`. Each judge call is cached in the row by `judge_key` (the
judge's output identity, the prompt text and the parser version), so a reply is judged once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable

import pandas as pd

from mtavg_assets.evaluators.api import redact
from mtavg_assets.evaluators.base import EvalRequest, Evaluator, EvaluatorError
from mtavg_assets.predictions.pacing import Pacer
from mtavg_assets.predictions.runner import call_with_retries, plain_record
from mtavg_assets.registry import ModelEntry
from mtavg_assets.task.letters import format_options, index_of, letter
from mtavg_assets.task.parsing import PARSER_VERSION, parse_choice, span_candidates
from mtavg_assets.task.rotation import rotate, unrotate_letter
from mtavg_assets.task.status import Status

NO_SINGLE_OPTION = "The reply commits to no single option (none, several, or unclear)"
JUDGE_PROMPT = (
    "You read a reply another model gave to the question below and report which option the reply "
    "commits to. Do not answer the question yourself and do not judge whether the reply is right.\n"
    "Question: {question}\n"
    "Options:\n{options}\n"
    'Reply:\n"""\n{reply}\n"""\n'
    "Which option does the reply commit to? If it commits to none, to several, or hedges, choose {abstain}.\n"
    'Answer with the letter of one option only, as JSON: {{"answer": "<letter>"}}.'
)


def judge_view(inst: dict, raw: str) -> tuple[dict, str]:
    """The instance shown to the judge (the cell's options, or the spans the reply mentions, plus
    the abstain option) and its prompt."""
    if inst["question_type"] == "temporal":
        spans = span_candidates(raw)
        choices = [f"from {s:g} s to {e:g} s" for s, e in spans]
    else:
        spans, choices = [], list(inst.get("options") or [])
    options = choices + [NO_SINGLE_OPTION]
    abstain = letter(len(options) - 1)
    shown = {**inst, "question_type": "mcq", "options": options, "n_options": len(options), "spans": spans}
    prompt = JUDGE_PROMPT.format(question=inst["question"], options=format_options(options), reply=raw, abstain=abstain)
    return shown, prompt


def judge_key(judge: ModelEntry, prompt: str) -> str:
    blob = json.dumps({"judge": judge.output_identity(), "prompt": prompt, "parser": PARSER_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def rows_to_judge(rows: pd.DataFrame, instances: pd.DataFrame, judge: ModelEntry) -> list[tuple[dict, dict, str]]:
    """(row, judge instance, prompt) for every unparseable choice reply of the current content
    not judged yet under this judge and prompt."""
    if rows.empty:
        return []
    current = {r["instance_id"]: plain_record(r) for r in instances.to_dict("records")}
    todo = []
    candidates = rows[(rows["status"] == Status.UNPARSEABLE) & rows["raw_response"].notna()]
    for row in candidates.to_dict("records"):
        inst = current.get(row["instance_id"])
        if inst is None or inst["content_hash"] != row["instance_content_hash"]:
            continue
        shown_cell = rotate({**inst, "rotation": row["rotation"]})
        view, prompt = judge_view(shown_cell, row["raw_response"])
        if len(view["options"]) < 2:
            continue  # a temporal reply that mentions no span: nothing to choose among
        if row.get("judge_key") != judge_key(judge, prompt):
            todo.append((row, {**view, "rotation": row["rotation"], "cell_options": shown_cell.get("options")}, prompt))
    return todo


async def judge_rows(
    evaluator: Evaluator, todo: list[tuple[dict, dict, str]], on_call: Callable[[], None] = lambda: None
) -> list[dict]:
    """Ask the judge about each reply; return the rows to store (judged, or marked as asked)."""
    entry = evaluator.entry
    semaphore = asyncio.Semaphore(entry.concurrency)
    pacer = Pacer(entry.concurrency, entry.rate_limit_rpm, entry.rate_limit_tpm)
    secrets = getattr(evaluator, "secrets", ())

    async def one(row: dict, view: dict, prompt: str) -> dict | None:
        async with semaphore:
            try:
                reply = await call_with_retries(evaluator, EvalRequest(view, prompt, []), pacer, on_call)
            except EvaluatorError:
                return None  # not judged now; asked again next run
            text = redact(reply.raw_response or "", secrets) if secrets else reply.raw_response
            chosen = None if reply.refused else parse_choice(text, view["options"])
            index = index_of(chosen) if chosen else len(view["options"]) - 1
            judged = {**row, "judge_key": judge_key(entry, prompt), "judge_response": text}
            if index < len(view["options"]) - 1:  # a real option, not the abstain one
                if view["spans"]:
                    start, end = view["spans"][index]
                    judged.update(
                        status=Status.OK.value, parsed_span_start=start, parsed_span_end=end, parsed_by="judge"
                    )
                else:
                    answer = unrotate_letter(chosen, {"rotation": view["rotation"], "options": view["cell_options"]})
                    judged.update(status=Status.OK.value, parsed_answer=answer, parsed_by="judge")
            return judged

    try:
        results = await asyncio.gather(*(one(row, view, prompt) for row, view, prompt in todo))
    finally:
        if hasattr(evaluator, "aclose"):
            await evaluator.aclose()
    return [r for r in results if r is not None]
