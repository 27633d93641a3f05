"""Turn a fetched body of any supported type into a :class:`~crawler.Document`.

:func:`extract` picks the extractor from the content type (its parameters such as
``charset`` ignored) and, when the type is missing or generic
(``application/octet-stream``, ``text/plain`` holding an HTML page...), from the
first bytes of the body:

==========================  ===================================================
content                     result
==========================  ===================================================
HTML, XHTML                 main content via :func:`crawler._html.extract_html`
text/plain, text/markdown   passed through (newlines normalised, BOM stripped)
JSON (``*/json``, ``+json``)  pretty-printed, indent 2, non-ASCII kept
PDF                         text of each page, joined by :data:`PDF_PAGE_MARKER`
RSS 2.0, RSS 1.0, Atom      ``entries`` plus a markdown list of them
anything else               :class:`~crawler.errors.UnsupportedContentType`
==========================  ===================================================
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from typing import Literal

from ._charset import decode_body
from ._formats import (
    PDF_PAGE_MARKER,
    feed_document,
    json_document,
    pdf_document,
    text_document,
)
from ._models import Document, Page
from .errors import ExtractionError, UnsupportedContentType

__all__ = [
    "DEFAULT_OUTPUT_FORMAT",
    "OUTPUT_FORMATS",
    "OutputFormat",
    "PDF_PAGE_MARKER",
    "SUPPORTED_FORMATS",
    "document_from_page",
    "extract",
    "sniff_content_type",
]

logger = logging.getLogger(__name__)

OutputFormat = Literal["markdown", "text"]
OUTPUT_FORMATS: tuple[str, ...] = ("markdown", "text")
DEFAULT_OUTPUT_FORMAT: OutputFormat = "markdown"

#: Named in every :class:`UnsupportedContentType` message.
SUPPORTED_FORMATS = (
    "HTML/XHTML, plain text, markdown, JSON, PDF, and RSS/Atom feeds"
)

Kind = Literal["html", "text", "markdown", "json", "pdf", "feed"]

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml"})
_MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown", "text/x-web-markdown"})
_JSON_TYPES = frozenset({"application/json", "text/json", "application/x-json"})
_PDF_TYPES = frozenset({"application/pdf", "application/x-pdf", "application/acrobat"})
_XML_TYPES = frozenset({"application/xml", "text/xml", "application/rss+xml",
                        "application/atom+xml", "application/rdf+xml", "application/rss",
                        "application/x-rss+xml"})
# Types that say nothing about the body: decided by sniffing.
_GENERIC_TYPES = frozenset({
    "", "application/octet-stream", "binary/octet-stream", "application/unknown",
    "unknown/unknown", "application/x-unknown", "application/download",
    "application/force-download", "application/x-download", "*/*",
})
# application/* types that are text meant to be read as is.
_TEXTUAL_APPLICATION_TYPES = frozenset({
    "application/javascript", "application/x-javascript", "application/ecmascript",
    "application/x-yaml", "application/yaml", "application/toml", "application/x-sh",
    "application/sql", "application/x-tex", "application/csv", "application/x-httpd-php",
})
_BINARY_MAJOR_TYPES = frozenset({"image", "audio", "video", "font", "model", "multipart"})

# Magic numbers of common binary formats, to name them in errors.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"(\xb5/\xfd", "application/zstd"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/x-msdownload"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"\x1aE\xdf\xa3", "video/webm"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
    (b"\x00asm", "application/wasm"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"%!PS", "application/postscript"),
)

_SNIFF_BYTES = 4096
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# WHATWG MIME sniffing: markup that starts an HTML document or fragment.
_HTML_START = re.compile(
    r"<(?:!doctype\s+html|html|head|body|script|iframe|h[1-6]|div|font|table|a|style|title|"
    r"b|br|p|meta|link|article|section|main|span|ul|ol|!--)(?=[\s>/]|$)",
    re.IGNORECASE,
)
_HTML_STRICT_START = re.compile(r"<(?:!doctype\s+html|html)(?=[\s>]|$)", re.IGNORECASE)
# The prolog of an XML document: declaration, comments, processing instructions, doctype.
_XML_PROLOG = re.compile(
    r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!doctype[^\[>]*(?:\[.*?\])?\s*>)*",
    re.IGNORECASE | re.DOTALL,
)
_XML_ROOT = re.compile(r"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_FEED_ROOTS = frozenset({"rss", "feed", "RDF"})


def extract(
    content: str | bytes,
    *,
    url: str | None = None,
    content_type: str | None = None,
    output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
    include_comments: bool = False,
    include_tables: bool = True,
) -> Document:
    """Extract the readable text and metadata of a document of any supported type.

    Args:
        content: The body, as bytes (decoded with the ``charset`` of ``content_type``,
            a BOM, ``<meta>`` or detection) or as already decoded text. A PDF must be
            bytes (or text that is its bytes decoded as Latin-1).
        url: Where the document came from; recorded in the result and used to
            resolve relative links in HTML.
        content_type: The ``Content-Type`` header value, parameters allowed. When
            missing or generic (``application/octet-stream``), the type is sniffed
            from the first bytes.
        output_format: ``"markdown"`` or ``"text"``; applies to HTML and feeds. Plain
            text, markdown, JSON and PDF text are returned as they are.
        include_comments: HTML only: keep reader comments under an article.
        include_tables: HTML only: keep the content of tables.

    Returns:
        A :class:`~crawler.Document` whose ``text`` is never empty.

    Raises:
        UnsupportedContentType: The content is of a type that holds no extractable
            text (an image, an archive, binary data).
        ExtractionError: The content is empty, invalid (broken JSON, a broken or
            encrypted PDF) or holds no text (a scanned PDF, a script-only page).
        ValueError: ``output_format`` is not one of :data:`OUTPUT_FORMATS`.
        TypeError: ``content`` is neither ``str`` nor ``bytes``.
    """
    return _extract(
        content,
        decoded=None,
        url=url,
        content_type=content_type,
        output_format=output_format,
        include_comments=include_comments,
        include_tables=include_tables,
    )


def document_from_page(
    page: Page,
    *,
    output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
    include_comments: bool = False,
    include_tables: bool = True,
) -> Document:
    """Extract a fetched :class:`~crawler.Page`, reusing the text the fetcher decoded.

    The document's ``url`` is the page's final URL (after redirects). Options and
    errors are those of :func:`extract`.
    """
    if not isinstance(page, Page):
        raise TypeError(f"page must be a crawler Page, not {type(page).__name__}")
    return _extract(
        page.content,
        decoded=page.text,
        url=page.final_url or page.url,
        content_type=page.content_type,
        output_format=output_format,
        include_comments=include_comments,
        include_tables=include_tables,
    )


def sniff_content_type(content: str | bytes) -> str | None:
    """Guess the media type of a body from its first bytes.

    Returns ``"application/pdf"``, ``"application/rss+xml"`` (any feed),
    ``"application/xml"``, ``"text/html"``, ``"application/json"`` (a leading ``{``
    or ``[``), a binary type such as ``"image/png"`` (``"application/octet-stream"``
    when unnamed), or ``None`` for text that matches none of these.
    """
    if isinstance(content, (bytes, bytearray, memoryview)):
        content = bytes(content)
        magic = _magic_type(content)
        if magic:
            return magic
        sniffed = _sniff_markup(_sniff_text(content), strict_html=False)
        if sniffed in (None, "application/json") and _looks_binary(content[:_SNIFF_BYTES]):
            return "application/octet-stream"
        return sniffed
    return _sniff_markup(content[:_SNIFF_BYTES], strict_html=False)


# --------------------------------------------------------------------------- internals


def _extract(
    content: str | bytes,
    *,
    decoded: str | None,
    url: str | None,
    content_type: str | None,
    output_format: str,
    include_comments: bool,
    include_tables: bool,
) -> Document:
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}"
        )
    if isinstance(content, (bytearray, memoryview)):
        content = bytes(content)
    if not isinstance(content, (str, bytes)):
        raise TypeError(f"content must be str or bytes, not {type(content).__name__}")
    if content_type is not None and not isinstance(content_type, str):
        raise TypeError(f"content_type must be a str or None, not {type(content_type).__name__}")

    if isinstance(content, str) and _SURROGATE.search(content):
        # Lone surrogates (from surrogateescape decoding) cannot be encoded again.
        content = _SURROGATE.sub("\ufffd", content)
    declared = _media_type(content_type)
    if not content.strip() and (decoded is None or not decoded.strip()):
        raise ExtractionError(
            "The document holds no text: the content is empty or only whitespace.", url=url
        )
    kind, effective = _classify(content, declared, url)
    logger.debug("extracting %s as %s (declared %r)", url or "content", kind, declared)

    if kind == "pdf":
        return pdf_document(_as_bytes(content, url), url=url)

    text = decoded if decoded is not None else _decode(content, content_type)
    if not text.strip():
        raise ExtractionError("The document holds no text: it is only whitespace.", url=url)

    if kind == "html":
        return _html_document(
            text,
            url=url,
            output_format=output_format,
            include_comments=include_comments,
            include_tables=include_tables,
        )
    if kind == "feed":
        return feed_document(text, url=url, output_format=output_format)
    if kind == "json":
        if declared in _JSON_TYPES or declared.endswith("+json"):
            return json_document(text, url=url, content_type=effective)
        try:
            return json_document(text, url=url, content_type=effective)
        except ExtractionError:
            # Sniffed, not declared: text that merely starts with a bracket is text.
            kind, effective = "text", "text/plain"
    return text_document(text, url=url, content_type=effective, markdown=kind == "markdown")


def _html_document(
    text: str,
    *,
    url: str | None,
    output_format: str,
    include_comments: bool,
    include_tables: bool,
) -> Document:
    from ._html import extract_html

    try:
        document = extract_html(
            text,
            url=url,
            output_format=output_format,  # type: ignore[arg-type]
            include_comments=include_comments,
            include_tables=include_tables,
        )
        if _INVISIBLE.sub("", document.text).strip():
            return document
        # Only zero-width characters or a stray BOM: that is no text.
        raise ExtractionError("The page holds no text to extract.", url=url)
    except RecursionError as exc:
        # Pathological nesting can exhaust the stack in the parser or extractor.
        failure = ExtractionError("The HTML page is nested too deeply to extract.", url=url)
        cause: BaseException = exc
    except ExtractionError as exc:
        failure, cause = exc, exc
    except Exception as exc:  # noqa: BLE001 - the boundary to trafilatura, htmldate, lxml
        # Malformed markup can trip assertions and lookups deep inside the extractors.
        logger.warning("the HTML extractor failed on %s: %r", url or "a page", exc)
        failure = ExtractionError(
            f"The HTML extractor failed on this page ({type(exc).__name__}).", url=url
        )
        cause = exc
    # lxml gives up on very deep nesting (256 levels) and the extractors can find
    # nothing where a page still holds text: never return such a page empty.
    fallback = _visible_text(text)
    if not fallback:
        raise failure from cause
    logger.info("no main content found in %s; using all its visible text", url or "the page")
    return Document(
        text=fallback,
        url=url,
        content_type="text/html",
        format="text",
        extractor="visible-text",
    )


class _VisibleText(HTMLParser):
    """Collects the text a browser would show (no script, style, template...)."""

    _HIDDEN = frozenset({"script", "style", "template", "noscript", "title"})
    _BLOCK = frozenset(
        "address article aside blockquote br dd div dl dt figcaption footer form h1 h2 h3 "
        "h4 h5 h6 header hr li main nav ol p pre section table td th tr ul".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(self._hidden - 1, 0)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


#: Length of an unclosed tail of markup beyond which its "<" are read as text up front.
_UNCLOSED_TAIL = 1024
_SURROGATE = re.compile("[\ud800-\udfff]")
_INVISIBLE = re.compile("[\ufeff\u200b-\u200d\u2060\u00ad]")


def _visible_text(html: str) -> str:
    """All visible text of an HTML page, one block per line; ``""`` if none."""
    parser = _VisibleText()
    tail = html[html.rfind(">") + 1:]
    if len(tail) > _UNCLOSED_TAIL and "<" in tail:
        # After the last ">" every "<" opens a tag that never closes, which html.parser
        # keeps as text, but it rescans the rest of the page for each one (quadratic
        # on a run of "<a "). Escaping them gives the same text in linear time.
        html = html[: len(html) - len(tail)] + tail.replace("<", "&lt;")
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser on hopeless markup
        pass
    text = _INVISIBLE.sub("", "".join(parser.parts))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _classify(content: str | bytes, declared: str, url: str | None) -> tuple[Kind, str]:
    """The extractor to use and the media type recorded in the document."""
    raw: bytes | None
    if isinstance(content, bytes):
        raw, head = content, _sniff_text(content)
        magic = _magic_type(raw)
    else:
        raw, head = None, content[:_SNIFF_BYTES]
        magic = "application/pdf" if head.lstrip().startswith("%PDF-") else None
    if magic == "application/pdf" or declared in _PDF_TYPES:
        # A PDF is a PDF whatever the server called it.
        return "pdf", "application/pdf"

    major = declared.split("/", 1)[0]
    generic = declared in _GENERIC_TYPES
    if major in _BINARY_MAJOR_TYPES:
        raise _unsupported(declared, url)
    if magic is not None and not generic:
        # Declared as something textual but the body is, say, a PNG or gzip data.
        raise _unsupported(magic, url, declared=declared)

    if declared in _HTML_TYPES:
        return "html", "text/html"
    if declared in _MARKDOWN_TYPES:
        return "markdown", "text/markdown"
    if declared in _JSON_TYPES or declared.endswith("+json"):
        return "json", declared
    if declared in _XML_TYPES or declared.endswith("+xml"):
        if _sniff_markup(head, strict_html=False) == "text/html":
            return "html", "text/html"
        return "feed", declared
    if declared == "text/plain":
        sniffed = _sniff_markup(head, strict_html=True)
        if sniffed == "text/html":
            return "html", "text/html"
        if sniffed == "application/rss+xml":
            return "feed", sniffed
        return "text", "text/plain"
    if major == "text" or declared in _TEXTUAL_APPLICATION_TYPES:
        return "text", declared

    # Missing, generic or unknown type: decide from the bytes.
    if magic is not None:
        raise _unsupported(magic, url)
    sniffed = _sniff_markup(head, strict_html=False)
    if sniffed == "text/html":
        return "html", "text/html"
    if sniffed in ("application/rss+xml", "application/xml"):
        return "feed", sniffed
    if raw is not None and _looks_binary(raw[:_SNIFF_BYTES]):
        raise _unsupported("application/octet-stream" if generic else declared, url)
    if sniffed == "application/json":
        return "json", "application/json"
    if not generic:
        # An unknown application/* type that turned out to be text.
        return "text", declared
    return "text", "text/plain"


def _unsupported(
    media_type: str, url: str | None, *, declared: str | None = None
) -> UnsupportedContentType:
    where = f" at {url}" if url else ""
    if declared:
        what = f"content served as {declared} that looks like {media_type}"
    else:
        what = f"{media_type} content"
    return UnsupportedContentType(
        f"Cannot extract text from {what}{where}. Supported formats: {SUPPORTED_FORMATS}.",
        url=url,
        content_type=media_type,
    )


def _media_type(content_type: str | None) -> str:
    """``"Text/HTML; charset=utf-8"`` -> ``"text/html"``; missing -> ``""``."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _magic_type(raw: bytes | None) -> str | None:
    """The media type of a binary format recognised by its magic number, if any."""
    if not raw:
        return None
    head = raw[:_SNIFF_BYTES]
    if head.lstrip().startswith(b"%PDF-"):
        return "application/pdf"
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            if media_type == "image/bmp" and not _looks_binary(head):
                continue  # "BM" also starts plenty of text
            if media_type == "application/x-msdownload" and not _looks_binary(head):
                continue
            if media_type == "image/x-icon" and len(head) < 6:
                continue
            return media_type
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}[
            head[8:12]
        ]
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None


def _looks_binary(head: bytes) -> bool:
    """NUL bytes or many control characters: not text in any encoding we decode."""
    if _bom_encoding(head) in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 0x20 and byte not in b"\t\n\r\f\x1b\x0b")
    return controls > max(1, len(head) // 10)


def _bom_encoding(head: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return None


def _sniff_text(raw: bytes) -> str:
    """The first bytes decoded well enough to recognise markup."""
    head = raw[:_SNIFF_BYTES]
    encoding = _bom_encoding(head)
    if encoding:
        return head[len(next(b for b, e in _BOMS if e == encoding)):].decode(
            encoding, errors="ignore"
        )
    return head.decode("latin-1")


def _sniff_markup(head: str, *, strict_html: bool) -> str | None:
    """Recognise HTML, feeds, XML and JSON from the start of a text."""
    text = head.lstrip("\ufeff \t\r\n\f")
    if text.startswith("%PDF-"):
        return "application/pdf"
    if text.startswith(("{", "[")):
        return "application/json"
    if not text.startswith("<"):
        return None
    if text[:5].lower() == "<?xml" or text.startswith("<!--") or text[:9].lower() == "<!doctype":
        prolog = _XML_PROLOG.match(text)
        rest = text[prolog.end():] if prolog else text
        root = _XML_ROOT.match(rest)
        if root:
            name = root.group(2)
            if name in _FEED_ROOTS:
                return "application/rss+xml"
            if name.lower() == "html":
                return "text/html"
        if text[:9].lower() == "<!doctype" and _HTML_STRICT_START.match(text):
            return "text/html"
        if text[:5].lower() == "<?xml":
            return "application/xml"
    else:
        root = _XML_ROOT.match(text)
        if root and root.group(2) in _FEED_ROOTS:
            return "application/rss+xml"
    pattern = _HTML_STRICT_START if strict_html else _HTML_START
    if pattern.match(text):
        return "text/html"
    return None


def _as_bytes(content: str | bytes, url: str | None) -> bytes:
    if isinstance(content, bytes):
        return content
    try:
        return content.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ExtractionError(
            "The PDF was passed as decoded text and its bytes cannot be recovered; "
            "pass the raw bytes instead.",
            url=url,
        ) from exc


def _decode(content: str | bytes, content_type: str | None) -> str:
    if isinstance(content, str):
        return content
    text, _encoding = decode_body(content, content_type)
    return text
