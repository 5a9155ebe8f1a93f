"""Atomic file replacement that concurrent writers cannot trip over: every writer gets its own
temporary name beside the target, and the final rename is atomic."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def temp_beside(path: Path) -> Path:
    """A temporary path in the target's folder, unique to this process and call."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
