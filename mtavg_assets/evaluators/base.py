"""The evaluator interface shared by offline baselines and API-backed omni models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from mtavg_assets.registry import ModelEntry


@dataclass(frozen=True)
class EvalRequest:
    instance: dict  # one row of validated_qa
    prompt: str
    media: list[dict] = field(default_factory=list)  # per clip: derived media files for the entry's recipe


@dataclass(frozen=True)
class EvalReply:
    raw_response: str | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    refused: bool = False
    received: dict = field(default_factory=dict)  # what the model actually got: modalities, frames, fps, audio


class EvaluatorError(Exception):
    """A call that produced no answer. `status` is what the prediction row records."""

    status = "error"

    def __init__(self, message: str, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


EMPTY_RESPONSE = "empty response"


def empty_response(detail: str) -> EvaluatorError:
    """A reply with no text is a provider fault: retried, and an `error` if it stays empty."""
    return EvaluatorError(f"{EMPTY_RESPONSE} ({detail})", retryable=True)


class RateLimited(EvaluatorError):
    status = "rate_limited"


class CallTimeout(EvaluatorError):
    status = "timeout"


class MissingCredentials(EvaluatorError):
    """Raised before any work: the partition cannot run at all."""


class Evaluator(Protocol):
    entry: ModelEntry

    async def answer(self, request: EvalRequest) -> EvalReply: ...
