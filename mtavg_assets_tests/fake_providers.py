"""A local HTTP server on 127.0.0.1 that speaks the Gemini REST API (generateContent and the
Files API upload protocol) and OpenAI chat completions, for driving the real SDKs offline.

It answers like a trivial model (a `policy` function of the prompt text) and injects faults on
demand: 429 with Retry-After, 500, 503, slow responses, malformed JSON, empty choices/candidates,
blank replies (HTTP 200 with empty or whitespace-only text, some cut at the token limit) and
dropped connections. Latency is server-side, to emulate a provider.

Beyond faults it keeps the rules the real services document, so a request they refuse is refused
here too (each rule cites its source where it is enforced):
- quotas: a per-minute quota per model (Gemini's RetryInfo body, OpenAI's retry-after-ms header), a
  per-day quota (Gemini's QuotaFailure with a PerDay quotaId) and OpenAI's `insufficient_quota`;
- model families by id: OpenAI audio models take no images, other OpenAI models no audio,
  reasoning models no `max_tokens` and no sampling parameters, each family its own efforts; Gemini
  2.5 Pro cannot turn thinking off, a request with both thinking controls is refused, at most 10
  videos per request;
- thinking: thinking families spend `thoughts` tokens first and bill them as output
  (`thoughtsTokenCount`, `reasoning_tokens`); a token limit they exhaust ends MAX_TOKENS/length
  with no text;
- usage per modality (promptTokensDetails, prompt_tokens_details) and a bill of every reply with a
  body (`state.billed`), against which recorded costs are checked;
- model routes for preflights (Gemini models.get, OpenAI GET /v1/models/{id}, vLLM GET /v1/models).
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import urllib.parse
from collections import Counter, defaultdict, deque
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
    policy_body: Callable[[dict, str], str] | None = None  # answers from the whole request (what media it carries)
    file_polls_until_active: int = 1
    fail_uploads: bool = False
    refuse_if: str | None = None  # prompts containing this text are safety-blocked
    refusal_finish: str | None = (
        None  # Gemini: refuse with this finishReason (IMAGE_SAFETY...) instead of a prompt block
    )
    reject_schema: bool = False  # answer 400 to requests that carry a response schema
    echo_key: bool = False  # error bodies quote the key they received, in several encodings (a leaky proxy)
    redirect_to: str | None = None  # where the "redirect" fault points (another server's base URL)
    usage: dict | None = None  # replaces the usage fields of every reply (hostile token counts)
    first_faults: int = 0  # the first N requests of each API get faults[0], whatever fault_rate says
    quota_rpm: int | None = None  # requests per quota window per model (a per-minute quota)
    quota_window_s: float = 60.0  # the quota's window (shorter in tests: the same rule, faster)
    quota_per_day: int | None = None  # requests per model before the daily quota is exhausted
    insufficient_quota: bool = False  # OpenAI: the account has no credit left
    thoughts: int = 0  # thinking tokens a thinking family spends before answering
    missing_models: tuple[str, ...] = ()  # model ids this server does not serve (404)
    served_model: str | None = None  # the model id replies claim (an alias or a silent fallback)
    leak_thoughts: bool = False  # Gemini: thought parts in the reply even when not asked for
    listed_models: tuple[str, ...] = ()  # what GET /v1/models lists (a vLLM server lists what it serves)


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
    billed: list = field(default_factory=list)  # (api, model, usage) of every reply that came with a body
    admitted: dict = field(default_factory=lambda: defaultdict(deque))  # model -> times within the quota window
    day_counts: Counter = field(default_factory=Counter)  # model -> requests counted against the daily quota
    quota_429s: Counter = field(default_factory=Counter)  # "minute" / "day" / "billing" 429s sent
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


# -- the model-family rules of the real services, written from their documentation (independent of
# -- the pipeline's own capability table, so a wrong table fails a test here)

OPENAI_MODEL = re.compile(r"^(gpt-|o\d|chatgpt-)")
OPENAI_AUDIO = re.compile(r"^gpt-(4o-|4o-mini-)?(audio|realtime)")
OPENAI_REASONING = re.compile(r"^(o\d|gpt-5)(?!.*-chat)")
OPENAI_EFFORTS = (  # platform.openai.com/docs/api-reference/chat/create#reasoning_effort
    (re.compile(r"^gpt-5\.\d"), ("none", "low", "medium", "high", "xhigh"), "none"),
    (re.compile(r"^gpt-5"), ("minimal", "low", "medium", "high"), "medium"),
    (re.compile(r"^o\d"), ("low", "medium", "high"), "medium"),
)


def _is_openai(model: str) -> bool:
    return bool(OPENAI_MODEL.match(model))


def _effort_rule(model: str):
    return next(((allowed, default) for pattern, allowed, default in OPENAI_EFFORTS if pattern.match(model)), None)


def _openai_reasons(model: str, effort: str | None) -> bool:
    """Does this request make the model reason first? (vLLM thinking models: ids with 'thinking')."""
    if not _is_openai(model):
        return "thinking" in model.lower()
    rule = _effort_rule(model) if OPENAI_REASONING.match(model) else None
    return rule is not None and (effort or rule[1]) != "none"


def _invalid(message: str, param: str, code: str = "unsupported_value") -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def _openai_rules(body: dict) -> dict | None:
    """The 400 OpenAI answers to a request its model refuses, else None (compatible servers: none)."""
    model = str(body.get("model"))
    if not _is_openai(model):
        return None
    parts = [p for p in body["messages"][-1]["content"] if isinstance(p, dict)]
    kinds = {p.get("type") for p in parts}
    if "max_tokens" in body and OPENAI_REASONING.match(model):
        # griptape-ai/ComfyUI-Griptape#312 (gpt-5), teilomillet/gollm#33 (o1, o3-mini)
        return _invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' "
            "instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    if OPENAI_AUDIO.match(model) and "image_url" in kinds:
        # audio models take text and audio only (the 400 quoted in pollinations/pollinations#2588)
        return _invalid("This model does not support image_url content.", "messages[0].content", "invalid_value")
    if not OPENAI_AUDIO.match(model) and "input_audio" in kinds:
        # chat models other than the audio family take no audio input (the same 400, for input_audio)
        return _invalid("This model does not support input_audio content.", "messages[0].content", "invalid_value")
    if "video_url" in kinds:
        return _invalid("Invalid content type: video_url is not supported.", "messages[0].content", "invalid_value")
    rule = _effort_rule(model) if OPENAI_REASONING.match(model) else None
    effort = body.get("reasoning_effort")
    if effort is not None and (rule is None or effort not in rule[0]):
        # the 400 quoted in anomalyco/opencode#4451 and openai/openai-agents-python#2089
        allowed = ", ".join(f"'{e}'" for e in (rule[0] if rule else ()))
        return _invalid(
            f"Unsupported value: '{effort}' is not supported with the '{model}' model. "
            f"Supported values are: {allowed}.",
            "reasoning_effort",
        )
    if rule is not None and (effort or rule[1]) != "none":
        for name in ("temperature", "top_p"):
            if name in body and body[name] != 1:
                # the 400 reasoning models give any sampling value but the default
                return _invalid(
                    f"Unsupported value: '{name}' does not support {body[name]} with this model. Only the default "
                    "(1) value is supported.",
                    name,
                )
    return None


def _field(message: dict, camel: str):
    """A field of a proto3 JSON message, which takes lowerCamelCase and the proto's own snake_case
    names alike (protobuf.dev/programming-guides/json: parsers accept both); google-genai sends
    thinkingConfig's fields in snake_case."""
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return message.get(camel, message.get(snake))


def _gemini_thinks(model: str, thinking: dict) -> bool:
    """Gemini 2.5 and 3.x think by default; 2.5 Flash and Flash-Lite stop with thinkingBudget 0."""
    if not re.match(r"gemini-(2\.5|3)", model):
        return False
    return _field(thinking, "thinkingBudget") != 0


def _gemini_rules(model: str, body: dict) -> dict | None:
    """The 400 Gemini answers to a request its model refuses, else None."""
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}

    def invalid(message: str) -> dict:
        return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}

    budget, level = _field(thinking, "thinkingBudget"), _field(thinking, "thinkingLevel")
    if budget is not None and level is not None:
        # ai.google.dev/gemini-api/docs/gemini-3: both controls in one request is an error
        return invalid("You can only set only one of thinking budget and thinking level.")
    if budget == 0 and re.match(r"gemini-2\.5-pro", model):
        # 2.5 Pro cannot turn thinking off (ai.google.dev/gemini-api/docs/thinking)
        return invalid("Budget 0 is invalid. This model only works in thinking mode.")
    if level is not None and not re.match(r"gemini-3", model):
        return invalid("Thinking level is not supported for this model.")
    videos = sum(
        1 for c in body.get("contents", []) for p in c.get("parts", []) if "inlineData" in p or "fileData" in p
    )
    if videos > 10:
        # ai.google.dev/gemini-api/docs/video-understanding: at most 10 videos per request (2.5 and later)
        return invalid(f"The request has {videos} videos; at most 10 are supported.")
    return None


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
        model = str(body.get("model")) if openai_style else gemini.group(1)
        if model in cfg.missing_models:
            self._not_found(model, openai_style)
            return
        if self._over_quota(model, openai_style):
            return
        if gemini and self._unknown_file(body):
            return
        refusal = _openai_rules(body) if openai_style else _gemini_rules(model, body)
        if refusal is not None:
            self._send(400, refusal)
            return
        if openai_style and cfg.reject_schema and "response_format" in body:
            self._send(400, {"error": {"message": "response_format json_schema is not supported", "type": "invalid"}})
            return
        if gemini and cfg.reject_schema and "responseSchema" in body.get("generationConfig", {}):
            error = {
                "code": 400,
                "status": "INVALID_ARGUMENT",
                "message": "response schema is not supported by this model",
            }
            self._send(400, {"error": error})
            return
        prompt = _prompt_text(body)
        answer = cfg.policy_body(body, prompt) if cfg.policy_body else cfg.policy(prompt)
        refused = bool(cfg.refuse_if and cfg.refuse_if in prompt)
        blank = fault == "blank"
        if blank:
            answer = random.Random(sum(state.requests.values())).choice(("", "  \n", None))
        served = cfg.served_model or model
        if openai_style:
            self._openai_reply(body, model, served, answer, refused, blank, fault)
        else:
            self._gemini_reply(body, model, served, answer, refused, blank, fault)

    def _unknown_file(self, body: dict) -> bool:
        """A fileData part naming a file this server does not hold (expired, deleted, or another
        project's): Gemini's 403 (the body quoted in google-gemini/generative-ai-python threads)."""
        state = self.server.state
        for content in body.get("contents", []):
            for part in content.get("parts", []):
                data = part.get("fileData") or part.get("file_data")
                if not data:
                    continue
                uri = data.get("fileUri") or data.get("file_uri") or ""
                with state.lock:
                    known = any(record["uri"] == uri for record in state.files.values())
                if not known:
                    name = uri.rsplit("/", 1)[-1]
                    message = f"You do not have permission to access the File {name} or it may not exist."
                    self._send(403, {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}})
                    return True
        return False

    def _bill(self, api: str, model: str, usage: dict) -> None:
        with self.server.state.lock:
            self.server.state.billed.append((api, model, usage))

    def _openai_reply(self, body, model, served, answer, refused, blank, fault) -> None:
        cfg = self.server.config
        parts = body["messages"][-1]["content"]
        audio_parts = sum(1 for p in parts if isinstance(p, dict) and p.get("type") == "input_audio")
        image_parts = sum(1 for p in parts if isinstance(p, dict) and p.get("type") == "image_url")
        thinking = cfg.thoughts if _openai_reasons(model, body.get("reasoning_effort")) else 0
        limit = body.get("max_completion_tokens")
        finish = "content_filter" if refused else ("length" if blank else "stop")
        answer_tokens = 10
        if thinking and limit is not None and limit < thinking + answer_tokens:
            # the limit covers reasoning and the answer: a reasoning model that spends it all says nothing
            # (finish_reason length, empty content; OpenAI reasoning guide, "Allocating space for reasoning")
            thinking, answer_tokens, answer, finish = limit, 0, "", "length"
        prompt_tokens = 200 + 85 * image_parts + 100 * audio_parts
        usage = cfg.usage or {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": thinking + answer_tokens,  # reasoning tokens are inside completion tokens
            "total_tokens": prompt_tokens + thinking + answer_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 100 * audio_parts},
            "completion_tokens_details": {"reasoning_tokens": thinking, "audio_tokens": 0},
        }
        if fault == "empty" and not refused:
            choices = []
        else:
            message = {"role": "assistant", "content": None if refused else answer}
            if thinking and not _is_openai(model):
                message["reasoning_content"] = "Let me think about the clip. " * 3  # vLLM reasoning parsers
            choices = [{"index": 0, "finish_reason": finish, "message": message}]
        self._bill("openai", model, usage)
        reply = {
            "id": f"chatcmpl-{len(self.server.state.billed)}",
            "object": "chat.completion",
            "created": 0,
            "model": served,
            "system_fingerprint": "fp_fake",
            "choices": choices,
            "usage": usage,
        }
        self._send(200, reply)

    def _gemini_reply(self, body, model, served, answer, refused, blank, fault) -> None:
        cfg = self.server.config
        generation = body.get("generationConfig", {})
        thinking_config = generation.get("thinkingConfig") or {}
        thinking = cfg.thoughts if _gemini_thinks(model, thinking_config) else 0
        contents = body.get("contents", [])
        videos = sum(1 for c in contents for p in c.get("parts", []) if "inlineData" in p or "fileData" in p)
        text_tokens, video_tokens, audio_tokens = 200, 900 * videos, 100 * videos
        details = [{"modality": "TEXT", "tokenCount": text_tokens}]
        if videos:
            details += [
                {"modality": "VIDEO", "tokenCount": video_tokens},
                {"modality": "AUDIO", "tokenCount": audio_tokens},
            ]
        prompt_tokens = text_tokens + video_tokens + audio_tokens
        limit = generation.get("maxOutputTokens")
        candidates_tokens, finish = 8, "STOP"
        if thinking and limit is not None and limit < thinking + candidates_tokens:
            # thinking draws on maxOutputTokens first: exhausted, the reply is MAX_TOKENS with no text and
            # thoughtsTokenCount the limit (ai.google.dev/gemini-api/docs/thinking; googleapis/python-genai #782)
            thinking, candidates_tokens, finish, answer = limit, 0, "MAX_TOKENS", None
        usage = cfg.usage or {
            "promptTokenCount": prompt_tokens,
            **({"candidatesTokenCount": candidates_tokens} if candidates_tokens else {}),
            **({"thoughtsTokenCount": thinking} if thinking else {}),
            "totalTokenCount": prompt_tokens + candidates_tokens + thinking,
            "promptTokensDetails": details,
        }
        self._bill("gemini", model, usage)
        if refused and cfg.refusal_finish:
            candidate = {"content": {"role": "model"}, "finishReason": cfg.refusal_finish, "index": 0}
            self._send(200, {"candidates": [candidate], "usageMetadata": usage, "modelVersion": served})
            return
        if refused:
            self._send(200, {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage})
            return
        parts = []
        if thinking and (_field(thinking_config, "includeThoughts") or cfg.leak_thoughts):
            parts.append({"text": "Thinking about the clip first.", "thought": True})
        if answer is not None:
            parts.append({"text": answer})
        content = {"role": "model", "parts": parts} if parts else {"role": "model"}
        candidates = [] if fault == "empty" else [{"content": content, "finishReason": finish, "index": 0}]
        if blank:  # an empty reply; cut at the token limit only where no thinking could explain it
            content = {"role": "model", "parts": [{"text": answer}]} if answer is not None else {"role": "model"}
            candidates = [{"content": content, "finishReason": "STOP" if thinking else "MAX_TOKENS", "index": 0}]
        payload = {"candidates": candidates, "usageMetadata": usage, "modelVersion": served, "responseId": "fake"}
        self._send(200, payload)

    def _not_found(self, model: str, openai_style: bool) -> None:
        if openai_style:
            # OpenAI's 404 for an unknown or shut-down model (code model_not_found)
            error = {
                "message": f"The model `{model}` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
            self._send(404, {"error": error})
            return
        # Gemini's 404 for a model it does not serve (the body quoted in many google-gemini threads)
        message = (
            f"models/{model} is not found for API version v1beta, or is not supported for generateContent. "
            "Call ListModels to see the list of available models and their supported methods."
        )
        self._send(404, {"error": {"code": 404, "message": message, "status": "NOT_FOUND"}})

    def _over_quota(self, model: str, openai_style: bool) -> bool:
        """Answer a 429 and return True when this request is over a quota."""
        cfg, state = self.server.config, self.server.state
        if openai_style and cfg.insufficient_quota:
            # the 429 of an account without credit (OpenAI's error-codes guide)
            error = {
                "message": "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
            with state.lock:
                state.quota_429s["billing"] += 1
            self._send(429, {"error": error})
            return True
        with state.lock:
            kind, wait = None, 0.0
            if cfg.quota_per_day is not None and state.day_counts[model] >= cfg.quota_per_day:
                kind, wait = "day", 31.0
            elif cfg.quota_rpm is not None:
                now, window = time.monotonic(), state.admitted[model]
                while window and window[0] <= now - cfg.quota_window_s:
                    window.popleft()
                if len(window) >= cfg.quota_rpm:
                    kind, wait = "minute", window[0] + cfg.quota_window_s - now
                else:
                    window.append(now)
            if kind is None:
                state.day_counts[model] += 1
                return False
            state.quota_429s[kind] += 1
        if openai_style:
            # OpenAI's per-minute 429: code rate_limit_exceeded, the wait in retry-after-ms (which
            # openai-python's _parse_retry_after_header reads) beside the x-ratelimit-* headers
            error = {
                "message": f"Rate limit reached for {model} on requests per min (RPM): Limit {cfg.quota_rpm}. "
                f"Please try again in {wait:.3f}s.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
            headers = {
                "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
                "x-ratelimit-limit-requests": str(cfg.quota_rpm),
            }
            self._send(429, {"error": error}, headers)
            return True
        # Gemini's 429: the wait in a google.rpc.RetryInfo detail and in the message, the quota in a
        # QuotaFailure violation (the bodies quoted in googleapis/python-genai PR #2114 and, for the
        # daily free-tier quota, in google-gemini/gemini-cli threads). No Retry-After header; a daily
        # quota's RetryInfo still says to retry in seconds.
        daily = kind == "day"
        quota_id = (
            "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
            if daily
            else "GenerateRequestsPerMinutePerProjectPerModel"
        )
        limit = cfg.quota_per_day if daily else cfg.quota_rpm
        message = (
            "You exceeded your current quota, please check your plan and billing details. Quota exceeded for "
            f"metric: generativelanguage.googleapis.com/generate_content_requests, limit: {limit}, model: {model}\n"
            f"Please retry in {wait:.3f}s."
        )
        violation = {
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
            "quotaId": quota_id,
            "quotaDimensions": {"location": "global", "model": model},
            "quotaValue": str(limit),
        }
        details = [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{max(wait, 0.001):.3f}s"},
        ]
        error = {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": details}
        self._send(429, {"error": error})
        return True

    def do_GET(self) -> None:  # noqa: N802
        state, cfg = self.server.state, self.server.config
        if self.path == "/_stats":
            with state.lock:
                self._send(200, {"requests": dict(state.requests), "faults": dict(state.faults)})
            return
        path = self.path.split("?")[0]
        models = re.match(r"^/v1/models(?:/(.+))?$", path) or re.match(r"^/v1beta/models/([^:]+)$", path)
        if models:
            self._model_route(path, models.group(1))
            return
        name = path.removeprefix("/v1beta/")
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

    def _model_route(self, path: str, model: str | None) -> None:
        """Preflight routes: Gemini models.get, OpenAI GET /v1/models/{id}, and the list vLLM serves."""
        cfg = self.server.config
        with self.server.state.lock:
            self.server.state.requests["models"] += 1
        if model is None:
            data = [{"id": m, "object": "model", "owned_by": "vllm"} for m in cfg.listed_models]
            self._send(200, {"object": "list", "data": data})
        elif model in cfg.missing_models:
            self._not_found(model, openai_style=path.startswith("/v1/"))
        elif path.startswith("/v1/"):
            self._send(200, {"id": model, "object": "model", "created": 0, "owned_by": "openai"})
        else:
            self._send(
                200,
                {"name": f"models/{model}", "displayName": model, "supportedGenerationMethods": ["generateContent"]},
            )

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
    parser.add_argument("--quota-rpm", type=int, default=None, help="requests per quota window per model")
    parser.add_argument("--quota-window", type=float, default=60.0, help="the quota window in seconds")
    args = parser.parse_args()
    config = FakeConfig(
        latency_s=args.latency,
        fault_rate=args.fault_rate,
        seed=args.seed,
        slow_s=1.0,
        retry_after_s=0.01,
        quota_rpm=args.quota_rpm,
        quota_window_s=args.quota_window,
    )
    server = FakeProviderServer(config)
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
