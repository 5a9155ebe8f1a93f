"""Gemini (google-genai): the clip as video with its audio track.

Small clips go inline; larger ones through the Files API, uploaded once per content hash, awaited
until ACTIVE and reused across runs while the upload is valid (a small JSON index beside the media).
Answers use structured output (a JSON schema per question type), falling back to free text when a
model rejects the schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from google import genai
from google.genai import errors, types

from mtavg_assets.atomic import write_text_atomic
from mtavg_assets.evaluators.api import (
    http_error,
    option_letters,
    redact,
    rpc_retry_delay,
    secret_forms,
    token_count,
    transport_error,
)
from mtavg_assets.evaluators.base import EvalReply, EvalRequest, EvaluatorError, empty_response
from mtavg_assets.evaluators.http import BoundedTransport, bounded_cause
from mtavg_assets.registry import ModelEntry

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/"
REFUSAL_REASONS = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"}


def answer_schema(instance: dict) -> types.Schema:
    if instance["question_type"] == "temporal":
        return types.Schema(
            type=types.Type.OBJECT,
            required=["start", "end"],
            properties={"start": types.Schema(type=types.Type.NUMBER), "end": types.Schema(type=types.Type.NUMBER)},
        )
    return types.Schema(
        type=types.Type.OBJECT,
        required=["answer"],
        properties={"answer": types.Schema(type=types.Type.STRING, enum=option_letters(instance))},
    )


class UploadIndex:
    """content sha256 -> uploaded file (name, uri, expiry), persisted so later runs reuse uploads."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}

    def get(self, sha: str) -> dict | None:
        entry = self.entries.get(sha)
        if entry and datetime.fromisoformat(entry["expires_at"]) > datetime.now(UTC) + timedelta(minutes=30):
            return entry
        return None

    def put(self, sha: str, name: str, uri: str, mime: str, expires_at: datetime) -> None:
        self.entries[sha] = {"name": name, "uri": uri, "mime_type": mime, "expires_at": expires_at.isoformat()}
        self._save()

    def drop(self, sha: str) -> None:
        self.entries.pop(sha, None)
        self._save()

    def _save(self) -> None:
        write_text_atomic(self.path, json.dumps(self.entries, indent=1))


class GeminiEvaluator:
    def __init__(self, entry: ModelEntry, api_key: str | None, upload_index: Path | None = None):
        self.entry = entry
        self.secrets = secret_forms(api_key)  # the runner redacts every stored text with these
        transport = BoundedTransport(entry.base_url or GEMINI_BASE_URL, entry.transport.max_reply_bytes)
        options = types.HttpOptions(
            timeout=int(entry.timeout_s * 1000),
            base_url=entry.base_url,
            api_version=entry.transport.api_version,
            async_client_args={"transport": transport},
        )
        self.client = genai.Client(api_key=api_key, http_options=options)
        self.inline_max_bytes = entry.transport.inline_max_bytes
        self.upload_timeout_s = entry.transport.upload_timeout_s
        self.poll_s = entry.transport.upload_poll_s
        self.uploads = UploadIndex(upload_index) if upload_index else None
        self._upload_locks: dict[str, asyncio.Lock] = {}
        self._structured = entry.generation.structured_output

    async def _uploaded_uri(self, media: dict) -> tuple[str, str]:
        sha = media["sha256"]
        lock = self._upload_locks.setdefault(sha, asyncio.Lock())
        async with lock:
            known = self.uploads.get(sha) if self.uploads else None
            if known:
                return known["uri"], known["mime_type"]
            file = await self.client.aio.files.upload(
                file=media["video"], config=types.UploadFileConfig(mime_type="video/mp4")
            )
            deadline = time.monotonic() + self.upload_timeout_s
            while file.state == types.FileState.PROCESSING:
                if time.monotonic() > deadline:
                    raise EvaluatorError(f"upload {file.name} not ACTIVE after {self.upload_timeout_s}s")
                await asyncio.sleep(self.poll_s)  # the Files API has no push notification
                file = await self.client.aio.files.get(name=file.name)
            if file.state == types.FileState.FAILED:
                raise EvaluatorError(f"upload {file.name} FAILED: {file.error}", retryable=False)
            if self.uploads:
                expires = file.expiration_time or datetime.now(UTC) + timedelta(hours=47)
                self.uploads.put(sha, file.name, file.uri, file.mime_type or "video/mp4", expires)
            return file.uri, file.mime_type or "video/mp4"

    async def _video_part(self, media: dict, fps: float) -> types.Part:
        metadata = types.VideoMetadata(fps=fps)
        path = Path(media["video"])
        if path.stat().st_size <= self.inline_max_bytes:
            return types.Part(
                inline_data=types.Blob(data=path.read_bytes(), mime_type="video/mp4"), video_metadata=metadata
            )
        uri, mime = await self._uploaded_uri(media)
        return types.Part(file_data=types.FileData(file_uri=uri, mime_type=mime), video_metadata=metadata)

    def _config(self, instance: dict, structured: bool) -> types.GenerateContentConfig:
        gen = self.entry.generation.model_dump(include={"temperature", "top_p", "seed", "max_output_tokens"})
        config = {k: v for k, v in gen.items() if v is not None}
        if structured:
            config.update(response_mime_type="application/json", response_schema=answer_schema(instance))
        return types.GenerateContentConfig(**config)

    async def answer(self, request: EvalRequest) -> EvalReply:
        instance = request.instance
        temporal = instance["question_type"] == "temporal"
        fps = self.entry.generation.video_fps_temporal if temporal else self.entry.generation.video_fps
        parts: list[types.Part] = []
        try:
            for index, media in enumerate(request.media):
                if len(request.media) > 1:
                    parts.append(types.Part(text=f"Clip {index + 1}:"))
                parts.append(await self._video_part(media, fps))
            parts.append(types.Part(text=request.prompt))
            structured = self._structured
            try:
                response = await self._generate(parts, instance, structured)
            except errors.ClientError as exc:
                if not (structured and exc.code == 400 and "schema" in str(exc).lower()):
                    raise
                self._structured = False  # this model takes no response schema: parse free text instead
                response = await self._generate(parts, instance, structured=False)
        except errors.APIError as exc:
            headers = getattr(exc.response, "headers", None)
            wait = rpc_retry_delay(exc.details)  # Gemini says how long in the body, not in a header
            raise http_error(exc.code or 0, exc.message or str(exc), headers, self.secrets, wait) from None
        except EvaluatorError:
            raise
        except json.JSONDecodeError as exc:
            raise EvaluatorError(f"a reply body that is not JSON (an HTML page?): {exc}") from None
        except Exception as exc:  # transport failures surface as httpx/aiohttp exceptions
            transport = ("httpx", "httpx2", "aiohttp", "anyio", "httpcore", "httpcore2")
            if type(exc).__module__.split(".")[0] in transport or bounded_cause(exc):
                raise transport_error(exc, self.secrets) from None
            raise EvaluatorError(redact(f"{type(exc).__name__}: {exc}", self.secrets)[:1000]) from None
        return self._reply(response, request, fps)

    async def _generate(self, parts, instance, structured: bool):
        return await self.client.aio.models.generate_content(
            model=self.entry.model,
            contents=[types.Content(role="user", parts=parts)],
            config=self._config(instance, structured),
        )

    def _reply(self, response, request: EvalRequest, fps: float) -> EvalReply:
        feedback = response.prompt_feedback
        candidates = response.candidates or []
        finish = str(candidates[0].finish_reason.value if candidates and candidates[0].finish_reason else "")
        refused = bool(feedback and feedback.block_reason) or finish in REFUSAL_REASONS
        if not candidates and not refused:
            raise empty_response("no candidates")
        text = None
        if candidates and candidates[0].content and candidates[0].content.parts:
            text = "".join(p.text or "" for p in candidates[0].content.parts) or None
        if not refused and not (text or "").strip():
            raise empty_response(f"no text, finish_reason={finish or 'none'}")
        usage = response.usage_metadata
        resolution = request.media[0].get("resolution") if request.media else None
        return EvalReply(
            raw_response=text,
            input_tokens=token_count(getattr(usage, "prompt_token_count", None)),
            output_tokens=token_count(getattr(usage, "candidates_token_count", None)),
            refused=refused,
            received={
                "modalities": "video+audio" if request.media else "text",
                "frames": None,
                "fps": fps if request.media else None,
                "resolution": resolution,
                "audio": bool(request.media) and all(m.get("has_audio") for m in request.media),
            },
        )

    async def delete_uploads(self) -> int:
        """Delete every upload the index knows (at the end of a campaign); returns how many went."""
        if not self.uploads:
            return 0
        deleted = 0
        for sha, entry in list(self.uploads.entries.items()):
            with contextlib.suppress(errors.APIError):  # already expired or deleted
                await self.client.aio.files.delete(name=entry["name"])
                deleted += 1
            self.uploads.drop(sha)
        return deleted

    async def aclose(self) -> None:
        """End of a run: delete the uploads if the entry asks for it (else keep them for reuse)."""
        if self.entry.transport.delete_uploads:
            await self.delete_uploads()
        await self.client.aio.aclose()
