"""A second, structure-based main-content extractor used beside trafilatura.

trafilatura is tuned for articles: on forums, product pages, listings and
collections it often keeps one block and drops the rest. This extractor reads
the page as a sequence of text blocks and keeps the region that carries the
page's own text:

1. Boilerplate is removed by structure, not by site: ``nav``, ``header``,
   ``footer``, ``aside``, forms' controls, hidden elements (``hidden``,
   ``display:none``, utility classes such as ``d-none`` or ``sr-only``), ARIA
   landmarks for navigation, and elements whose class or id names a
   boilerplate role (menu, breadcrumb, cookie, newsletter, share, related,
   sidebar...) as long as they hold a small share of the page's text.
2. The main container is found by descending from ``<main>``/``<body>`` while
   one child holds nearly all of the remaining non-link text.
3. Inside it, runs of three or more sibling "cards" with the same tag and
   class, each built around a link, are dropped when together they hold a
   minority of the text (recommendations, carousels, related links); when they
   hold most of it the page is a listing and they stay. Links inside running
   text ("models A, B and C") are not cards.
4. A listing's items are links, so on a listing the non-link text leads to an
   intro or to a single card. The page is therefore also read with item titles
   (links of four words or more; menus and tags are shorter) counted as text
   and cards kept; that *listing reading* wins when the first one holds under
   half of its words.
5. Short linked controls repeated on every post ("Reply", "Share") and
   sentences repeated verbatim (quotes of earlier posts, signatures) go.

The result is rendered as markdown or text. :mod:`crawler._html` decides when
to prefer it to trafilatura's output.
"""

from __future__ import annotations

import re
from collections import Counter
from copy import deepcopy
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree
from lxml.html import HtmlElement

__all__ = ["Block", "dom_blocks", "flatten_deep", "render_blocks", "strip_overlays"]

_DROP_TAGS = (
    "script", "style", "template", "svg", "iframe", "button", "select", "option", "input",
    "textarea", "label", "dialog", "object", "embed", "canvas", "map", "picture", "video",
    "audio",
)
_LANDMARK_TAGS = ("nav", "header", "footer", "aside", "menu")
_BOILERPLATE_WORDS = frozenset(
    "nav navbar navigation menu menubar breadcrumb breadcrumbs cookie cookies consent gdpr "
    "banner newsletter subscribe subscription share sharing social sidebar widget related "
    "recommended recommendations upsell crosssell popup modal overlay advert advertisement "
    "ads ad promo sponsored masthead "
    "footer header topbar toolbar skip login signin signup pagination pager comments-link "
    "disclaimer copyright".split()
)
# Words in a class/id that mark content even when a boilerplate word is present too
# (e.g. "post-header" or "article-body").
_CONTENT_WORDS = frozenset(
    "content main article post entry body text story product description thread message "
    "answer question review item listing".split()
)
_SPLIT_CLASS = re.compile(r"[\s_\-:]+")
# Utility classes of CSS frameworks that hide an element (Bootstrap, Tailwind, WordPress).
_HIDDEN_CLASSES = frozenset(
    "d-none hidden sr-only visually-hidden visuallyhidden screen-reader-text is-hidden "
    "u-hidden hide".split()
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK_TAGS = frozenset(
    "address article blockquote body dd div dl dt details fieldset figcaption figure h1 h2 h3 "
    "h4 h5 h6 hr li main ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
_WS = re.compile(r"\s+")
# The listing reading of a page (link text counted, cards kept) replaces the
# content reading when that holds less than this share of its words.
LISTING_SHARE = 0.5
# Elements whose links are always inline in running text, never a row of cards.
_PROSE_TAGS = frozenset("p blockquote dd figcaption h1 h2 h3 h4 h5 h6".split())
# A link of this many words is an item's title, not a menu entry or a tag.
TITLE_WORDS = 4
# Deeper trees have their text-free wrappers unwrapped (see flatten_deep).
MAX_DEPTH = 400


@dataclass
class Block:
    """One block of text in document order."""

    text: str
    markdown: str
    link_chars: int
    kind: str  # "p", "h1".."h6", "li", "pre", "td"
    signature: str  # tag and class of the nearest block parent, for repetition
    container: object  # the nearest block element (identity only)

    @property
    def link_density(self) -> float:
        return self.link_chars / max(1, len(self.text))


def _is_boilerplate(element: HtmlElement, small: bool) -> bool:
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    role = (element.get("role") or "").lower()
    if role in {"navigation", "banner", "contentinfo", "complementary", "menu", "menubar",
                "search", "dialog", "alertdialog"}:
        return True
    style = element.get("style")
    if style and _HIDDEN_STYLE.search(style):
        return True
    classes = element.get("class")
    if classes and not _HIDDEN_CLASSES.isdisjoint(classes.lower().split()):
        return True
    names = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
    if not small or not names.strip():
        return False
    words = set(_SPLIT_CLASS.split(names))
    return bool(words & _BOILERPLATE_WORDS) and not (words & _CONTENT_WORDS)


def clean_tree(tree: HtmlElement) -> HtmlElement:
    """A copy of the page's body without boilerplate elements."""
    root = deepcopy(tree.getroottree().getroot())
    body = root.find(".//body")
    if body is None:
        body = root
    # JavaScript apps (Discourse, for one) serve their real content to crawlers in
    # <noscript>; a short one only says "enable JavaScript".
    for element in list(body.iter("noscript")):
        if element.getparent() is not None and len(element.text_content()) < 500:
            element.drop_tree()
    for element in list(body.iter(*_DROP_TAGS)):
        if element.getparent() is not None:
            element.drop_tree()
    for element in list(body.iter(etree.Comment, etree.ProcessingInstruction)):
        if element.getparent() is not None:
            element.drop_tree()
    # Landmarks and class or id words are evidence, not proof: a <header> or a
    # wrapper named "page with-header" may hold the whole page. They only remove
    # elements holding a small share of the text, or mostly links.
    stats = _text_stats(body)
    limit = 0.3 * stats[body][0]
    for element in list(body.iter(*_LANDMARK_TAGS)):
        total, links = stats.get(element, (0, 0))
        if element.tag in ("header", "footer") and _inside(element, ("article", "main")):
            continue  # the heading or byline of a post, not the page's banner
        if element.getparent() is not None and (total <= limit or links >= 0.5 * total):
            element.drop_tree()
    doomed = [el for el in body.iter() if isinstance(el.tag, str) and el is not body
              and _is_boilerplate(el, stats.get(el, (0, 0))[0] <= limit)]
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()
    return body


def _depths(root: HtmlElement) -> list[tuple[HtmlElement, int]]:
    """Every element under ``root`` with its depth, without recursion."""
    out: list[tuple[HtmlElement, int]] = []
    stack = [(root, 0)]
    while stack:
        element, depth = stack.pop()
        out.append((element, depth))
        stack.extend((child, depth + 1) for child in element if isinstance(child.tag, str))
    return out


def flatten_deep(root: HtmlElement, limit: int = MAX_DEPTH) -> None:
    """Unwrap text-free single-child wrappers when the tree is nested deeper than ``limit``.

    Page builders nest ``<div>`` wrappers hundreds deep; the walks here recurse
    once per level and Python's stack would overflow. A wrapper holding nothing
    but one element carries no text, so removing its tag loses no words.
    """
    if max((depth for _, depth in _depths(root)), default=0) <= limit:
        return
    for element, _ in _depths(root):
        parent = element.getparent()
        if (parent is None or element is root or len(element) != 1
                or (element.text or "").strip() or not isinstance(element[0].tag, str)
                or (element[0].tail or "").strip()
                or element.tag in _HEADINGS or element.tag in ("a", "pre", "li", "table")):
            continue
        element.drop_tag()


# Class or id words of cookie and consent banners (names are split on - and _).
_OVERLAY_WORDS = frozenset("cookie cookies cookiebanner cookieconsent consent gdpr".split())
# Preselects class and id values that may hold one of those words, in any case.
_OVERLAY_PATTERN = re.compile("cookie|consent|gdpr", re.I)
_CLASS_AND_ID = etree.XPath("//@class|//@id")


def strip_overlays(tree: HtmlElement) -> HtmlElement:
    """A copy of the page without its cookie and consent banners.

    They sit outside the page's content, yet their paragraphs of legal text look
    like prose to trafilatura, which keeps them on pages with little text. Only
    elements holding under a tenth of the page's text go, so a page *about*
    cookies keeps its text.
    """
    root = deepcopy(tree.getroottree().getroot())
    # Attribute values are read in C; the pattern preselects the few that hold a
    # banner word, and the exact word test on their elements follows.
    named = list(dict.fromkeys(
        value.getparent() for value in _CLASS_AND_ID(root) if _OVERLAY_PATTERN.search(value)
    ))
    if not named:
        return root
    total = len(root.text_content())
    doomed = []
    for element in named:
        if element.tag in ("html", "body", "head"):
            continue
        names = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
        if _OVERLAY_WORDS.isdisjoint(_SPLIT_CLASS.split(names)):
            continue
        doomed.append(element)
    for element in doomed:
        if element.getparent() is not None and len(element.text_content()) < 0.1 * total:
            element.drop_tree()
    return root


def _inside(element: HtmlElement, tags: tuple[str, ...]) -> bool:
    return any(ancestor.tag in tags for ancestor in element.iterancestors())


Stats = dict[HtmlElement, tuple[int, int]]


def _text_stats(root: HtmlElement) -> Stats:
    """(text chars, link text chars) for every element, bottom up."""
    return _two_stats(root, titles=False)[0]


def _two_stats(root: HtmlElement, titles: bool = True) -> tuple[Stats, Stats]:
    """Two readings of (text chars, link text chars) per element, in one walk.

    The first counts every link; the second (only with ``titles``, else empty)
    counts only links of fewer than TITLE_WORDS words: longer ones are the
    titles of a listing's items and count as text, where short links are menus
    and tags.
    """
    stats: Stats = {}
    titled: Stats = {}

    def visit(element: HtmlElement, in_link: bool, in_short: bool) -> tuple[int, int, int]:
        if element.tag == "a" and not in_link:
            is_link = True
            is_short = titles and len(element.text_content().split()) < TITLE_WORDS
        else:
            is_link, is_short = in_link, in_short
        own = len(_WS.sub("", element.text or ""))
        total = own
        links = own if is_link else 0
        short = own if is_short else 0
        for child in element:
            if not isinstance(child.tag, str):
                continue
            t, lk, sh = visit(child, is_link, is_short)
            tail = len(_WS.sub("", child.tail or ""))
            total += t + tail
            links += lk + (tail if is_link else 0)
            short += sh + (tail if is_short else 0)
        stats[element] = (total, links)
        if titles:
            titled[element] = (total, short)
        return total, links, short

    visit(root, False, False)
    return stats, titled


def main_container(body: HtmlElement, stats: Stats,
                   share: float = 0.8) -> HtmlElement:
    """Descend while one child holds at least ``share`` of the non-link text."""
    node = body
    for main in body.iter("main"):
        t, lk = stats.get(main, (0, 0))
        bt, blk = stats[body]
        if t - lk >= 0.5 * (bt - blk):
            node = main
        break
    while True:
        total, link_chars = stats.get(node, (0, 0))
        own = total - link_chars
        best, best_own = None, 0.0
        for child in node:
            if not isinstance(child.tag, str):
                continue
            t, lk = stats.get(child, (0, 0))
            if t - lk > best_own:
                best, best_own = child, t - lk
        if best is None or own <= 0 or best_own < share * own:
            return node
        node = best


def dom_blocks(tree: HtmlElement, url: str | None = None, *,
               include_tables: bool = True) -> list[Block]:
    """The text blocks of the page's main container, boilerplate removed.

    Two containers are read from one cleaned copy of the page: the one that
    holds the page's own (non-link) text, with runs of link cards pruned, and
    the one that holds its text with item titles (links of TITLE_WORDS words or
    more) counted as text, cards kept. On a listing the items are links: the
    first container then collapses to a fragment (an intro, one card) and the
    second, at least twice as large, is the content.
    """
    try:
        return _dom_blocks(tree, url, include_tables)
    except RecursionError:
        # Nested deeper than Python's stack: unwrap the text-free wrappers and walk
        # again. Measuring every page's depth up front would cost more than this.
        flat = deepcopy(tree.getroottree().getroot())
        flatten_deep(flat)
        return _dom_blocks(flat, url, include_tables)


def _dom_blocks(tree: HtmlElement, url: str | None, include_tables: bool) -> list[Block]:
    body = clean_tree(tree)
    if not include_tables:
        for table in list(body.iter("table")):
            if table.getparent() is not None:
                table.drop_tree()
    stats, titled = _two_stats(body)
    # The listing reading first: pruning the cards edits the tree.
    listing: list[Block] = []
    _collect(main_container(body, titled), url, listing)
    root = main_container(body, stats)
    _prune_card_runs(root, stats)
    blocks: list[Block] = []
    _collect(root, url, blocks)
    if _word_count(blocks) < LISTING_SHARE * _word_count(listing):
        blocks = listing
    return _drop_repeated_controls(blocks)


def _word_count(blocks: list[Block]) -> int:
    return sum(len(block.text.split()) for block in blocks)


def _drop_repeated_controls(blocks: list[Block]) -> list[Block]:
    """Drop repeated controls ("Reply", "Share") and repeated sentences.

    Post and item text is unique; short linked controls repeated on every post
    are not content, and a long block seen before is a quote or a signature.
    """
    counts = Counter(block.text for block in blocks)
    seen: set[str] = set()
    kept: list[Block] = []
    for block in blocks:
        words = len(block.text.split())
        if block.link_chars and counts[block.text] >= 3 and words <= 4:
            continue
        # A sentence seen before is a quote of an earlier post or a signature.
        if words >= 6:
            if block.text in seen:
                continue
            seen.add(block.text)
        kept.append(block)
    return kept


def _signature(element: HtmlElement) -> str:
    return f"{element.tag}.{element.get('class') or ''}"


def _prune_card_runs(root: HtmlElement, stats: Stats,
                     card_share: float = 0.3) -> None:
    """Drop runs of repeated link cards that hold a minority of the text.

    Three or more siblings with the same tag and class, each a short item built
    around a link, are a list of other pages: recommendations, "related", carousels
    of products, menus. When such a run carries most of the container's text the
    page *is* a listing and the run is kept.
    """
    total = max(1, stats.get(root, (0, 0))[0])
    doomed: list[HtmlElement] = []
    for parent in root.iter():
        if not isinstance(parent.tag, str) or len(parent) < 3 or _is_prose(parent, stats):
            continue
        groups: dict[str, list[HtmlElement]] = {}
        for child in parent:
            if isinstance(child.tag, str):
                groups.setdefault(_signature(child), []).append(child)
        for members in groups.values():
            if len(members) < 3:
                continue
            chars = [stats.get(m, (0, 0)) for m in members]
            run_text = sum(t for t, _ in chars)
            if run_text == 0 or run_text > card_share * total:
                continue
            linked = sum(1 for t, lk in chars if t and lk >= 0.3 * t)
            if linked < 0.6 * len(members) or run_text / len(members) > 300:
                continue
            doomed.extend(members)
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()


def _is_prose(parent: HtmlElement, stats: Stats) -> bool:
    """Whether ``parent`` is running text whose links are inline, not a row of cards.

    Links named in a sentence ("models A, B and C") are siblings with the same
    tag, like cards, but the text between them belongs to the sentence.
    """
    if parent.tag in _PROSE_TAGS:
        return True
    own = len(_WS.sub("", parent.text or ""))
    own += sum(len(_WS.sub("", child.tail or "")) for child in parent)
    return own > 0.2 * stats.get(parent, (0, 0))[0]


def _collect(root: HtmlElement, url: str | None, blocks: list[Block]) -> None:
    text_parts: list[str] = []
    md_parts: list[str] = []
    state = {"links": 0}
    current: list[object] = [root]

    def flush(kind: str) -> None:
        text = _WS.sub(" ", "".join(text_parts)).strip()
        # code keeps its lines and indentation
        md = ("".join(md_parts).strip("\n").rstrip() if kind == "pre"
              else _WS.sub(" ", "".join(md_parts)).strip())
        if text:
            container = current[-1]
            tag = getattr(container, "tag", "")
            cls = container.get("class", "") if hasattr(container, "get") else ""
            parent = container.getparent() if hasattr(container, "getparent") else None
            ptag = parent.tag if parent is not None else ""
            blocks.append(Block(text, md, state["links"], kind, f"{ptag}>{tag}.{cls}",
                                container))
        text_parts.clear()
        md_parts.clear()
        state["links"] = 0

    def walk(element: HtmlElement, kind: str, in_link: bool) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        is_block = tag in _BLOCK_TAGS
        if is_block:
            flush(kind)
            current.append(element)
            if tag in _HEADINGS:
                kind = tag
            elif tag == "li":
                kind = "li"
            elif tag == "pre":
                kind = "pre"
            elif tag in ("td", "th"):
                kind = "td"
            elif kind not in ("li", "pre", "td") and not kind.startswith("h"):
                kind = "p"
        elif tag == "br":
            text_parts.append(" ")
            md_parts.append(" ")
        link_here = tag == "a" and not in_link and kind != "pre"
        if link_here:
            start = len("".join(text_parts))
            md_start = len(md_parts)
            first_block = len(blocks)
        if element.text and tag:
            text_parts.append(element.text)
            md_parts.append(element.text)
        for child in element:
            if isinstance(child.tag, str):
                walk(child, kind, in_link or link_here)
            if child.tail:
                text_parts.append(child.tail)
                md_parts.append(child.tail)
        if link_here:
            href = element.get("href") or ""
            target = ""
            if href and not href.startswith(("#", "javascript:", "mailto:")):
                target = urljoin(url, href) if url else href
            if len(blocks) > first_block:
                # A card: the link wraps blocks (title, snippet), which were
                # flushed inside it. They are link text; the first one, the
                # title, carries the target.
                for block in blocks[first_block:]:
                    block.link_chars = len(block.text)
                title = blocks[first_block]
                if target and title.kind != "pre":
                    title.markdown = f"[{title.markdown}]({target})"
                start, md_start = 0, 0
            link_text = "".join(text_parts)[start:]
            state["links"] += len(_WS.sub(" ", link_text).strip())
            inner = _WS.sub(" ", "".join(md_parts[md_start:])).strip()
            if inner and target:
                del md_parts[md_start:]
                md_parts.append(f"[{inner}]({target})")
        if is_block:
            flush(kind)
            current.pop()

    walk(root, "p", False)
    flush("p")


def render_blocks(blocks: list[Block], markdown: bool) -> str:
    """Join blocks into markdown (headings, bullets, links) or plain text."""
    if not markdown:
        return "\n".join(block.text for block in blocks)
    out: list[str] = []
    previous = ""
    for block in blocks:
        body = block.markdown
        if block.kind.startswith("h") and len(block.kind) == 2:
            body = "#" * int(block.kind[1]) + " " + body
        elif block.kind == "li":
            body = "- " + body
        elif block.kind == "pre":
            body = f"```\n{body}\n```"
        # consecutive list items form one list; everything else is a paragraph
        separator = "\n" if block.kind == previous == "li" else "\n\n"
        out.append(separator + body if out else body)
        previous = block.kind
    return "".join(out)
