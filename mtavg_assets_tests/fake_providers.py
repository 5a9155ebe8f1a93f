"""A local HTTP server on 127.0.0.1 that speaks the Gemini REST API (generateContent and the
Files API upload protocol) and OpenAI chat completions, for driving the real SDKs offline.

It answers like a trivial model (a `policy` function of the prompt text) and injects faults on
demand: 429 with Retry-After, 500, 503, slow responses, malformed JSON, empty choices/candidates,
blank replies (HTTP 200 with empty or whitespace-only text, some cut at the token limit) and
dropped connections. Latency is server-side, to emulate a provider.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("429", "500", "503", "slow", "malformed", "empty", "blank", "drop")
# A misbehaving server or proxy, never chosen at random: a 50 MB body, a body that never ends, a
# gzip bomb, an HTML page with status 200, and a redirect to another server.
HOSTILE = ("huge", "endless", "bomb", "html", "redirect")
HOSTILE_MAX_BYTES = 256 * 1024 * 1024  # an endless body still ends here, so a broken client cannot hang the test


def default_policy(prompt: str) -> str:
    if '"start"' in prompt:
        return '{"start": 1.0, "end": 2.5}'
    return '{"answer": "A"}'


@dataclass
class FakeConfig:
    latency_s: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    slow_s: float = 2.0
    retry_after_s: float = 0.05
    seed: int = 0
    policy: Callable[[str], str] = default_policy
    file_polls_until_active: int = 1
    fail_uploads: bool = False
    refuse_if: str | None = None  # prompts containing this text are safety-blocked
    reject_schema: bool = False  # answer 400 to requests that carry a response schema
    echo_key: bool = False  # error bodies quote the key they received, in several encodings (a leaky proxy)
    redirect_to: str | None = None  # where the "redirect" fault points (another server's base URL)
    usage: dict | None = None  # replaces the usage fields of every reply (hostile token counts)
    first_faults: int = 0  # the first N requests of each API get faults[0], whatever fault_rate says


@dataclass
class FakeState:
    requests: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    bodies: list = field(default_factory=list)
    files: dict = field(default_factory=dict)
    uploads: int = 0
    deleted: int = 0
    api_keys: set = field(default_factory=set)
    endless_bytes: int = 0  # how much of an endless body was written before the client stopped reading
    lock: threading.Lock = field(default_factory=threading.Lock)


_BOMB: list[bytes] = []


def _gzip_bomb() -> bytes:
    """512 MiB of zeros, gzipped to about 0.5 MB (made once)."""
    import zlib

    if not _BOMB:
        packer, block = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS), b"\0" * (1 << 20)
        _BOMB.append(b"".join(packer.compress(block) for _ in range(512)) + packer.flush())
    return _BOMB[0]


def _prompt_text(body: dict) -> str:
    if "messages" in body:
        parts = body["messages"][-1]["content"]
        return "\n".join(p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", []) if "text" in p)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: FakeProviderServer

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, payload, headers: dict | None = None, content_type="application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _fault(self, kind: str) -> str | None:
        cfg, state = self.server.config, self.server.state
        with state.lock:
            state.requests[kind] += 1
            rng = random.Random(f"{cfg.seed}:{sum(state.requests.values())}")
            fault = rng.choice(cfg.faults) if rng.random() < cfg.fault_rate else None
            if state.requests[kind] <= cfg.first_faults:
                fault = cfg.faults[0]
            if fault:
                state.faults[fault] += 1
        return fault

    def _error(self, fault: str, openai_style: bool) -> bool:
        """Serve an injected fault; True when the request is finished."""
        cfg = self.server.config
        key = self.headers.get("x-goog-api-key") or self.headers.get("Authorization", "")
        forms = [urllib.parse.quote(key, safe=""), urllib.parse.quote(key), urllib.parse.quote_plus(key).lower()]
        echo = f" (key {key!r}, url {' '.join(forms)}, header {self.headers.get('Authorization')})"
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if fault in ("429", "500", "503"):
            code = int(fault)
            headers = {"Retry-After": str(cfg.retry_after_s)} if code in (429, 503) else {}
            if code == 429 and not openai_style:
                # Gemini puts the wait in the body, never in a header: a google.rpc.RetryInfo detail
                # and "Please retry in …s" in the message (the 429 body quoted in
                # googleapis/python-genai PR #2114).
                message = f"You exceeded your current quota. Please retry in {cfg.retry_after_s}s." + (
                    echo if cfg.echo_key else ""
                )
                retry = {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{int(cfg.retry_after_s)}s",
                }
                payload = {
                    "error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": [retry]}
                }
                self._send(429, payload)
                return True
            if openai_style:
                message = f"injected {code}" + (echo if cfg.echo_key else "")
                payload = {"error": {"message": message, "type": "server_error", "code": code}}
            else:
                status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}[code]
                message = f"injected {code}" + (echo if cfg.echo_key else "")
                payload = {"error": {"code": code, "message": message, "status": status}}
            self._send(code, payload, headers)
            return True
        if fault == "malformed":
            self._send(200, b'{"choices": [ {"message": ')
            return True
        if fault in HOSTILE:
            self._hostile(fault)
            return True
        return False

    def _hostile(self, fault: str) -> None:
        try:
            if fault == "html":
                self._send(200, b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>", content_type="text/html")
            elif fault == "redirect":
                self._send(307, b"", {"Location": f"{self.server.config.redirect_to}{self.path}"})
            elif fault == "huge":
                self._send(200, b'{"padding": "' + b"x" * (50 * 1024 * 1024) + b'"}')
            elif fault == "bomb":
                self._send(200, _gzip_bomb(), {"Content-Encoding": "gzip"})
            elif fault == "endless":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"x" * 65536
                frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                self.wfile.write(b'5\r\n{"a":\r\n')
                for _ in range(HOSTILE_MAX_BYTES // len(chunk)):
                    self.wfile.write(frame)
                    with self.server.state.lock:
                        self.server.state.endless_bytes += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what a bounded client does
        self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        cfg, state = self.server.config, self.server.state
        path = self.path.split("?")[0]
        raw = self._body()
        key = self.headers.get("x-goog-api-key") or self.headers.get("Authorization", "").removeprefix("Bearer ")
        with state.lock:
            state.api_keys.add(key)
        if path == "/upload/v1beta/files" and self.headers.get("X-Goog-Upload-Command") == "start":
            with state.lock:
                state.uploads += 1
                upload_id = state.uploads
            url = f"http://127.0.0.1:{self.server.server_port}/upload/v1beta/files?upload_id={upload_id}"
            self._send(200, {}, {"X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active"})
            return
        if path == "/upload/v1beta/files":
            name = f"files/up{len(state.files) + 1}"
            record = {
                "name": name,
                "uri": f"http://127.0.0.1:{self.server.server_port}/v1beta/{name}",
                "mimeType": "video/mp4",
                "sizeBytes": str(len(raw)),
                "state": "PROCESSING",
                "expirationTime": "2099-01-01T00:00:00Z",
                "polls": 0,
            }
            with state.lock:
                state.files[name] = record
            self._send(
                200, {"file": {k: v for k, v in record.items() if k != "polls"}}, {"X-Goog-Upload-Status": "final"}
            )
            return
        openai_style = path.endswith("/chat/completions")
        gemini = re.match(r"^/v1beta/models/(.+):generateContent$", path)
        if not (openai_style or gemini):
            self._send(404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}})
            return
        fault = self._fault("openai" if openai_style else "gemini")
        if cfg.latency_s:
            time.sleep(cfg.latency_s)
        if fault == "slow":
            time.sleep(cfg.slow_s)
        elif fault and self._error(fault, openai_style):
            return
        body = json.loads(raw)
        with state.lock:
            state.bodies.append(body)
        if openai_style and "max_tokens" in body and re.match(r"^(o\d|gpt-5)", str(body.get("model"))):
            # OpenAI reasoning models (o-series, gpt-5) refuse the deprecated parameter: the 400 body as
            # quoted in griptape-ai/ComfyUI-Griptape#312 (gpt-5) and teilomillet/gollm#33 (o1, o3-mini)
            error = {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "type": "invalid_request_error",
                "param": "max_tokens",
                "code": "unsupported_parameter",
            }
            self._send(400, {"error": error})
            return
        if openai_style and cfg.reject_schema and "response_format" in body:
            self._send(400, {"error": {"message": "response_format json_schema is not supported", "type": "invalid"}})
            return
        if gemini and cfg.reject_schema and "responseSchema" in body.get("generationConfig", {}):
            self._send(
                400,
                {
                    "error": {
                        "code": 400,
                        "status": "INVALID_ARGUMENT",
                        "message": "response schema is not supported by this model",
                    }
                },
            )
            return
        prompt = _prompt_text(body)
        answer = cfg.policy(prompt)
        refused = bool(cfg.refuse_if and cfg.refuse_if in prompt)
        blank = fault == "blank"
        if blank:
            answer = random.Random(sum(state.requests.values())).choice(("", "  \n", None))
        if openai_style:
            choices = (
                []
                if fault == "empty" and not refused
                else [
                    {
                        "index": 0,
                        "finish_reason": "content_filter" if refused else ("length" if blank else "stop"),
                        "message": {"role": "assistant", "content": None if refused else answer},
                    }
                ]
            )
            self._send(
                200,
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model"),
                    "choices": choices,
                    "usage": cfg.usage or {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010},
                },
            )
            return
        usage = cfg.usage or {"promptTokenCount": 1200, "candidatesTokenCount": 8, "totalTokenCount": 1208}
        if refused:
            self._send(200, {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage})
            return
        candidates = (
            []
            if fault == "empty"
            else [{"content": {"role": "model", "parts": [{"text": answer}]}, "finishReason": "STOP", "index": 0}]
        )
        if blank:
            content = {"role": "model", "parts": [{"text": answer}]} if answer is not None else {"role": "model"}
            candidates = [{"content": content, "finishReason": "MAX_TOKENS", "index": 0}]
        self._send(200, {"candidates": candidates, "usageMetadata": usage, "modelVersion": gemini.group(1)})

    def do_GET(self) -> None:  # noqa: N802
        state, cfg = self.server.state, self.server.config
        if self.path == "/_stats":
            with state.lock:
                self._send(200, {"requests": dict(state.requests), "faults": dict(state.faults)})
            return
        name = self.path.split("?")[0].removeprefix("/v1beta/")
        with state.lock:
            record = state.files.get(name)
            if record is None:
                self._send(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
                return
            record["polls"] += 1
            if record["polls"] >= cfg.file_polls_until_active:
                record["state"] = "FAILED" if cfg.fail_uploads else "ACTIVE"
            payload = {k: v for k, v in record.items() if k != "polls"}
        self._send(200, payload)

    def do_DELETE(self) -> None:  # noqa: N802
        state = self.server.state
        name = self.path.split("?")[0].removeprefix("/v1beta/")
        with state.lock:
            state.files.pop(name, None)
            state.deleted += 1
        self._send(200, {})


class FakeProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, config: FakeConfig | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.config = config or FakeConfig()
        self.state = FakeState()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def __enter__(self) -> FakeProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    @property
    def model_calls(self) -> int:
        return self.state.requests["openai"] + self.state.requests["gemini"]


def main() -> None:
    """Serve until killed, for benchmarks that want the server in its own process."""
    import argparse

    parser = argparse.ArgumentParser(description="local fake Gemini/OpenAI provider")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    server = FakeProviderServer(
        FakeConfig(latency_s=args.latency, fault_rate=args.fault_rate, seed=args.seed, slow_s=1.0, retry_after_s=0.01)
    )
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
