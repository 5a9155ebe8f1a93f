"""Answer parsing for real model outputs. Returns nothing rather than guess: no default option."""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass

_LETTER_PATTERNS = (
    re.compile(r"^\s*[\(\[]?([A-Z])[\)\]\.:]?\s*$"),  # "B", "(B)", "B."
    re.compile(r"answer\s*(?:is|:)?\s*[:\-]?\s*\**\s*[\(\[]?(?-i:([A-Z]))\b[\)\]]?", re.I),  # "The answer is (B)."
    re.compile(r"\*\*\s*[\(\[]?([A-Z])[\)\]\.]?\s*\*\*"),  # "**B**"
    re.compile(r"^\s*[\(\[]?([A-Z])[\)\]\.:]\s+\S", re.M),  # "B) text", "B. text"
    re.compile(r"(?:option|choice)\s+[\(\[]?(?-i:([A-Z]))\b", re.I),  # "option B"
)
_TIME = r"(\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?|\d{1,2}:\d{1,2}(?:\.\d+)?|\d+(?:\.\d+)?)"
_SPAN_PATTERNS = (
    re.compile(rf"{_TIME}\s*s?\s*(?:-|–|—|to|until|and)\s*{_TIME}\s*s?", re.I),
    re.compile(rf"\[\s*{_TIME}\s*,\s*{_TIME}\s*\]"),
)
_JSON_OBJECT = re.compile(r"\{.*?\}", re.S)


@dataclass(frozen=True)
class ParsedAnswer:
    letter: str | None = None
    span: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        return self.letter is not None or self.span is not None


def to_seconds(text: str) -> float:
    parts = [float(p) for p in str(text).split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def _json_payload(raw: str) -> dict | None:
    fenced = raw.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    for candidate in (fenced, *(_JSON_OBJECT.findall(raw))):
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, TypeError):
            continue
        if isinstance(value, dict):
            return value
    return None


def parse_choice(raw: str | None, options: list[str]) -> str | None:
    """The option letter a response commits to, or None when absent or ambiguous."""
    if not raw or not raw.strip():
        return None
    letters = string.ascii_uppercase[: len(options)]
    payload = _json_payload(raw)
    if payload is not None:
        value = payload.get("answer", payload.get("choice", payload.get("option")))
        if isinstance(value, str):
            return parse_choice(value, options) if value.strip() not in letters else value.strip()
        return None
    text = raw.strip()
    by_text = [letters[i] for i, o in enumerate(options) if text.rstrip(".").strip().lower() == o.strip().lower()]
    if len(by_text) == 1:
        return by_text[0]
    for pattern in _LETTER_PATTERNS:
        found = set(pattern.findall(text)) & set(letters)
        if len(found) == 1:
            return found.pop()
        if len(found) > 1:
            return None
    mentioned = [letters[i] for i, o in enumerate(options) if len(o) > 3 and o.lower() in text.lower()]
    return mentioned[0] if len(mentioned) == 1 else None


def parse_span(raw: str | None) -> tuple[float, float] | None:
    """A [start, end] span in seconds from JSON or text like '00:03.2-00:05.0' or '3.2s to 5s'."""
    if not raw or not raw.strip():
        return None
    payload = _json_payload(raw)
    if payload is not None:
        start = payload.get("start", payload.get("start_s"))
        end = payload.get("end", payload.get("end_s"))
        if start is None and isinstance(payload.get("span"), list) and len(payload["span"]) == 2:
            start, end = payload["span"]
        try:
            s, e = to_seconds(start), to_seconds(end)
        except (TypeError, ValueError):
            return None
        return (s, e) if 0 <= s <= e else None
    for pattern in _SPAN_PATTERNS:
        matches = pattern.findall(raw)
        if matches:
            s, e = to_seconds(matches[0][0]), to_seconds(matches[0][1])
            return (s, e) if 0 <= s <= e else None
    return None


def parse_answer(raw: str | None, question_type: str, options: list[str] | None) -> ParsedAnswer:
    if question_type == "temporal":
        return ParsedAnswer(span=parse_span(raw))
    return ParsedAnswer(letter=parse_choice(raw, list(options or [])))
