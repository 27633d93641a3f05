"""The one seam between the map-reduce engine and a language model.

A backend turns a list of chat messages into one completion, never asking for more
than ``max_tokens`` output tokens. Concurrency, retries across chunks, budgets and
recursion live above it, in the engine, written once for every backend.

The protocol is async-first: a backend writes one method, :meth:`Backend.acomplete`. A
synchronous ``complete()`` is optional; where a sync call is needed, :func:`complete_sync`
derives it once, above the protocol, for every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypedDict, runtime_checkable

from ._sync import run_sync

__all__ = ["Backend", "Completion", "Message", "complete_sync"]


class Message(TypedDict):
    """One chat message, as in the OpenAI Chat Completions API."""

    role: str
    content: str


@dataclass(frozen=True)
class Completion:
    """What a backend returns for one request.

    Token counts come from the server's ``usage`` when it reports one, else ``None``
    (the engine then counts them itself).
    """

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    model: str | None = None


@runtime_checkable
class Backend(Protocol):
    """A language model the engine can call: one async method.

    ``name`` is shown to users ("openai:gpt-4o-mini", "extractive").
    ``context_window`` is the model's window in tokens (prompt plus output), or ``None``
    when unknown, in which case the engine uses its conservative default. Reading it must
    not block on I/O: a backend that has to ask a server resolves it before (in its
    constructor or an async step) and answers ``None`` until it knows.

    A synchronous ``complete(messages, *, max_tokens)`` is optional; callers that need
    one use :func:`complete_sync`, which prefers it and otherwise runs :meth:`acomplete`.
    """

    name: str
    context_window: int | None

    async def acomplete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Return one completion of at most ``max_tokens`` tokens."""
        ...


def complete_sync(backend: Backend, messages: list[Message], *, max_tokens: int) -> Completion:
    """One completion from synchronous code, for any backend.

    Uses the backend's own ``complete()`` when it has one, else runs its ``acomplete()``
    through the package's one sync-over-async runner (a private loop thread, so this also
    works where an event loop is already running).

    Raises:
        TypeError: ``backend`` has no ``acomplete()``.
    """
    sync = getattr(backend, "complete", None)
    if callable(sync):
        result: Completion = sync(messages, max_tokens=max_tokens)
        return result
    acomplete = getattr(backend, "acomplete", None)
    if not callable(acomplete):
        raise TypeError(
            f"{type(backend).__name__} is not a backend: it has no acomplete(messages, *, "
            "max_tokens) method"
        )
    return run_sync(lambda: acomplete(messages, max_tokens=max_tokens), name="complete-sync")
