"""Prompt templates for the map (summarize a chunk) and combine (merge summaries) steps.

Layout, relied upon by every backend: the instructions go in the system message and the
text to summarize is the last (and only) user message. Templates are ``str.format``
strings; the text itself is substituted as a value, so braces in documents are harmless.

Placeholders available in every template:

``{text}``            the text to summarize (user templates only)
``{target_tokens}``   the output cap of this request, in tokens
``{target_words}``    the same, roughly in English words (0.75 per token)
``{part}``/``{parts}`` 1-based index of this chunk and the number of chunks (map);
                      index of this group and number of groups (combine)
``{instruction}``     the user's extra instruction, or ""
``{language}``        the requested output language, or ""
``{instruction_note}`` "\\n\\nAdditional instructions: ..." or ""
``{language_note}``   " Write the summary in <language>." or ""
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._backend import Message

if TYPE_CHECKING:
    from ._tokens import Tokenizer

__all__ = [
    "DEFAULT_COMBINE_SYSTEM",
    "DEFAULT_COMBINE_USER",
    "DEFAULT_MAP_SYSTEM",
    "DEFAULT_MAP_USER",
    "MESSAGE_OVERHEAD",
    "PLACEHOLDERS",
    "Prompts",
    "REPLY_OVERHEAD",
    "count_message_tokens",
]

#: Tokens a chat format adds around each message (role, separators), as in OpenAI's
#: cookbook recipe for counting chat tokens; used as a safety margin for every backend.
MESSAGE_OVERHEAD = 4
#: Tokens that prime the assistant's reply.
REPLY_OVERHEAD = 3


def count_message_tokens(
    messages: Sequence[Message], tokenizer: Tokenizer, *, known: tuple[str, int] | None = None
) -> int:
    """Prompt tokens of a chat request: every message's content plus the chat overheads.

    Args:
        messages: the request's messages.
        tokenizer: counts each content.
        known: ``(text, tokens)`` with ``tokens == tokenizer.count(text)`` already counted:
            a content equal to ``text`` is not tokenized again (counts stay exact).
    """
    total = REPLY_OVERHEAD
    for message in messages:
        content = message["content"]
        if known is not None and content == known[0]:
            total += known[1]
        else:
            total += tokenizer.count(content)
        total += MESSAGE_OVERHEAD
    return total


DEFAULT_MAP_SYSTEM = (
    "You summarize documents. The user's message is part {part} of {parts} of a document. "
    "Summarize it faithfully: keep the key facts, names, numbers, identifiers and conclusions, "
    "in the order they appear, and add nothing that is not in the text. Use at most "
    "{target_tokens} tokens (about {target_words} words). Reply with the summary only."
    "{language_note}{instruction_note}"
)
DEFAULT_MAP_USER = "{text}"
DEFAULT_COMBINE_SYSTEM = (
    "You summarize documents. The user's message holds consecutive partial summaries of one "
    "document, in document order, separated by blank lines. Merge them into one coherent "
    "summary: keep the key facts, names, numbers, identifiers and conclusions from every part, "
    "in order, drop repetition, and add nothing new. Use at most {target_tokens} tokens "
    "(about {target_words} words). Reply with the summary only."
    "{language_note}{instruction_note}"
)
DEFAULT_COMBINE_USER = "{text}"

#: Every placeholder a template may use.
PLACEHOLDERS = frozenset(
    {
        "text",
        "target_tokens",
        "target_words",
        "part",
        "parts",
        "instruction",
        "language",
        "instruction_note",
        "language_note",
    }
)


def _fields(template: str, what: str) -> set[str]:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(
            f"prompt template {what} is not a valid format string ({exc}); write literal braces "
            "as {{ and }}"
        ) from exc
    unknown = names - PLACEHOLDERS
    if unknown:
        raise ValueError(
            f"prompt template {what} uses unknown placeholder(s) "
            f"{', '.join('{' + n + '}' for n in sorted(unknown))}; available: "
            f"{', '.join('{' + n + '}' for n in sorted(PLACEHOLDERS))}"
        )
    return names


@dataclass(frozen=True, kw_only=True)
class Prompts:
    """The four templates of a run: system and user message, for map and combine.

    The user templates must contain ``{text}``; the system templates must not (the text to
    summarize is always the last user message).
    """

    map_system: str = DEFAULT_MAP_SYSTEM
    map_user: str = DEFAULT_MAP_USER
    combine_system: str = DEFAULT_COMBINE_SYSTEM
    combine_user: str = DEFAULT_COMBINE_USER

    def __post_init__(self) -> None:
        for what in ("map_system", "map_user", "combine_system", "combine_user"):
            value = getattr(self, what)
            if not isinstance(value, str):
                raise TypeError(f"Prompts.{what} must be a str, got {type(value).__name__}")
            names = _fields(value, what)
            if what.endswith("_user") and "text" not in names:
                raise ValueError(
                    f"prompt template {what} must contain {{text}}, where the text to summarize "
                    "goes"
                )
            if what.endswith("_system") and "text" in names:
                raise ValueError(
                    f"prompt template {what} must not contain {{text}}: the text to summarize "
                    "goes in the user message (map_user / combine_user)"
                )

    def render(
        self,
        step: str,
        text: str,
        *,
        target_tokens: int,
        part: int = 1,
        parts: int = 1,
        instruction: str | None = None,
        language: str | None = None,
    ) -> list[Message]:
        """Return the messages of one request.

        Args:
            step: ``"map"`` or ``"combine"``.
            text: the text (or joined partial summaries) to summarize.
            target_tokens: the output cap of this request.
            part: 1-based index of the chunk or group.
            parts: number of chunks or groups at this level.
            instruction: extra instruction (style, focus), if any.
            language: output language, if any.
        """
        if step == "map":
            system, user = self.map_system, self.map_user
        elif step == "combine":
            system, user = self.combine_system, self.combine_user
        else:
            raise ValueError(f"step must be 'map' or 'combine', got {step!r}")
        values = {
            "target_tokens": target_tokens,
            "target_words": max(1, round(target_tokens * 0.75)),
            "part": part,
            "parts": parts,
            "instruction": instruction or "",
            "language": language or "",
            "instruction_note": (
                f"\n\nAdditional instructions: {instruction}" if instruction else ""
            ),
            "language_note": f" Write the summary in {language}." if language else "",
        }
        return [
            {"role": "system", "content": system.format_map(values)},
            {"role": "user", "content": user.format_map({**values, "text": text})},
        ]
