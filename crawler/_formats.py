"""Text extraction for the non-HTML formats: plain text, markdown, JSON, PDF and feeds.

Each ``*_document`` function turns one format into a :class:`~crawler.Document` or
raises :class:`~crawler.errors.ExtractionError`. Third-party parser errors (pypdf,
lxml, json) are translated here, at the boundary, so callers only ever see the
crawler's own exceptions.
"""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import datetime
from html.entities import name2codepoint
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from ._models import Document
from .errors import ExtractionError, UnsupportedContentType

__all__ = [
    "PDF_PAGE_MARKER",
    "feed_document",
    "json_document",
    "pdf_document",
    "text_document",
]

logger = logging.getLogger(__name__)

#: Put between the text of consecutive PDF pages; ``{number}`` is the 1-based number
#: of the page that follows.
PDF_PAGE_MARKER = "\n\n--- Page {number} ---\n\n"

#: The most characters of text read from one PDF (the fetcher's default cap on
#: decoded bytes): pages share content streams, so a small file can hold far more
#: text than its size. Beyond it the text ends with :data:`PDF_TRUNCATED_NOTICE`.
PDF_MAX_TEXT_CHARS = 10 * 1024 * 1024

#: Ends the text of a PDF cut at :data:`PDF_MAX_TEXT_CHARS`.
PDF_TRUNCATED_NOTICE = (
    "\n\n[Text truncated at {limit:,} characters: the PDF ({pages} pages) holds more "
    "text than that; the rest was not read.]"
)

_MULTI_BLANK = re.compile(r"\n{3,}")
_QUOTES = "\"'"


def normalise_text(text: str) -> str:
    """Strip a BOM and NUL characters, turn CRLF/CR into LF, trim outer blank lines."""
    text = text.lstrip("\ufeff").replace("\x00", "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(line.rstrip() for line in lines)


def text_document(
    text: str, *, url: str | None, content_type: str, markdown: bool
) -> Document:
    """Plain text or markdown, passed through with normalised newlines.

    The title is the first line when it is a markdown ``# `` heading, or the
    ``title:`` of a YAML front matter block.
    """
    text = normalise_text(text)
    if not text.strip():
        raise ExtractionError("The document holds no text (it is empty or only whitespace).",
                              url=url)
    return Document(
        text=text,
        title=_markdown_title(text),
        url=url,
        content_type=content_type,
        format="markdown" if markdown else "text",
        extractor="plain",
    )


def _markdown_title(text: str) -> str | None:
    # Plain string scanning, linear in the line's length (a lazy regex with a
    # trailing ``[ \t#]*$`` backtracked quadratically on ``# a####...b``).
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            for line in text[4:end].split("\n"):
                if line.startswith("title:") and len(line) > 6:
                    return _front_matter_value(line[6:])
    first = text.lstrip("\n").split("\n", 1)[0]
    if first[:1] == "#" and first[1:2] in (" ", "\t"):
        rest = first[1:].lstrip(" \t")
        value = rest.rstrip(" \t#") or rest[:1]
        return value.strip() or None
    return None


def _front_matter_value(raw: str) -> str | None:
    """The value of a front matter ``title:`` line: outer quotes and blanks removed."""
    value = raw.lstrip(" \t")
    if not value:
        return None
    if value[0] in _QUOTES and len(value) > 1:
        value = value[1:]
    value = value.rstrip(" \t")
    if len(value) > 1 and value[-1] in _QUOTES:
        value = value[:-1]
    return value.strip() or None


def json_document(text: str, *, url: str | None, content_type: str) -> Document:
    """A JSON document pretty-printed with two-space indents, non-ASCII kept as is.

    Raises:
        ExtractionError: The JSON is invalid (the parser's message is included),
            nested too deeply, or empty.
    """
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ExtractionError("The JSON document holds no text (it is empty).", url=url)
    try:
        value = json.loads(text)
        pretty = json.dumps(value, indent=2, ensure_ascii=False)
    except json.JSONDecodeError as exc:
        raise ExtractionError(f"Invalid JSON: {exc}", url=url) from exc
    except ValueError as exc:  # e.g. an integer longer than sys.get_int_max_str_digits()
        raise ExtractionError(f"Invalid JSON: {exc}", url=url) from exc
    except RecursionError as exc:
        raise ExtractionError("The JSON document is nested too deeply to read.", url=url) from exc
    return Document(
        text=pretty,
        title=None,
        url=url,
        content_type=content_type,
        format="text",
        extractor="json",
    )


# --------------------------------------------------------------------------- PDF


def pdf_document(data: bytes, *, url: str | None) -> Document:
    """The text of every page of a PDF, pages joined by :data:`PDF_PAGE_MARKER`.

    Title, author, date (ISO 8601) and subject (as ``description``) come from the
    PDF's document information dictionary; the language from the catalog's ``/Lang``.

    Raises:
        ExtractionError: The PDF is encrypted with a password, is broken, or has no
            text layer (a scanned document that needs OCR first).
    """
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            _decrypt(reader, url)
        pages, total, size = [], len(reader.pages), 0
        for page in reader.pages:
            pages.append(_page_text(page))
            size += len(pages[-1]) + len(PDF_PAGE_MARKER)
            if size > PDF_MAX_TEXT_CHARS:
                break
    except ExtractionError:
        raise
    except DependencyError as exc:
        raise ExtractionError(
            f"The PDF is encrypted with AES and decrypting it needs the 'cryptography' package: "
            f"pip install cryptography ({exc})",
            url=url,
        ) from exc
    except FileNotDecryptedError as exc:
        raise ExtractionError(_ENCRYPTED_MESSAGE, url=url) from exc
    except RecursionError as exc:
        raise ExtractionError("The PDF is broken: its objects nest too deeply.", url=url) from exc
    except Exception as exc:
        # pypdf signals corrupt files with many exception types (PdfReadError, but
        # also KeyError, ValueError, TypeError, AssertionError...): all mean "broken".
        raise ExtractionError(f"The PDF is broken and cannot be read: {exc!r}", url=url) from exc

    if not pages:
        raise ExtractionError("The PDF has no pages.", url=url)
    if not any(page.strip() for page in pages):
        raise ExtractionError(
            f"The PDF ({len(pages)} page{'s' if len(pages) != 1 else ''}) has no text layer: "
            "it is probably a scanned document. Run OCR on it first (e.g. ocrmypdf) "
            "and extract the result.",
            url=url,
        )
    parts = [pages[0]]
    for number, page in enumerate(pages[1:], start=2):
        parts.append(PDF_PAGE_MARKER.format(number=number))
        parts.append(page)
    meta = _pdf_metadata(reader)
    text = _MULTI_BLANK.sub("\n\n", "".join(parts)).strip()
    if len(text) > PDF_MAX_TEXT_CHARS or len(pages) < total:
        text = text[:PDF_MAX_TEXT_CHARS] + PDF_TRUNCATED_NOTICE.format(
            limit=PDF_MAX_TEXT_CHARS, pages=total
        )
    return Document(
        text=text,
        title=meta.get("title"),
        author=meta.get("author"),
        date=meta.get("date"),
        description=meta.get("description"),
        language=meta.get("language"),
        url=url,
        content_type="application/pdf",
        format="text",
        extractor="pypdf",
    )


_ENCRYPTED_MESSAGE = (
    "The PDF is encrypted and needs a password to open; decrypt it first "
    "(e.g. qpdf --password=... --decrypt in.pdf out.pdf)."
)


def _decrypt(reader: Any, url: str | None) -> None:
    """Open an encrypted PDF with the empty user password (owner-restricted files)."""
    from pypdf import PasswordType

    result = reader.decrypt("")
    if result == PasswordType.NOT_DECRYPTED:
        raise ExtractionError(_ENCRYPTED_MESSAGE, url=url)


def _page_text(page: Any) -> str:
    text = page.extract_text() or ""
    return normalise_text(text)


def _pdf_metadata(reader: Any) -> dict[str, str]:
    """Title, author, date, description and language; missing or broken fields are left out."""
    found: dict[str, str] = {}
    try:
        info = reader.metadata
    except Exception as exc:  # a broken info dictionary must not lose the text
        logger.debug("unreadable PDF metadata: %r", exc)
        info = None
    if info is not None:
        for key, name in (("title", "/Title"), ("author", "/Author"), ("description", "/Subject")):
            value = _clean(_safe_get(info, name))
            if value:
                found[key] = value
        date = _pdf_date(info)
        if date:
            found["date"] = date
    try:
        lang = _clean(reader.root_object.get("/Lang"))
    except Exception as exc:
        logger.debug("unreadable PDF catalog: %r", exc)
        lang = None
    if lang:
        found["language"] = lang
    return found


def _safe_get(info: Any, name: str) -> object:
    try:
        return info.get(name)
    except Exception as exc:
        logger.debug("unreadable PDF metadata field %s: %r", name, exc)
        return None


def _pdf_date(info: Any) -> str | None:
    fields = (("creation_date", "/CreationDate"), ("modification_date", "/ModDate"))
    for attribute, raw_name in fields:
        try:
            value = getattr(info, attribute)
        except Exception:  # pypdf raises on malformed date strings
            value = None
        if isinstance(value, datetime):
            return value.isoformat()
        raw = _clean(_safe_get(info, raw_name))
        if raw:
            return raw
    return None


def _clean(value: object) -> str | None:
    if value is None:
        return None
    try:
        text = str(value)
    except Exception:
        return None
    text = " ".join(text.replace("\x00", "").split())
    return text or None


# --------------------------------------------------------------------------- feeds

_ATOM_NS = "http://www.w3.org/2005/Atom"


def feed_document(
    data: str | bytes, *, url: str | None, output_format: str
) -> Document:
    """An RSS 2.0, RSS 1.0 (RDF) or Atom feed as a list of entries.

    ``entries`` holds one dict per item with the keys ``title``, ``link``, ``date``
    and ``summary`` (``""`` when the feed does not give it; summaries are HTML
    stripped to text). ``text`` lists the entries as markdown (or plain text).

    The parser resolves no entities and loads no DTD or network resource, so
    entity-expansion bombs and external-entity tricks stay inert.

    Raises:
        ExtractionError: The XML is not a feed, or the feed has no entries and no title.
    """
    root = _parse_xml(data, url)
    try:
        return _feed_from_tree(root, url=url, output_format=output_format)
    except UnicodeDecodeError as exc:
        # lxml's recovery can keep bytes that are not UTF-8; reading them fails.
        raise ExtractionError(
            f"The feed holds text that is not valid Unicode and cannot be read: {exc}", url=url
        ) from exc


def _feed_from_tree(root: etree._Element, *, url: str | None, output_format: str) -> Document:
    kind = _local(root)
    if kind == "rss":
        channel = _child(root, "channel")
        items = _children(channel, "item") if channel is not None else []
        meta_node = channel
        content_type = "application/rss+xml"
    elif kind == "RDF":
        channel = _child(root, "channel")
        items = _children(root, "item") or (
            _children(channel, "item") if channel is not None else []
        )
        meta_node = channel
        content_type = "application/rdf+xml"
    elif kind == "feed":
        items = _children(root, "entry")
        meta_node = root
        content_type = "application/atom+xml"
    else:
        raise UnsupportedContentType(
            f"The XML document is not an RSS or Atom feed (its root element is <{kind}>): "
            "of XML, only XHTML pages and RSS/Atom feeds can be extracted.",
            url=url,
            content_type="application/xml",
        )
    title = _clean(_text_of(_child(meta_node, "title"))) if meta_node is not None else None
    description = None
    if meta_node is not None:
        for name in ("description", "subtitle", "tagline"):
            description = _clean(_html_to_text(_text_of(_child(meta_node, name))))
            if description:
                break
    site_link = _entry_link(meta_node) if meta_node is not None else ""
    language = None
    if meta_node is not None:
        language = _clean(_text_of(_child(meta_node, "language"))) or _clean(
            root.get("{http://www.w3.org/XML/1998/namespace}lang")
        )
    entries = tuple(_entry(item) for item in items)
    entries = tuple(e for e in entries if any(e.values()))
    if not entries and not title and not description:
        raise ExtractionError("The feed holds no entries and no title: nothing to extract.",
                              url=url)
    text = _render_feed(title, description, entries, output_format)
    return Document(
        text=text,
        title=title,
        description=description,
        site_name=title,
        language=language,
        date=(entries[0]["date"] or None) if entries else None,
        url=url or site_link or None,
        content_type=content_type,
        format=output_format,
        extractor="feed",
        entries=entries,
    )


_ENTITY_DECLARATION = re.compile(rb"<!DOCTYPE[^>\[]*\[[^\]]*<!ENTITY", re.DOTALL)


_BAD_AMPERSAND = re.compile(
    rb"&(?!#[0-9]+;|#x[0-9a-fA-F]+;|(?:lt|gt|amp|quot|apos);)([A-Za-z0-9]*;?)"
)


def _repair_entity(match: re.Match[bytes]) -> bytes:
    """``&nbsp;`` -> ``&#160;``; a bare ``&`` -> ``&amp;``."""
    name = match.group(1)
    if name.endswith(b";"):
        codepoint = name2codepoint.get(name[:-1].decode("ascii"))
        if codepoint is not None:
            return b"&#%d;" % codepoint
    return b"&amp;" + name


_CHAR_REF = re.compile(rb"&#(?:x([0-9a-fA-F]+)|([0-9]+));")


def _repair_char_ref(match: re.Match[bytes]) -> bytes:
    """A reference to a character XML forbids (a surrogate, NUL...) -> U+FFFD."""
    hex_digits, decimal = match.group(1), match.group(2)
    code = int(hex_digits, 16) if hex_digits else int(decimal)
    allowed = (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )
    return match.group(0) if allowed else b"&#xFFFD;"


def _parse_xml(data: str | bytes, url: str | None) -> etree._Element:
    """Parse a feed strictly, then leniently (with a logged warning) if it is malformed."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if _ENTITY_DECLARATION.search(raw[:65536]):
        raise ExtractionError(
            "The feed declares its own XML entities (<!ENTITY ...> in its DOCTYPE); such feeds "
            "are refused because entity expansion can exhaust memory (a 'billion laughs' attack).",
            url=url,
        )
    options = dict(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    if isinstance(data, str):
        options["encoding"] = "utf-8"  # lxml refuses str input with an encoding declaration
    try:
        return etree.fromstring(raw, etree.XMLParser(**options))
    except etree.XMLSyntaxError as exc:
        strict_error = exc
    except (etree.LxmlError, ValueError) as exc:
        raise ExtractionError(f"The feed is not well-formed XML: {exc}", url=url) from exc
    # Real feeds are often slightly malformed: a stray '&' or an HTML entity XML lacks.
    repaired = _CHAR_REF.sub(_repair_char_ref, _BAD_AMPERSAND.sub(_repair_entity, raw))
    if repaired != raw:
        try:
            root = etree.fromstring(repaired, etree.XMLParser(**options))
        except (etree.LxmlError, ValueError):
            pass
        else:
            logger.warning("feed %s has malformed entities (%s); repaired them",
                           url or "(no URL)", strict_error)
            return root
    try:
        root = etree.fromstring(repaired, etree.XMLParser(recover=True, **options))
    except (etree.LxmlError, ValueError) as exc:
        raise ExtractionError(f"The feed is not well-formed XML: {exc}", url=url) from exc
    if root is None:
        raise ExtractionError(
            f"The feed is not well-formed XML: {strict_error}", url=url
        ) from strict_error
    logger.warning(
        "feed %s is malformed XML (%s); extracted what the parser could recover",
        url or "(no URL)", strict_error,
    )
    return root


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _children(element: etree._Element | None, name: str) -> list[etree._Element]:
    if element is None:
        return []
    return [child for child in element if _local(child) == name]


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _text_of(element: etree._Element | None) -> str:
    """All the text inside an element; Atom ``type="xhtml"`` content keeps its words."""
    if element is None:
        return ""
    # Entity references left unresolved are skipped: itertext yields only text nodes.
    return "".join(
        piece for piece in element.itertext(with_tail=False) if isinstance(piece, str)
    )


def _html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment (feed summaries are usually escaped HTML)."""
    if "<" not in markup and "&" not in markup:
        return markup
    try:
        fragment = lxml_html.fragment_fromstring(markup, create_parent="div")
        for bad in fragment.iter("script", "style"):
            bad.drop_tree()
        return fragment.text_content()
    except (etree.LxmlError, ValueError) as exc:
        logger.debug("feed summary is not parsable HTML: %r", exc)
        return markup


def _entry_link(item: etree._Element) -> str:
    fallback = ""
    for link in _children(item, "link"):
        href = link.get("href")
        if href is None:  # RSS: <link>url</link>
            value = (_text_of(link) or "").strip()
            if value:
                return value
            continue
        rel = link.get("rel", "alternate")
        if rel == "alternate":
            return href.strip()
        fallback = fallback or href.strip()
    if fallback:
        return fallback
    guid = _child(item, "guid")
    if guid is not None and guid.get("isPermaLink", "true").lower() != "false":
        value = _text_of(guid).strip()
        if value.startswith(("http://", "https://")):
            return value
    about = item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
    return (about or "").strip()


def _entry(item: etree._Element) -> dict[str, str]:
    title = _clean(_html_to_text(_text_of(_child(item, "title")))) or ""
    date = ""
    for name in ("pubDate", "published", "updated", "date", "issued", "modified"):
        value = _clean(_text_of(_child(item, name)))
        if value:
            date = value
            break
    summary = ""
    for name in ("description", "summary", "encoded", "content"):
        value = _clean(_html_to_text(_text_of(_child(item, name))))
        if value:
            summary = value
            break
    return {"title": title, "link": _entry_link(item), "date": date, "summary": summary}


def _render_feed(
    title: str | None,
    description: str | None,
    entries: tuple[dict[str, str], ...],
    output_format: str,
) -> str:
    markdown = output_format == "markdown"
    blocks: list[str] = []
    if title:
        blocks.append(f"# {title}" if markdown else title)
    if description:
        blocks.append(description)
    if not entries:
        blocks.append("(The feed has no entries.)")
    lines: list[str] = []
    for entry in entries:
        name = entry["title"] or entry["link"] or "(untitled)"
        if markdown:
            head = f"- [{name}]({entry['link']})" if entry["link"] else f"- {name}"
            if entry["date"]:
                head += f" ({entry['date']})"
            lines.append(head)
            if entry["summary"]:
                lines.append(f"  {entry['summary']}")
        else:
            parts = [name]
            if entry["date"]:
                parts.append(entry["date"])
            if entry["link"] and entry["link"] != name:
                parts.append(entry["link"])
            if entry["summary"]:
                parts.append(entry["summary"])
            lines.append("\n".join(parts) + "\n")
    if lines:
        blocks.append("\n".join(lines).rstrip())
    return _MULTI_BLANK.sub("\n\n", "\n\n".join(blocks)).strip()
