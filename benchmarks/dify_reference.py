"""A faithful reimplementation of Dify's built-in tool summary (``BuiltinTool.summary``).

Dify (langgenius/dify, ``api/core/tools/builtin_tool/tool.py``) summarizes long tool output,
such as a crawled web page, before handing it to the model. Its algorithm, restated here
in our own code so the benchmarks can run it against the same model as everyone else:

1. ``max_tokens`` is the model's whole context window. If the content alone counts fewer
   than ``0.6 * max_tokens`` prompt tokens it is returned unchanged.
2. The content is split on ``"\\n"``; blank lines are dropped. A line shorter than
   ``0.5 * max_tokens`` *characters* is kept. A longer line whose prompt (system prompt +
   line) counts more than ``0.7 * max_tokens`` tokens is cut, while that is still true,
   into pieces of ``int(0.5 * max_tokens)`` characters, re-counting the whole remainder on
   every turn of the loop; the remainder is kept as the last piece.
3. Lines are merged into messages with no separator (the newlines are gone). For each
   line: if the current message plus the line is shorter than ``0.5 * max_tokens``
   characters, the line is appended; then, independently, if the prompt for the current
   message *plus the line again* exceeds ``0.7 * max_tokens`` tokens the line starts a new
   message, otherwise it is appended (again). So a short line that fits is added twice.
   We keep this behaviour: it is what Dify does, and it costs tokens.
4. Every message is summarized with one model call, one after another (no concurrency),
   with a fixed system prompt. The summaries are joined with ``"\\n"``.
5. If the joined summaries count more than ``0.7 * max_tokens`` tokens, the whole
   procedure runs again on them (recursively); otherwise they are the result.

Dify asks the model for no particular output length (the model's default applies), and
never checks a request against the window before sending it.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["DIFY_LIKE_SYSTEM_PROMPT", "DifySummary", "dify_split"]

# Our own wording, padded to the same o200k token count as Dify's prompt (74 tokens), since
# the prompt's length is part of every request the algorithm makes.
DIFY_LIKE_SYSTEM_PROMPT = (
    "You are an expert reader of documents. Find the main points of the web page text\n"
    "below and restate them briefly in your own words, keeping the original meaning and\n"
    "every key point. The full text is too long to show at once, so what you see here may\n"
    "be only one part of it. Write a summary of the part you are given.\n"
)

PromptCounter = Callable[[str, bool], int]
"""``count(content, with_system_prompt) -> prompt tokens`` of a request carrying ``content``."""


def dify_split(content: str, max_tokens: float, prompt_tokens: Callable[[str], int]) -> list[str]:
    """Steps 2 and 3 above: cut long lines, then merge lines into messages.

    Args:
        content: the text to split.
        max_tokens: Dify's ``max_tokens`` (the context window); limits are 0.5x in
            characters and 0.7x in prompt tokens of it.
        prompt_tokens: prompt tokens of one request carrying a piece of text (Dify counts the
            system prompt plus the piece).

    Returns:
        The messages, each to be sent in one request.
    """
    char_limit = max_tokens * 0.5
    token_limit = max_tokens * 0.7
    cut = int(max_tokens * 0.5)

    pieces: list[str] = []
    for line in content.split("\n"):
        if not line.strip():
            continue
        if len(line) < char_limit:
            pieces.append(line)
        elif prompt_tokens(line) > token_limit:
            while prompt_tokens(line) > token_limit:
                pieces.append(line[:cut])
                line = line[cut:]
            pieces.append(line)
        else:
            pieces.append(line)

    messages: list[str] = []
    for piece in pieces:
        if not messages:
            messages.append(piece)
            continue
        if len(messages[-1]) + len(piece) < char_limit:
            messages[-1] += piece
        if prompt_tokens(messages[-1] + piece) > token_limit:
            messages.append(piece)
        else:
            messages[-1] += piece
    return messages


class DifySummary:
    """Dify's recursive, sequential summary loop against any ``complete(system, user)``.

    Args:
        complete: sends one request (system prompt, user content) and returns the reply text.
        count: token count of a string (the model's tokenizer).
        max_tokens: the model's context window.
        message_overhead: tokens a chat message costs beyond its content (OpenAI: about 4),
            plus a constant 3 per request, as model runtimes count prompts.
        max_depth: a safety stop for runaway recursion (Dify has none; a model that does not
            shrink its input would recurse forever there). Raises RecursionError past it.
    """

    def __init__(
        self,
        complete: Callable[[str, str], str],
        count: Callable[[str], int],
        max_tokens: int,
        *,
        message_overhead: int = 4,
        max_depth: int = 50,
    ) -> None:
        self.complete = complete
        self.count = count
        self.max_tokens = max_tokens
        self.message_overhead = message_overhead
        self.max_depth = max_depth
        self._system_tokens = count(DIFY_LIKE_SYSTEM_PROMPT) + message_overhead
        self.calls = 0
        self.levels = 0

    def _user_only(self, content: str) -> int:
        return self.count(content) + self.message_overhead + 3

    def _with_system(self, content: str) -> int:
        return self._system_tokens + self.count(content) + self.message_overhead + 3

    def summary(self, content: str, _depth: int = 0) -> str:
        """Return Dify's summary of ``content`` (or ``content`` itself when it is short)."""
        if _depth > self.max_depth:
            raise RecursionError("Dify-style summary did not shrink after 50 levels")
        if self._user_only(content) < self.max_tokens * 0.6:
            return content
        self.levels = max(self.levels, _depth + 1)
        summaries = []
        for message in dify_split(content, self.max_tokens, self._with_system):
            self.calls += 1
            summaries.append(self.complete(DIFY_LIKE_SYSTEM_PROMPT, message))
        result = "\n".join(summaries)
        if self._user_only(result) > self.max_tokens * 0.7:
            return self.summary(result, _depth + 1)
        return result
