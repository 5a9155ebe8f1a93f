"""Named cross-process locks with an owner note: an OS file lock (the OS releases it when the
holder dies, so a kill never leaves it stuck), a bounded wait that says who holds it, and a clear
error when the wait runs out. They hold whatever launched the work: asset page, backfill,
automation, CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


class LockBusy(RuntimeError):
    """The lock stayed held by another process for the whole wait."""


@contextmanager
def hold(
    path: Path,
    what: str,
    holder: str,
    timeout_s: float,
    on_wait: Callable[[str], None] | None = None,
    busy: Callable[[str], Exception] = LockBusy,
) -> Iterator[None]:
    """Hold the lock at `path` for `what`, waiting up to `timeout_s`; then raise `busy(message)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = path.with_name(path.name + ".owner")
    lock = FileLock(str(path))

    def current() -> str:
        try:
            return owner.read_text(encoding="utf-8") or "another process"
        except OSError:
            return "another process"

    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait:
            on_wait(f"{what} is held by {current()}; waiting up to {timeout_s:.0f}s")
        try:
            lock.acquire(timeout=timeout_s)
        except Timeout:
            raise busy(f"{what} is held by {current()} (waited {timeout_s:.0f}s)") from None
    try:
        owner.write_text(holder, encoding="utf-8")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()
