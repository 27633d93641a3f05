"""``get_url``: one call that turns a URL into LLM-ready text, for agents and tools.

The result is a few header lines, a blank line, then the main text::

    TITLE: How tokenizers work
    AUTHOR: Ada Lovelace
    PUBLISHED: 2024-05-01
    URL: https://example.com/tokenizers

    # How tokenizers work
    ...

A header line whose value is unknown is left out (never ``None``). With
``max_tokens`` the result is split into pages that each fit the budget, header
and hint line included, and every page but the last ends with a line telling
the model how to ask for the next one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ._extract import DEFAULT_OUTPUT_FORMAT, OutputFormat, document_from_page
from ._fetch import afetch, fetch
from ._models import Document

if TYPE_CHECKING:
    from summarizer import Tokenizer

__all__ = [
    "DEFAULT_NEXT_HINT",
    "MAX_HEADER_VALUE_CHARS",
    "MIN_PAGE_TEXT_TOKENS",
    "aget_url",
    "get_url",
    "render",
]

logger = logging.getLogger(__name__)

#: Header values longer than this are cut (with "…") so the header stays small.
MAX_HEADER_VALUE_CHARS = 300
#: With a token budget, at least this many tokens of text must fit on a page.
MIN_PAGE_TEXT_TOKENS = 16

#: The sentence that tells the model how to get the next page (``{next}``: its number).
#: Pass ``next_hint=`` when the tool is exposed under another name.
DEFAULT_NEXT_HINT = "Call get_url with page={next} for more."


def get_url(
    url: str,
    user_agent: str | None = None,
    *,
    output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
    max_tokens: int | None = None,
    page: int = 1,
    tokenizer: Any = None,
    next_hint: str = DEFAULT_NEXT_HINT,
    include_comments: bool = False,
    include_tables: bool = True,
    **fetch_options: Any,
) -> str:
    """Fetch a URL and return its main content as text ready for an LLM prompt.

    Args:
        url: The http(s) URL to read.
        user_agent: A preset name (``"chrome"``, ``"firefox"``...) or a literal
            ``User-Agent`` string; ``None`` sends this package's honest default.
        output_format: ``"markdown"`` (headings, lists, links, tables) or ``"text"``.
        max_tokens: Token budget of the returned string. The text is split into
            pages that fit it (header lines and the next-page hint included);
            ``None`` returns the whole text.
        page: Which page to return (1-based); needs ``max_tokens`` when above 1.
        tokenizer: How tokens are counted: a :class:`summarizer.Tokenizer`, an
            encoding or model name, or a ``str -> int`` function; default ``o200k_base``.
        next_hint: The sentence ending every page but the last; ``{next}`` is
            replaced by the next page's number. Change it when the tool has
            another name: ``"Call read_page with page={next} for more."``.
        include_comments: Keep reader comments under an article.
        include_tables: Keep the content of tables.
        **fetch_options: Passed to :func:`crawler.fetch`: ``timeout``,
            ``max_bytes``, ``headers``, ``allow_private``, ``respect_robots``,
            ``max_redirects``, ``retries``, ``transport``...

    Returns:
        ``TITLE:``/``AUTHOR:``/``PUBLISHED:``/``URL:`` lines (unknown ones left out),
        a blank line, then the text (of the requested page).

    Raises:
        FetchError: The page could not be fetched (its subclass says why).
        ExtractionError: The page holds no text, or is of an unsupported type.
        ValueError: ``page`` is out of range (the message names the valid range),
            or ``max_tokens`` is too small to hold the header and some text.
    """
    _check_paging(max_tokens, page)
    _check_hint(next_hint)
    fetched = fetch(url, user_agent=user_agent, **fetch_options)
    document = document_from_page(
        fetched,
        output_format=output_format,
        include_comments=include_comments,
        include_tables=include_tables,
    )
    return render(
        document, max_tokens=max_tokens, page=page, tokenizer=tokenizer, next_hint=next_hint
    )


async def aget_url(
    url: str,
    user_agent: str | None = None,
    *,
    output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
    max_tokens: int | None = None,
    page: int = 1,
    tokenizer: Any = None,
    next_hint: str = DEFAULT_NEXT_HINT,
    include_comments: bool = False,
    include_tables: bool = True,
    **fetch_options: Any,
) -> str:
    """Async :func:`get_url` (extraction runs in a worker thread)."""
    _check_paging(max_tokens, page)
    _check_hint(next_hint)
    fetched = await afetch(url, user_agent=user_agent, **fetch_options)
    document = await asyncio.to_thread(
        document_from_page,
        fetched,
        output_format=output_format,
        include_comments=include_comments,
        include_tables=include_tables,
    )
    return render(
        document, max_tokens=max_tokens, page=page, tokenizer=tokenizer, next_hint=next_hint
    )


def render(
    document: Document,
    *,
    max_tokens: int | None = None,
    page: int = 1,
    tokenizer: Any = None,
    next_hint: str = DEFAULT_NEXT_HINT,
) -> str:
    """Format an extracted document as :func:`get_url` does (header, blank line, text).

    Raises:
        ValueError: See :func:`get_url`.
    """
    _check_paging(max_tokens, page)
    _check_hint(next_hint)
    header = header_lines(document)
    head = "\n".join(header) + "\n\n" if header else ""
    if max_tokens is None:
        return head + document.text
    pages = paginate(head, document.text, max_tokens, tokenizer=tokenizer, next_hint=next_hint)
    if page > len(pages):
        raise ValueError(
            f"page={page} is out of range: at max_tokens={max_tokens} this document has "
            f"{len(pages)} page{'s' if len(pages) > 1 else ''}; pass page=1"
            + (f"..{len(pages)}" if len(pages) > 1 else "")
        )
    return pages[page - 1]


def header_lines(document: Document) -> list[str]:
    """The known ``TITLE``/``AUTHOR``/``PUBLISHED``/``URL`` lines of a document."""
    lines = []
    for label, value in (
        ("TITLE", document.title),
        ("AUTHOR", document.author),
        ("PUBLISHED", document.date),
        ("URL", document.url),
    ):
        clean = _one_line(value)
        if clean:
            lines.append(f"{label}: {clean}")
    return lines


def paginate(
    head: str,
    text: str,
    max_tokens: int,
    *,
    tokenizer: Any = None,
    next_hint: str = DEFAULT_NEXT_HINT,
) -> list[str]:
    """Split ``head + text`` into pages of at most ``max_tokens`` tokens each.

    Every page starts with ``head``; every page but the last ends with a hint line
    naming the next page, the last one with a line saying it is the last. The
    pages' texts, in order, make up ``text`` (up to whitespace at the cuts).

    Raises:
        ValueError: ``max_tokens`` cannot hold ``head``, the hint and
            :data:`MIN_PAGE_TEXT_TOKENS` tokens of text.
    """
    from summarizer import get_tokenizer, split_text

    tok: Tokenizer = get_tokenizer(tokenizer)
    whole = head + text
    if tok.count(whole) <= max_tokens:
        return [whole]
    reserve = tok.count(head) + tok.count("\n\n" + _hint(99_999, 100_000, next_hint))
    budget = max_tokens - reserve
    for _ in range(8):
        if budget < MIN_PAGE_TEXT_TOKENS:
            raise ValueError(
                f"max_tokens={max_tokens} is too small: the header lines and the page "
                f"hint take {reserve} tokens; pass max_tokens >= "
                f"{reserve + MIN_PAGE_TEXT_TOKENS}"
            )
        chunks = split_text(text, budget, tokenizer=tok)
        bodies = [chunk.text.strip() for chunk in chunks]
        bodies = [body for body in bodies if body] or [""]
        total = len(bodies)
        pages = [
            f"{head}{body}\n\n{_hint(number, total, next_hint)}"
            for number, body in enumerate(bodies, start=1)
        ]
        over = max(tok.count(p) for p in pages) - max_tokens
        if over <= 0:
            return pages
        # Token counts are not additive across joins; shrink and try again.
        budget -= max(over, 1)
    raise ValueError(  # pragma: no cover - the reserve makes this unreachable in practice
        f"Could not fit pages into max_tokens={max_tokens}; pass a larger budget"
    )


def _hint(number: int, total: int, next_hint: str) -> str:
    if number < total:
        return f"[Page {number} of {total}. {next_hint.format(next=number + 1)}]"
    return f"[Page {number} of {total}. This is the last page.]"


def _one_line(value: str | None) -> str:
    """A metadata value on one line (no header injection), cut to a sane length."""
    if not value:
        return ""
    clean = " ".join(str(value).split())
    if clean.lower() == "none":
        return ""
    if len(clean) > MAX_HEADER_VALUE_CHARS:
        clean = clean[: MAX_HEADER_VALUE_CHARS - 1].rstrip() + "…"
    return clean


def _check_hint(next_hint: str) -> None:
    if not isinstance(next_hint, str) or "\n" in next_hint:
        raise ValueError("next_hint must be a one-line string such as " + repr(DEFAULT_NEXT_HINT))
    try:
        next_hint.format(next=2)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"next_hint {next_hint!r} is not a valid template: use {{next}} for the page number"
        ) from exc


def _check_paging(max_tokens: int | None, page: int) -> None:
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise ValueError(f"max_tokens must be a positive integer or None, not {max_tokens!r}")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValueError(f"page must be an integer >= 1 (pages count from 1), not {page!r}")
    if page > 1 and max_tokens is None:
        raise ValueError(f"page={page} needs max_tokens: without a budget there is only page 1")
