"""Gemini (google-genai): the clip as video with its audio track.

Small clips go inline; larger ones through the Files API: uploaded once per (content hash, API key
fingerprint), indexed as soon as the upload exists, awaited until ACTIVE outside the per-attempt
timeout (`transport.upload_timeout_s` bounds it) and reused across runs while valid. A stored file
the API no longer knows (403/404) is dropped and uploaded once more.

Thinking is set per family (`thinking_budget` on 2.5, `thinking_level` on 3.x); thought parts never
enter the stored reply, and their tokens are billed as output. Answers use structured output (a
JSON schema per question type), falling back to free text when a model rejects the schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from google import genai
from google.genai import errors, types

from mtavg_assets.atomic import write_text_atomic
from mtavg_assets.evaluators.api import (
    http_error,
    redact,
    rpc_quota_kind,
    rpc_retry_delay,
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

# Finish and block reasons that mean the model or the API declined (google-genai FinishReason /
# BlockedReason enums): a `refused` row, never retried.
REFUSAL_REASONS = {
    "SAFETY",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "MODEL_ARMOR",
    "JAILBREAK",
}
TRANSPORT_MODULES = ("httpx", "httpx2", "aiohttp", "anyio", "httpcore", "httpcore2")


def key_fingerprint(api_key: str | None) -> str:
    """Which key an upload belongs to (uploads are per project): a short hash, never the key."""
    return hashlib.sha256((api_key or "").encode()).hexdigest()[:12]


def upload_index_path(state_dir: Path, entry_name: str, api_key: str | None) -> Path:
    return state_dir / "gemini_uploads" / f"{entry_name}-{key_fingerprint(api_key)}.json"


class UploadIndex:
    """content sha256 -> uploaded file (name, uri, state, expiry), persisted so later runs reuse
    uploads. A file is indexed the moment the upload returns (still PROCESSING), so a run killed
    while waiting for it leaves no upload the index does not know."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.entries: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError):
            self.entries = {}  # a torn or foreign file: uploads are made again, never trusted
        if not isinstance(self.entries, dict):
            self.entries = {}

    def get(self, sha: str) -> dict | None:
        entry = self.entries.get(sha)
        try:
            fresh = datetime.fromisoformat(entry["expires_at"]) > datetime.now(UTC) + timedelta(minutes=30)
        except (TypeError, KeyError, ValueError):
            return None
        return entry if fresh else None

    def put(self, sha: str, file: types.File) -> None:
        expires = file.expiration_time or datetime.now(UTC) + timedelta(hours=47)
        self.entries[sha] = {
            "name": file.name,
            "uri": file.uri,
            "mime_type": file.mime_type or "video/mp4",
            "state": str(file.state.value if file.state else "STATE_UNSPECIFIED"),
            "expires_at": expires.isoformat(),
        }
        self._save()

    def drop(self, sha: str) -> None:
        self.entries.pop(sha, None)
        self._save()

    def _save(self) -> None:
        write_text_atomic(self.path, json.dumps(self.entries, indent=1))


def _usage(metadata) -> Usage:
    """Gemini's usage as billed: thoughts are output beside the candidates; the prompt's modality
    split comes from promptTokensDetails (TEXT, IMAGE, VIDEO, AUDIO)."""
    if metadata is None:
        return Usage()
    by_modality: dict[str, int] = {}
    for detail in getattr(metadata, "prompt_tokens_details", None) or []:
        count = token_count(getattr(detail, "token_count", None))
        modality = getattr(detail, "modality", None)
        if count is not None and modality is not None:
            name = str(getattr(modality, "value", modality))
            by_modality[name] = by_modality.get(name, 0) + count
    candidates = token_count(getattr(metadata, "candidates_token_count", None))
    thoughts = token_count(getattr(metadata, "thoughts_token_count", None))
    output = None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    images = (by_modality.get("IMAGE") or 0) + (by_modality.get("VIDEO") or 0)
    return Usage(
        input_tokens=token_count(getattr(metadata, "prompt_token_count", None)),
        output_tokens=output,
        thinking_tokens=thoughts,
        input_audio_tokens=by_modality.get("AUDIO") if "AUDIO" in by_modality else None,
        input_image_tokens=images if ("IMAGE" in by_modality or "VIDEO" in by_modality) else None,
        cached_input_tokens=token_count(getattr(metadata, "cached_content_token_count", None)),
    )


class GeminiEvaluator:
    def __init__(self, entry: ModelEntry, api_key: str | None, state_dir: Path | None = None):
        self.entry = entry
        self.secrets = secret_forms(api_key)  # the runner redacts every stored text with these
        base_url = entry.base_url or PROVIDERS["gemini"].base_url
        transport = BoundedTransport(base_url, entry.transport.max_reply_bytes)
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
        self.uploads = UploadIndex(upload_index_path(state_dir, entry.name, api_key)) if state_dir else None
        self._upload_locks: dict[str, asyncio.Lock] = {}
        self._uploaded_now: dict[str, dict] = {}  # uploads of this run when no index is kept
        self._structured = entry.generation.structured_output and entry.caps.structured_output

    # -- errors: the provider's decisions, by exception type -------------------------------------

    def error_of(self, exc: BaseException) -> EvaluatorError:
        """The EvaluatorError for anything the SDK raised: API errors by status and body (the wait
        and the quota kind are in the body, not in headers), transport failures by module."""
        if isinstance(exc, EvaluatorError):
            return exc
        if isinstance(exc, errors.APIError):
            headers = getattr(exc.response, "headers", None)
            message = exc.message or str(exc)
            return http_error(
                exc.code or 0, message, headers, self.secrets, self.retry_delay(exc), self.quota_kind(exc)
            )
        if isinstance(exc, json.JSONDecodeError):
            return EvaluatorError(f"a reply body that is not JSON (an HTML page?): {exc}")
        if type(exc).__module__.split(".")[0] in TRANSPORT_MODULES or bounded_cause(exc):
            return transport_error(exc, self.secrets)
        return EvaluatorError(redact(f"{type(exc).__name__}: {exc}", self.secrets)[:1000])

    @staticmethod
    def retry_delay(exc: errors.APIError) -> float | None:
        """Gemini puts the wait in the 429 body (RetryInfo, or "Please retry in …"), not in a header."""
        return rpc_retry_delay(exc.details)

    @staticmethod
    def quota_kind(exc: errors.APIError) -> str:
        """ "day" when the 429 names a per-day quota (QuotaFailure quotaId …PerDay…), else "minute"."""
        return rpc_quota_kind(exc.details) if exc.code == 429 else "minute"

    # -- before the first cell -------------------------------------------------------------------

    async def preflight(self) -> None:
        """The model exists and can be called with this key (models.get): a missing or shut-down
        model stops the partition before any cell is asked."""
        try:
            await self.client.aio.models.get(model=self.entry.model)
        except errors.ClientError as exc:
            if exc.code in (401, 403, 404):
                raise StopRun(f"model {self.entry.model!r} is not available: {self.error_of(exc)}") from None
            raise self.error_of(exc) from None

    # -- uploads (outside the per-attempt timeout) ------------------------------------------------

    async def prepare(self, request: EvalRequest) -> EvalRequest:
        """Upload the clips too large to go inline and wait until they are ACTIVE."""
        media = []
        try:
            for item in request.media:
                if "video" in item and Path(item["video"]).stat().st_size > self.inline_max_bytes:
                    item = {**item, "uploaded": await self._uploaded(item)}
                media.append(item)
        except Exception as exc:
            raise self.error_of(exc) from None
        return replace(request, media=media)

    def _known(self, sha: str) -> dict | None:
        return self.uploads.get(sha) if self.uploads else self._uploaded_now.get(sha)

    def _remember(self, sha: str, file: types.File) -> None:
        if self.uploads:
            self.uploads.put(sha, file)
        else:
            self._uploaded_now[sha] = {"name": file.name, "uri": file.uri, "mime_type": file.mime_type or "video/mp4"}

    def forget(self, sha: str) -> None:
        if self.uploads:
            self.uploads.drop(sha)
        self._uploaded_now.pop(sha, None)

    async def _uploaded(self, media: dict) -> dict:
        sha = media["sha256"]
        async with self._upload_locks.setdefault(sha, asyncio.Lock()):
            known = self._known(sha)
            if known and known.get("state", "ACTIVE") == "ACTIVE":
                return known
            if known:  # indexed by a run that stopped before it was ACTIVE: wait for that upload
                file = await self.client.aio.files.get(name=known["name"])
            else:
                file = await self.client.aio.files.upload(
                    file=media["video"], config=types.UploadFileConfig(mime_type="video/mp4")
                )
            self._remember(sha, file)
            deadline = time.monotonic() + self.upload_timeout_s
            while file.state == types.FileState.PROCESSING:
                if time.monotonic() > deadline:
                    raise EvaluatorError(f"upload {file.name} not ACTIVE after {self.upload_timeout_s}s")
                await asyncio.sleep(self.poll_s)  # the Files API has no push notification
                file = await self.client.aio.files.get(name=file.name)
            if file.state == types.FileState.FAILED:
                self.forget(sha)
                raise EvaluatorError(f"upload {file.name} FAILED: {file.error}", retryable=False)
            self._remember(sha, file)
            return self._known(sha)

    # -- one call ---------------------------------------------------------------------------------

    def _media_part(self, media: dict, fps: float) -> types.Part:
        """The clip as the entry's media mode sends it: video (with or without its track) or audio."""
        if self.entry.media == "audio":
            return types.Part(inline_data=types.Blob(data=Path(media["audio"]).read_bytes(), mime_type="audio/wav"))
        metadata = types.VideoMetadata(fps=fps)
        uploaded = media.get("uploaded")
        if uploaded:
            data = types.FileData(file_uri=uploaded["uri"], mime_type=uploaded["mime_type"])
            return types.Part(file_data=data, video_metadata=metadata)
        blob = types.Blob(data=Path(media["video"]).read_bytes(), mime_type="video/mp4")
        return types.Part(inline_data=blob, video_metadata=metadata)

    def _config(self, instance: dict, structured: bool) -> types.GenerateContentConfig:
        gen = self.entry.generation
        sampled = gen.model_dump(include={"temperature", "top_p", "seed", "max_output_tokens"})
        config: dict = {k: v for k, v in sampled.items() if v is not None}
        if gen.thinking_budget is not None or gen.thinking_level is not None:
            config["thinking_config"] = types.ThinkingConfig(
                thinking_budget=gen.thinking_budget,
                thinking_level=gen.thinking_level.upper() if gen.thinking_level else None,
                include_thoughts=False,
            )
        if gen.media_resolution is not None:
            config["media_resolution"] = f"MEDIA_RESOLUTION_{gen.media_resolution.upper()}"
        if structured:
            config.update(
                response_mime_type="application/json",
                response_schema=types.Schema.model_validate(answer_schema(instance)),
            )
        return types.GenerateContentConfig(**config)

    async def answer(self, request: EvalRequest, reuploaded: bool = False) -> EvalReply:
        instance = request.instance
        temporal = instance["question_type"] == "temporal"
        fps = self.entry.generation.video_fps_temporal if temporal else self.entry.generation.video_fps
        parts: list[types.Part] = []
        try:
            for index, media in enumerate(request.media):
                if len(request.media) > 1:
                    parts.append(types.Part(text=f"Clip {index + 1}:"))
                parts.append(self._media_part(media, fps))
            parts.append(types.Part(text=request.prompt))
            structured = self._structured
            try:
                response = await self._generate(parts, instance, structured)
            except errors.ClientError as exc:
                if exc.code in (403, 404) and not reuploaded and any(m.get("uploaded") for m in request.media):
                    for media in request.media:  # the stored upload is gone: upload once more
                        if media.get("uploaded"):
                            self.forget(media["sha256"])
                    fresh = await self.prepare(replace(request, media=[{**m, "uploaded": None} for m in request.media]))
                    return await self.answer(fresh, reuploaded=True)
                if not (structured and exc.code == 400 and "schema" in str(exc).lower()):
                    raise
                self._structured = False  # this model takes no response schema: parse free text instead
                response = await self._generate(parts, instance, structured=False)
        except Exception as exc:
            raise self.error_of(exc) from None
        return self._reply(response, request, fps)

    async def _generate(self, parts, instance, structured: bool):
        return await self.client.aio.models.generate_content(
            model=self.entry.model,
            contents=[types.Content(role="user", parts=parts)],
            config=self._config(instance, structured),
        )

    def _reply(self, response, request: EvalRequest, fps: float) -> EvalReply:
        usage = _usage(response.usage_metadata)
        feedback = response.prompt_feedback
        candidates = response.candidates or []
        finish = str(candidates[0].finish_reason.value if candidates and candidates[0].finish_reason else "")
        block = str(feedback.block_reason.value) if feedback and feedback.block_reason else ""
        refused = bool(block) or finish in REFUSAL_REASONS
        if not candidates and not refused:
            raise empty_response("no candidates", usage)
        text = None
        if candidates and candidates[0].content and candidates[0].content.parts:
            answer_parts = [p.text or "" for p in candidates[0].content.parts if not p.thought]  # never thoughts
            text = "".join(answer_parts) or None
        if not refused and not (text or "").strip():
            if finish == "MAX_TOKENS" and (usage.thinking_tokens or 0) > 0:
                raise configuration_error(
                    f"MAX_TOKENS with no answer: thinking used {usage.thinking_tokens} of max_output_tokens "
                    f"{self.entry.generation.max_output_tokens}; raise max_output_tokens or lower the thinking "
                    "(thinking_budget / thinking_level)",
                    usage,
                )
            raise empty_response(f"no text, finish_reason={finish or 'none'}", usage)
        resolution = request.media[0].get("resolution") if request.media else None
        mode = self.entry.media if request.media else "none"
        audio = mode in ("video", "audio") and all(m.get("has_audio") for m in request.media)
        visual = mode in ("video", "video_silent")
        modalities = {"video": "video+audio" if audio else "video", "video_silent": "video", "audio": "audio"}
        return EvalReply(
            raw_response=text,
            usage=usage,
            refused=refused,
            received={
                "modalities": modalities.get(mode, "text"),
                "frames": None,
                "fps": fps if visual else None,
                "resolution": resolution if visual else None,
                "audio": audio,
            },
            served_model=response.model_version,
            response_id=getattr(response, "response_id", None),
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
