"""Running the async implementation from synchronous code.

The synchronous ``crawl`` drives the asynchronous one on a private event loop in
a helper thread. That works where an event loop is already running in the
calling thread (Jupyter), and keeps signals away from the loop: Ctrl-C
interrupts the calling thread's wait, the coroutine is then cancelled on the
loop (its ``finally`` blocks close connections), and only then does
``KeyboardInterrupt`` propagate.

The synchronous ``fetch_many`` runs blocking fetches on a pool of worker
threads instead (:func:`map_threads`): httpx's asyncio connection pool slows
down sharply with many requests in flight, its sync one does not. Ctrl-C there
cancels the queued work, calls ``abort`` (which makes the running work fail
fast), and waits for the workers before it propagates.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from summarizer import LoopThread
from summarizer import run_sync as _run_sync

__all__ = ["LoopThread", "amap_threads", "iterate_sync", "map_threads", "run_sync"]

T = TypeVar("T")
R = TypeVar("R")

_CRAWLER_LOOP = "crawler-event-loop"

# Seconds a cancelled call waits for its coroutine to wind down.
CLEANUP_TIMEOUT = 5.0
# Seconds between checks for KeyboardInterrupt while waiting for the loop.
POLL_INTERVAL = 0.1


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private loop thread."""
    return _run_sync(make, name=_CRAWLER_LOOP)


def iterate_sync(make: Callable[[], AsyncGenerator[T, None]]) -> Iterator[T]:
    """Drive an async generator from synchronous code, one item per step."""
    agen: AsyncGenerator[T, None] | None = None

    async def create() -> AsyncGenerator[T, None]:
        return make()

    async def step() -> tuple[bool, T | None]:
        assert agen is not None
        try:
            return True, await agen.__anext__()
        except StopAsyncIteration:
            return False, None

    def generate() -> Iterator[T]:
        nonlocal agen
        runner = LoopThread(_CRAWLER_LOOP)
        try:
            agen = runner.run(create)
            while True:
                more, item = runner.run(step)
                if not more:
                    return
                yield item  # type: ignore[misc]
        finally:
            try:
                if agen is not None:
                    runner.run(agen.aclose)
            finally:
                runner.close()

    return generate()


def map_threads(
    func: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int,
    abort: Callable[[], None],
    name: str = "crawler-worker",
) -> list[R]:
    """``[func(item) for item in items]`` on at most ``workers`` threads, in order.

    An exception from ``func`` (or Ctrl-C in the calling thread) stops the rest:
    queued items are dropped, ``abort()`` is called so running ones end quickly,
    the workers are waited for (up to a few seconds), then the exception propagates.
    """
    if not items:
        return []
    stop = threading.Event()

    def run(item: T) -> R:
        if stop.is_set():
            raise concurrent.futures.CancelledError
        return func(item)

    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=max(1, min(workers, len(items))), thread_name_prefix=name
    )
    futures: list[concurrent.futures.Future[R]] = []
    try:
        futures = [pool.submit(run, item) for item in items]
        pending = set(futures)
        while pending:
            # Short slices: Ctrl-C only raises once this thread runs Python code.
            done, pending = concurrent.futures.wait(
                pending, timeout=POLL_INTERVAL, return_when=concurrent.futures.FIRST_EXCEPTION
            )
            for future in done:
                if future.exception() is not None:
                    future.result()
        pool.shutdown(wait=True)
        return [future.result() for future in futures]
    except BaseException:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        try:
            abort()
        finally:
            # Only the started ones: wait() never counts a cancelled future as done.
            started = [future for future in futures if not future.cancelled()]
            concurrent.futures.wait(started, timeout=CLEANUP_TIMEOUT)
        raise


async def amap_threads(
    func: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int,
    abort: Callable[[], None],
    name: str = "crawler-worker",
) -> list[R]:
    """Async :func:`map_threads`: the event loop awaits the workers without blocking.

    Cancelling the awaiting task drops the queued items, calls ``abort()`` and
    waits (up to a few seconds) for the running ones before the cancellation
    propagates.
    """
    if not items:
        return []
    stop = threading.Event()

    def run(item: T) -> R:
        if stop.is_set():
            raise concurrent.futures.CancelledError
        return func(item)

    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=max(1, min(workers, len(items))), thread_name_prefix=name
    )
    futures = [pool.submit(run, item) for item in items]
    try:
        return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in futures)))
    except BaseException:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        try:
            abort()
        finally:
            started = [future for future in futures if not future.cancelled()]
            if started:
                await asyncio.get_running_loop().run_in_executor(
                    None,
                    functools.partial(concurrent.futures.wait, started, timeout=CLEANUP_TIMEOUT),
                )
        raise
    finally:
        pool.shutdown(wait=False)
