"""One way to turn a typed-row validation failure into a reject reason."""

from __future__ import annotations

from pydantic import ValidationError


def validation_reason(exc: ValidationError, limit: int = 5) -> str:
    """Readable reasons naming the field, never echoing the input (which may hold anything)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(p) for p in error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts[:limit])
