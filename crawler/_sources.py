"""Read the text of an input named on a command line: a URL, a file, or ``-`` for stdin.

Used by the ``summarize`` CLI so it accepts web pages, HTML and PDF files besides plain
text and markdown. URLs go through the guarded :func:`crawler._fetch.fetch` (no
internal addresses unless ``allow_private``), then :func:`crawler._extract.extract`.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal
from urllib.parse import unquote, urlsplit

from ._charset import decode_body
from ._extract import document_from_page, extract, sniff_content_type
from ._formats import text_document
from ._models import Document
from .errors import ExtractionError, InvalidURL, UnsupportedContentType

if TYPE_CHECKING:
    import httpx

    from ._guard import Resolver
    from ._useragents import UserAgent

__all__ = ["DEFAULT_SOURCE_TIMEOUT", "Source", "SourceKind", "read_source"]

logger = logging.getLogger(__name__)

SourceKind = Literal["text", "markdown", "html", "pdf", "url"]

DEFAULT_SOURCE_TIMEOUT = 30.0
"""Seconds allowed for fetching a URL source, redirects and body included."""

_HTML_SUFFIXES = {".html": "text/html", ".htm": "text/html", ".shtml": "text/html",
                  ".xhtml": "application/xhtml+xml", ".xht": "application/xhtml+xml"}
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mkdn", ".mdx"})
# Returned as they are even when they hold markup.
_TEXT_SUFFIXES = frozenset({
    ".txt", ".text", ".rst", ".log", ".csv", ".tsv", ".json", ".jsonl", ".yaml", ".yml",
    ".toml", ".ini", ".cfg", ".conf", ".tex", ".org", ".adoc", ".srt", ".vtt",
})
_FILE_SUFFIXES = frozenset(
    {*_HTML_SUFFIXES, *_MARKDOWN_SUFFIXES, *_TEXT_SUFFIXES, ".pdf", ".htm", ".doc", ".docx"}
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_LOOKS_LIKE_HOST = re.compile(r"^(?:www\.)?[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+(?:/\S*)?$")
_WHAT_TO_PASS = "pass a text, markdown, HTML or PDF file, an http(s) URL, or - for stdin"


@dataclass(frozen=True)
class Source:
    """The text of an input and where it came from.

    Attributes:
        text: The text to work on (markdown for web pages and HTML files).
        origin: The final URL after redirects, the file path, or ``"<stdin>"``.
        kind: ``"url"``, ``"html"``, ``"pdf"``, ``"markdown"`` or ``"text"``.
        title: The document's title when one is known, else ``None``.
    """

    text: str
    origin: str
    kind: SourceKind
    title: str | None = None


def read_source(
    arg: str,
    *,
    allow_private: bool = False,
    user_agent: str | UserAgent | None = None,
    timeout: float = DEFAULT_SOURCE_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
    stdin: BinaryIO | None = None,
) -> Source:
    """Read a URL, a local file or stdin (``-``) and return its text.

    Args:
        arg: An ``http://`` or ``https://`` URL, a path (``file://`` URLs too), or ``-``.
        allow_private: Allow URLs whose host resolves to a loopback, private or other
            internal address (off by default: a URL given to an agent must not reach
            the local network).
        user_agent: A user-agent string or preset name for URL fetches.
        timeout: Seconds for the whole URL fetch.
        transport: An ``httpx`` transport for URL fetches (tests inject one).
        resolver: A host resolver for the address guard (tests inject one).
        stdin: Where ``-`` reads from; ``sys.stdin.buffer`` by default.

    Returns:
        A :class:`Source`. Files are sniffed: ``.html``/``.htm``/``.xhtml`` and files
        that start like an HTML document give the page's main content as markdown;
        ``.pdf`` files and any file starting with ``%PDF-`` give the PDF's text;
        other text files (``.txt``, ``.md``, anything textual) are returned as they
        are, newlines normalised. Stdin is sniffed the same way.

    Raises:
        FileNotFoundError: The file does not exist (the message says what to pass).
        IsADirectoryError: The path is a directory.
        InvalidURL: The argument is a URL with a scheme other than http, https or file.
        FetchError: The URL could not be fetched (timeout, blocked address, HTTP error...).
        UnsupportedContentType: The file or page is binary data of an unsupported type.
        ExtractionError: The input holds no text (empty file, scanned PDF, broken PDF...).
    """
    if not isinstance(arg, str):
        raise TypeError(f"arg must be a str, not {type(arg).__name__}")
    if arg == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return _from_bytes(stream.read(), origin="<stdin>", suffix="")

    scheme = _SCHEME.match(arg)
    if scheme:
        name = scheme.group(1).lower()
        if name in ("http", "https"):
            return _from_url(arg, allow_private=allow_private, user_agent=user_agent,
                             timeout=timeout, transport=transport, resolver=resolver)
        if name == "file":
            parts = urlsplit(arg)
            if parts.netloc not in ("", "localhost"):
                raise InvalidURL(f"Cannot read {arg}: file:// URLs must name a local file; "
                                 f"{_WHAT_TO_PASS}.", url=arg)
            return _from_file(Path(unquote(parts.path)))
        raise InvalidURL(
            f"Cannot read {arg}: {name}:// URLs are not supported; {_WHAT_TO_PASS}.", url=arg
        )
    return _from_file(Path(arg))


def _from_url(
    url: str,
    *,
    allow_private: bool,
    user_agent: str | UserAgent | None,
    timeout: float,
    transport: httpx.BaseTransport | None,
    resolver: Resolver | None,
) -> Source:
    from ._fetch import fetch

    page = fetch(url, user_agent=user_agent, timeout=timeout, allow_private=allow_private,
                 transport=transport, resolver=resolver)
    document = document_from_page(page, output_format="markdown")
    logger.debug("read %s as %s with %s", page.final_url, document.content_type,
                 document.extractor)
    return Source(text=document.text, origin=page.final_url or url, kind="url",
                  title=document.title)


def _from_file(path: Path) -> Source:
    origin = str(path)
    if not path.exists():
        hint = ""
        if _LOOKS_LIKE_HOST.match(origin) and path.suffix.lower() not in _FILE_SUFFIXES:
            hint = f" (to fetch a web page, pass a URL: https://{origin})"
        raise FileNotFoundError(f"No such file: {origin}{hint}; {_WHAT_TO_PASS}.")
    if path.is_dir():
        raise IsADirectoryError(f"{origin} is a directory; {_WHAT_TO_PASS}.")
    return _from_bytes(path.read_bytes(), origin=origin, suffix=path.suffix.lower())


def _from_bytes(data: bytes, *, origin: str, suffix: str) -> Source:
    """Pick the reader from the file suffix, then from the first bytes."""
    try:
        return _read_bytes(data, origin=origin, suffix=suffix)
    except UnsupportedContentType as exc:
        if str(exc).startswith("Cannot read"):
            raise
        raise UnsupportedContentType(f"Cannot read {origin}: {exc}", url=exc.url,
                                     content_type=exc.content_type) from exc
    except ExtractionError as exc:
        raise ExtractionError(f"Cannot read {origin}: {exc}", url=exc.url) from exc


def _read_bytes(data: bytes, *, origin: str, suffix: str) -> Source:
    url = origin if origin != "<stdin>" else None
    sniffed = sniff_content_type(data)
    if suffix == ".pdf" or sniffed == "application/pdf":
        return _source(extract(data, content_type="application/pdf", url=url), origin, "pdf")
    if suffix in _HTML_SUFFIXES:
        document = extract(data, content_type=_HTML_SUFFIXES[suffix], url=url)
        return _source(document, origin, "html")
    if _is_binary_type(sniffed):
        raise UnsupportedContentType(
            f"Cannot read {origin}: it holds {sniffed} data, not text; {_WHAT_TO_PASS}.",
            url=url,
            content_type=sniffed or "application/octet-stream",
        )
    if suffix in _MARKDOWN_SUFFIXES:
        return _source(extract(data, content_type="text/markdown", url=url), origin, "markdown")
    if sniffed == "text/html" and suffix not in _TEXT_SUFFIXES and _starts_like_page(data):
        # Stdin, or a file of unknown extension, that is a whole HTML document.
        return _source(extract(data, content_type="text/html", url=url), origin, "html")
    # Not extract(content_type="text/plain"): that would treat a saved page source as HTML.
    text, _encoding = decode_body(data, None)
    return _source(text_document(text, url=url, content_type="text/plain", markdown=False),
                   origin, "text")


def _is_binary_type(media_type: str | None) -> bool:
    """A sniffed type that is binary data (zip, gzip, executables...), not text."""
    if media_type is None:
        return False
    return media_type not in (
        "text/html", "application/json", "application/xml", "application/rss+xml"
    )


def _starts_like_page(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _source(document: Document, origin: str, kind: SourceKind) -> Source:
    return Source(text=document.text, origin=origin, kind=kind, title=document.title)
