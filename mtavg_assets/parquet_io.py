"""Atomic Parquet writes for derived tables (a crash never leaves a half-written file behind)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from mtavg_assets.atomic import temp_beside


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def read_parquet(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def fingerprint(values) -> str:
    """A short order-independent hash of values: the data version of a derived table."""
    return hashlib.sha256("\n".join(sorted(map(str, values))).encode()).hexdigest()[:16]
