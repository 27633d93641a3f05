"""The model client against hostile servers: deep JSON, drips, endless bodies, long waits.

Slow and endless replies come from a real loopback server (a raw socket server in a thread),
so the deadline and the size cap are exercised through httpx's real transports.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from summarizer import (
    BackendResponseError,
    BackendTimeout,
    OpenAIBackend,
    RateLimited,
    RetryPolicy,
)
from summarizer._openai import DEFAULT_MAX_RESPONSE_BYTES

MESSAGES = [{"role": "user", "content": "Text."}]
CHAT = b'{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}'


class RawServer:
    """Answers every connection with ``reply(conn)`` on 127.0.0.1 (one thread per client)."""

    def __init__(self, reply: Callable[[socket.socket], None]) -> None:
        self._reply = reply
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    need = int(line.split(b":")[1]) - len(rest)
                    while need > 0:
                        need -= len(conn.recv(65536))
            self._reply(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


def drip(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n")
    for byte in CHAT[:64]:
        conn.sendall(bytes([byte]))
        time.sleep(0.25)


def endless(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
    chunk = b" " * 65536
    for _ in range(10_000):  # 640 MiB if nobody stops reading
        conn.sendall(chunk)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def call(backend: OpenAIBackend, mode: str) -> object:
    if mode == "sync":
        return backend.complete(MESSAGES, max_tokens=5)
    return asyncio.run(backend.acomplete(MESSAGES, max_tokens=5))


def test_a_dripping_reply_is_cut_at_the_total_deadline(mode: str) -> None:
    with RawServer(drip) as server:
        backend = OpenAIBackend(
            base_url=server.base_url, model="m", timeout=1.0, retry=RetryPolicy(max_retries=0)
        )
        start = time.monotonic()
        with pytest.raises(BackendTimeout, match="total deadline of 1s"):
            call(backend, mode)
        assert time.monotonic() - start < 2.5  # the drip alone would take 16 s


def test_an_endless_body_stops_at_the_size_cap(mode: str) -> None:
    assert DEFAULT_MAX_RESPONSE_BYTES == 8 * 1024 * 1024
    with RawServer(endless) as server:
        backend = OpenAIBackend(
            base_url=server.base_url,
            model="m",
            timeout=10.0,
            max_response_bytes=1_000_000,
            retry=RetryPolicy(max_retries=0),
        )
        start = time.monotonic()
        with pytest.raises(BackendResponseError, match="max_response_bytes=1000000"):
            call(backend, mode)
        assert time.monotonic() - start < 5


def test_a_declared_length_over_the_cap_fails_before_reading() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "999999999"}, content=b"{}")

    backend = OpenAIBackend(
        base_url="http://llm.test/v1", model="m", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(BackendResponseError, match="max_response_bytes=8388608"):
        backend.complete(MESSAGES, max_tokens=5)


def test_a_gzip_reply_is_capped_on_its_decoded_size() -> None:
    import gzip

    bomb = gzip.compress(b" " * 5_000_000)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=bomb)

    backend = OpenAIBackend(
        base_url="http://llm.test/v1",
        model="m",
        max_response_bytes=1_000_000,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(BackendResponseError, match="max_response_bytes"):
        backend.complete(MESSAGES, max_tokens=5)


def test_a_gzip_reply_within_the_cap_is_decoded() -> None:
    import gzip

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, content=gzip.compress(CHAT)
        )

    backend = OpenAIBackend(
        base_url="http://llm.test/v1", model="m", transport=httpx.MockTransport(handler)
    )
    assert backend.complete(MESSAGES, max_tokens=5).text == "ok"


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "8"])
def test_max_response_bytes_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="max_response_bytes must be a positive integer"):
        OpenAIBackend(base_url="http://llm.test/v1", model="m", max_response_bytes=bad)  # type: ignore[arg-type]


DEEP = b"[" * 100_000 + b"]" * 100_000


def deep_handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=DEEP, headers={"Content-Type": "application/json"})


def test_deep_json_from_models_is_a_typed_error_for_discovery_and_model_none(mode: str) -> None:
    transport = httpx.MockTransport(deep_handler)
    # window discovery: a known model with an unknown window falls back, does not crash
    backend = OpenAIBackend(base_url="http://llm.test/v1", model="local-x", transport=transport)
    assert backend.context_window == 8192
    # no model given: the listing is needed, and its failure is typed
    backend = OpenAIBackend(base_url="http://llm.test/v1", transport=transport)
    with pytest.raises(BackendResponseError, match="nested too deeply"):
        call(backend, mode)


def test_deep_json_completion_and_error_body_are_typed() -> None:
    backend = OpenAIBackend(
        base_url="http://llm.test/v1", model="m", transport=httpx.MockTransport(deep_handler)
    )
    with pytest.raises(BackendResponseError, match="nested too deeply"):
        backend.complete(MESSAGES, max_tokens=5)

    def error_handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, content=DEEP)

    backend = OpenAIBackend(
        base_url="http://llm.test/v1", model="m", transport=httpx.MockTransport(error_handler)
    )
    with pytest.raises(Exception) as info:
        backend.complete(MESSAGES, max_tokens=5)
    assert "400" in str(info.value) and not isinstance(info.value, RecursionError)


def test_retry_after_beyond_the_cap_fails_at_once_naming_wait_and_cap(mode: str) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(429, headers={"Retry-After": "999999"}, json={"error": "later"})

    backend = OpenAIBackend(
        base_url="http://llm.test/v1",
        model="m",
        retry=RetryPolicy(max_retries=5, max_retry_after=60),
        transport=httpx.MockTransport(handler),
    )
    start = time.monotonic()
    with pytest.raises(RateLimited, match=r"wait 999999s .*max_retry_after=60s") as info:
        call(backend, mode)
    assert time.monotonic() - start < 1
    assert len(requests) == 1 and info.value.retry_after == 999999.0
