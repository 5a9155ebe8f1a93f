"""Admission of one model's requests: the entry's requests- and tokens-per-minute limits, and a
concurrency window that adapts to 429s (AIMD, as TCP congestion control): it starts at the entry's
`concurrency`, halves on a rate limit and grows by one per window of successes. A run that meets a
per-minute quota thus settles near the quota's rate instead of hammering it."""

from __future__ import annotations

import asyncio
import time

from aiolimiter import AsyncLimiter

OK, THROTTLED, OTHER = "ok", "throttled", "other"


class Pacer:
    def __init__(self, concurrency: int, rpm: float | None = None, tpm: float | None = None, period_s: float = 60.0):
        self.limit = concurrency
        self.window = float(concurrency)
        self.in_flight = 0
        self.cuts = 0  # how often a 429 halved the window
        self.throttled = 0  # requests that met a rate limit
        self.smallest_window = self.window
        self._cond = asyncio.Condition()
        self._last_cut = float("-inf")
        self._rpm = AsyncLimiter(rpm, period_s) if rpm else None  # period_s: a minute, shorter in tests
        self._tpm = AsyncLimiter(tpm, period_s) if tpm else None

    async def acquire(self, tokens: float = 0.0) -> float:
        """Wait for a slot (and the minute limits); returns the start time to give to `release`."""
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < max(1, int(self.window)))
            self.in_flight += 1
        try:
            if self._rpm:
                await self._rpm.acquire()
            if self._tpm and tokens > 0:
                await self._tpm.acquire(min(tokens, self._tpm.max_rate))  # one cell over the limit still goes
        except BaseException:
            await self.release(OTHER, time.monotonic())
            raise
        return time.monotonic()

    async def release(self, outcome: str, started: float) -> None:
        """A request ended: a 429 halves the window (once per round of requests: a 429 of a request
        sent before the last cut does not cut again); a success widens it by 1/window."""
        async with self._cond:
            self.in_flight -= 1
            self.throttled += outcome == THROTTLED
            if outcome == THROTTLED and started >= self._last_cut:
                self.window = max(1.0, self.window / 2)
                self._last_cut = time.monotonic()
                self.cuts += 1
                self.smallest_window = min(self.smallest_window, self.window)
            elif outcome == OK:
                self.window = min(float(self.limit), self.window + 1.0 / self.window)
            self._cond.notify_all()
