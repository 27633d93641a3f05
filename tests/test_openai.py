"""OpenAIBackend against httpx.MockTransport: requests, retries, errors, windows, usage."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from summarizer import (
    BackendConnectionError,
    BackendError,
    BackendHTTPError,
    BackendResponseError,
    BackendTimeout,
    ContextLengthExceeded,
    MissingCredentials,
    OpenAIBackend,
    RateLimited,
    RetryPolicy,
    Summarizer,
    parse_retry_after,
)
from summarizer._openai import context_window_for_model

MESSAGES = [{"role": "system", "content": "Summarize."}, {"role": "user", "content": "Text."}]
LOCAL = "http://llm.test/v1"


def chat_response(text: str = "A summary.", usage: bool = True, **extra: Any) -> httpx.Response:
    payload: dict[str, Any] = {
        "id": "x",
        "model": "served-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        **extra,
    }
    if usage:
        payload["usage"] = {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24}
    return httpx.Response(200, json=payload)


def make_backend(
    handler: Callable[[httpx.Request], httpx.Response], **options: Any
) -> tuple[OpenAIBackend, list[float]]:
    options.setdefault("base_url", LOCAL)
    options.setdefault("model", "test-model")
    options.setdefault("retry", RetryPolicy(max_retries=3, backoff=0.5, jitter=False))
    backend = OpenAIBackend(transport=httpx.MockTransport(handler), **options)
    slept: list[float] = []
    backend._sleep = slept.append  # type: ignore[method-assign]

    async def asleep(delay: float) -> None:
        slept.append(delay)

    backend._asleep = asleep  # type: ignore[method-assign]
    return backend, slept


def scripted(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    handler.requests = requests  # type: ignore[attr-defined]
    return handler


# -- requests and responses ------------------------------------------------------------------


def test_complete_sends_chat_request_and_parses_usage() -> None:
    handler = scripted(chat_response())
    backend, _ = make_backend(handler, api_key="sk-test", temperature=0.2)
    completion = backend.complete(MESSAGES, max_tokens=50)
    (request,) = handler.requests  # type: ignore[attr-defined]
    assert request.url == f"{LOCAL}/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = json.loads(request.content)
    assert body == {
        "model": "test-model",
        "messages": MESSAGES,
        "max_tokens": 50,
        "temperature": 0.2,
    }
    assert completion.text == "A summary."
    assert (completion.prompt_tokens, completion.completion_tokens) == (21, 3)
    assert completion.finish_reason == "stop" and completion.model == "served-model"
    assert backend.name == "openai:test-model"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_request_body_is_utf8_json_and_lone_surrogates_are_escaped(mode: str) -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/json"
        bodies.append(request.content)
        return chat_response()

    backend, _ = make_backend(handler)
    for content in ("café 東京", "broken \ud800 escape"):
        messages = [{"role": "user", "content": content}]
        if mode == "sync":
            backend.complete(messages, max_tokens=5)
        else:
            asyncio.run(backend.acomplete(messages, max_tokens=5))
    assert "café 東京".encode() in bodies[0]  # not \u-escaped
    assert json.loads(bodies[1])["messages"][0]["content"] == "broken \ud800 escape"


def test_acomplete_is_the_async_twin_and_missing_usage_is_none() -> None:
    handler = scripted(chat_response(usage=False), chat_response("In a session."))
    backend, _ = make_backend(handler)
    completion = asyncio.run(backend.acomplete(MESSAGES, max_tokens=10))
    assert completion.text == "A summary."
    assert completion.prompt_tokens is None and completion.completion_tokens is None

    async def in_session() -> str:
        async with backend.run_session():
            return (await backend.acomplete(MESSAGES, max_tokens=10)).text

    assert asyncio.run(in_session()) == "In a session."


def test_injected_clients_are_used() -> None:
    sync_handler = scripted(chat_response("sync"))
    async_handler = scripted(chat_response("async"))
    client = httpx.Client(transport=httpx.MockTransport(sync_handler))
    async_client = httpx.AsyncClient(transport=httpx.MockTransport(async_handler))
    backend = OpenAIBackend(
        "m", base_url=LOCAL, client=client, async_client=async_client, context_window=1000
    )
    assert backend.complete(MESSAGES, max_tokens=5).text == "sync"
    assert asyncio.run(backend.acomplete(MESSAGES, max_tokens=5)).text == "async"
    client.close()
    asyncio.run(async_client.aclose())


def test_o_series_on_openai_uses_max_completion_tokens(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    handler = scripted(chat_response())
    backend = OpenAIBackend("o3-mini", transport=httpx.MockTransport(handler))
    backend.complete(MESSAGES, max_tokens=7)
    (request,) = handler.requests  # type: ignore[attr-defined]
    assert request.url.host == "api.openai.com"
    assert request.headers["authorization"] == "Bearer sk-env"
    assert json.loads(request.content)["max_completion_tokens"] == 7


def test_content_parts_and_null_content() -> None:
    parts = httpx.Response(
        200,
        json={
            "choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"text": "b"}]}}]
        },
    )
    null = httpx.Response(200, json={"choices": [{"message": {"content": None}}]})
    backend, _ = make_backend(scripted(parts, null))
    assert backend.complete(MESSAGES, max_tokens=5).text == "ab"
    assert backend.complete(MESSAGES, max_tokens=5).text == ""


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"object": "list", "data": []}),
    ],
    ids=["html", "no-choices"],
)
def test_malformed_responses_raise_response_error(response) -> None:
    backend, _ = make_backend(scripted(response))
    with pytest.raises(BackendResponseError, match=r"OpenAI-compatible|choices"):
        backend.complete(MESSAGES, max_tokens=5)


# -- retries ------------------------------------------------------------------------------


def test_retries_5xx_with_exponential_backoff_then_succeeds() -> None:
    handler = scripted(
        httpx.Response(500, json={"error": {"message": "oops"}}),
        httpx.Response(502),
        httpx.Response(503),
        chat_response(),
    )
    backend, slept = make_backend(handler)
    assert backend.complete(MESSAGES, max_tokens=5).text == "A summary."
    assert slept == [0.5, 1.0, 2.0]


def test_jitter_keeps_delays_between_half_and_full() -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=3.0)
    delays = [policy.backoff_delay(attempt) for attempt in range(6) for _ in range(20)]
    assert all(0.5 <= d <= 3.0 for d in delays)
    assert len(set(delays)) > 10
    assert policy.delay(0, retry_after=60) == 60.0
    assert policy.delay(0, retry_after=500) is None  # beyond the cap: fail at once


def test_429_honours_retry_after_seconds_and_gives_up_with_rate_limited() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow down"})
    handler = scripted(*[limited] * 4)
    backend, slept = make_backend(handler)
    with pytest.raises(RateLimited, match="rate limiting") as info:
        asyncio.run(backend.acomplete(MESSAGES, max_tokens=5))
    assert slept == [7.0, 7.0, 7.0]
    assert info.value.status == 429 and info.value.retry_after == 7.0
    assert len(handler.requests) == 4  # type: ignore[attr-defined]


def test_retry_after_http_date_and_cap() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    handler = scripted(
        httpx.Response(503, headers={"Retry-After": when}),
        httpx.Response(429, headers={"retry-after-ms": "250"}),
        httpx.Response(429, headers={"Retry-After": "3600"}),
    )
    backend, slept = make_backend(
        handler, retry=RetryPolicy(max_retries=3, max_retry_after=120, jitter=False)
    )
    with pytest.raises(RateLimited) as info:
        backend.complete(MESSAGES, max_tokens=5)
    assert 27 <= slept[0] <= 30.5
    assert slept[1:] == [0.25]  # a wait beyond max_retry_after is not retried at all
    assert info.value.retry_after == 3600.0


def test_parse_retry_after_edge_cases() -> None:
    for odd in ("\u00b2", "\u00b3", "\u0663", "-1", "1e3", "inf", "nan", "7" * 400):
        assert parse_retry_after({"retry-after": odd}) is None, odd
        assert parse_retry_after(odd) is None, odd
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after(httpx.Headers({"Retry-After": "garbage"})) is None
    assert parse_retry_after(httpx.Headers({})) is None
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": past})) == 0.0


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (httpx.Response(400, json={"error": {"message": "bad"}}), BackendHTTPError, "400: bad"),
        (httpx.Response(401, json={"error": {"message": "nope"}}), BackendHTTPError, "--api-key"),
        (httpx.Response(404, json={"error": "no such model"}), BackendHTTPError, "--model"),
        (
            httpx.Response(
                400,
                json={
                    "error": {
                        "message": "This model's maximum context length is 4096 tokens",
                        "code": "context_length_exceeded",
                    }
                },
            ),
            ContextLengthExceeded,
            "or a smaller one if the model's tokenizer counts more tokens",
        ),
    ],
    ids=["400", "401", "404", "context"],
)
def test_client_errors_are_not_retried(response, error, message) -> None:
    handler = scripted(response)
    backend, slept = make_backend(handler)
    with pytest.raises(error, match=message) as info:
        backend.complete(MESSAGES, max_tokens=5)
    assert info.value.status == response.status_code
    assert slept == []


def test_retries_disabled() -> None:
    backend, slept = make_backend(scripted(httpx.Response(503)), max_retries=0)
    with pytest.raises(BackendHTTPError, match="try again later"):
        backend.complete(MESSAGES, max_tokens=5)
    assert slept == []


# -- every httpx exception maps at the boundary ---------------------------------------------------


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


HTTPX_ERRORS = sorted(
    {c for c in _all_subclasses(httpx.RequestError) if c.__module__.startswith("httpx")},
    key=lambda c: c.__name__,
)
RETRIED = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def test_the_list_covers_every_transport_error() -> None:
    names = {c.__name__ for c in HTTPX_ERRORS}
    assert {
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "ConnectError",
        "ReadError",
        "WriteError",
        "CloseError",
        "LocalProtocolError",
        "RemoteProtocolError",
        "ProxyError",
        "UnsupportedProtocol",
        "DecodingError",
        "TooManyRedirects",
    } <= names


@pytest.mark.parametrize("exc_class", HTTPX_ERRORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_every_httpx_error_is_mapped(exc_class: type[httpx.RequestError], mode: str) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise exc_class("simulated", request=request)

    backend, slept = make_backend(handler, retry=RetryPolicy(max_retries=2, jitter=False))
    with pytest.raises(BackendError) as info:
        if mode == "sync":
            backend.complete(MESSAGES, max_tokens=5)
        else:
            asyncio.run(backend.acomplete(MESSAGES, max_tokens=5))
    error = info.value
    assert isinstance(error.__cause__, exc_class)
    assert LOCAL in str(error)
    if issubclass(exc_class, httpx.TimeoutException):
        assert type(error) is BackendTimeout
    elif issubclass(exc_class, httpx.TransportError):
        assert type(error) is BackendConnectionError
    else:
        assert type(error) is BackendError
    expected = 3 if issubclass(exc_class, RETRIED) else 1
    assert calls == expected and len(slept) == expected - 1


# -- credentials, base URL and context window ---------------------------------------------------


def test_missing_key_for_openai_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(
        MissingCredentials, match="No API key: pass --api-key or set OPENAI_API_KEY"
    ):
        OpenAIBackend("gpt-4o-mini")
    local = OpenAIBackend("llama3", base_url="http://localhost:11434/v1/")
    assert local.base_url == "http://localhost:11434/v1"


def test_base_url_from_environment_and_validation(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert OpenAIBackend("m").base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(ValueError, match="http:// or https://"):
        OpenAIBackend("m", base_url="localhost:8000")


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("http://", "no host name"),
        ("https://:99/v1", "no host name"),
        ("http://[::1/v1", "not a valid URL"),
    ],
    ids=["empty", "no-host", "bad-ipv6"],
)
def test_malformed_base_url_is_a_value_error(base_url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OpenAIBackend("m", base_url=base_url)


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o", 128_000),
        ("gpt-4o-mini-2024-07-18", 128_000),
        ("gpt-4.1", 1_047_576),
        ("gpt-4", 8_192),
        ("gpt-3.5-turbo-0125", 16_385),
        ("llama3", 8_192),
        ("llama3.1:8b", 131_072),
        ("meta-llama/Meta-Llama-3-8B-Instruct", 8_192),
        ("my-own-model", None),
    ],
)
def test_context_window_table(model, window) -> None:
    assert context_window_for_model(model) == window


def test_context_window_argument_wins_and_table_needs_no_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    assert make_backend(handler, context_window=3000)[0].context_window == 3000
    assert make_backend(handler, model="gpt-4o")[0].context_window == 128_000


@pytest.mark.parametrize("key", ["max_model_len", "context_length", "context_window"])
def test_context_window_from_models_endpoint(key) -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(
            200, json={"data": [{"id": "other", key: 1}, {"id": "org/local-model", key: 32768}]}
        )

    backend, _ = make_backend(handler, model="local-model")
    assert backend.context_window == 32768
    assert backend.context_window == 32768
    assert seen == ["/v1/models"]


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404),
        httpx.Response(200, json={"data": [{"id": "test-model"}]}),
        httpx.Response(200, text="nope"),
    ],
    ids=["404", "no-window", "not-json"],
)
def test_unknown_context_window_falls_back_to_8192(response) -> None:
    backend, _ = make_backend(lambda request: response)
    assert backend.context_window == 8192


def test_model_discovered_from_models_endpoint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "qwen-x", "max_model_len": 4096}]})
        assert json.loads(request.content)["model"] == "qwen-x"
        return chat_response()

    backend, _ = make_backend(handler, model=None)
    assert backend.name == "openai:auto"
    assert asyncio.run(backend.acomplete(MESSAGES, max_tokens=5)).text == "A summary."
    assert backend.model == "qwen-x" and backend.name == "openai:qwen-x"
    assert backend.context_window == 4096


def test_model_is_discovered_once_per_run_not_per_concurrent_call() -> None:
    listings = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal listings
        if request.url.path.endswith("/models"):
            listings += 1
            await asyncio.sleep(0.01)  # a real listing takes time: the other calls start
            return httpx.Response(200, json={"data": [{"id": "qwen-x"}]})
        return chat_response()

    backend = OpenAIBackend(base_url=LOCAL, transport=httpx.MockTransport(handler))
    summarizer = Summarizer(backend=backend, context_window=1024, concurrency=8)
    result = summarizer.run("A sentence about one thing and another. " * 600)
    assert result.stats.calls > 2 and backend.model == "qwen-x"
    assert listings == 1


def test_no_model_and_no_listing_says_pass_model() -> None:
    backend, _ = make_backend(lambda request: httpx.Response(404), model=None)
    with pytest.raises(BackendError, match="pass --model"):
        backend.complete(MESSAGES, max_tokens=5)


# -- through the engine ---------------------------------------------------------------------------


def test_engine_over_openai_backend_counts_server_usage() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return chat_response("Short.")

    backend, _ = make_backend(handler, context_window=1000)
    text = "\n\n".join(
        f"Paragraph {i} says something long enough to count. " * 6 for i in range(40)
    )
    result = Summarizer(backend=backend, target_tokens=100).run(text)
    assert result.summary == "Short."
    assert result.stats.calls > 1
    assert result.stats.prompt_tokens == 21 * result.stats.calls
    assert result.stats.completion_tokens == 3 * result.stats.calls
    assert result.stats.backend == "openai:test-model" and result.stats.model == "served-model"
