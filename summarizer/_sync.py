"""Running async code from synchronous code, also where a loop is already running.

A coroutine runs on a private event loop in a helper thread. That works where an
event loop is already running in the calling thread (Jupyter, an async app), and
keeps signals away from the loop: Ctrl-C interrupts the calling thread's wait, the
coroutine is then cancelled on the loop (its ``finally`` blocks close connections),
and only then does ``KeyboardInterrupt`` propagate. Shared by ``summarizer`` and
``crawler``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["CLEANUP_TIMEOUT", "POLL_INTERVAL", "LoopThread", "run_sync"]

T = TypeVar("T")

# Seconds a cancelled call waits for its coroutine to wind down.
CLEANUP_TIMEOUT = 5.0
# Seconds between checks for KeyboardInterrupt while waiting for the loop.
POLL_INTERVAL = 0.1


class LoopThread:
    """A private event loop on a helper thread, for the synchronous API."""

    def __init__(self, name: str = "event-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run a coroutine on the loop; if this thread is interrupted, cancel it first."""
        holder: dict[str, asyncio.Task[Any]] = {}

        async def wrapper() -> T:
            task = asyncio.current_task()
            assert task is not None
            holder["task"] = task
            return await make()

        future = asyncio.run_coroutine_threadsafe(wrapper(), self.loop)
        try:
            # Wait in short slices: a Ctrl-C delivered to another thread, or simulated
            # with _thread.interrupt_main(), only raises once this thread runs Python code.
            while not future.done():
                concurrent.futures.wait([future], timeout=POLL_INTERVAL)
            return future.result()
        except BaseException:
            if not future.done():
                future.cancel()

                async def settle() -> None:
                    task = holder.get("task")
                    if task is not None:
                        await asyncio.wait({task}, timeout=CLEANUP_TIMEOUT)

                asyncio.run_coroutine_threadsafe(settle(), self.loop).result(
                    timeout=CLEANUP_TIMEOUT + 1
                )
            raise

    def close(self) -> None:
        """Finish async generators and the executor, then stop the loop and its thread."""
        try:
            self.run(self.loop.shutdown_asyncgens)
            self.run(self.loop.shutdown_default_executor)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
            self.loop.close()


def run_sync(make: Callable[[], Coroutine[Any, Any, T]], *, name: str = "event-loop") -> T:
    """Run a coroutine to completion on a private loop thread (works inside a running loop)."""
    runner = LoopThread(name)
    try:
        return runner.run(make)
    finally:
        runner.close()
