"""Read every QA JSONL file into one frame that keeps each input line, parsed or not."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mtavg_assets.jsonl import read_jsonl

INPUT_COLUMNS = ["source_file", "line_no", "record_json", "parse_error"]


def load_qa_lines(qa_dir: Path) -> pd.DataFrame:
    """One row per non-blank line of `qa_dir/*.jsonl`, in file then line order."""
    rows = []
    for path in sorted(Path(qa_dir).glob("*.jsonl")):
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
