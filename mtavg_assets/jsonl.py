"""JSONL reading that keeps every line: parsed objects and, for the rest, the reason they failed.

Nothing is repaired silently: bytes that are not UTF-8, NaN/Infinity (not JSON), over-long lines
and non-object values are each a rejected line with its reason. A leading byte order mark is
allowed (it is not part of the first record).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_LINE_BYTES = 1024 * 1024
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class JsonlLine:
    source: str
    line_no: int
    record: dict | None
    error: str | None


def _no_constants(name: str):
    raise ValueError(f"non-finite number {name} (not JSON)")


def parse_line(raw: bytes) -> tuple[dict | None, str | None]:
    """(record, None) or (None, reason) for one line's bytes."""
    if len(raw) > MAX_LINE_BYTES:
        return None, f"line longer than {MAX_LINE_BYTES} bytes ({len(raw)})"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 at byte {exc.start}"
    try:
        record = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        return None, f"malformed JSON: {str(exc)[:200]}"
    if not isinstance(record, dict):
        return None, f"malformed line: expected an object, got {type(record).__name__}"
    return record, None


def read_jsonl(path: Path) -> Iterator[JsonlLine]:
    """Yield one entry per non-blank line; malformed lines carry an error instead of a record."""
    with Path(path).open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if line_no == 1:
                raw = raw.removeprefix(BOM)
            if not raw.strip():
                continue
            record, error = parse_line(raw.rstrip(b"\r\n"))
            yield JsonlLine(str(path), line_no, record, error)


def is_jsonl(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".jsonl"
