"""CallableBackend: a host-provided model function as a backend, through the public API."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from summarizer import (
    BackendError,
    BackendResponseError,
    CallableBackend,
    ChunkFailed,
    Completion,
    Summarizer,
    Tokenizer,
    complete_sync,
)

LONG = " ".join(
    f"Sentence number {i} talks about harbour {i % 7} and its lights." for i in range(600)
)


def test_sync_function_reply_becomes_a_completion() -> None:
    seen: list[tuple[list[dict[str, str]], int]] = []

    def fn(messages, max_tokens):  # type: ignore[no-untyped-def]
        seen.append((messages, max_tokens))
        return "short answer"

    backend = CallableBackend(fn, name="host:m", context_window=4096)
    out = complete_sync(backend, [{"role": "user", "content": "hi"}], max_tokens=42)
    assert out == Completion(text="short answer", model="host:m")
    assert seen == [([{"role": "user", "content": "hi"}], 42)]
    assert backend.name == "host:m" and backend.context_window == 4096


def test_async_function_and_completion_pass_through() -> None:
    async def fn(messages, max_tokens):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        return Completion(text="x", prompt_tokens=3, completion_tokens=1)

    backend = CallableBackend(fn, name="host:a", context_window=None)
    out = asyncio.run(backend.acomplete([{"role": "user", "content": "q"}], max_tokens=5))
    assert out == Completion(text="x", prompt_tokens=3, completion_tokens=1)


def test_sync_function_runs_off_the_loop_so_calls_overlap() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def fn(messages, max_tokens):  # type: ignore[no-untyped-def]
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return "a summary of this part."

    backend = CallableBackend(fn, name="host:slow", context_window=1024)
    result = Summarizer(backend=backend, concurrency=4, target_tokens=100).run(LONG)
    assert result.summary
    assert peak >= 2, "a sync model function blocked the event loop"


def test_every_request_fits_the_window_and_the_cap() -> None:
    tok = Tokenizer.from_encoding("o200k_base")
    window = 1024
    calls: list[int] = []

    def fn(messages, max_tokens):  # type: ignore[no-untyped-def]
        prompt = sum(tok.count(m["content"]) for m in messages)
        assert prompt + max_tokens <= window
        calls.append(max_tokens)
        return "part summary."

    backend = CallableBackend(fn, name="host:w", context_window=window, tokenizer="o200k_base")
    result = Summarizer(backend=backend, target_tokens=100).run(LONG)
    assert result.summary == "part summary."
    assert len(calls) > 2


def test_function_errors_become_backend_errors_and_chunk_failed() -> None:
    def fn(messages, max_tokens):  # type: ignore[no-untyped-def]
        raise RuntimeError("quota exhausted")

    backend = CallableBackend(fn, name="host:bad", context_window=2048)
    with pytest.raises(BackendError, match="host:bad.*RuntimeError: quota exhausted"):
        complete_sync(backend, [{"role": "user", "content": "q"}], max_tokens=5)
    with pytest.raises(ChunkFailed, match="quota exhausted"):
        Summarizer(backend=backend).run(LONG)


def test_wrong_reply_type_is_a_response_error() -> None:
    backend = CallableBackend(lambda m, n: 42, name="host:odd", context_window=2048)
    with pytest.raises(BackendResponseError, match="returned int.*str.*Completion"):
        complete_sync(backend, [{"role": "user", "content": "q"}], max_tokens=5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fn": "nope", "name": "x", "context_window": 10}, TypeError, "needs a function"),
        ({"fn": print, "name": " ", "context_window": 10}, ValueError, "name must be"),
        ({"fn": print, "name": "x", "context_window": 0}, ValueError, "context_window"),
        ({"fn": print, "name": "x", "context_window": True}, ValueError, "context_window"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match) -> None:  # type: ignore[no-untyped-def]
    fn = kwargs.pop("fn")
    with pytest.raises(error, match=match):
        CallableBackend(fn, **kwargs)
