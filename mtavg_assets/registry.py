"""The models registry (`models.yaml`): each entry validated on its own, bad ones kept with a reason."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

NAME_PATTERN = re.compile(r"^[a-z0-9._-]+$")
OFFLINE_PROVIDERS = ("random", "prior")
API_PROVIDERS = ("gemini", "openai", "openai_compatible")
MEDIA_MODES = ("none", "video", "frames_audio", "frames")
KNOWN_KEYS = {
    "name",
    "provider",
    "model",
    "base_url",
    "api_key_env",
    "media",
    "concurrency",
    "max_retries",
    "timeout_s",
    "price",
    "prompt_version",
    "generation",
    "seed",
    "rate_limit_rpm",
    "budget_usd",
    "frames",
    "circular",
    "retry_initial_s",
}


class RegistryError(ValueError):
    """A registry entry that cannot be used, with the reason."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    provider: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    media: str = "none"
    concurrency: int = 4
    max_retries: int = 3
    timeout_s: float = 120.0
    rate_limit_rpm: float | None = None
    price: dict = field(default_factory=dict)  # {"input_per_mtok": float, "output_per_mtok": float}
    prompt_version: str = "v1"
    generation: dict = field(default_factory=dict)  # temperature, max_output_tokens, ...
    seed: int = 0
    budget_usd: float | None = None
    frames: int = 8
    circular: bool = False
    retry_initial_s: float = 1.0  # first backoff; doubles per retry, with jitter

    @property
    def offline(self) -> bool:
        return self.provider in OFFLINE_PROVIDERS

    @property
    def missing_key(self) -> bool:
        """True when the entry names a key variable that is not set in this environment."""
        return bool(self.api_key_env) and not os.environ.get(self.api_key_env)

    @property
    def media_recipe(self) -> str:
        return "none" if self.offline else (f"{self.media}@{self.frames}" if "frames" in self.media else self.media)


@dataclass(frozen=True)
class RegistryLoad:
    entries: list[ModelEntry]
    invalid: list[dict]  # {"index", "name", "reason"}


def parse_entry(raw: object) -> ModelEntry:
    if not isinstance(raw, dict):
        raise RegistryError("entry is not a mapping")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise RegistryError(f"unknown key(s): {', '.join(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RegistryError(f"name {name!r} must match [a-z0-9._-]+")
    provider = raw.get("provider")
    if provider not in OFFLINE_PROVIDERS + API_PROVIDERS:
        raise RegistryError(f"unknown provider {provider!r}")
    model = raw.get("model") or (provider if provider in OFFLINE_PROVIDERS else None)
    if not isinstance(model, str):
        raise RegistryError("model (the provider's model id) is required")
    if provider in API_PROVIDERS and not raw.get("api_key_env") and provider != "openai_compatible":
        raise RegistryError("api_key_env (name of the environment variable holding the key) is required")
    if provider == "openai_compatible" and not raw.get("base_url"):
        raise RegistryError("openai_compatible entries need base_url")
    media = raw.get("media", "none" if provider in OFFLINE_PROVIDERS else "video")
    if media not in MEDIA_MODES:
        raise RegistryError(f"media {media!r} must be one of {MEDIA_MODES}")
    try:
        entry = ModelEntry(
            name=name,
            provider=provider,
            model=model,
            base_url=raw.get("base_url"),
            api_key_env=raw.get("api_key_env"),
            media=media,
            concurrency=int(raw.get("concurrency", 4)),
            max_retries=int(raw.get("max_retries", 3)),
            timeout_s=float(raw.get("timeout_s", 120.0)),
            rate_limit_rpm=float(raw["rate_limit_rpm"]) if raw.get("rate_limit_rpm") else None,
            price=dict(raw.get("price") or {}),
            prompt_version=str(raw.get("prompt_version", "v1")),
            generation=dict(raw.get("generation") or {}),
            seed=int(raw.get("seed", 0)),
            budget_usd=float(raw["budget_usd"]) if raw.get("budget_usd") is not None else None,
            frames=int(raw.get("frames", 8)),
            circular=bool(raw.get("circular", False)),
            retry_initial_s=float(raw.get("retry_initial_s", 1.0)),
        )
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"bad value: {exc}") from exc
    if entry.concurrency < 1 or entry.max_retries < 0 or entry.timeout_s <= 0 or entry.frames < 1:
        raise RegistryError("concurrency >= 1, max_retries >= 0, timeout_s > 0 and frames >= 1 are required")
    return entry


def load_registry(path: Path) -> RegistryLoad:
    """Parse every entry; one bad entry is recorded and never blocks the others."""
    try:
        doc = yaml.safe_load(Path(path).read_text()) if Path(path).exists() else []
    except yaml.YAMLError as exc:
        return RegistryLoad([], [{"index": None, "name": None, "reason": f"models registry is not valid YAML: {exc}"}])
    items = doc.get("models", []) if isinstance(doc, dict) else (doc or [])
    entries, invalid, names = [], [], set()
    for index, raw in enumerate(items):
        name = raw.get("name") if isinstance(raw, dict) else None
        try:
            entry = parse_entry(raw)
            if entry.name in names:
                raise RegistryError("duplicate name")
            names.add(entry.name)
            entries.append(entry)
        except RegistryError as exc:
            invalid.append({"index": index, "name": name, "reason": str(exc)})
    return RegistryLoad(entries, invalid)
