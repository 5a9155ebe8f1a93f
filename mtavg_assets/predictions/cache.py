"""Cache keys: content hashes of what shapes an answer, never paths or transport settings."""

from __future__ import annotations

import hashlib
import json

from mtavg_assets.evaluators.prompts import template_hash
from mtavg_assets.registry import ModelEntry

FINAL_STATUSES = ("ok", "unparseable", "refused")
RETRYABLE_STATUSES = ("error", "timeout", "rate_limited")
ALL_STATUSES = FINAL_STATUSES + RETRYABLE_STATUSES


def cache_key(entry: ModelEntry, instance_content_hash: str, question_type: str, rotation: int = 0) -> str:
    """Same key <=> same provider, model id, output settings, prompt template text, media recipe,
    instance content and option rotation (rotation 0 is the plain question, shared with
    non-circular runs). Timeouts, retries, concurrency, rate limits, budgets and upload settings
    are not part of it: changing them never re-asks a cell."""
    blob = json.dumps(
        {
            **({"rotation": rotation} if rotation else {}),
            **entry.output_identity(),
            "prompt_version": entry.prompt_version,
            "prompt_template": template_hash(entry.prompt_version, question_type),
            "instance": instance_content_hash,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()
