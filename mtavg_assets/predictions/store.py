"""Per-model prediction store: an append-only journal written as each answer arrives, compacted
into the model's Parquet file at the end of a run. A killed run loses nothing it was told."""

from __future__ import annotations

import json
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mtavg_assets.atomic import temp_beside
from mtavg_assets.locks import LockBusy, hold
from mtavg_assets.settings import DataLayout

SCHEMA = pa.schema(
    [
        ("model", pa.string()),
        ("instance_id", pa.string()),
        ("rotation", pa.int64()),  # 0, or k>0 for circular evaluation: options shifted left by k
        ("status", pa.string()),
        ("raw_response", pa.string()),
        ("parsed_answer", pa.string()),
        ("parsed_span_start", pa.float64()),
        ("parsed_span_end", pa.float64()),
        ("prompt_version", pa.string()),
        ("media_recipe", pa.string()),
        ("cache_key", pa.string()),
        ("instance_content_hash", pa.string()),
        ("attempts", pa.int64()),
        ("latency_s", pa.float64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("error", pa.string()),
        ("created_at", pa.string()),
        ("received_modalities", pa.string()),
        ("received_frames", pa.int64()),
        ("received_fps", pa.float64()),
        ("received_resolution", pa.string()),
        ("received_audio", pa.bool_()),
        ("parser_version", pa.string()),  # task/parsing.PARSER_VERSION that read raw_response
        ("parsed_by", pa.string()),  # "rules", or "judge" (the entry's judge model read the reply)
        ("judge_key", pa.string()),  # cache key of the judge call, when there was one
        ("judge_response", pa.string()),
        ("served_model", pa.string()),  # the model id the provider says answered (Gemini modelVersion, OpenAI model)
        ("response_id", pa.string()),
        ("system_fingerprint", pa.string()),
        # input_tokens, output_tokens and cost_usd add up every billed attempt of the cell; these are parts of them
        ("thinking_tokens", pa.int64()),  # thinking / reasoning, billed as output
        ("input_audio_tokens", pa.int64()),
        ("input_image_tokens", pa.int64()),  # images and video frames
        ("cached_input_tokens", pa.int64()),
        ("billed_attempts", pa.int64()),  # attempts that came back with usage (billed), answered or not
    ]
)
COLUMNS = SCHEMA.names
KEY = ["model", "instance_id", "rotation"]  # a prediction's key; a row without a rotation is rotation 0


def with_rotation(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with `rotation` filled in (rows from before rotations existed are rotation 0)."""
    rotation = rows["rotation"] if "rotation" in rows else pd.Series(0, index=rows.index)
    return rows.assign(rotation=rotation.fillna(0).astype("int64"))


INT64_MAX = 2**63 - 1


def _conform_value(value, kind: pa.DataType):
    """A journal value of the schema's type, or None: a hostile or corrupt value is unknown, never a
    reason for the file to become unreadable."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if pa.types.is_integer(kind):
        if isinstance(value, bool):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return value if isinstance(value, int) and -INT64_MAX <= value <= INT64_MAX else None
    if pa.types.is_floating(kind):
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if pa.types.is_boolean(kind):
        return bool(value) if isinstance(value, bool) else None
    return value if isinstance(value, str) else None


def conform(rows: pd.DataFrame) -> pd.DataFrame:
    """Every column in the type SCHEMA gives it (journal lines are JSON: any value can stand anywhere)."""
    out = {}
    for field in SCHEMA:
        values = [_conform_value(v, field.type) for v in rows[field.name].tolist()]
        out[field.name] = pd.Series(values, index=rows.index, dtype="object")
    return pd.DataFrame(out, index=rows.index)


class PredictionStore:
    def __init__(self, layout: DataLayout, model: str):
        self.model = model
        self.parquet_path = layout.predictions_file(model)
        self.journal_path = layout.journal_file(model)
        self._journal = None

    def exclusive(self, holder: str, timeout_s: float, on_wait=None, busy=LockBusy):
        """Hold this model's predictions for a whole evaluation (select, ask, journal, compact):
        two runs on one model never ask, pay for or lose the same cell."""
        what = f"{self.model} (being evaluated)"
        return hold(self.parquet_path.parent / ".lock", what, holder, timeout_s, on_wait, busy)

    def load(self) -> pd.DataFrame:
        """Latest row per instance from the Parquet file and any journal left by an earlier run."""
        frames = []
        if self.parquet_path.exists():
            frames.append(pq.read_table(self.parquet_path).to_pandas())
        journal = self._read_journal()
        if journal:  # JSON lines can hold any value anywhere; the Parquet file was written with SCHEMA
            frames.append(conform(pd.DataFrame(journal).reindex(columns=COLUMNS)))
        if not frames:
            return pd.DataFrame(columns=COLUMNS)
        rows = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0]
        rows = with_rotation(rows.reindex(columns=COLUMNS))  # files from before a column was added read as nulls
        return rows.drop_duplicates(KEY, keep="last").reset_index(drop=True)

    def _read_journal(self) -> list[dict]:
        if not self.journal_path.exists():
            return []
        rows = []
        with self.journal_path.open(encoding="utf-8", errors="replace") as fh:
            for text in fh:
                try:
                    rows.append(json.loads(text))
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that cell was never complete
        return rows

    def append(self, row: dict) -> None:
        """Persist one answered cell now (flushed to the OS before the next cell is recorded)."""
        if self._journal is None:
            self.journal_path.parent.mkdir(parents=True, exist_ok=True)
            self._journal = self.journal_path.open("a", encoding="utf-8")
            if self._journal.tell() and not self._ends_with_newline():
                self._journal.write("\n")  # a line torn by a kill stays alone, unread, never glued to ours
        self._journal.write(json.dumps({c: row.get(c) for c in COLUMNS}) + "\n")
        self._journal.flush()

    def _ends_with_newline(self) -> bool:
        with self.journal_path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def compact(self) -> pd.DataFrame:
        """Fold the journal into Parquet atomically, then drop the journal (no journal: no rewrite)."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        rows = self.load()
        if not self.journal_path.exists() and self.parquet_path.exists():
            return rows  # nothing new: the file (and its identity) stays as it is
        self.parquet_path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(rows.reindex(columns=COLUMNS), schema=SCHEMA, preserve_index=False)
        tmp = temp_beside(self.parquet_path)
        pq.write_table(table, tmp)
        os.replace(tmp, self.parquet_path)
        self.journal_path.unlink(missing_ok=True)
        return rows
