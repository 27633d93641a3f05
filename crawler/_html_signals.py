"""Page-type signals read from a parsed HTML page.

Used by :mod:`crawler._html` to decide how to extract a page. All signals are
general web conventions, none names a site:

* schema.org types from JSON-LD (``@type``, through ``@graph`` and nesting) and
  from microdata (``itemtype``): ``Product``/``Offer`` mark a product page,
  ``DiscussionForumPosting``/``QAPage``/``Comment`` a thread, ``ItemList``/
  ``CollectionPage``/``SearchResultsPage`` a listing, ``Article`` family an article.
* Open Graph ``og:type`` (``article``, ``product``).
* Cues in the URL path (``/product/``, ``/thread/``, ``/t/``, ``/docs/``...).
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

from lxml.html import HtmlElement

__all__ = ["PageSignals", "page_signals"]

_ARTICLE_TYPES = frozenset(
    {"article", "newsarticle", "blogposting", "reportagenewsarticle", "scholarlyarticle",
     "techarticle", "analysisnewsarticle", "opinionnewsarticle", "report", "liveblogposting"}
)
_FORUM_TYPES = frozenset(
    {"discussionforumposting", "qapage", "question", "answer", "comment",
     "socialmediaposting"}
)
_PRODUCT_TYPES = frozenset(
    {"product", "offer", "aggregateoffer", "productgroup", "individualproduct",
     "productmodel", "softwareapplication", "videogame", "book", "vehicle"}
)
_LISTING_TYPES = frozenset(
    {"itemlist", "collectionpage", "searchresultspage", "offercatalog"}
)
_URL_CUES = (
    ("forum", re.compile(r"/(forums?|threads?|topics?|t|discussions?|questions|community|"
                         r"boards?|viewtopic|showthread|comments)(/|\.|$)", re.I)),
    ("product", re.compile(r"/(products?|p|dp|item|itm|ip|shop/p|app)/", re.I)),
    ("documentation", re.compile(r"/(docs?|documentation|reference|api|manual|guide|wiki|"
                                 r"learn|tutorials?)(/|$)", re.I)),
    ("listing", re.compile(r"/(collections?|category|categories|tags?|search|catalog|"
                           r"archive|blog|news)/?$", re.I)),
)


_TAG = re.compile(r"<[^>]+>")


class PageSignals:
    """What the page says about itself."""

    __slots__ = ("jsonld_types", "og_type", "url_cue", "microdata_types", "jsonld", "counts")

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.jsonld_types: set[str] = set()
        self.microdata_types: set[str] = set()
        self.og_type: str = ""
        self.url_cue: str = ""
        self.jsonld: list[object] = []

    @property
    def types(self) -> set[str]:
        return self.jsonld_types | self.microdata_types

    def hint(self) -> str:
        """The page type the signals point to: article, forum, product, listing or ""."""
        types = self.types
        if types & _FORUM_TYPES:
            return "forum"
        if types & _PRODUCT_TYPES or self.og_type == "product":
            return "product"
        if types & _LISTING_TYPES:
            return "listing"
        if types & _ARTICLE_TYPES or self.og_type == "article":
            return "article"
        return self.url_cue


    def product_descriptions(self) -> list[str]:
        """Descriptions (8 words or more) of the JSON-LD ``Product`` objects, as text."""
        found: list[str] = []
        for node in _walk_nodes(self.jsonld):
            kinds = node.get("@type")
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if not isinstance(kinds, list) or not any(
                isinstance(k, str) and k.lower().rsplit("/", 1)[-1] in ("product", "productgroup")
                for k in kinds
            ):
                continue
            description = node.get("description")
            if isinstance(description, str):
                # descriptions may hold escaped HTML
                text = " ".join(_TAG.sub(" ", html.unescape(description)).split())
                if len(text.split()) >= 8 and text not in found:
                    found.append(text)
        return found


def _walk_nodes(node: object) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _walk_nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_nodes(item)


def _walk_types(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        kind = node.get("@type")
        if isinstance(kind, str):
            yield kind
        elif isinstance(kind, list):
            yield from (k for k in kind if isinstance(k, str))
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _walk_types(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_types(item)


def page_signals(tree: HtmlElement, url: str | None) -> PageSignals:
    """Collect schema.org types, ``og:type`` and URL cues."""
    signals = PageSignals()
    for script in tree.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        signals.jsonld.append(data)
        found = [t.lower().rsplit("/", 1)[-1] for t in _walk_types(data)]
        signals.counts.update(found)
        signals.jsonld_types.update(found)
    # XPath walks the tree in C; a Python loop over every element costs more
    # than the rest of this function on large pages.
    for itemtype in tree.xpath("//@itemtype"):
        found = [t.rstrip("/").rsplit("/", 1)[-1].lower() for t in str(itemtype).split()]
        signals.counts.update(found)
        signals.microdata_types.update(found)
    for content in tree.xpath("//meta[@property='og:type']/@content"):
        signals.og_type = str(content).strip().lower()
    if url:
        path = urlsplit(url).path
        for name, pattern in _URL_CUES:
            if pattern.search(path):
                signals.url_cue = name
                break
    return signals
