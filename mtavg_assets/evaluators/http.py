"""The HTTP transport under both SDKs (openai and google-genai speak httpx2): every reply body is
read within a size limit counted after decompression, and no request leaves the entry's origin.

- A body past `max_bytes` (an endless chunked reply, a 50 MB page, a gzip bomb) stops being read at
  the limit and fails the attempt with `ReplyTooLarge`; memory stays bounded whatever the server
  sends. gzip and deflate are decoded here, counted as they are decoded, so the SDK never inflates
  a body itself; any other content-coding is refused (only gzip and deflate are asked for).
- A request to another scheme, host or port than the entry's (a redirect to a stranger, who would
  receive the media and the key) fails with `CrossOriginRequest` before it is sent.
The time of an attempt is bounded above this layer (the runner's per-attempt timeout).
"""

from __future__ import annotations

import urllib.request
import zlib
from collections.abc import AsyncIterator

import httpx2

DEFAULT_MAX_REPLY_BYTES = 8 * 1024 * 1024
ACCEPTED_ENCODINGS = "gzip, deflate"


class ReplyTooLarge(Exception):
    """The server sent more than the entry accepts for one reply body."""


class CrossOriginRequest(Exception):
    """A request (a redirect, an upload URL) that would leave the entry's origin."""


def origin(url: str | httpx2.URL) -> tuple[str, str, int | None]:
    parsed = httpx2.URL(str(url))
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    return parsed.scheme, parsed.host, parsed.port or default


def environment_proxy(base_url: str) -> str | None:
    """The proxy the environment names for this server (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, minus
    NO_PROXY), as the SDKs' own clients would use it: a custom transport otherwise bypasses them."""
    scheme, host, _ = origin(base_url)
    if not host or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(scheme) or proxies.get("all")


class _BoundedStream(httpx2.AsyncByteStream):
    def __init__(self, raw: httpx2.AsyncByteStream, encoding: str, max_bytes: int):
        self.raw, self.max_bytes, self.seen = raw, max_bytes, 0
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(encoding)
        self.decoder = zlib.decompressobj(wbits) if wbits else None

    def _count(self, chunk: bytes) -> bytes:
        self.seen += len(chunk)
        if self.seen > self.max_bytes:
            raise ReplyTooLarge(f"reply body over {self.max_bytes:,} bytes (after decompression): not read further")
        return chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.raw:
            if self.decoder is None:
                yield self._count(chunk)
                continue
            data = chunk
            while data:  # inflate at most what still fits, so a bomb never expands in memory
                out = self.decoder.decompress(data, self.max_bytes - self.seen + 1)
                yield self._count(out)
                data = self.decoder.unconsumed_tail
        if self.decoder is not None:
            yield self._count(self.decoder.flush())

    async def aclose(self) -> None:
        await self.raw.aclose()


class BoundedTransport(httpx2.AsyncBaseTransport):
    """httpx2's own transport, with the two bounds above."""

    def __init__(self, base_url: str, max_bytes: int = DEFAULT_MAX_REPLY_BYTES):
        self.inner = httpx2.AsyncHTTPTransport(proxy=environment_proxy(base_url))
        self.origin, self.max_bytes = origin(base_url), max_bytes

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if origin(request.url) != self.origin:
            scheme, host, port = origin(request.url)
            raise CrossOriginRequest(f"refused a request to {scheme}://{host}:{port}, not the entry's server")
        request.headers["accept-encoding"] = ACCEPTED_ENCODINGS
        response = await self.inner.handle_async_request(request)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "deflate", ""):
            await response.aclose()
            raise ReplyTooLarge(f"reply in content-coding {encoding[:40]!r}, which was not asked for")
        headers = [(k, v) for k, v in response.headers.raw if k.lower() not in (b"content-encoding", b"content-length")]
        return httpx2.Response(
            status_code=response.status_code,
            headers=headers,
            stream=_BoundedStream(response.stream, encoding, self.max_bytes),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def bounded_cause(exc: BaseException) -> Exception | None:
    """The transport's own refusal behind an SDK's wrapper exception, if that is what it is."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ReplyTooLarge | CrossOriginRequest):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None
