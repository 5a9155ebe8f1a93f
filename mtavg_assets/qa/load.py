"""Read every QA JSONL file into one frame that keeps each input line, parsed or not."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mtavg_assets.jsonl import is_jsonl, read_jsonl

INPUT_COLUMNS = ["source_file", "line_no", "record_json", "parse_error"]


def qa_files(qa_dir: Path) -> list[Path]:
    """The QA files: every `*.jsonl` (any case) directly in `qa_dir`, in name order."""
    return sorted(p for p in Path(qa_dir).iterdir() if is_jsonl(p)) if Path(qa_dir).is_dir() else []


def ignored_files(qa_dir: Path) -> list[str]:
    """Files in `qa_dir` that are not QA files (reported, never read)."""
    if not Path(qa_dir).is_dir():
        return []
    return sorted(p.name for p in Path(qa_dir).iterdir() if p.is_file() and not is_jsonl(p))


def load_qa_lines(qa_dir: Path) -> pd.DataFrame:
    """One row per non-blank line of the QA files, in file then line order."""
    rows = []
    for path in qa_files(qa_dir):
        for line in read_jsonl(path):
            rows.append(
                {
                    "source_file": path.name,
                    "line_no": line.line_no,
                    "record_json": json.dumps(line.record, sort_keys=True) if line.record is not None else None,
                    "parse_error": line.error,
                }
            )
    return pd.DataFrame(rows, columns=INPUT_COLUMNS)
