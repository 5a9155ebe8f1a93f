"""The models registry (`models.yaml`): one typed definition of every key, its type, default and doc.

Each entry is validated on its own; a bad entry is kept with its reason and never blocks the others.
Settings are split by what they change:
- `generation` (`OutputSettings`): what shapes the model's output. Part of every cache key.
- `transport` (`TransportSettings`) and the top-level run knobs (`concurrency`, `max_retries`,
  `timeout_s`, `rate_limit_rpm`, `budget_usd`, `retry_initial_s`): how the calls are made. Never in
  a cache key, so changing them never re-asks a cell.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from mtavg_assets.evaluators.capabilities import (
    ABLATED_MEDIA,
    ANSWER_TOKENS,
    MEDIA_CARRIES,
    MIN_THINKING_HEADROOM,
    Ablation,
    Capabilities,
    MediaMode,
    family_capabilities,
)
from mtavg_assets.validation import validation_reason

NAME_PATTERN = re.compile(r"[a-z0-9._-]+")
ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
Provider = Literal["random", "prior", "gemini", "openai", "openai_compatible"]
OFFLINE_PROVIDERS = ("random", "prior")  # baselines: no API, no media
# Settings added after the first release enter the cache key only when set, so adding a setting
# re-asks no cell that does not use it.
KEYED_WHEN_SET = ("reasoning_effort", "thinking_budget", "thinking_level", "media_resolution")

Finite = Annotated[float, Field(allow_inf_nan=False)]


SECRET_PARAMETER = re.compile(r"key|token|secret|passw|signature|^sig$|auth", re.IGNORECASE)


class RegistryError(ValueError):
    """A registry entry that cannot be used, with the reason."""


class _Strict(BaseModel):
    """No coercion (`"no"` is not a boolean, 2.7 not an integer), no unknown keys, no NaN/inf."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class OutputSettings(_Strict):
    """Settings that change what the model answers: all of them are in the cache key."""

    temperature: Annotated[Finite, Field(ge=0)] | None = None
    top_p: Annotated[Finite, Field(gt=0, le=1)] | None = None
    seed: int | None = None
    max_output_tokens: Annotated[int, Field(ge=1)] | None = None
    video_fps: Annotated[Finite, Field(gt=0)] = 1.0  # Gemini: frames per second read from the video
    video_fps_temporal: Annotated[Finite, Field(gt=0)] = 2.0  # the same, for temporal questions
    structured_output: bool = True  # JSON schema per question type (Gemini, OpenAI chat)
    image_detail: Literal["low", "high", "auto"] = "low"  # OpenAI: image detail of frames
    # OpenAI reasoning models (o-series, gpt-5 family): how much they reason before answering.
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    # Gemini 2.5: thinking tokens allowed (-1 dynamic, 0 off where the model allows it).
    thinking_budget: Annotated[int, Field(ge=-1, le=65536)] | None = None
    # Gemini 3.x: discrete thinking level (a request with both controls is refused by the API).
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = None
    # Gemini: tokens spent per video frame (low 66, medium/high 258 on 2.5+).
    media_resolution: Literal["low", "medium", "high"] | None = None


class TransportSettings(_Strict):
    """How requests travel: never in the cache key."""

    api_version: str = "v1beta"  # Gemini API version
    inline_max_bytes: Annotated[int, Field(ge=0)] = 15 * 1024 * 1024  # larger clips go through the Files API
    upload_timeout_s: Annotated[Finite, Field(gt=0)] = 300.0  # wait for an upload to become ACTIVE
    upload_poll_s: Annotated[Finite, Field(gt=0)] = 2.0  # poll interval while it is PROCESSING
    delete_uploads: bool = False  # delete Files API uploads at the end of a run
    max_reply_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = 8 * 1024 * 1024  # one reply body, decompressed


Rate = Annotated[Finite, Field(ge=0)]


class LongContextPrice(_Strict):
    """The tier a request enters when its input is over `above_tokens` (Gemini Pro over 200k)."""

    above_tokens: Annotated[int, Field(ge=1)]
    input_per_mtok: Rate
    output_per_mtok: Rate


class Price(_Strict):
    """US dollars per million tokens, as the provider bills them. Thinking and reasoning tokens are
    output. A modality price left out is the input price."""

    input_per_mtok: Rate = 0.0
    output_per_mtok: Rate = 0.0
    input_audio_per_mtok: Rate | None = None  # audio input tokens
    input_image_per_mtok: Rate | None = None  # image and video-frame input tokens
    cached_input_per_mtok: Rate | None = None  # input tokens served from the provider's cache
    long_context: LongContextPrice | None = None


TRANSPORT_KEYS = frozenset(TransportSettings.model_fields)


class ModelEntry(_Strict):
    """One evaluator. `name` is its `predictions` partition key and Parquet folder."""

    name: str
    provider: Provider
    model: str | None = None  # the provider's model id (offline baselines: the provider name)
    base_url: str | None = None  # required for openai_compatible
    api_key_env: str | None = None  # NAME of the environment variable holding the key; never the key
    media: MediaMode | None = None  # default: by model family (evaluators/capabilities.py)
    capabilities: dict[str, Any] | None = None  # overrides of the family's capabilities (Capabilities fields)
    frames: Annotated[int, Field(ge=1, le=256)] = 8  # frames sampled per clip for the frames recipes
    prompt_version: str = "v1"
    generation: OutputSettings = OutputSettings()
    transport: TransportSettings = TransportSettings()
    seed: int = 0  # offline baselines' seed
    circular: bool = False  # also ask every rotation of a choice question's options
    judge: str | None = None  # name of another (API) entry that reads replies the rules cannot
    # Modality controls: each becomes its own entry `<name>.<ablation>` (own partition and cache
    # keys) asking the same questions without the audio, without the video, or with text only.
    ablations: list[Ablation] = []
    ablation_of: str | None = None  # set on an ablated copy: the entry it ablates (never written by hand)
    ablation: Ablation | None = None
    # Ask every cell this many times: repeat k > 0 is the entry `<name>.r<k>` (own partition and
    # cache keys; the random baseline draws anew), read in the `stability` table.
    repeats: Annotated[int, Field(ge=1, le=20)] = 1
    repeat_of: str | None = None  # set on a repeat copy: the entry it repeats
    repeat: int | None = None
    price: Price | None = None  # None: cost unknown (recorded as null, never as 0)
    concurrency: Annotated[int, Field(ge=1, le=1024)] = 4
    max_retries: Annotated[int, Field(ge=0, le=100)] = 3
    timeout_s: Annotated[Finite, Field(gt=0)] = 120.0
    rate_limit_rpm: Annotated[Finite, Field(ge=1)] | None = None
    rate_limit_tpm: Annotated[Finite, Field(ge=1)] | None = None  # input tokens per minute (estimated per cell)
    budget_usd: Annotated[Finite, Field(ge=0)] | None = None
    retry_initial_s: Annotated[Finite, Field(ge=0)] = 1.0  # first backoff; doubles per retry, with jitter
    # Longest wait a provider may ask for (Retry-After) before a retry; a longer one ends the cell
    # with its status instead of sleeping. A cell takes at most (max_retries + 1) x (timeout_s +
    # max_retry_wait_s).
    max_retry_wait_s: Annotated[Finite, Field(ge=0, le=3600)] = 120.0
    # Waiting out a per-minute quota is not a failed attempt; this bounds all such waits of one cell.
    max_rate_limit_wait_s: Annotated[Finite, Field(ge=0, le=86400)] = 900.0
    _caps: Capabilities | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _transport_keys_under_generation(cls, raw: Any) -> Any:
        """Transport knobs written under `generation` (older registries) are moved to `transport`."""
        if isinstance(raw, dict) and isinstance(raw.get("generation"), dict):
            moved = {k: v for k, v in raw["generation"].items() if k in TRANSPORT_KEYS}
            if moved:
                transport = raw.get("transport") or {}
                if not isinstance(transport, dict):
                    return raw
                raw = {
                    **raw,
                    "generation": {k: v for k, v in raw["generation"].items() if k not in TRANSPORT_KEYS},
                    "transport": {**moved, **transport},
                }
        return raw

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not NAME_PATTERN.fullmatch(name) or set(name) == {"."} or len(name) > 100:
            raise ValueError("must be 1-100 characters of [a-z0-9._-] and not only dots")
        return name

    @field_validator("judge")
    @classmethod
    def _judge_name(cls, name: str | None) -> str | None:
        if name is not None and (not NAME_PATTERN.fullmatch(name) or len(name) > 100):
            raise ValueError("must be the name of another entry of this registry")
        return name

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME_PATTERN.fullmatch(value):
            raise ValueError("must be the NAME of an environment variable ([A-Za-z_][A-Za-z0-9_]*), not a key")
        return value

    @field_validator("base_url")
    @classmethod
    def _no_credentials(cls, url: str | None) -> str | None:
        """A URL is written to the registry table, logs and manifests: a key in it would leak."""
        if url is None:
            return url
        from urllib.parse import parse_qsl, urlsplit

        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise ValueError("base_url is not a URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http(s) URL with a host")
        if parts.username or parts.password:
            raise ValueError(
                "base_url must not carry credentials (user:secret@): name the key's variable in api_key_env"
            )
        secret = [k for k, _ in parse_qsl(parts.query) if SECRET_PARAMETER.search(k)]
        if secret:
            raise ValueError(f"base_url must not carry a key in its query ({', '.join(secret)}): use api_key_env")
        return url

    @field_validator("prompt_version")
    @classmethod
    def _known_prompt(cls, version: str) -> str:
        from mtavg_assets.task.prompts import PROMPTS

        if version not in PROMPTS:
            raise ValueError(f"unknown prompt_version; known: {', '.join(sorted(PROMPTS))}")
        return version

    @model_validator(mode="after")
    def _provider_rules(self) -> ModelEntry:
        provider = self.provider
        if self.model is None:
            if provider not in OFFLINE_PROVIDERS:
                raise ValueError("model (the provider's model id) is required")
            object.__setattr__(self, "model", provider)
        if provider in ("gemini", "openai") and not self.api_key_env:
            raise ValueError("api_key_env (name of the environment variable holding the key) is required")
        if provider == "openai_compatible" and not self.base_url:
            raise ValueError("openai_compatible entries need base_url")
        try:
            caps = family_capabilities(provider, self.model, self.capabilities)
        except ValidationError as exc:
            raise ValueError(f"capabilities: {validation_reason(exc, limit=5)}") from None
        self._caps = caps
        if self.media is None:
            object.__setattr__(self, "media", caps.default_media)
        for problem in capability_problems(self, caps):
            raise ValueError(problem)
        return self

    @property
    def caps(self) -> Capabilities:
        """What this entry's model takes (its family's capabilities with the entry's overrides)."""
        return self._caps

    @property
    def offline(self) -> bool:
        return self.provider in OFFLINE_PROVIDERS

    @property
    def baseline(self) -> bool:
        """Offline baselines are marked as such in every report (by provider, never by name)."""
        return self.offline

    @property
    def missing_key(self) -> bool:
        """True when the entry names a key variable that is not set in this environment."""
        return bool(self.api_key_env) and not (os.environ.get(self.api_key_env) or "").strip()

    @property
    def media_recipe(self) -> str:
        """The derived files this entry reads (both video forms read the same files)."""
        if self.offline or self.media == "none":
            return "none"
        if "frames" in self.media:
            return f"{self.media}@{self.frames}"
        return "video" if self.media == "video_and_audio" else self.media

    @property
    def delivery(self) -> str | None:
        """How the media travel, where that differs between entries with the same recipe: part of
        the cache key (None for the forms that predate it, so their keys are unchanged)."""
        if self.offline:
            return None
        if self.media == "video" and self.caps.interleaves_audio:
            return "video+use_audio_in_video"
        if self.media == "video_and_audio":
            return "video+separate_audio"
        if "frames" in self.media:
            return "frames+times"
        return None

    def output_identity(self) -> dict:
        """Everything about this entry that can change an answer: the model part of a cache key."""
        return {
            "provider": self.provider,
            "model": self.model,
            "generation": {
                k: v
                for k, v in self.generation.model_dump(mode="json").items()
                if v is not None or k not in KEYED_WHEN_SET
            },
            "seed": self.seed,
            "media_recipe": self.media_recipe,
            **({"delivery": self.delivery} if self.delivery else {}),
            **({"ablation": self.ablation} if self.ablation else {}),
            **({"repeat": self.repeat} if self.repeat else {}),
        }


def _media_advice(provider: str, caps: Capabilities) -> str:
    options = ", ".join(f"{m} ({MEDIA_CARRIES[m]})" for m in caps.media)
    extra = ""
    if provider == "openai":
        extra = (
            "; no OpenAI chat model takes images and audio in one request: frames for a vision model, "
            "audio for an audio model (gpt-audio family)"
        )
    return f"use one of: {options}{extra}"


def capability_problems(entry: ModelEntry, caps: Capabilities) -> list[str]:
    """Why this entry's requests would be refused by its model (empty when they would not)."""
    problems = []
    gen, family = entry.generation, f"{entry.model} ({caps.family})"
    if entry.media not in caps.media:
        problems.append(
            f"media {entry.media!r} ({MEDIA_CARRIES.get(entry.media, '?')}) cannot be sent to {family}: "
            + _media_advice(entry.provider, caps)
        )
    effort = gen.reasoning_effort
    if effort is not None and effort not in caps.reasoning_efforts:
        allowed = ", ".join(caps.reasoning_efforts) or "none: it is not a reasoning model"
        problems.append(f"generation.reasoning_effort {effort!r} is not taken by {family}; allowed: {allowed}")
    reasoning = bool(caps.reasoning_efforts) and (effort or caps.default_effort) != "none"
    for name in ("temperature", "top_p"):
        if getattr(gen, name) is None:
            continue
        if caps.sampling == "no" or (caps.sampling == "without_reasoning" and reasoning):
            hint = "set reasoning_effort: none, or " if caps.sampling == "without_reasoning" else ""
            problems.append(f"generation.{name} is refused by the reasoning model {family}: {hint}leave {name} unset")
    if gen.thinking_budget is not None and gen.thinking_level is not None:
        problems.append("set one of generation.thinking_budget and generation.thinking_level: Gemini refuses both")
    elif gen.thinking_budget is not None:
        if caps.thinking == "none":
            problems.append(f"generation.thinking_budget is not taken by {family}: it has no thinking control")
        elif caps.thinking == "level":
            pass  # Gemini 3 still takes a budget (legacy; thinking_level is the control it is tuned for)
        elif gen.thinking_budget == 0 and not caps.thinking_off:
            problems.append(f"generation.thinking_budget 0: thinking cannot be turned off on {family}")
        elif gen.thinking_budget > 0 and caps.thinking_budget_range:
            low, high = caps.thinking_budget_range
            if not low <= gen.thinking_budget <= high:
                problems.append(
                    f"generation.thinking_budget {gen.thinking_budget} is outside {low}..{high} for {family}"
                )
    if gen.thinking_level is not None:
        if caps.thinking != "level":
            alt = "use thinking_budget" if caps.thinking == "budget" else "it has no thinking control"
            problems.append(f"generation.thinking_level is not taken by {family}: {alt}")
        elif gen.thinking_level not in caps.thinking_levels:
            problems.append(
                f"generation.thinking_level {gen.thinking_level!r} is not taken by {family}; "
                f"allowed: {', '.join(caps.thinking_levels)}"
            )
    thinks = (caps.thinking == "level") or (caps.thinking == "budget" and gen.thinking_budget != 0) or reasoning
    if thinks and gen.max_output_tokens is not None:
        budget = gen.thinking_budget if (gen.thinking_budget or 0) > 0 else MIN_THINKING_HEADROOM
        if gen.max_output_tokens < budget + ANSWER_TOKENS:
            problems.append(
                f"generation.max_output_tokens {gen.max_output_tokens} leaves no room for the answer: {family} "
                f"thinks first and its thinking counts against max_output_tokens; allow at least "
                f"{budget + ANSWER_TOKENS}, or turn thinking down (thinking_budget / thinking_level / reasoning_effort)"
            )
    if caps.max_fps is not None:
        for name in ("video_fps", "video_fps_temporal"):
            if getattr(gen, name) > caps.max_fps:
                problems.append(
                    f"generation.{name} {getattr(gen, name)} is over {caps.max_fps} for {family}: (0, {caps.max_fps}]"
                )
    if gen.media_resolution is not None and gen.media_resolution not in caps.media_resolutions:
        problems.append(f"generation.media_resolution is not taken by {family}")
    return problems


def parse_entry(raw: object) -> ModelEntry:
    if not isinstance(raw, dict):
        raise RegistryError("entry is not a mapping")
    try:
        return ModelEntry.model_validate(raw)
    except ValidationError as exc:
        raise RegistryError(validation_reason(exc, limit=10)) from None


@dataclass(frozen=True)
class RegistryLoad:
    entries: list[ModelEntry]
    invalid: list[dict]  # {"index", "name", "reason"}


def _display_name(raw: object) -> str | None:
    name = raw.get("name") if isinstance(raw, dict) else None
    return str(name)[:100] if name is not None else None


def load_registry(path: Path) -> RegistryLoad:
    """Parse every entry; one bad entry is recorded and never blocks the others. Entries sharing a
    name are all invalid: which one was meant cannot be known."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        return RegistryLoad(
            [], [{"index": None, "name": None, "reason": f"models.yaml is not valid YAML{where}: {problem}"}]
        )
    except (OSError, UnicodeDecodeError) as exc:
        return RegistryLoad(
            [], [{"index": None, "name": None, "reason": f"models.yaml unreadable: {type(exc).__name__}"}]
        )
    if doc is None:
        items: list = []
    elif isinstance(doc, dict):
        items = doc.get("models") if doc.get("models") is not None else []
        if not isinstance(items, list):
            reason = "`models:` must be a list of entries"
            return RegistryLoad([], [{"index": None, "name": None, "reason": reason}])
    elif isinstance(doc, list):
        items = doc
    else:
        return RegistryLoad([], [{"index": None, "name": None, "reason": "models.yaml must hold a `models:` list"}])
    parsed: list[tuple[int, object, ModelEntry | None, str | None]] = []
    for index, raw in enumerate(items):
        try:
            parsed.append((index, raw, parse_entry(raw), None))
        except RegistryError as exc:
            parsed.append((index, raw, None, str(exc)))
    counts: dict[str, int] = {}
    for raw in items:
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str):
            counts[name] = counts.get(name, 0) + 1
    entries, invalid = [], []
    for index, raw, entry, reason in parsed:
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and counts[name] > 1:
            duplicate = f"duplicate name: {counts[name]} entries are named {name!r}"
            reason = duplicate if reason is None else f"{duplicate}; {reason}"
            entry = None
        if entry is None:
            invalid.append({"index": index, "name": _display_name(raw), "reason": reason})
        else:
            entries.append(entry)
    entries, invalid = _with_copies(entries, invalid)
    judges = {e.name: e for e in entries if not e.offline and not e.judge}
    for entry in [e for e in entries if e.judge]:
        judge = judges.get(entry.judge)
        if judge is None or judge.name == entry.name:
            entries.remove(entry)
            reason = (
                f"judge {entry.judge!r} is not another valid API entry (without a judge of its own) of this registry"
            )
            invalid.append({"index": None, "name": entry.name, "reason": reason})
    return RegistryLoad(entries, invalid)


def ablated_entries(entry: ModelEntry) -> list[tuple[str, ModelEntry | None, str | None]]:
    """(name, ablated copy or None, reason) for each ablation the entry lists."""
    out = []
    for kind in entry.ablations:
        name = f"{entry.name}.{kind}"
        media = ABLATED_MEDIA[kind].get(entry.media)
        if media is None:
            out.append((name, None, f"ablation {kind}: media {entry.media!r} sends nothing it could remove"))
            continue
        raw = entry.model_dump(exclude={"ablations", "judge"}) | {
            "name": name,
            "media": media,
            "ablation_of": entry.name,
            "ablation": kind,
        }
        try:
            out.append((name, parse_entry(raw), None))
        except RegistryError as exc:
            out.append((name, None, f"ablation {kind}: {exc}"))
    return out


def repeated_entries(entry: ModelEntry) -> list[tuple[str, ModelEntry | None, str | None]]:
    """(name, copy or None, reason) for repeats 1..repeats-1 of the entry."""
    out = []
    for k in range(1, entry.repeats):
        name = f"{entry.name}.r{k}"
        raw = entry.model_dump(exclude={"repeats", "ablations", "judge"}) | {
            "name": name,
            "repeat_of": entry.name,
            "repeat": k,
            "seed": entry.seed + k,  # the random baseline draws anew; API entries differ by their sampling
        }
        try:
            out.append((name, parse_entry(raw), None))
        except RegistryError as exc:
            out.append((name, None, f"repeat {k}: {exc}"))
    return out


def _with_copies(entries: list[ModelEntry], invalid: list[dict]) -> tuple[list[ModelEntry], list[dict]]:
    """The entries plus an ablated copy per listed ablation and a copy per repeat; a copy whose name
    is taken or whose media its model cannot take is invalid with the reason."""
    names = {e.name for e in entries} | {bad["name"] for bad in invalid}
    out = list(entries)
    for entry in entries:
        for name, copy, reason in [*ablated_entries(entry), *repeated_entries(entry)]:
            if copy is not None and name in names:
                copy, reason = None, f"ablation name {name!r} is taken by another entry"
            if copy is None:
                invalid = [*invalid, {"index": None, "name": name, "reason": reason}]
            else:
                out.append(copy)
                names.add(name)
    return out, invalid


REGISTRY_COLUMNS = [
    "name",
    "provider",
    "model",
    "media",
    "media_recipe",
    "prompt_version",
    "api_key_env",
    "concurrency",
    "baseline",
    "ablation_of",  # the entry an ablated copy ablates (NULL for every other entry)
    "ablation",
    "repeat_of",  # the entry a repeat copy repeats (NULL for every other entry)
    "repeat",
    "status",  # MODEL_STATUSES
    "valid",
    "reason",
    "entry",  # the validated entry as JSON: what the downstream assets use (key names only, no keys)
]
MODEL_STATUSES = ("active", "invalid", "retired")


def public_entry(entry: ModelEntry) -> dict:
    """The resolved entry as plain data, safe to write anywhere: an entry holds key *names* only
    (a base_url carrying credentials is refused at registration)."""
    return entry.model_dump(mode="json")


def registry_frame(load, predictions_dir: Path | None = None) -> pd.DataFrame:
    """Active and invalid entries side by side, plus `retired` models: predictions on disk, no entry.
    Key *names* only, never key values."""
    rows = [
        {
            "name": e.name,
            "provider": e.provider,
            "model": e.model,
            "media": e.media,
            "media_recipe": e.media_recipe,
            "prompt_version": e.prompt_version,
            "api_key_env": e.api_key_env,
            "concurrency": e.concurrency,
            "baseline": e.baseline,
            "ablation_of": e.ablation_of,
            "ablation": e.ablation,
            "repeat_of": e.repeat_of,
            "repeat": e.repeat,
            "status": "active",
            "valid": True,
            "reason": None,
            "entry": e.model_dump_json(),
        }
        for e in load.entries
    ]
    rows += [
        {"name": bad["name"], "status": "invalid", "valid": False, "reason": bad["reason"]} for bad in load.invalid
    ]
    named = {row["name"] for row in rows}
    if predictions_dir is not None and predictions_dir.is_dir():
        rows += [
            {"name": folder.name, "status": "retired", "valid": False, "reason": "not in models.yaml"}
            for folder in sorted(predictions_dir.iterdir())
            if folder.is_dir() and folder.name not in named
        ]
    return pd.DataFrame(rows, columns=REGISTRY_COLUMNS).astype({"baseline": "boolean"})


def registered_models(layout) -> RegistryLoad:
    """The registry as the `model_registry` asset last validated it (derived/model_registry.parquet):
    the edge every downstream stage reads, so a run uses the entries its upstream materialization
    checked, not a file edited since."""
    if not layout.derived("model_registry").exists():
        return RegistryLoad([], [])
    frame = layout.read("model_registry")
    active = frame[frame["status"] == "active"]
    invalid = frame[frame["status"] == "invalid"]
    return RegistryLoad(
        [ModelEntry.model_validate_json(text) for text in active["entry"]],
        [{"index": None, "name": row.name, "reason": row.reason} for row in invalid.itertuples()],
    )
