"""Cache keys: content hashes of what was asked and how, never paths."""

from __future__ import annotations

import hashlib
import json

from mtavg_assets.registry import ModelEntry

FINAL_STATUSES = ("ok", "unparseable", "refused")
RETRYABLE_STATUSES = ("error", "timeout", "rate_limited")
ALL_STATUSES = FINAL_STATUSES + RETRYABLE_STATUSES


def cache_key(entry: ModelEntry, instance_content_hash: str, rotation: int = 0) -> str:
    """Same key <=> same model, generation config, prompt version, media recipe, instance content
    and option rotation (rotation 0 is the plain question, shared with non-circular runs)."""
    blob = json.dumps(
        {
            **({"rotation": rotation} if rotation else {}),
            "provider": entry.provider,
            "model": entry.model,
            "generation": entry.generation,
            "seed": entry.seed,
            "prompt_version": entry.prompt_version,
            "media_recipe": entry.media_recipe,
            "instance": instance_content_hash,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()
