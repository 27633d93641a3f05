"""A real OpenAI-compatible Chat Completions server for end-to-end tests and benchmarks.

It listens on a local port (``127.0.0.1``, port 0 picks a free one) in background threads
and answers ``POST /v1/chat/completions`` deterministically: the reply *compresses* the
last user message by keeping, for every paragraph, its first sentence plus any marker words
(``marker_pattern``) found later in it, so marker words survive every level of a map-reduce
in order. It behaves like a strict server:

- it refuses (400, ``context_length_exceeded``) a request whose prompt tokens (content plus
  4 per message plus 3, counted with o200k_base) plus ``max_tokens`` exceed
  ``context_window``, and records the violation;
- it cuts replies at ``max_tokens`` (``finish_reason: "length"``) and reports ``usage``;
- it sleeps ``latency + per_token_latency * completion_tokens`` per call and tracks how many
  requests were in flight at once;
- ``GET /v1/models`` lists the model with ``max_model_len`` (vLLM style) unless disabled;
- failures can be injected: by request number, or for requests containing a string.

Usage::

    with FakeOpenAIServer(context_window=2048, latency=0.05) as server:
        OpenAIBackend(base_url=server.base_url, model=server.model)
        ...
        assert server.max_in_flight > 1 and not server.violations

Run it standalone (for benchmarks): ``python tests/openai_server.py --port 8000 --latency 0.5``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from summarizer import Tokenizer

__all__ = ["FakeOpenAIServer", "RecordedRequest", "compress"]

DEFAULT_MARKER_PATTERN = r"\b[A-Z]{2,}\d+\b"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
MESSAGE_OVERHEAD = 4
REPLY_OVERHEAD = 3


def compress(text: str, marker_pattern: str = DEFAULT_MARKER_PATTERN) -> str:
    """First sentence of every paragraph, plus the markers in the rest of it, one paragraph."""
    markers = re.compile(marker_pattern)
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        parts = _SENTENCE_END.split(paragraph, maxsplit=1)
        first = parts[0]
        rest = parts[1] if len(parts) > 1 else ""
        pieces.append(" ".join([first, *markers.findall(rest)]))
    return " ".join(pieces)


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    prompt_tokens: int = 0
    max_tokens: int | None = None
    status: int = 200
    started: float = 0.0
    finished: float = 0.0


@dataclass
class _Config:
    host: str = "127.0.0.1"
    port: int = 0
    model: str = "fake-model"
    context_window: int = 4096
    latency: float = 0.0
    per_token_latency: float = 0.0
    models_endpoint: bool = True
    report_window: bool = True
    api_key: str | None = None
    marker_pattern: str = DEFAULT_MARKER_PATTERN
    reply: Callable[[str], str] | None = None
    fail_requests: Mapping[int, int] = field(default_factory=dict)
    fail_when_contains: str | None = None
    fail_status: int = 500
    retry_after: str | None = None
    script: Sequence[Mapping[str, Any]] = ()


class FakeOpenAIServer:
    """The server; a context manager that starts and stops it.

    Args:
        host, port: where to listen (port 0: a free port).
        model: the only model served.
        context_window: enforced window (prompt tokens + max_tokens).
        latency: seconds per call; per_token_latency: seconds per completion token.
        models_endpoint: serve ``GET /v1/models``; report_window: include ``max_model_len``.
        api_key: when set, requests need ``Authorization: Bearer <api_key>`` (else 401).
        marker_pattern: regex of words the reply always keeps.
        reply: replaces the compressing reply: ``text -> reply``.
        fail_requests: ``{n: status}``: the n-th chat request (1-based) fails with ``status``.
        fail_when_contains: chat requests whose last user message contains this string fail
            with ``fail_status``, always.
        retry_after: ``Retry-After`` header value sent with injected failures.
        script: scripted assistant messages for agent loops: the n-th chat request is
            answered with ``script[n-1]`` (e.g. ``{"tool_calls": [...]}`` or
            ``{"content": "..."}``), ``finish_reason`` ``"tool_calls"`` when it has tool
            calls; requests past the end of the script get the normal reply.
    """

    def __init__(self, **options: Any) -> None:
        self.config = _Config(**options)
        self.tokenizer = Tokenizer.from_encoding("o200k_base")
        self.requests: list[RecordedRequest] = []
        self.violations: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._chat_count = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Start listening in a background thread."""
        handler = _make_handler(self)
        server = _QuietServer((self.config.host, self.config.port), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``."""
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat completion requests received, in arrival order."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- request handling ---------------------------------------------------------------------

    def count_prompt(self, messages: list[dict[str, Any]]) -> int:
        count = self.tokenizer.count
        overhead = MESSAGE_OVERHEAD * len(messages) + REPLY_OVERHEAD
        return sum(count(str(m.get("content", ""))) for m in messages) + overhead

    def handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        """Answer one request: ``(status, extra headers, JSON payload)``."""
        config = self.config
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(method, path, headers, body, started=time.monotonic())
        with self._lock:
            self.requests.append(record)
        if config.api_key is not None:
            if headers.get("authorization") != f"Bearer {config.api_key}":
                record.status = 401
                return 401, {}, _error("Incorrect API key provided", "invalid_api_key")
        route = path.split("?", 1)[0].rstrip("/")
        if method == "GET" and route in ("/v1/models", "/models") and config.models_endpoint:
            entry: dict[str, Any] = {"id": config.model, "object": "model", "owned_by": "test"}
            if config.report_window:
                entry["max_model_len"] = config.context_window
            return 200, {}, {"object": "list", "data": [entry]}
        if method != "POST" or route not in ("/v1/chat/completions", "/chat/completions"):
            record.status = 404
            return 404, {}, _error(f"no route {method} {path}", "not_found")
        return self._chat(record, body)

    def _chat(self, record: RecordedRequest, body: Any) -> tuple[int, dict[str, str], Any]:
        config = self.config
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            record.status = 400
            return 400, {}, _error("body must be a JSON object with messages", "invalid_request")
        messages = body["messages"]
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        record.max_tokens = max_tokens
        record.prompt_tokens = self.count_prompt(messages)
        with self._lock:
            self._chat_count += 1
            number = self._chat_count
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if body.get("model") != config.model:
                record.status = 404
                message = f"The model {body.get('model')!r} does not exist"
                return 404, {}, _error(message, "model_not_found")
            if not isinstance(max_tokens, int) or max_tokens < 1:
                self.violations.append(f"request {number}: no positive max_tokens ({max_tokens!r})")
                record.status = 400
                return 400, {}, _error("max_tokens must be a positive integer", "invalid_request")
            if record.prompt_tokens + max_tokens > config.context_window:
                self.violations.append(
                    f"request {number}: {record.prompt_tokens} prompt + {max_tokens} max_tokens > "
                    f"{config.context_window}"
                )
                record.status = 400
                return (
                    400,
                    {},
                    _error(
                        f"This model's maximum context length is {config.context_window} tokens. "
                        f"However, you requested {record.prompt_tokens + max_tokens} tokens.",
                        "context_length_exceeded",
                    ),
                )
            user = next(
                (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"),
                "",
            )
            status = config.fail_requests.get(number)
            if status is None and config.fail_when_contains and config.fail_when_contains in user:
                status = config.fail_status
            if status is not None:
                record.status = status
                extra = {"Retry-After": config.retry_after} if config.retry_after else {}
                return status, extra, _error(f"injected failure {status}", "server_error")
            if number <= len(config.script):
                return 200, {}, self._scripted(number, config.script[number - 1], record)
            reply = (config.reply or (lambda t: compress(t, config.marker_pattern)))(user)
            finish = "stop"
            if self.tokenizer.count(reply) > max_tokens:
                reply, finish = self.tokenizer.truncate(reply, max_tokens), "length"
            completion_tokens = self.tokenizer.count(reply)
            delay = config.latency + config.per_token_latency * completion_tokens
            if delay > 0:
                time.sleep(delay)
            return (
                200,
                {},
                {
                    "id": f"chatcmpl-{number}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": config.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply},
                            "finish_reason": finish,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": record.prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": record.prompt_tokens + completion_tokens,
                    },
                },
            )
        finally:
            record.finished = time.monotonic()
            with self._lock:
                self.in_flight -= 1

    def _scripted(
        self, number: int, scripted: Mapping[str, Any], record: RecordedRequest
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": scripted.get("content")}
        if scripted.get("tool_calls"):
            message["tool_calls"] = [dict(call) for call in scripted["tool_calls"]]
        completion_tokens = self.tokenizer.count(json.dumps(message))
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.config.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": record.prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": record.prompt_tokens + completion_tokens,
            },
        }


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (Ctrl-C, timeout) is normal here; anything else is shown.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = server.handle(method, self.path, headers, raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: tests read server.requests instead

    return Handler


def main() -> None:
    """Serve until interrupted (for benchmarks and manual tries)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--context-window", type=int, default=4096)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--per-token-latency", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeOpenAIServer(
        host=args.host,
        port=args.port,
        model=args.model,
        context_window=args.context_window,
        latency=args.latency,
        per_token_latency=args.per_token_latency,
    ).start()
    print(f"serving {args.model} at {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
