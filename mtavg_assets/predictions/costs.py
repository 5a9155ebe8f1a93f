"""A cost estimate before a run starts, from public per-modality token rates and the entry's prices."""

from __future__ import annotations

import pandas as pd

from mtavg_assets.registry import ModelEntry

GEMINI_TOKENS_PER_FRAME = 258
GEMINI_AUDIO_TOKENS_PER_S = 32
OPENAI_TOKENS_PER_LOW_DETAIL_IMAGE = 85
OPENAI_AUDIO_TOKENS_PER_S = 10
PROMPT_TOKENS = 150
OUTPUT_TOKENS = 20


def estimated_input_tokens(entry: ModelEntry, instance: dict) -> float:
    seconds = float(instance.get("clip_duration_s") or 0.0) * int(instance.get("n_clips") or 1)
    if entry.offline:
        return 0.0
    if entry.provider == "gemini" or entry.media == "video":
        fps = entry.generation.video_fps
        return PROMPT_TOKENS + seconds * (GEMINI_TOKENS_PER_FRAME * fps + GEMINI_AUDIO_TOKENS_PER_S)
    frames = entry.frames * int(instance.get("n_clips") or 1)
    audio = seconds * OPENAI_AUDIO_TOKENS_PER_S if entry.media == "frames_audio" else 0.0
    return PROMPT_TOKENS + frames * OPENAI_TOKENS_PER_LOW_DETAIL_IMAGE + audio


def estimate_cost_usd(entry: ModelEntry, cells: pd.DataFrame) -> float | None:
    """Estimated spend for the cells about to be asked; None when the entry has no prices."""
    if entry.offline:
        return 0.0
    if entry.price is None:
        return None
    tokens_in = sum(estimated_input_tokens(entry, inst) for inst in cells.to_dict("records"))
    tokens_out = OUTPUT_TOKENS * len(cells)
    return (tokens_in * entry.price.input_per_mtok + tokens_out * entry.price.output_per_mtok) / 1e6
