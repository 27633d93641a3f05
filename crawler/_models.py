"""Plain value objects shared by fetching and extraction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from ._charset import decode_body, is_textual

_DECODED = ("text", "encoding")


@dataclass(frozen=True)
class Page:
    """A fetched response: what was asked for, where it ended, and the decoded body.

    ``text`` is the body decoded with ``encoding`` (BOM, then HTTP header, then
    ``<meta>``, then detection, then UTF-8 with replacement); ``""`` for a
    body that is not text. Pages from the fetcher decode on first access to
    ``text`` or ``encoding`` and keep the result, so a caller that only reads
    ``content`` never holds a second copy of the body.
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

    @classmethod
    def decode_later(
        cls,
        *,
        url: str,
        final_url: str,
        status_code: int,
        headers: httpx.Headers,
        content_type: str,
        content: bytes,
        redirects: tuple[str, ...] = (),
        elapsed: float = 0.0,
    ) -> Page:
        """A page whose ``text`` and ``encoding`` are worked out from ``content`` when first read.

        ``headers`` must hold the response's ``Content-Type`` (it decides the charset).
        """
        page = cls.__new__(cls)
        fields = {
            "url": url,
            "final_url": final_url,
            "status_code": status_code,
            "headers": headers,
            "content_type": content_type,
            "content": content,
            "redirects": redirects,
            "elapsed": elapsed,
        }
        for name, value in fields.items():
            object.__setattr__(page, name, value)  # frozen: as the generated __init__ does
        return page

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not set yet: text and encoding of a decode_later page.
        if name in _DECODED and "content" in self.__dict__:
            header_type = self.headers.get("content-type", "")
            if is_textual(header_type, self.content):
                text, encoding = decode_body(self.content, header_type)
            else:
                text, encoding = "", ""
            object.__setattr__(self, "text", text)
            object.__setattr__(self, "encoding", encoding)
            return text if name == "text" else encoding
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


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
