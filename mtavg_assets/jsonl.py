"""JSONL reading that keeps every line: parsed objects and, for the rest, the reason they failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class JsonlLine:
    source: str
    line_no: int
    record: dict | None
    error: str | None


def read_jsonl(path: Path) -> Iterator[JsonlLine]:
    """Yield one entry per non-blank line; malformed lines carry an error instead of a record."""
    with Path(path).open(encoding="utf-8", errors="replace") as fh:
        for line_no, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield JsonlLine(str(path), line_no, None, f"malformed JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(record, dict):
                yield JsonlLine(
                    str(path), line_no, None, f"malformed line: expected an object, got {type(record).__name__}"
                )
                continue
            yield JsonlLine(str(path), line_no, record, None)
