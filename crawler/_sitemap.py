"""Sitemap parsing: XML ``<urlset>``, ``<sitemapindex>``, plain-text lists, gzip.

The parser never resolves entities nor touches the network (no XXE), and a
gzipped sitemap is inflated to at most :data:`MAX_SITEMAP_BYTES`.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree

from .errors import ContentTooLarge, ExtractionError

__all__ = ["MAX_SITEMAP_BYTES", "Sitemap", "parse_sitemap"]

logger = logging.getLogger(__name__)

#: The sitemaps.org limit for one sitemap file, uncompressed.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Sitemap:
    """What one sitemap file lists: page URLs, and (for an index) further sitemaps."""

    urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()


def parse_sitemap(
    content: bytes | str,
    *,
    url: str | None = None,
    max_bytes: int | None = None,
    max_urls: int | None = None,
) -> Sitemap:
    """Parse one sitemap file.

    Args:
        content: The file as fetched; gzip-compressed bytes are inflated first.
        url: Where it came from; relative ``<loc>`` values are resolved against it.
        max_bytes: With a cap, the file is inflated and parsed in pieces and
            reading stops after this many decoded bytes (what was read so far is
            returned, not an error): a crawl that can use 20 URLs does not
            inflate 50 MiB to find them.
        max_urls: Stop after this many ``<loc>`` entries (streamed, as above).

    Returns:
        The listed URLs, in file order. ``<urlset>`` fills ``urls``,
        ``<sitemapindex>`` fills ``sitemaps``; a plain-text sitemap (one URL a
        line) fills ``urls``.

    Raises:
        ExtractionError: The file is neither an XML sitemap nor a list of URLs.
        ContentTooLarge: The inflated file is larger than :data:`MAX_SITEMAP_BYTES`.
    """
    if max_bytes is not None or max_urls is not None:
        return _parse_bounded(content, url, max_bytes or MAX_SITEMAP_BYTES, max_urls)
    if isinstance(content, bytes) and content[:2] == _GZIP_MAGIC:
        content = _gunzip(content, url)
    data = content.encode("utf-8") if isinstance(content, str) else content
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return _parse_xml(data, url)
    lines = data.decode("utf-8", errors="replace").splitlines()
    urls = tuple(
        urljoin(url or "", line.strip())
        for line in lines
        if line.strip().lower().startswith(("http://", "https://"))
    )
    if not urls and data.strip():
        raise ExtractionError(f"Not a sitemap: {url or 'content'} lists no URLs.", url=url)
    return Sitemap(urls=urls)


_CHUNK = 64 * 1024


def _decoded_pieces(content: bytes, url: str | None, max_bytes: int) -> Iterator[bytes]:
    """The decoded file in pieces, at most ``max_bytes`` in all (gzip inflated lazily)."""
    if content[:2] != _GZIP_MAGIC:
        for start in range(0, min(len(content), max_bytes), _CHUNK):
            yield content[start : min(start + _CHUNK, max_bytes)]
        return
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    left = max_bytes
    pending = content
    while left > 0 and not inflater.eof:
        try:
            out = inflater.decompress(pending, min(_CHUNK, left))
        except zlib.error as exc:
            raise ExtractionError(f"Corrupt gzip sitemap {url or ''}: {exc}", url=url) from exc
        pending = inflater.unconsumed_tail
        if not out:
            break  # truncated stream: keep what was read
        left -= len(out)
        yield out


def _parse_bounded(
    content: bytes | str, url: str | None, max_bytes: int, max_urls: int | None
) -> Sitemap:
    data = content.encode("utf-8") if isinstance(content, str) else content
    pieces = _decoded_pieces(data, url, max_bytes)
    first = next(pieces, b"")
    if not first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        text = b"".join([first, *pieces])
        if len(text) >= max_bytes:  # cut by the cap
            text = text[: text.rfind(b"\n") + 1] or text  # no half URL at the cut
        found = parse_sitemap(text, url=url)
        return Sitemap(urls=found.urls[:max_urls] if max_urls is not None else found.urls)
    parser = etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        recover=True,
    )
    kind: str | None = None
    entry = ""
    taken = False
    locs: list[str] = []
    full = False
    for piece in _chain(first, pieces):
        parser.feed(piece)
        for event, element in parser.read_events():
            if not isinstance(element.tag, str):
                continue
            name = etree.QName(element).localname.lower()
            if kind is None and event == "start":
                kind = name
                entry = "url" if kind == "urlset" else "sitemap"
                if kind not in ("urlset", "sitemapindex"):
                    raise ExtractionError(
                        f"Not a sitemap: {url or 'the document'} has root <{kind}>, "
                        "expected <urlset> or <sitemapindex>.",
                        url=url,
                    )
            elif event == "start" and name == entry and _depth(element) == 1:
                taken = False
            elif event == "end" and name == "loc" and not taken:
                parent = element.getparent()
                if parent is not None and _depth(parent) == 1:
                    if etree.QName(parent).localname == entry:
                        loc = (element.text or "").strip()
                        if loc:
                            locs.append(urljoin(url or "", loc))
                        taken = True
            elif event == "end" and _depth(element) == 1:
                element.clear()  # bounded memory: finished entries are dropped
                while element.getprevious() is not None:
                    del element.getparent()[0]
            if max_urls is not None and len(locs) >= max_urls:
                full = True
                break
        if full:
            break
    if kind is None:
        raise ExtractionError(f"Unreadable sitemap XML {url or ''}.", url=url)
    if kind == "urlset":
        return Sitemap(urls=tuple(locs))
    return Sitemap(sitemaps=tuple(locs))


def _depth(element: etree._Element) -> int:
    depth = 0
    parent = element.getparent()
    while parent is not None and depth < 3:
        depth += 1
        parent = parent.getparent()
    return depth


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _gunzip(data: bytes, url: str | None) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_SITEMAP_BYTES + 1)
    except zlib.error as exc:
        raise ExtractionError(f"Corrupt gzip sitemap {url or ''}: {exc}", url=url) from exc
    if len(out) > MAX_SITEMAP_BYTES:
        raise ContentTooLarge(
            f"Sitemap {url or ''} inflates to more than {MAX_SITEMAP_BYTES} bytes.",
            url=url,
            limit=MAX_SITEMAP_BYTES,
        )
    if not inflater.eof:
        raise ExtractionError(f"Corrupt gzip sitemap {url or ''}: truncated stream.", url=url)
    return out


def _parse_xml(data: bytes, url: str | None) -> Sitemap:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.LxmlError as exc:
        raise ExtractionError(f"Unreadable sitemap XML {url or ''}: {exc}", url=url) from exc
    if root is None:
        raise ExtractionError(f"Unreadable sitemap XML {url or ''}.", url=url)
    kind = etree.QName(root).localname.lower()
    if kind not in ("urlset", "sitemapindex"):
        raise ExtractionError(
            f"Not a sitemap: {url or 'the document'} has root <{kind}>, "
            "expected <urlset> or <sitemapindex>.",
            url=url,
        )
    entry = "url" if kind == "urlset" else "sitemap"
    locs: list[str] = []
    for element in root:
        if not isinstance(element.tag, str) or etree.QName(element).localname != entry:
            continue
        for child in element:
            if isinstance(child.tag, str) and etree.QName(child).localname == "loc":
                loc = (child.text or "").strip()
                if loc:
                    locs.append(urljoin(url or "", loc))
                break
    if kind == "urlset":
        return Sitemap(urls=tuple(locs))
    return Sitemap(sitemaps=tuple(locs))
