"""Shared plumbing for API evaluators: keys from the environment, error classification, payloads."""

from __future__ import annotations

import base64
import os
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from mtavg_assets.evaluators.base import CallTimeout, EvaluatorError, MissingCredentials, RateLimited, StopRun
from mtavg_assets.evaluators.http import bounded_cause
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


def _char_forms(ch: str) -> str:
    """A regex for one character of a key in any form it travels in: as itself, percent-encoded
    (either case, any byte), as a JSON `\\uXXXX` escape, `\\/` for a slash, `+` for a space."""
    forms = [re.escape(ch), "".join(f"%{b:02x}" for b in ch.encode()), re.escape(f"\\u{ord(ch):04x}")]
    forms += {"/": [re.escape("\\/")], " ": [re.escape("+")], '"': [re.escape('\\"')], "\\": [re.escape("\\\\")]}.get(
        ch, []
    )
    return "(?:" + "|".join(forms) + ")"


def secret_forms(secret: str | None) -> tuple[re.Pattern, ...]:
    """Patterns matching every form in which a key can travel and come back in an error body or a
    reply: as set or stripped, percent-encoded by any library's rules (each character literal or
    encoded, in either case, so `quote` with any `safe`, `quote_plus` and httpx all match), JSON-
    escaped, and base64 of `Bearer`/basic header values (standard and URL-safe alphabets)."""
    if not secret or len(secret.strip()) < 4:
        return ()
    stripped = secret.strip()
    encoded = {
        enc(form.encode()).decode().rstrip("=")
        for form in (stripped, f":{stripped}", f"{stripped}:")
        for enc in (base64.b64encode, base64.urlsafe_b64encode)
    }
    alternatives = ["".join(_char_forms(c) for c in stripped), *(re.escape(e) for e in sorted(encoded, key=len))]
    return (re.compile("|".join(sorted(alternatives, key=len, reverse=True)), re.IGNORECASE),)


def redact(text: str, secret: str | tuple[re.Pattern, ...] | None) -> str:
    """`text` with every form of the secret replaced by ***."""
    patterns = secret_forms(secret) if isinstance(secret, str) else (secret or ())
    for pattern in patterns:
        text = pattern.sub("***", text)
    return text


MAX_TOKEN_COUNT = 10**12  # far beyond any context window; more is not a count


def token_count(value) -> int | None:
    """A usage field as the provider reported it, if it is a count: a non-negative integer within
    reason. Anything else (a string, a float, a boolean, a number beyond int64) is unknown (None),
    so one hostile reply can neither break the journal nor fake a cost."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_TOKEN_COUNT else None


def parse_retry_after(headers) -> float | None:
    """Seconds from retry-after-ms or Retry-After (seconds or an HTTP date), if the server sent one.
    A negative or NaN value reads as 0; an infinite one stays infinite (the runner then does not
    wait: it is over any max_retry_wait_s)."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                continue
        return seconds if seconds > 0 else 0.0
    return None


RETRY_IN = re.compile(r"retry in\s+(\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)


def rpc_quota_kind(body) -> QuotaKind:
    """ "day" when a Google API's 429 names a per-day quota (a `google.rpc.QuotaFailure` violation
    whose quotaId holds "PerDay", such as GenerateRequestsPerDayPerProjectPerModel-FreeTier), else
    "minute". Its RetryInfo still says "retry in 30s": waiting would only meet the same 429."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if not (isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.QuotaFailure")):
            continue
        violations = detail.get("violations")
        for violation in violations if isinstance(violations, list) else []:
            if isinstance(violation, dict) and "perday" in str(violation.get("quotaId", "")).lower():
                return "day"
    return "minute"


def rpc_retry_delay(body) -> float | None:
    """The wait a Google API puts in its error body rather than in a header: the
    `google.rpc.RetryInfo` detail's `retryDelay` (a protobuf Duration such as "58s"), else "Please
    retry in 58.93s" in the message (the body quoted in googleapis/python-genai PR #2114)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    match = RETRY_IN.search(str(error.get("message") or ""))
    if match:
        return float(match.group(1)) * (1e-3 if match.group(2).lower() == "ms" else 1.0)
    return None


QuotaKind = str  # "minute" (wait and resume), "day" (stop the run), "billing" (stop the run)
DAILY_QUOTA = "daily quota exhausted"
NO_CREDIT = "quota or billing exhausted"


def http_error(
    status: int,
    message: str,
    headers=None,
    secret: str | tuple | None = None,
    retry_after: float | None = None,
    quota: QuotaKind = "minute",
) -> EvaluatorError:
    """Map an HTTP failure to a status: a 429 of a per-minute quota is rate_limited (waited out),
    of a daily quota or of exhausted credit it stops the run; 408/5xx are retryable; other 4xx are
    final. The wait is the header's, else `retry_after` (what the provider put in its body)."""
    text = redact(f"HTTP {status}: {message}", secret)[:1000]
    wait = parse_retry_after(headers)
    wait = retry_after if wait is None else wait
    if status == 429 and quota == "day":
        return StopRun(f"{DAILY_QUOTA}: {text}", retryable=False, kind="quota-day")
    if status == 429 and quota == "billing":
        return StopRun(f"{NO_CREDIT}: {text}", retryable=False, kind="quota-billing")
    if status == 429:
        return RateLimited(text, retry_after=wait, kind="http-429")
    return EvaluatorError(text, retryable=status in RETRYABLE_HTTP, retry_after=wait, kind=f"http-{status}")


def transport_error(exc: Exception, secret: str | tuple | None = None) -> EvaluatorError:
    """Network-level failures: timeouts become `timeout`, dropped connections a retryable `error`;
    a reply over the size limit or a request leaving the entry's server is a final `error`."""
    refused = bounded_cause(exc)
    if refused is not None:
        return EvaluatorError(redact(f"{type(refused).__name__}: {refused}", secret)[:1000], retryable=False)
    text = redact(f"{type(exc).__name__}: {exc}", secret)[:1000]
    if "timeout" in type(exc).__name__.lower():
        return CallTimeout(text)
    return EvaluatorError(text, retryable=True)


def data_url(path: str | Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"


def b64(path: str | Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()
