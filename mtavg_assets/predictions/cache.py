"""Cache keys: content hashes of what shapes an answer, never paths or transport settings."""

from __future__ import annotations

import hashlib
import json

from mtavg_assets.registry import ModelEntry
from mtavg_assets.task.prompts import template_hash
from mtavg_assets.task.status import ALL_STATUSES, FINAL_STATUSES, RETRYABLE_STATUSES

__all__ = ["ALL_STATUSES", "FINAL_STATUSES", "RETRYABLE_STATUSES", "CellKeys", "cache_key"]


def _identity(entry: ModelEntry, question_type: str, learned: dict | None) -> dict:
    return {
        **entry.output_identity(),
        **({"learned": learned} if learned is not None else {}),
        "prompt_version": entry.prompt_version,
        "prompt_template": template_hash(entry.prompt_version, question_type),
    }


def cache_key(
    entry: ModelEntry, instance_content_hash: str, question_type: str, rotation: int = 0, learned: dict | None = None
) -> str:
    """Same key <=> same provider, model id, output settings, prompt template text, media recipe,
    instance content and option rotation (rotation 0 is the plain question, shared with
    non-circular runs), and for an offline baseline that learns from the answer key, what it
    learned (`learned`). Timeouts, retries, concurrency, rate limits, budgets and upload settings
    are not part of it: changing them never re-asks a cell."""
    blob = json.dumps(
        {
            **({"rotation": rotation} if rotation else {}),
            **_identity(entry, question_type, learned),
            "instance": instance_content_hash,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


_INSTANCE, _ROTATION = "\0instance\0", "\0rotation\0"


class CellKeys:
    """`cache_key` for the many cells of one entry, the entry's part serialized once per question
    type: the same keys (a test holds them equal), at the cost of a hash per cell."""

    def __init__(self, entry: ModelEntry, learned: dict | None = None):
        self.entry, self.learned = entry, learned
        self._templates: dict[tuple[str, bool], tuple[str, str]] = {}

    def _template(self, question_type: str, rotated: bool) -> tuple[str, str]:
        key = (question_type, rotated)
        if key not in self._templates:
            doc = {
                **({"rotation": _ROTATION} if rotated else {}),
                **_identity(self.entry, question_type, self.learned),
                "instance": _INSTANCE,
            }
            text = json.dumps(doc, sort_keys=True)
            self._templates[key] = (text, json.dumps(_ROTATION))
        return self._templates[key]

    def __call__(self, instance_content_hash: str, question_type: str, rotation: int = 0) -> str:
        text, rotation_mark = self._template(question_type, bool(rotation))
        text = text.replace(json.dumps(_INSTANCE), json.dumps(instance_content_hash), 1)
        if rotation:
            text = text.replace(rotation_mark, str(int(rotation)), 1)
        return hashlib.sha256(text.encode()).hexdigest()
