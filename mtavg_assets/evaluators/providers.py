"""One table of the API providers: which class speaks to each and where it is by default. Each
class decides, from the provider's own exception types and error bodies, whether a failure is
retried, how long to wait and which quota it hit (`ProviderAPI.error_of`): the runner only reads
the resulting EvaluatorError."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from mtavg_assets.evaluators.api import api_key_for
from mtavg_assets.registry import ModelEntry


@dataclass(frozen=True)
class ProviderAPI:
    name: str
    module: str  # imported only when an entry of this provider runs (each pulls its own SDK)
    cls: str
    base_url: str | None  # the provider's endpoint when the entry names none

    def build(self, entry: ModelEntry, state_dir: Path | None = None):
        """The evaluator for one entry; `state_dir` keeps provider-side state between runs."""
        evaluator_cls = getattr(importlib.import_module(self.module), self.cls)
        return evaluator_cls(entry, api_key_for(entry), state_dir=state_dir)


PROVIDERS: dict[str, ProviderAPI] = {
    api.name: api
    for api in (
        ProviderAPI(
            "gemini", "mtavg_assets.evaluators.gemini", "GeminiEvaluator", "https://generativelanguage.googleapis.com/"
        ),
        ProviderAPI(
            "openai", "mtavg_assets.evaluators.openai_chat", "OpenAIChatEvaluator", "https://api.openai.com/v1"
        ),
        ProviderAPI("openai_compatible", "mtavg_assets.evaluators.openai_chat", "OpenAIChatEvaluator", None),
    )
}


def build_api_evaluator(entry: ModelEntry, state_dir: Path | None = None):
    api = PROVIDERS.get(entry.provider)
    if api is None:
        raise ValueError(f"no API evaluator for provider {entry.provider!r}; known: {', '.join(PROVIDERS)}")
    return api.build(entry, state_dir)
