"""What a call costs: the bill of its usage at the entry's prices, and an estimate before a run
from the model family's per-modality token rates (evaluators/capabilities.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mtavg_assets.evaluators.base import Usage
from mtavg_assets.evaluators.capabilities import MIN_THINKING_HEADROOM
from mtavg_assets.registry import ModelEntry, Price

PROMPT_TOKENS = 150
OUTPUT_TOKENS = 20


def bill_usd(price: Price, usage: Usage) -> float:
    """The provider's bill for one attempt: input split by modality (audio, images/frames, cached,
    the rest at the input price), output (thinking included) at the output price; over the
    long-context threshold the tier's input and output prices replace the base ones."""
    tokens_in = usage.input_tokens or 0
    input_rate, output_rate = price.input_per_mtok, price.output_per_mtok
    if price.long_context is not None and tokens_in > price.long_context.above_tokens:
        input_rate, output_rate = price.long_context.input_per_mtok, price.long_context.output_per_mtok
    audio = min(usage.input_audio_tokens or 0, tokens_in)
    image = min(usage.input_image_tokens or 0, tokens_in - audio)
    cached = min(usage.cached_input_tokens or 0, tokens_in - audio - image)
    rest = tokens_in - audio - image - cached

    def rate(specific: float | None) -> float:
        return input_rate if specific is None else specific

    dollars = (
        rest * input_rate
        + audio * rate(price.input_audio_per_mtok)
        + image * rate(price.input_image_per_mtok)
        + cached * rate(price.cached_input_per_mtok)
        + (usage.output_tokens or 0) * output_rate
    )
    return dollars / 1e6


def estimated_input_tokens(entry: ModelEntry, instance: dict) -> float:
    """Input tokens of one cell from the family's rates: frames (or video frames at the entry's
    fps), audio seconds and the prompt."""
    if entry.offline:
        return 0.0
    caps = entry.caps
    clips = int(instance.get("n_clips") or 1)
    seconds = float(instance.get("clip_duration_s") or 0.0) * clips
    media = entry.media
    if media in ("video", "video_and_audio"):
        temporal = instance.get("question_type") == "temporal"
        fps = entry.generation.video_fps_temporal if temporal else entry.generation.video_fps
        per_frame = 66 if entry.generation.media_resolution == "low" else caps.tokens_per_frame  # Gemini's rates
        visual = seconds * fps * per_frame
    elif "frames" in media:
        visual = entry.frames * clips * caps.tokens_per_frame
    else:
        visual = 0.0
    audio = seconds * caps.audio_tokens_per_s if media in ("video", "video_and_audio", "frames_audio", "audio") else 0.0
    return PROMPT_TOKENS + visual + audio


def estimated_output_tokens(entry: ModelEntry) -> float:
    """The answer, plus the thinking a reasoning model bills as output (its budget when set, else
    the headroom dynamic thinking typically takes)."""
    gen, caps = entry.generation, entry.caps
    off = (
        gen.thinking_budget == 0
        or gen.reasoning_effort == "none"
        or (caps.reasoning_efforts and gen.reasoning_effort is None and caps.default_effort == "none")
    )
    if not caps.reasons or off:
        return OUTPUT_TOKENS
    return OUTPUT_TOKENS + (gen.thinking_budget if (gen.thinking_budget or 0) > 0 else MIN_THINKING_HEADROOM)


@dataclass(frozen=True)
class Estimate:
    """Tokens and cost of the cells about to be asked; cost None when the entry has no prices."""

    input_tokens: float
    output_tokens: float
    cost_usd: float | None


def estimate_cells(entry: ModelEntry, cells: pd.DataFrame) -> Estimate:
    """The estimate for these cells (offline baselines: nothing, free)."""
    if entry.offline:
        return Estimate(0.0, 0.0, 0.0)
    tokens_in = sum(estimated_input_tokens(entry, inst) for inst in cells.to_dict("records"))
    tokens_out = estimated_output_tokens(entry) * len(cells)
    if entry.price is None:
        return Estimate(tokens_in, tokens_out, None)
    cost = (tokens_in * entry.price.input_per_mtok + tokens_out * entry.price.output_per_mtok) / 1e6
    return Estimate(tokens_in, tokens_out, cost)
