"""What one request to a model may carry and which settings it takes, as data: per provider and
model family (matched by model id, first match wins), overridable per entry (`capabilities:`).

The registry refuses an entry its model cannot serve (a modality, a sampling parameter, a thinking
control, a frame rate), with a reason naming the setting and what to use instead. A model id the
table does not know keeps the provider's defaults; on an `openai_compatible` server every media is
allowed, since self-hosted models are named freely.

Sources, checked 2026-12-02:
- Gemini thinking: ai.google.dev/gemini-api/docs/thinking and /gemini-3 (2.5 Pro budget 128-32768,
  cannot be turned off; 2.5 Flash 0-24576, 0 turns it off; 2.5 Flash-Lite 512-24576 or 0; -1 is
  dynamic; Gemini 3 takes `thinking_level`, and a request with both controls is a 400).
- Gemini video: ai.google.dev/gemini-api/docs/video-understanding (up to 10 videos per request
  on 2.5 and later, custom frame rate in (0, 24], 258 tokens per frame at default media
  resolution, 66 at low, 32 tokens per second of audio).
- OpenAI: platform.openai.com/docs/guides/reasoning and the `reasoning_effort` reference (o-series
  and gpt-5 take low/medium/high, gpt-5 also minimal; gpt-5.1 and later take none and default to
  it; sampling parameters only without reasoning), /docs/guides/audio (gpt-audio models take text
  and audio, no images), /docs/guides/images-vision (vision models take images, not audio, in chat
  completions); `max_completion_tokens` replaces the deprecated `max_tokens` for every model.
- vLLM Qwen-Omni: docs.vllm.ai examples `qwen2_5_omni` / `qwen3_omni` (`use_audio_in_video` in
  `mm_processor_kwargs` interleaves the clip's own audio track with its frames).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

MediaMode = Literal["none", "video", "video_silent", "video_and_audio", "frames_audio", "frames", "audio"]
MEDIA_MODES: tuple[str, ...] = ("none", "video", "video_silent", "video_and_audio", "frames_audio", "frames", "audio")
# What each media mode puts in one request, for reasons and the README table.
MEDIA_CARRIES = {
    "none": "text only",
    "video": "the clip as video with its own audio track (interleaved by time)",
    "video_silent": "the clip as video with its audio track removed",
    "video_and_audio": "the clip as video plus its audio track as a second, separate stream",
    "frames_audio": "sampled frames as images plus the audio track",
    "frames": "sampled frames as images (no audio)",
    "audio": "the audio track (no images)",
}
ANSWER_TOKENS = 64  # room for the JSON answer itself after any thinking
MIN_THINKING_HEADROOM = 1024  # below this, dynamic thinking routinely uses the whole allowance


class Capabilities(BaseModel):
    """What a model family takes. Every field can be overridden per entry under `capabilities:`."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    family: str = "unknown"  # the table row that matched (or "override")
    media: tuple[str, ...]  # media modes one request may carry
    default_media: str
    structured_output: bool = True  # a JSON schema for the answer
    sampling: Literal["yes", "without_reasoning", "no"] = "yes"  # temperature / top_p accepted
    reasoning_efforts: tuple[str, ...] = ()  # OpenAI `reasoning_effort` values; empty: not a reasoning model
    default_effort: str | None = None  # the effort a request without `reasoning_effort` gets
    thinking: Literal["none", "budget", "level"] = "none"  # Gemini thinking control
    thinking_budget_range: tuple[int, int] | None = None  # allowed positive budgets
    thinking_off: bool = True  # thinking can be turned off (budget 0) or is absent
    thinking_levels: tuple[str, ...] = ()
    max_videos: int | None = None  # videos (clips) per request
    max_fps: float | None = None  # highest frame rate a video may be read at
    media_resolutions: tuple[str, ...] = ()  # Gemini media_resolution values
    tokens_per_frame: int = 258
    audio_tokens_per_s: int = 32
    interleaves_audio: bool = False  # `video` is sent with use_audio_in_video (vLLM omni models)
    reasoning_field: bool = False  # the server returns thinking apart from the answer (reasoning_content)

    @property
    def reasons(self) -> bool:
        """The model thinks before answering unless told not to."""
        return bool(self.reasoning_efforts) or self.thinking != "none"


_GEMINI_VIDEO = dict(
    media=("video", "video_silent", "audio", "none"),
    default_media="video",
    max_videos=10,
    max_fps=24.0,
    media_resolutions=("low", "medium", "high"),
)
# Gemini 3 reads a video frame as 70 tokens at its default media resolution (ai.google.dev/gemini-api/docs/gemini-3)
_GEMINI_3 = dict(_GEMINI_VIDEO, thinking="level", thinking_off=False, sampling="yes", tokens_per_frame=70)
_OPENAI_REASONING = dict(
    media=("frames", "none"),
    default_media="frames",
    tokens_per_frame=85,
    audio_tokens_per_s=10,
    sampling="without_reasoning",
)
_OPENAI_VISION = dict(media=("frames", "none"), default_media="frames", tokens_per_frame=85, audio_tokens_per_s=10)
_OPENAI_AUDIO = dict(
    media=("audio", "none"), default_media="audio", structured_output=False, tokens_per_frame=0, audio_tokens_per_s=10
)
_OMNI = dict(
    media=("video", "video_silent", "video_and_audio", "frames_audio", "frames", "audio", "none"),
    default_media="video",
    interleaves_audio=True,
    tokens_per_frame=144,
    audio_tokens_per_s=25,
)

# (provider, family, model-id pattern, capabilities); first match wins, so specific rows come first.
FAMILIES: list[tuple[str, str, str, dict]] = [
    ("gemini", "gemini-3-pro", r"gemini-3-pro", dict(_GEMINI_3, thinking_levels=("low", "high"))),
    ("gemini", "gemini-3.x-pro", r"gemini-3\.\d+-pro", dict(_GEMINI_3, thinking_levels=("low", "medium", "high"))),
    (
        "gemini",
        "gemini-3-flash",
        r"gemini-3(\.\d+)?-flash",
        dict(_GEMINI_3, thinking_levels=("minimal", "low", "medium", "high")),
    ),
    (
        "gemini",
        "gemini-2.5-pro",
        r"gemini-2\.5-pro",
        dict(_GEMINI_VIDEO, thinking="budget", thinking_budget_range=(128, 32768), thinking_off=False),
    ),
    (
        "gemini",
        "gemini-2.5-flash-lite",
        r"gemini-2\.5-flash-lite",
        dict(_GEMINI_VIDEO, thinking="budget", thinking_budget_range=(512, 24576)),
    ),
    (
        "gemini",
        "gemini-2.5-flash",
        r"gemini-2\.5-flash",
        dict(_GEMINI_VIDEO, thinking="budget", thinking_budget_range=(1, 24576)),
    ),
    ("gemini", "gemini-2.0", r"gemini-2\.0", dict(_GEMINI_VIDEO, max_videos=1)),
    ("gemini", "gemini", r".*", _GEMINI_VIDEO),
    ("openai", "gpt-audio", r"gpt-(4o-|4o-mini-)?(audio|realtime)", _OPENAI_AUDIO),
    ("openai", "gpt-5-chat", r"gpt-5(\.\d+)?-chat", _OPENAI_VISION),
    (
        "openai",
        "gpt-5.x",
        r"gpt-5\.\d+",
        dict(_OPENAI_REASONING, reasoning_efforts=("none", "low", "medium", "high", "xhigh"), default_effort="none"),
    ),
    (
        "openai",
        "gpt-5",
        r"gpt-5",
        dict(
            _OPENAI_REASONING,
            reasoning_efforts=("minimal", "low", "medium", "high"),
            default_effort="medium",
            sampling="no",
        ),
    ),
    (
        "openai",
        "o-series",
        r"o\d",
        dict(_OPENAI_REASONING, reasoning_efforts=("low", "medium", "high"), default_effort="medium", sampling="no"),
    ),
    ("openai", "gpt-4", r"gpt-4", _OPENAI_VISION),
    ("openai", "openai", r".*", dict(_OPENAI_VISION, media=("frames", "audio", "none"))),
    ("openai_compatible", "qwen-omni-thinking", r"(.*/)?qwen[\d.]*-omni.*thinking", dict(_OMNI, reasoning_field=True)),
    ("openai_compatible", "qwen-omni", r"(.*/)?qwen[\d.]*-omni", _OMNI),
    ("openai_compatible", "self-hosted", r".*", dict(_OMNI, interleaves_audio=False)),
    ("random", "baseline", r".*", dict(media=("none",), default_media="none")),
    ("prior", "baseline", r".*", dict(media=("none",), default_media="none")),
]
_COMPILED = [(p, fam, re.compile(pat, re.IGNORECASE), caps) for p, fam, pat, caps in FAMILIES]


def family_capabilities(provider: str, model: str | None, override: dict | None = None) -> Capabilities:
    """The capabilities of `model` on `provider`, with the entry's `capabilities:` on top."""
    for known, family, pattern, caps in _COMPILED:
        if known == provider and pattern.match(model or ""):
            base = {**caps, "family": family}
            break
    else:
        raise ValueError(f"no capabilities for provider {provider!r}")
    if override:
        base = {**base, **override, "family": f"{base['family']}+override"}
    lists = ("media", "reasoning_efforts", "thinking_levels", "media_resolutions", "thinking_budget_range")
    base = {k: (tuple(v) if k in lists and isinstance(v, list) else v) for k, v in base.items()}
    return Capabilities.model_validate(base)


# Modality ablations: the media an ablated copy of an entry sends instead of its own (None: the
# ablation removes nothing that entry sends, or everything).
Ablation = Literal["audio_off", "video_off", "text_only"]
ABLATIONS: tuple[str, ...] = ("audio_off", "video_off", "text_only")
ABLATED_MEDIA: dict[str, dict[str, str]] = {
    "audio_off": {
        "video": "video_silent",
        "video_and_audio": "video_silent",
        "frames_audio": "frames",
    },
    "video_off": {"video": "audio", "video_and_audio": "audio", "frames_audio": "audio"},
    "text_only": {m: "none" for m in MEDIA_MODES if m != "none"},
}
