"""Plain value objects shared by fetching and extraction."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Page:
    """A fetched response: what was asked for, where it ended, and the decoded body.

    ``text`` is the body decoded with ``encoding`` (BOM, then HTTP header, then
    ``<meta>``, then detection, then UTF-8 with replacement).
    """

    url: str
    final_url: str
    status_code: int
    headers: httpx.Headers
    content_type: str
    encoding: str
    content: bytes
    text: str
    redirects: tuple[str, ...] = ()
    elapsed: float = 0.0


@dataclass(frozen=True)
class Document:
    """Main content extracted from a page, plus what is known about it.

    Unknown metadata is ``None``, never the string ``"None"``.
    """

    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    description: str | None = None
    site_name: str | None = None
    language: str | None = None
    url: str | None = None
    content_type: str = "text/html"
    format: str = "markdown"
    extractor: str = ""
    entries: tuple[dict[str, str], ...] = field(default_factory=tuple)
