"""A scripted, in-process backend for tests: yours and ours.

``FakeBackend`` behaves like a strict server: it refuses a request whose prompt plus
``max_tokens`` exceeds its context window (:class:`~summarizer.errors.ContextLengthExceeded`)
and cuts replies at ``max_tokens`` (``finish_reason="length"``). It records every call, and
how many ran at once.

Replies are scripted with one of:

- ``None``: echo the last user message (cut at ``max_tokens``);
- a list of strings or exceptions, used in order (an exception, or exception class, is
  raised instead of answering); running out of replies raises ``IndexError``;
- a callable ``(messages, max_tokens) -> str | Completion`` (it may raise).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._backend import Completion, Message
from ._prompts import count_message_tokens
from ._tokens import Tokenizer, get_tokenizer
from .errors import ContextLengthExceeded

__all__ = ["DEFAULT_FAKE_CONTEXT_WINDOW", "FakeBackend", "FakeCall"]

DEFAULT_FAKE_CONTEXT_WINDOW = 8192

Reply = str | BaseException | type[BaseException]
ReplyFunction = Callable[[list[Message], int], str | Completion]


@dataclass(frozen=True)
class FakeCall:
    """One recorded request.

    Attributes:
        messages: the messages sent.
        max_tokens: the output cap asked for.
        prompt_tokens: prompt tokens, counted with the backend's tokenizer and the chat
            overheads.
    """

    messages: list[Message]
    max_tokens: int
    prompt_tokens: int

    @property
    def text(self) -> str:
        """Content of the last user message (the text that was to be summarized)."""
        return _last_user(self.messages)


def _last_user(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            return message["content"]
    return ""


class FakeBackend:
    """Scripted backend that records its calls; see the module docstring.

    Args:
        replies: ``None`` (echo), a list of replies/exceptions, or a callable.
        context_window: the window it enforces, in tokens.
        name: shown in stats ("fake").
        tokenizer: counts tokens (default ``o200k_base``).
        enforce_max_tokens: cut replies at ``max_tokens`` like a real server; turn off to
            simulate a model that ignores the cap.
        check_context: refuse requests that do not fit ``context_window``.
        delay: seconds each call takes (``acomplete`` sleeps asynchronously), or a function
            of the messages returning them (to make calls finish out of order).
        report_usage: fill ``Completion.prompt_tokens``/``completion_tokens`` (values from a
            scripted ``Completion`` are passed on either way).
    """

    def __init__(
        self,
        replies: Sequence[Reply] | ReplyFunction | None = None,
        *,
        context_window: int | None = DEFAULT_FAKE_CONTEXT_WINDOW,
        name: str = "fake",
        tokenizer: Tokenizer | str | Callable[[str], int] | None = None,
        enforce_max_tokens: bool = True,
        check_context: bool = True,
        delay: float | Callable[[list[Message]], float] = 0.0,
        report_usage: bool = True,
    ) -> None:
        if replies is not None and not callable(replies):
            if isinstance(replies, (str, bytes)):
                raise TypeError("replies must be a list of strings, not a single string")
            replies = list(replies)
        self._replies = replies
        self.context_window = context_window
        self.name = name
        self.model = name
        self.tokenizer = get_tokenizer(tokenizer)
        self.enforce_max_tokens = enforce_max_tokens
        self.check_context = check_context
        self.delay = delay
        self.report_usage = report_usage
        self.calls: list[FakeCall] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._next = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FakeBackend(name={self.name!r}, context_window={self.context_window})"

    # -- Backend protocol -------------------------------------------------------------

    def complete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Answer one request synchronously."""
        prompt_tokens = self._enter(messages, max_tokens)
        try:
            delay = self._delay(messages)
            if delay:
                time.sleep(delay)
            return self._answer(messages, max_tokens, prompt_tokens)
        finally:
            self._leave()

    async def acomplete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Answer one request; ``delay`` is an ``asyncio.sleep`` so calls overlap."""
        prompt_tokens = self._enter(messages, max_tokens)
        try:
            delay = self._delay(messages)
            if delay:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # let other calls start, as a network call would
            return self._answer(messages, max_tokens, prompt_tokens)
        finally:
            self._leave()

    # -- internals --------------------------------------------------------------------

    def _delay(self, messages: list[Message]) -> float:
        return float(self.delay(messages) if callable(self.delay) else self.delay)

    def _enter(self, messages: list[Message], max_tokens: int) -> int:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
        prompt_tokens = count_message_tokens(messages, self.tokenizer)
        with self._lock:
            copied: list[Message] = [{"role": m["role"], "content": m["content"]} for m in messages]
            self.calls.append(FakeCall(copied, max_tokens, prompt_tokens))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if (
            self.check_context
            and self.context_window is not None
            and prompt_tokens + max_tokens > self.context_window
        ):
            self._leave()
            raise ContextLengthExceeded(
                f"request of {prompt_tokens} prompt tokens + max_tokens {max_tokens} exceeds "
                f"the context window of {self.context_window} tokens",
                status=400,
            )
        return prompt_tokens

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _script(self, messages: list[Message], max_tokens: int) -> str | Completion:
        replies = self._replies
        if replies is None:
            return _last_user(messages)
        if callable(replies):
            return replies(messages, max_tokens)
        with self._lock:
            position = self._next
            self._next += 1
        if position >= len(replies):
            raise IndexError(
                f"FakeBackend ran out of scripted replies: call {position + 1}, but only "
                f"{len(replies)} were given"
            )
        reply = replies[position]
        if isinstance(reply, BaseException) or (
            isinstance(reply, type) and issubclass(reply, BaseException)
        ):
            raise reply
        return reply

    def _answer(self, messages: list[Message], max_tokens: int, prompt_tokens: int) -> Completion:
        reply = self._script(messages, max_tokens)
        scripted_prompt = scripted_completion = None
        if isinstance(reply, Completion):
            text, finish = reply.text, reply.finish_reason or "stop"
            scripted_prompt, scripted_completion = reply.prompt_tokens, reply.completion_tokens
        elif isinstance(reply, str):
            text, finish = reply, "stop"
        else:
            raise TypeError(f"a FakeBackend reply must be a str or Completion, got {reply!r}")
        if self.enforce_max_tokens and self.tokenizer.count(text) > max_tokens:
            text, finish = self.tokenizer.truncate(text, max_tokens), "length"
        if self.report_usage:
            scripted_prompt = prompt_tokens if scripted_prompt is None else scripted_prompt
            if scripted_completion is None:
                scripted_completion = self.tokenizer.count(text)
        return Completion(
            text=text,
            prompt_tokens=scripted_prompt,
            completion_tokens=scripted_completion,
            finish_reason=finish,
            model=self.model,
        )
