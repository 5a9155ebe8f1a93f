"""The evaluator interface shared by offline baselines and API-backed omni models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from mtavg_assets.registry import ModelEntry
from mtavg_assets.task.status import Status


@dataclass(frozen=True)
class EvalRequest:
    instance: dict  # one row of validated_qa
    prompt: str
    media: list[dict] = field(default_factory=list)  # per clip: derived media files for the entry's recipe


@dataclass(frozen=True)
class Usage:
    """Tokens as the provider billed one attempt. `output_tokens` is every billed output token,
    thinking included (Gemini reports thoughts apart from candidates; OpenAI counts reasoning
    inside completion tokens). The modality counts are parts of `input_tokens`."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    thinking_tokens: int | None = None
    input_audio_tokens: int | None = None
    input_image_tokens: int | None = None  # images and video frames
    cached_input_tokens: int | None = None

    @property
    def known(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None

    def __add__(self, other: Usage) -> Usage:
        def plus(a, b):
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(*(plus(getattr(self, f), getattr(other, f)) for f in USAGE_FIELDS))


USAGE_FIELDS = tuple(Usage.__dataclass_fields__)


@dataclass(frozen=True)
class EvalReply:
    raw_response: str | None
    usage: Usage = field(default_factory=Usage)
    refused: bool = False
    received: dict = field(default_factory=dict)  # what the model actually got: modalities, frames, fps, audio
    served_model: str | None = None  # the model id the provider says answered
    response_id: str | None = None
    system_fingerprint: str | None = None

    @property
    def input_tokens(self) -> int | None:
        return self.usage.input_tokens

    @property
    def output_tokens(self) -> int | None:
        return self.usage.output_tokens


class EvaluatorError(Exception):
    """A call that produced no answer. `status` is what the prediction row records; `usage` is what
    the provider billed for it anyway (a reply with a body but no answer); `kind` groups errors of
    one cause (an HTTP status, a configuration error) so a run can see that every call fails alike."""

    status = Status.ERROR.value

    def __init__(
        self,
        message: str,
        retryable: bool = True,
        retry_after: float | None = None,
        usage: Usage | None = None,
        kind: str | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.usage = usage
        self.kind = kind


class StopRun(EvaluatorError):
    """Nothing more can be answered in this run (a daily quota, no credit, a missing model): the
    partition stops at once, and the cells not asked yet stay unasked (no rows)."""


EMPTY_RESPONSE = "empty response"


def empty_response(detail: str, usage: Usage | None = None) -> EvaluatorError:
    """A reply with no text is a provider fault: retried, and an `error` if it stays empty."""
    return EvaluatorError(f"{EMPTY_RESPONSE} ({detail})", retryable=True, usage=usage)


def configuration_error(detail: str, usage: Usage | None = None) -> EvaluatorError:
    """A reply the entry's own settings made empty (the token limit spent on thinking): final, never
    retried, since every retry would bill the same."""
    return EvaluatorError(detail, retryable=False, usage=usage, kind="configuration")


class RateLimited(EvaluatorError):
    """A per-minute quota: the wait is not a failed attempt."""

    status = Status.RATE_LIMITED.value


class CallTimeout(EvaluatorError):
    status = Status.TIMEOUT.value


class MissingCredentials(EvaluatorError):
    """Raised before any work: the partition cannot run at all."""


class Evaluator(Protocol):
    entry: ModelEntry

    async def answer(self, request: EvalRequest) -> EvalReply: ...
