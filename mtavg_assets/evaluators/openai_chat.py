"""OpenAI chat completions, for OpenAI models and OpenAI-compatible servers (vLLM, SGLang).

Media modes: `frames_audio` sends sampled frames as images plus the clip's audio as `input_audio`;
`frames` sends frames only (rows record audio=false); `video` (compatible servers) sends the clip
as `video_url` plus its audio track as `input_audio`.

Answers are asked for with a JSON schema (`response_format: json_schema`, per question type) while
`generation.structured_output` is on; a server that rejects the schema (HTTP 400 naming
response_format or the schema) is asked again without it, and so is every later cell of the run.
"""

from __future__ import annotations

import openai
from openai.types.chat import ChatCompletion

from mtavg_assets.evaluators.api import (
    b64,
    data_url,
    http_error,
    option_letters,
    secret_forms,
    token_count,
    transport_error,
)
from mtavg_assets.evaluators.base import EvalReply, EvalRequest, EvaluatorError, empty_response
from mtavg_assets.evaluators.http import BoundedTransport
from mtavg_assets.registry import ModelEntry

OPENAI_BASE_URL = "https://api.openai.com/v1"


def response_format(instance: dict) -> dict:
    """The JSON schema of an answer to this instance (the same shapes as the prompt asks for)."""
    if instance["question_type"] == "temporal":
        properties = {"start": {"type": "number"}, "end": {"type": "number"}}
    else:
        properties = {"answer": {"type": "string", "enum": option_letters(instance)}}
    schema = {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
    return {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": schema}}


def _schema_rejected(exc: openai.APIStatusError) -> bool:
    text = str(exc.message).lower()
    return exc.status_code == 400 and any(w in text for w in ("response_format", "json_schema", "schema"))


class OpenAIChatEvaluator:
    def __init__(self, entry: ModelEntry, api_key: str | None):
        self.entry = entry
        self.secrets = secret_forms(api_key)  # the runner redacts every stored text with these
        self._structured = entry.generation.structured_output
        base_url = entry.base_url or OPENAI_BASE_URL
        transport = BoundedTransport(base_url, entry.transport.max_reply_bytes)
        self.client = openai.AsyncOpenAI(
            api_key=api_key or "none",
            base_url=base_url,
            max_retries=0,
            timeout=entry.timeout_s,
            http_client=openai.DefaultAsyncHttpxClient(transport=transport, timeout=entry.timeout_s),
        )

    def _content(self, request: EvalRequest) -> tuple[list[dict], dict]:
        content: list[dict] = []
        frames, audio, fps, resolution = 0, False, None, None
        detail = self.entry.generation.image_detail
        for index, media in enumerate(request.media):
            if len(request.media) > 1:
                content.append({"type": "text", "text": f"Clip {index + 1}:"})
            resolution = media.get("resolution")
            if self.entry.media == "video":
                content.append({"type": "video_url", "video_url": {"url": data_url(media["video"], "video/mp4")}})
            else:
                fps = media.get("fps")
                for frame in media.get("frames", []):
                    content.append(
                        {"type": "image_url", "image_url": {"url": data_url(frame, "image/jpeg"), "detail": detail}}
                    )
                    frames += 1
            if self.entry.media in ("frames_audio", "video") and media.get("audio"):
                content.append({"type": "input_audio", "input_audio": {"data": b64(media["audio"]), "format": "wav"}})
                audio = True
        content.append({"type": "text", "text": request.prompt})
        visual = "video" if self.entry.media == "video" and request.media else ("frames" if frames else "text")
        received = {
            "modalities": visual + ("+audio" if audio else ""),
            "frames": frames or None,
            "fps": fps,
            "resolution": resolution,
            "audio": audio,
        }
        return content, received

    async def answer(self, request: EvalRequest) -> EvalReply:
        content, received = self._content(request)
        gen = self.entry.generation
        params = {
            k: v
            for k, v in (("temperature", gen.temperature), ("top_p", gen.top_p), ("seed", gen.seed))
            if v is not None
        }
        if gen.max_output_tokens is not None:
            # max_tokens is deprecated and refused by reasoning models; OpenAI and vLLM take this one
            params["max_completion_tokens"] = gen.max_output_tokens
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
        except openai.APIStatusError as exc:
            raise http_error(exc.status_code, exc.message, exc.response.headers, self.secrets) from None
        except openai.APIConnectionError as exc:
            raise transport_error(exc, self.secrets) from None
        except (openai.APIError, ValueError) as exc:  # malformed bodies (JSON errors) and protocol failures
            raise EvaluatorError(f"malformed response: {type(exc).__name__}: {exc}"[:1000], retryable=True) from None
        if not isinstance(response, ChatCompletion):  # the SDK hands back the text of a non-JSON body
            snippet = " ".join(str(response).split())[:200]
            raise EvaluatorError(f"HTTP 200 with a body that is not a chat completion (HTML?): {snippet!r}")
        if not response.choices:
            raise empty_response("no choices")
        choice = response.choices[0]
        message = choice.message
        refused = choice.finish_reason == "content_filter" or bool(getattr(message, "refusal", None))
        text = message.content if message.content is not None else getattr(message, "refusal", None)
        if not refused and not (text or "").strip():
            raise empty_response(f"no text, finish_reason={choice.finish_reason}")
        usage = response.usage
        return EvalReply(
            raw_response=text,
            input_tokens=token_count(getattr(usage, "prompt_tokens", None)),
            output_tokens=token_count(getattr(usage, "completion_tokens", None)),
            refused=refused,
            received=received,
        )

    async def aclose(self) -> None:
        await self.client.close()
