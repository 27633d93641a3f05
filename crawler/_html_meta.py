"""Metadata of an HTML page: title, author, date, description, site name, language, URL.

The steps are trafilatura's ``extract_metadata``: ``<meta>`` tags, then JSON-LD,
then the page's own markup for a missing title or author, the canonical URL,
htmldate for the date, and the site name. Its categories, tags and licence are
left out: a :class:`~crawler.Document` does not carry them, and looking for them
costs about a fifth of the metadata time, which is itself a third of
trafilatura's time per page.

htmldate runs without its extensive search: that hands free text to dateparser,
which costs more than the whole extraction; the structured date sources (meta
tags, JSON-LD, ``<time>``, URL) remain.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import META_URL as _HOST_IN_URL
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)

__all__ = ["PageMetadata", "page_metadata"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about itself; every field may be ``None``."""

    title: str | None = None
    author: str | None = None
    date: str | None = None
    description: str | None = None
    site_name: str | None = None
    language: str | None = None
    url: str | None = None


def page_metadata(tree: HtmlElement, url: str | None = None, *,
                  search_author: bool = True) -> PageMetadata:
    """Read the page's metadata. ``tree`` is not modified.

    Without ``search_author`` the author comes only from meta tags and JSON-LD,
    not from the page's markup: that search costs a sixth of the extraction, and
    off articles and threads what it finds is mostly a reviewer's, a seller's or
    a widget's name (on a third of the WCXB development pages of other types,
    it found 11 "authors", 3 of them right, all on untagged articles).
    """
    found = examine_meta(tree)
    # a one-word author in a meta tag is a handle or a site name, not a person
    if found.author and " " not in found.author:
        found.author = None
    try:
        found = extract_meta_json(tree, found)
    except Exception as exc:  # noqa: BLE001 - trafilatura's JSON-LD reader has bugs
        logger.debug("JSON-LD metadata could not be read: %s", exc)
    title = found.title or extract_title(tree)
    author = found.author or (extract_author(tree) if search_author else None)
    page_url = found.url or extract_url(tree, url)
    date = find_date(
        tree, extensive_search=False, original_date=True, url=page_url,
        max_date=datetime.now().astimezone().strftime("%Y-%m-%d"),
    )
    site_name = found.sitename or extract_sitename(tree)
    if site_name:
        site_name = site_name.lstrip("@")
        if site_name and "." not in site_name and not site_name[0].isupper():
            site_name = site_name.title()
    elif page_url and (host := _HOST_IN_URL.match(page_url)):
        site_name = host[1]
    return PageMetadata(
        title=_clean(title), author=_clean(author), date=_clean(date),
        description=_clean(found.description), site_name=_clean(site_name),
        language=_language(tree), url=_clean(page_url),
    )


def _language(tree: HtmlElement) -> str | None:
    """The page's declared language: ``<html lang>``, then ``content-language``."""
    root = tree.getroottree().getroot()
    lang = root.get("lang") or root.get("xml:lang")
    if not lang:
        for meta in root.iterfind(".//meta"):
            if (meta.get("http-equiv") or "").lower() == "content-language":
                lang = meta.get("content")
                break
    if not lang:
        return None
    lang = lang.split(",")[0].strip().replace("_", "-")
    return lang or None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    # meta contents are sometimes escaped twice ("&amp;amp;")
    value = " ".join(html.unescape(value).split())
    return value or None
