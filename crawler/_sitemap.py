"""Sitemap parsing: XML ``<urlset>``, ``<sitemapindex>``, plain-text lists, gzip.

The parser never resolves entities nor touches the network (no XXE), and a
gzipped sitemap is inflated to at most :data:`MAX_SITEMAP_BYTES`.
"""

from __future__ import annotations

import logging
import zlib
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


def parse_sitemap(content: bytes | str, *, url: str | None = None) -> Sitemap:
    """Parse one sitemap file.

    Args:
        content: The file as fetched; gzip-compressed bytes are inflated first.
        url: Where it came from; relative ``<loc>`` values are resolved against it.

    Returns:
        The listed URLs, in file order. ``<urlset>`` fills ``urls``,
        ``<sitemapindex>`` fills ``sitemaps``; a plain-text sitemap (one URL a
        line) fills ``urls``.

    Raises:
        ExtractionError: The file is neither an XML sitemap nor a list of URLs.
        ContentTooLarge: The inflated file is larger than :data:`MAX_SITEMAP_BYTES`.
    """
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
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=True
    )
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
