"""The one seam between the map-reduce engine and a language model.

A backend turns a list of chat messages into one completion, never asking for more
than ``max_tokens`` output tokens. Concurrency, retries across chunks, budgets and
recursion live above it, in the engine, written once for every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypedDict, runtime_checkable

__all__ = ["Backend", "Completion", "Message"]


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
    """A language model the engine can call, synchronously and asynchronously.

    ``name`` is shown to users ("openai:gpt-4o-mini", "extractive").
    ``context_window`` is the model's window in tokens (prompt plus output), or ``None``
    when unknown, in which case the engine uses its conservative default.
    """

    name: str
    context_window: int | None

    def complete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Return one completion of at most ``max_tokens`` tokens."""
        ...

    async def acomplete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Async twin of :meth:`complete`."""
        ...
