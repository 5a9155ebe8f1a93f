"""Shared plumbing for API evaluators: keys from the environment, error classification, payloads."""

from __future__ import annotations

import base64
import json
import os
import string
from pathlib import Path
from urllib.parse import quote, quote_plus

from mtavg_assets.evaluators.base import CallTimeout, EvaluatorError, MissingCredentials, RateLimited
from mtavg_assets.registry import ModelEntry

RETRYABLE_HTTP = (408, 409, 425, 429, 500, 502, 503, 504)


def api_key_for(entry: ModelEntry) -> str | None:
    """The key from the entry's environment variable, stripped of surrounding white space (as it is
    sent); never stored, logged or returned in errors."""
    if not entry.api_key_env:
        return None
    key = (os.environ.get(entry.api_key_env) or "").strip()
    if not key:
        raise MissingCredentials(f"set the environment variable {entry.api_key_env} to evaluate {entry.name}")
    return key


def secret_forms(secret: str | None) -> tuple[str, ...]:
    """Every form in which a key can travel and come back in an error body: as set, stripped,
    URL-encoded (path, query), JSON-escaped and base64 of `Bearer`/basic header values. Longest first."""
    if not secret:
        return ()
    stripped = secret.strip()
    forms = {secret, stripped, quote(stripped, safe=""), quote_plus(stripped), json.dumps(stripped)[1:-1]}
    forms |= {base64.b64encode(f.encode()).decode() for f in (stripped, f":{stripped}", f"{stripped}:")}
    return tuple(sorted((f for f in forms if len(f) >= 4), key=len, reverse=True))


def redact(text: str, secret: str | tuple[str, ...] | None) -> str:
    """`text` with every form of the secret replaced by ***."""
    forms = secret_forms(secret) if isinstance(secret, str) else (secret or ())
    for form in forms:
        text = text.replace(form, "***")
    return text


def parse_retry_after(headers) -> float | None:
    """Seconds from Retry-After (seconds form) or retry-after-ms, if the server sent one."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def http_error(status: int, message: str, headers=None, secret: str | tuple[str, ...] | None = None) -> EvaluatorError:
    """Map an HTTP failure to a status: 429 rate_limited; 408/5xx retryable; other 4xx final."""
    text = redact(f"HTTP {status}: {message}", secret)[:1000]
    if status == 429:
        return RateLimited(text, retry_after=parse_retry_after(headers))
    return EvaluatorError(text, retryable=status in RETRYABLE_HTTP, retry_after=parse_retry_after(headers))


def transport_error(exc: Exception, secret: str | tuple[str, ...] | None = None) -> EvaluatorError:
    """Network-level failures: timeouts become `timeout`, dropped connections a retryable `error`."""
    text = redact(f"{type(exc).__name__}: {exc}", secret)[:1000]
    if "timeout" in type(exc).__name__.lower():
        return CallTimeout(text)
    return EvaluatorError(text, retryable=True)


def data_url(path: str | Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"


def b64(path: str | Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


def option_letters(instance: dict) -> list[str]:
    return list(string.ascii_uppercase[: len(instance.get("options") or [])])


def build_api_evaluator(entry: ModelEntry, state_dir: Path | None = None):
    """`state_dir` keeps provider-side state between runs (the Gemini upload index)."""
    if entry.provider == "gemini":
        from mtavg_assets.evaluators.gemini import GeminiEvaluator

        index = state_dir / "gemini_uploads" / f"{entry.name}.json" if state_dir else None
        return GeminiEvaluator(entry, api_key_for(entry), upload_index=index)
    if entry.provider in ("openai", "openai_compatible"):
        from mtavg_assets.evaluators.openai_chat import OpenAIChatEvaluator

        return OpenAIChatEvaluator(entry, api_key_for(entry))
    raise ValueError(f"no API evaluator for provider {entry.provider!r}")
