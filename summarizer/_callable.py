"""A backend for models the host application provides: a plain function.

Hosts such as Dify, a notebook or a test harness already hold a model client. They hand
the engine one function ``fn(messages, max_tokens) -> str | Completion`` (sync or async)
and :class:`CallableBackend` makes it a :class:`~summarizer.Backend`. A synchronous
function runs in a worker thread, so the engine's concurrency still overlaps the calls.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from ._backend import Completion, Message
from ._tokens import Tokenizer, get_tokenizer
from .errors import BackendError, BackendResponseError, SummarizerError

__all__ = ["CallableBackend", "ModelFunction"]

#: ``fn(messages, max_tokens)`` returning the reply text or a :class:`Completion`, or an
#: awaitable of either.
ModelFunction = Callable[[list[Message], int], str | Completion | Awaitable[str | Completion]]


class CallableBackend:
    """Wrap ``fn(messages, max_tokens) -> str | Completion`` (sync or async) as a backend.

    Args:
        fn: called with a fresh list of messages and the output cap in tokens. It returns
            the reply text or a :class:`Completion` (with usage when the host knows it),
            directly or as an awaitable. A synchronous ``fn`` runs in a worker thread.
        name: shown to users, e.g. ``"dify:gpt-4o-mini"``.
        context_window: the model's window in tokens (prompt plus output), or ``None``
            when unknown (the engine then uses its conservative default).
        tokenizer: counts tokens as the model does, when known (an encoding or OpenAI
            model name, a ``text -> count`` function or a :class:`Tokenizer`); the engine
            then uses the small safety margin of exact counts.

    Errors ``fn`` raises reach the engine as :class:`BackendError` (a
    :class:`SummarizerError` passes through unchanged); a reply that is neither a string
    nor a :class:`Completion` raises :class:`BackendResponseError`.
    """

    def __init__(
        self,
        fn: ModelFunction,
        *,
        name: str,
        context_window: int | None,
        tokenizer: Tokenizer | str | Callable[[str], int] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(
                f"CallableBackend needs a function fn(messages, max_tokens), got "
                f"{type(fn).__name__}"
            )
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string such as 'host:model', got {name!r}")
        if context_window is not None and (
            isinstance(context_window, bool)
            or not isinstance(context_window, int)
            or context_window < 1
        ):
            raise ValueError(
                f"context_window must be a positive integer (the model's window in tokens) "
                f"or None when unknown, got {context_window!r}"
            )
        self._fn = fn
        self.name = name
        self.context_window = context_window
        if tokenizer is not None:
            self.tokenizer = get_tokenizer(tokenizer)

    def __repr__(self) -> str:
        return f"CallableBackend(name={self.name!r}, context_window={self.context_window!r})"

    async def acomplete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Call ``fn`` once and return its reply as a :class:`Completion`."""
        copy: list[Message] = [{"role": m["role"], "content": m["content"]} for m in messages]
        try:
            if inspect.iscoroutinefunction(self._fn):
                result = await self._fn(copy, max_tokens)
            else:
                result = await asyncio.to_thread(self._fn, copy, max_tokens)
                if inspect.isawaitable(result):
                    result = await result
        except SummarizerError:
            raise
        except Exception as exc:
            raise BackendError(
                f"{self.name}: the model function raised {type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(result, Completion):
            return result
        if isinstance(result, str):
            return Completion(text=result, model=self.name)
        raise BackendResponseError(
            f"{self.name}: the model function returned {type(result).__name__}; it must "
            "return the reply text (str) or a summarizer.Completion"
        )
