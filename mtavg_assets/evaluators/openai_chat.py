"""OpenAI chat completions, for OpenAI models and OpenAI-compatible servers (vLLM, SGLang).

Media modes (what a family takes is in evaluators/capabilities.py):
- `frames`: sampled frames as images, each preceded by its time in the clip ("Frame 2 at 3.5 s");
- `audio`: the clip's audio track as `input_audio` plus the text (OpenAI audio models);
- `frames_audio`: frames and the audio track (compatible servers; no OpenAI model takes both);
- `video` (compatible servers): the clip as `video_url`; for omni models whose processor takes it,
  `mm_processor_kwargs: {"use_audio_in_video": true}` makes the server interleave the clip's own
  audio track with its frames by time, and no separate audio is sent;
- `video_and_audio` (compatible servers): `video_url` plus the audio track as a second stream;
- `video_silent` (the audio-off control): `video_url` of the clip without its audio stream;
- `none` (the text-only control): the question alone.

Answers are asked for with a JSON schema (`response_format: json_schema`, per question type) while
`generation.structured_output` is on and the family takes it; a server that rejects the schema
(HTTP 400 naming response_format or the schema) is asked again without it, and so is every later
cell of the run. The token limit goes as `max_completion_tokens` (OpenAI and vLLM take it; reasoning
models refuse `max_tokens`).
"""

from __future__ import annotations

import openai
from openai.types.chat import ChatCompletion

from mtavg_assets.evaluators.api import (
    b64,
    data_url,
    http_error,
    secret_forms,
    token_count,
    transport_error,
)
from mtavg_assets.evaluators.base import (
    EvalReply,
    EvalRequest,
    EvaluatorError,
    StopRun,
    Usage,
    configuration_error,
    empty_response,
)
from mtavg_assets.evaluators.http import BoundedTransport, bounded_cause
from mtavg_assets.evaluators.providers import PROVIDERS
from mtavg_assets.registry import ModelEntry
from mtavg_assets.task.schema import answer_schema


def response_format(instance: dict) -> dict:
    """The task's answer schema as OpenAI strict structured output (no other keys allowed)."""
    schema = {**answer_schema(instance), "additionalProperties": False}
    return {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": schema}}


def _schema_rejected(exc: openai.APIStatusError) -> bool:
    text = str(exc.message).lower()
    return exc.status_code == 400 and any(w in text for w in ("response_format", "json_schema", "schema"))


def _error_body(exc: openai.APIStatusError) -> dict:
    body = exc.body if isinstance(exc.body, dict) else {}
    return body.get("error") if isinstance(body.get("error"), dict) else body


def _usage(usage) -> Usage:
    """OpenAI's usage: reasoning tokens are inside completion_tokens (completion_tokens_details),
    audio and cached input inside prompt_tokens (prompt_tokens_details)."""
    if usage is None:
        return Usage()
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=token_count(getattr(usage, "prompt_tokens", None)),
        output_tokens=token_count(getattr(usage, "completion_tokens", None)),
        thinking_tokens=token_count(getattr(completion_details, "reasoning_tokens", None)),
        input_audio_tokens=token_count(getattr(prompt_details, "audio_tokens", None)),
        cached_input_tokens=token_count(getattr(prompt_details, "cached_tokens", None)),
    )


class OpenAIChatEvaluator:
    def __init__(self, entry: ModelEntry, api_key: str | None, state_dir=None):
        self.entry = entry
        self.secrets = secret_forms(api_key)  # the runner redacts every stored text with these
        self._structured = entry.generation.structured_output and entry.caps.structured_output
        base_url = entry.base_url or PROVIDERS[entry.provider].base_url
        transport = BoundedTransport(base_url, entry.transport.max_reply_bytes)
        self.client = openai.AsyncOpenAI(
            api_key=api_key or "none",
            base_url=base_url,
            max_retries=0,
            timeout=entry.timeout_s,
            http_client=openai.DefaultAsyncHttpxClient(transport=transport, timeout=entry.timeout_s),
        )

    def error_of(self, exc: BaseException) -> EvaluatorError:
        """The EvaluatorError for anything the SDK raised (status, retry-after / retry-after-ms
        headers, the quota named in the body)."""
        if isinstance(exc, EvaluatorError):
            return exc
        if isinstance(exc, openai.APIStatusError):
            headers = exc.response.headers  # retry-after-ms / Retry-After: read by http_error
            return http_error(exc.status_code, exc.message, headers, self.secrets, quota=self.quota_kind(exc))
        if isinstance(exc, openai.APIConnectionError) or bounded_cause(exc) is not None:
            return transport_error(exc, self.secrets)
        # malformed bodies (JSON errors) and protocol failures
        return EvaluatorError(f"malformed response: {type(exc).__name__}: {exc}"[:1000], retryable=True)

    @staticmethod
    def quota_kind(exc: openai.APIStatusError) -> str:
        """ "billing" for `insufficient_quota` (no credit left: waiting does not help), "day" for a
        requests-per-day limit, else "minute" (platform.openai.com/docs/guides/error-codes)."""
        if exc.status_code != 429:
            return "minute"
        error = _error_body(exc)
        if "insufficient_quota" in (str(error.get("code")), str(error.get("type"))):
            return "billing"
        message = str(error.get("message") or exc.message).lower()
        return "day" if "per day" in message or "(rpd)" in message else "minute"

    async def preflight(self) -> None:
        """The model is served here: OpenAI `GET /v1/models/{id}`; a compatible server lists the
        models it serves (vLLM has no per-model route). A missing model stops the partition."""
        model = self.entry.model
        try:
            if self.entry.provider == "openai":
                await self.client.models.retrieve(model)
                return
            served = [m.id async for m in self.client.models.list()]
        except openai.NotFoundError as exc:
            raise StopRun(f"model {model!r} is not available: {self.error_of(exc)}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise StopRun(f"model {model!r} cannot be called with this key: {self.error_of(exc)}") from None
        except openai.APIError as exc:
            raise self.error_of(exc) from None
        if served and model not in served:
            raise StopRun(f"model {model!r} is not served at {self.entry.base_url}; it serves {', '.join(served[:10])}")

    def _content(self, request: EvalRequest) -> tuple[list[dict], dict, dict]:
        content: list[dict] = []
        frames, audio, fps, resolution = 0, False, None, None
        media_mode, caps = self.entry.media, self.entry.caps
        interleaved = media_mode == "video" and caps.interleaves_audio
        detail = self.entry.generation.image_detail
        for index, media in enumerate(request.media):
            if len(request.media) > 1:
                content.append({"type": "text", "text": f"Clip {index + 1}:"})
            resolution = media.get("resolution")
            if media_mode in ("video", "video_silent", "video_and_audio"):
                content.append({"type": "video_url", "video_url": {"url": data_url(media["video"], "video/mp4")}})
            elif "frames" in media_mode:
                fps = media.get("fps")
                times = list(media.get("frame_times") or [])
                for k, frame in enumerate(media.get("frames", [])):
                    if k < len(times) and times[k] is not None:
                        content.append({"type": "text", "text": f"Frame {k + 1} at {float(times[k]):.1f} s:"})
                    content.append(
                        {"type": "image_url", "image_url": {"url": data_url(frame, "image/jpeg"), "detail": detail}}
                    )
                    frames += 1
            separate_audio = media_mode in ("frames_audio", "audio", "video_and_audio") or (
                media_mode == "video" and not interleaved
            )
            if separate_audio and media.get("audio"):
                content.append({"type": "input_audio", "input_audio": {"data": b64(media["audio"]), "format": "wav"}})
                audio = True
            elif interleaved and media.get("has_audio"):
                audio = True
        content.append({"type": "text", "text": request.prompt})
        if media_mode in ("video", "video_silent", "video_and_audio") and request.media:
            visual = "video"
        else:
            visual = "frames" if frames else "text"
        modalities = visual + ("+audio(interleaved)" if interleaved and audio else "+audio" if audio else "")
        if media_mode == "audio" and audio:
            modalities = "audio"
        received = {
            "modalities": modalities,
            "frames": frames or None,
            "fps": fps,
            "resolution": resolution,
            "audio": audio,
        }
        extra = {"mm_processor_kwargs": {"use_audio_in_video": True}} if interleaved and request.media else {}
        return content, received, extra

    def _params(self) -> dict:
        gen = self.entry.generation
        params = {
            k: v
            for k, v in (("temperature", gen.temperature), ("top_p", gen.top_p), ("seed", gen.seed))
            if v is not None
        }
        if gen.max_output_tokens is not None:
            params["max_completion_tokens"] = gen.max_output_tokens
        if gen.reasoning_effort is not None:
            params["reasoning_effort"] = gen.reasoning_effort
        return params

    async def answer(self, request: EvalRequest) -> EvalReply:
        content, received, extra = self._content(request)
        params = self._params()
        if extra:
            params["extra_body"] = extra
        messages = [{"role": "user", "content": content}]
        try:
            structured = self._structured
            try:
                response = await self.client.chat.completions.create(
                    model=self.entry.model,
                    messages=messages,
                    **params,
                    **({"response_format": response_format(request.instance)} if structured else {}),
                )
            except openai.APIStatusError as exc:
                if not (structured and _schema_rejected(exc)):
                    raise
                self._structured = False  # this server takes no response schema: parse free text instead
                response = await self.client.chat.completions.create(
                    model=self.entry.model, messages=messages, **params
                )
        except Exception as exc:
            raise self.error_of(exc) from None
        if not isinstance(response, ChatCompletion):  # the SDK hands back the text of a non-JSON body
            snippet = " ".join(str(response).split())[:200]
            raise EvaluatorError(f"HTTP 200 with a body that is not a chat completion (HTML?): {snippet!r}")
        usage = _usage(response.usage)
        if not response.choices:
            raise empty_response("no choices", usage)
        choice = response.choices[0]
        message = choice.message
        refused = choice.finish_reason == "content_filter" or bool(getattr(message, "refusal", None))
        text = message.content if message.content is not None else getattr(message, "refusal", None)
        if not refused and not (text or "").strip():
            thought = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
            if choice.finish_reason == "length" and (thought or (usage.thinking_tokens or 0) > 0):
                raise configuration_error(
                    f"finish_reason length with no answer: the model spent max_output_tokens "
                    f"{self.entry.generation.max_output_tokens} on reasoning; raise max_output_tokens or lower "
                    "reasoning_effort",
                    usage,
                )
            raise empty_response(f"no text, finish_reason={choice.finish_reason}", usage)
        return EvalReply(
            raw_response=text,  # the answer only: a server's reasoning_content is never part of it
            usage=usage,
            refused=refused,
            received=received,
            served_model=response.model,
            response_id=response.id,
            system_fingerprint=response.system_fingerprint,
        )

    async def aclose(self) -> None:
        await self.client.close()
