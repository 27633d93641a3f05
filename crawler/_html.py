"""Main-content extraction from HTML pages.

trafilatura is excellent on articles and under-extracts elsewhere: on forum
threads, product pages, listings and collections it often keeps one block and
drops the rest. ``extract_html`` therefore combines two extractors and picks
one per page from general signals, never from rules about particular sites:

0. The page is parsed once, with libxml2's huge-tree option: without it
   libxml2 silently drops everything nested deeper than 256 elements, which
   page builders reach. Text-free wrappers of very deep trees are unwrapped
   before the structural walk (:func:`crawler._html_dom.flatten_deep`).
1. **trafilatura** (balanced mode, comments off unless asked, tables kept,
   links as markdown) gives the first candidate and the metadata. It reads a
   copy without cookie and consent banners (class or id words, under a tenth
   of the page's text), whose legal prose it would otherwise keep on pages
   with little text.
2. **A structural extractor** (:mod:`crawler._html_dom`) gives the second: it
   removes boilerplate by structure (nav/header/footer/aside, ARIA roles,
   hidden elements, boilerplate class names), descends to the container that
   holds nearly all non-link text, and drops runs of repeated link cards
   (recommendations, carousels) unless they carry most of the text (a listing).
   When that container is a fragment of the page, under half the words of a
   *listing reading* in which item titles (links of four words or more) count
   as text and cards stay, the listing reading is the candidate: on a listing
   the items are links, and the non-link text alone leads to an intro or to one
   card.
3. **Page type** (:mod:`crawler._html_signals`): schema.org types from JSON-LD
   and microdata, ``og:type`` and URL path cues.
4. **Articles get a precision pass.** On a page that declares itself an
   article, trafilatura's ``favor_precision`` mode marks where the story starts
   and ends (it drops teasers, tag lists and captions at the edges); the
   balanced text is cut to that span, keeping the subheadings and short
   paragraphs inside it that precision mode also drops (not lines that are
   mostly a link). When the span keeps under half the balanced words it has
   cut into the story, and the balanced text stays.
5. **Choice by coverage.** When trafilatura's text is much shorter than the
   structural candidate, trafilatura has probably kept a fragment of the page,
   and the structural candidate wins. How much shorter depends on the page
   type: never on an article (trafilatura's home ground), as soon as it is
   shorter at all on a forum thread (the posts are the content), below 30% on
   product pages (whose extra text is mostly reviews and upsell) and below 70%
   elsewhere. Off articles and product pages it also wins when it holds nearly
   all of trafilatura's words and at most twice as many: the same content plus
   what trafilatura dropped (specification lists, the linked titles of a listing).
   Off articles it also wins when it holds under a fifth of trafilatura's
   words: the two read different parts of the page, and the structural one
   follows where the page's text is.
   Declared types are checked against the shape of the text. A page that
   declares a product but whose structural text is running prose (100 words
   or more, 80% of them in sentences) is a review or a buying guide marking up
   what it discusses. A page that declares an article but whose text is not
   (under 40% of trafilatura's words and under 50% of the structural text's in
   sentences) is a list: an archive, a schedule, a list of links. Both are
   decided like undeclared pages.
   Otherwise, off articles, link-free list items that trafilatura dropped
   between two blocks it kept are put back in place, as long as the rebuilt
   text keeps at least half of trafilatura's words.
   Off articles, a paragraph of twelve words or more that repeats an earlier one
   word for word (a product summary tab, a quoted post) is dropped.
6. **Structured data fills gaps.** On a product page, a JSON-LD
   ``Product.description`` of which less than half the words are in the text
   (it sat in a tab or came from JavaScript) is appended.
7. When both find nothing, the visible body text without scripts, navigation,
   header and footer is returned, so a page that holds text never comes back
   empty; when even that is a placeholder of a JavaScript app (under 15 words),
   a longer meta description is returned instead.

Measured (``benchmarks/bench_extraction.py``, figures in
``benchmarks/results_extraction.md``): word-bag F1 0.862 on the WCXB development
split (trafilatura alone 0.822-0.826), 4-shingle F1 0.967 on the Zyte article
benchmark (0.948-0.957; authors' evaluate.py 0.967), in 1.90 times
trafilatura's time per page, metadata included (:mod:`crawler._html_meta`; the
author is searched in the markup only on articles and threads).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from copy import deepcopy
from typing import Literal

import trafilatura
from lxml import etree
from lxml.html import HtmlElement, HTMLParser, fromstring
from trafilatura.utils import decode_file, repair_faulty_html

from ._html_dom import Block, dom_blocks, flatten_deep, render_blocks, strip_overlays
from ._html_meta import page_metadata
from ._html_signals import page_signals
from ._models import Document
from .errors import ExtractionError

__all__ = ["DEFAULT_OUTPUT_FORMAT", "OUTPUT_FORMATS", "extract_html"]

logger = logging.getLogger(__name__)

OutputFormat = Literal["markdown", "text"]
OUTPUT_FORMATS: tuple[str, ...] = ("markdown", "text")
DEFAULT_OUTPUT_FORMAT: OutputFormat = "markdown"

# Elements whose text is never main content, used by the fallback.
_FALLBACK_DROP = (
    "script", "style", "noscript", "template", "svg", "nav", "header", "footer",
    "aside", "form", "iframe", "button", "select", "option",
)
_BLOCK_TAGS = frozenset(
    "address article blockquote br dd div dl dt fieldset figcaption figure h1 h2 h3 h4 h5 h6 "
    "hr li main ol p pre section table tbody td tfoot th thead tr ul".split()
)
_MULTI_BLANK = re.compile(r"\n{3,}")
_WORD = re.compile(r"\w+")
_SUP_SUB = re.compile(r"</?su[bp]>", re.I)

# The structural candidate replaces trafilatura's when trafilatura's word count is
# below this share of the candidate's, by page type (see the module docstring).
SWITCH_RATIO: dict[str, float] = {
    "article": 0.0,
    "forum": 1.0,
    "product": 0.3,
}
DEFAULT_SWITCH_RATIO = 0.7
# Off articles, the structural candidate also wins when it holds nearly all of
# trafilatura's words (SUPERSET_CONTAINMENT) and at most SUPERSET_GROWTH times as
# many: it is then the same content plus what trafilatura dropped (spec lists,
# linked item titles of a listing).
SUPERSET_CONTAINMENT = 0.9
SUPERSET_GROWTH = 2.0
# Off articles, when the structural candidate holds under this share of
# trafilatura's words the two read different parts of the page; the structural
# one, which follows where the page's text is, wins.
DISJOINT_CONTAINMENT = 0.2
# On an article, trafilatura's precision mode is used when it keeps at least this
# share of the balanced mode's words.
PRECISION_MIN_SHARE = 0.5
# Inside the precision text's span, a line it dropped comes back when it has this
# many words or more and at most this share of its text in links.
SPAN_MIN_WORDS = 5
SPAN_MAX_LINK_SHARE = 0.5
# Declared page types are checked against the shape of the text (share of words
# in sentences, see _prose_share), on structural texts of PROSE_WORDS words or more.
# A declared product whose structural text has at least PROSE_PRODUCT_SHARE of its
# words in sentences is a review or a guide, not a shop page; a declared article
# whose text has under ARTICLE_TEXT_PROSE of them in sentences, and its structural
# text under ARTICLE_STRUCT_PROSE, is a list (an archive, a schedule, a list
# article of links). Both are decided like undeclared pages.
PROSE_WORDS = 100
PROSE_PRODUCT_SHARE = 0.8
ARTICLE_TEXT_PROSE = 0.4
ARTICLE_STRUCT_PROSE = 0.5
_SENTENCE_END = re.compile(r"[.!?:;。！？][\"'”’)\]]?$")
# trafilatura's text rebuilt with the list items it dropped must keep this share
# of its words (see _fill_lists).
FILL_CONTAINMENT = 0.5
# Off articles, a paragraph of this many words or more seen before is dropped.
REPEAT_MIN_WORDS = 12
# Below this many words the body is a placeholder and a longer description wins.
MIN_BODY_WORDS = 15
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def extract_html(
    html: str | bytes,
    *,
    url: str | None = None,
    output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
    include_comments: bool = False,
    include_tables: bool = True,
) -> Document:
    """Extract the main content and metadata of an HTML page.

    Args:
        html: The page, as text or as bytes (the encoding is then detected).
        url: Where the page came from; used for metadata and relative links.
        output_format: ``"markdown"`` (headings, lists, tables, links) or ``"text"``.
        include_comments: Keep reader comments under an article.
        include_tables: Keep the content of ``<table>`` elements.

    Returns:
        A :class:`~crawler.Document` whose ``text`` is never empty.

    Raises:
        ExtractionError: The page holds no text at all.
        ValueError: ``output_format`` is not one of :data:`OUTPUT_FORMATS`.
        TypeError: ``html`` is neither ``str`` nor ``bytes``.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}"
        )
    if not isinstance(html, (str, bytes)):
        raise TypeError(f"html must be str or bytes, not {type(html).__name__}")
    tree = _parse(html)
    if tree is None:
        raise ExtractionError("The page is empty or is not HTML: nothing to extract.", url=url)

    markdown = output_format == "markdown"
    signals = page_signals(tree, url)
    hint = signals.hint()
    ratio = SWITCH_RATIO.get(hint, DEFAULT_SWITCH_RATIO)
    # trafilatura reads a copy without cookie banners, which it may take for prose.
    clean = strip_overlays(tree)
    options = {"include_comments": include_comments, "include_tables": include_tables,
               "markdown": markdown}
    declared = hint
    if hint == "article":
        text, extractor = _article_text(clean, url, **options)
    else:
        text, extractor = _trafilatura_text(clean, url, **options), "trafilatura"
    list_like = (hint == "article" and bool(text)
                 and _prose_share(text.split("\n"))[0] < ARTICLE_TEXT_PROSE)

    if ratio > 0 or not text or list_like:
        blocks = dom_blocks(tree, url, include_tables=include_tables)
        share, words = _prose_share(block.text for block in blocks)
        if words >= PROSE_WORDS and (
            (hint == "product" and share >= PROSE_PRODUCT_SHARE)
            or (list_like and share < ARTICLE_STRUCT_PROSE)
        ):
            hint, ratio = "", DEFAULT_SWITCH_RATIO
        candidate = _tidy(render_blocks(blocks, markdown))
        if candidate and (not text or _prefer_structure(text, candidate, hint, ratio)):
            text, extractor = candidate, "structure"
        elif candidate and hint != "article":
            merged = _fill_lists(text, blocks, markdown)
            if merged:
                text, extractor = merged, "trafilatura+structure"
    if hint != "article":
        text = _drop_repeated_paragraphs(text)
    if hint == "product" and text:
        text = _add_descriptions(text, signals.product_descriptions())
    if not text:
        text = _fallback_text(tree)
        extractor = "fallback"
    # A JavaScript app may serve no body text at all ("enable JavaScript"); its
    # description is then the only text the page holds about itself.
    meta = page_metadata(tree, url, search_author=declared in ("article", "forum"))
    description = meta.description
    if description and sum(_words(text).values()) < MIN_BODY_WORDS < len(description.split()):
        text, extractor = description, "description"
    if not text:
        raise ExtractionError("The page holds no text to extract.", url=url)
    logger.debug("extracted %d chars with %s (page type hint %r)", len(text), extractor, hint)

    return Document(
        text=text,
        title=meta.title,
        author=meta.author,
        date=meta.date,
        description=meta.description,
        site_name=meta.site_name,
        language=meta.language,
        url=url or meta.url,
        content_type="text/html",
        format=output_format,
        extractor=extractor,
    )


# trafilatura's own parser settings, plus huge_tree: without it libxml2 stops
# descending at 256 nested elements and silently drops everything deeper, which
# page builders nesting <div>s reach.
_PARSER = HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
    remove_pis=True, huge_tree=True,
)


def _parse(html: str | bytes) -> HtmlElement | None:
    """Parse the page once; ``None`` when it is empty or not HTML."""
    if not html or not (html.strip() if isinstance(html, str) else html.strip()):
        return None
    try:
        text = decode_file(html)
        beginning = text[:50].lower()
        text = repair_faulty_html(text, beginning)
        try:
            tree = fromstring(text, parser=_PARSER)
        except ValueError:  # a str with an XML encoding declaration
            tree = None
        if tree is None or len(tree) < 1:
            tree = fromstring(text.encode("utf-8", "surrogatepass"), parser=_PARSER)
    except (ValueError, TypeError, etree.LxmlError) as exc:
        logger.debug("HTML parsing failed: %s", exc)
        return None
    # Text that does not start like HTML and parses to a single element is not a page.
    if tree is None or ("html" not in beginning and len(tree) < 2):
        return None
    return tree


def _drop_link_targets(text: str) -> str:
    """``text`` with the ``(target)`` of every ``](target)`` removed.

    A string scan, linear in the text: the regex it replaces (``\\]\\([^)]*\\)``)
    rescanned to the end of the text from every ``](`` that has no ``)`` after it.
    """
    parts: list[str] = []
    start = 0
    while (open_at := text.find("](", start)) != -1:
        close = text.find(")", open_at + 2)
        if close == -1:  # no ")" follows: no later "](" can close either
            break
        parts.append(text[start:open_at + 1])
        start = close + 1
    if not parts:
        return text
    parts.append(text[start:])
    return "".join(parts)


def _md_link_labels(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, label)`` of each markdown link ``[label](target)``, left to right.

    The matches of ``\\[([^\\]]*)\\]\\([^)]*\\)``, found in linear time: every
    ``[`` before the same ``]`` shares that ``]``, so a failed one fails them all.
    """
    links: list[tuple[int, int, str]] = []
    start = 0
    while (bracket := text.find("[", start)) != -1:
        close = text.find("]", bracket + 1)
        if close == -1:
            break
        if text.startswith("(", close + 1):
            end = text.find(")", close + 2)
            if end == -1:
                break
            links.append((bracket, end + 1, text[bracket + 1:close]))
            start = end + 1
        else:
            start = close + 1
    return links


def _words(text: str) -> Counter[str]:
    return Counter(_WORD.findall(_drop_link_targets(text).lower()))


def _prose_share(paragraphs: Iterable[str]) -> tuple[float, int]:
    """The share of words in sentences, and the number of words.

    A sentence is a paragraph (a block, a line of markdown) of 8 words or more
    that ends with closing punctuation; link targets do not count as words.
    """
    total = prose = 0
    for paragraph in paragraphs:
        words = len(_drop_link_targets(paragraph).split())
        total += words
        if words >= 8 and _SENTENCE_END.search(paragraph.rstrip()):
            prose += words
    return (prose / total if total else 0.0), total


def _prefer_structure(text: str, candidate: str, hint: str, ratio: float) -> bool:
    """Whether the structural candidate should replace trafilatura's text."""
    ours, theirs = _words(candidate), _words(text)
    n_ours, n_theirs = sum(ours.values()), sum(theirs.values())
    if n_theirs < ratio * n_ours:
        return True
    if hint == "article" or not n_theirs:
        return False
    contained = sum((ours & theirs).values()) / n_theirs
    if contained < DISJOINT_CONTAINMENT:
        return True
    if hint == "product":
        return False
    return contained >= SUPERSET_CONTAINMENT and n_ours <= SUPERSET_GROWTH * n_theirs


def _trafilatura_text(tree: HtmlElement, url: str | None, *, include_comments: bool,
                      include_tables: bool, markdown: bool, **modes: bool) -> str:
    """trafilatura's text of ``tree`` (which it edits in place), tidied; "" for none."""
    text = trafilatura.extract(
        tree, url=url, include_comments=include_comments, include_tables=include_tables,
        include_links=markdown, include_formatting=markdown, include_images=False,
        output_format="markdown" if markdown else "txt", with_metadata=False, **modes,
    )
    return _tidy(text) if text else ""


def _article_text(clean: HtmlElement, url: str | None, **options: bool) -> tuple[str, str]:
    """trafilatura's precision mode on an article, unless it loses too much.

    On pages that declare themselves articles, ``favor_precision`` drops the
    related-story teasers, tag lists and captions that balanced mode keeps at
    the edges of the text; when it keeps less than PRECISION_MIN_SHARE of the
    balanced text's words it has cut into the article itself and is not used.
    (Counting the balanced words on trafilatura's cheaper ``fast`` run was
    tried: without its fallback extractors it misses the text that makes
    precision mode's losses visible.) ``clean`` is consumed.
    """
    balanced = _trafilatura_text(deepcopy(clean), url, **options)
    if not balanced:
        return "", "trafilatura"
    precise = _trafilatura_text(clean, url, favor_precision=True, **options)
    if not precise:
        return balanced, "trafilatura"
    trimmed = _precision_span(balanced, precise)
    if sum(_words(trimmed).values()) >= PRECISION_MIN_SHARE * sum(_words(balanced).values()):
        return trimmed, "trafilatura-precision"
    return balanced, "trafilatura"


def _line_key(line: str) -> str:
    return " ".join(_WORD.findall(_drop_link_targets(line).lower()))


def _precision_span(balanced: str, precise: str) -> str:
    """The balanced text from where the precise text starts to where it ends.

    Precision mode is right about where an article starts and ends (it drops the
    teasers, tag lists and bylines at the edges) but also drops short paragraphs,
    list items and subheadings inside the story. Inside its span, lines of the
    balanced text that it dropped come back when they hold SPAN_MIN_WORDS words or
    more and are not mostly link text (a "Read more: ..." teaser); code and table
    rows inside it always come back, so no block is kept in part. When no line of
    the two texts matches, the precise text is returned as it is.
    """
    kept = {key for key in map(_line_key, precise.split("\n")) if key}
    lines = balanced.split("\n")
    keys = [_line_key(line) for line in lines]
    matched = [i for i, key in enumerate(keys) if key in kept]
    if not matched:
        return precise
    # lines of code (fences included) and table rows are never filtered one by one
    code = _code_lines(lines)
    span: list[str] = []
    for i in range(matched[0], matched[-1] + 1):
        line, key = lines[i], keys[i]
        if key and key not in kept and not code[i] and not line.lstrip().startswith("|"):
            labels = _md_link_labels(line)
            linked = sum(len(label) for _, _, label in labels)
            if (key.count(" ") + 1 < SPAN_MIN_WORDS
                    or linked > SPAN_MAX_LINK_SHARE * (len(line) - sum(
                        end - start - len(label) for start, end, label in labels))):
                continue
        span.append(line)
    return _tidy("\n".join(span))


def _code_lines(lines: list[str]) -> list[bool]:
    """For each markdown line, whether it is a code fence or inside one."""
    flags: list[bool] = []
    in_code = False
    for line in lines:
        fence = line.lstrip().startswith("```")
        flags.append(in_code or fence)
        in_code ^= fence
    return flags


def _add_descriptions(text: str, descriptions: list[str]) -> str:
    """Append the structured-data descriptions of a product that the text lacks.

    A product's JSON-LD often carries its description while the page renders it
    in a tab or with JavaScript where neither extractor finds it. A description
    is added when less than half of its words are already in the text.
    """
    have = _words(text)
    added: list[str] = []
    for description in descriptions:
        words = _words(description)
        if sum((words & have).values()) < 0.5 * sum(words.values()):
            added.append(description)
            have += words
    return "\n\n".join([text, *added])


def _fill_lists(text: str, blocks: list[Block], markdown: bool) -> str:
    """trafilatura's blocks plus the plain list items it dropped between them.

    trafilatura sometimes drops a short list (a product's specifications, the
    steps of a how-to) that sits between paragraphs it kept. The structural
    blocks that trafilatura kept are located by their words; link-free list
    items lying between the first and the last of them are put back, in
    document order. Returns "" when there is nothing to put back.
    """
    kept_words = set(_words(text))
    kept: list[bool] = []
    for block in blocks:
        tokens = _WORD.findall(block.text.lower())
        kept.append(bool(tokens) and sum(t in kept_words for t in tokens) >= 0.8 * len(tokens))
    positions = [i for i, is_kept in enumerate(kept) if is_kept]
    if not positions:
        return ""
    span = range(positions[0], positions[-1] + 1)
    missing = {
        i for i in span if not kept[i] and blocks[i].kind == "li" and not blocks[i].link_chars
    }
    if not missing:
        return ""
    chosen = [blocks[i] for i in span if kept[i] or i in missing]
    merged = _tidy(render_blocks(chosen, markdown))
    # The merged text is rebuilt from the structural blocks; when they miss most
    # of trafilatura's words (its text came from elsewhere on the page),
    # rebuilding would lose them.
    theirs = _words(text)
    if sum((_words(merged) & theirs).values()) < FILL_CONTAINMENT * sum(theirs.values()):
        return ""
    return merged


def _drop_repeated_paragraphs(text: str) -> str:
    """Drop paragraphs that repeat an earlier one word for word.

    Product pages repeat their description in a summary tab, threads quote
    earlier posts, a listing shows a teaser twice: the copy costs an LLM tokens
    and adds nothing. Only paragraphs of REPEAT_MIN_WORDS words or more count,
    so short labels repeated on purpose ("Price", "Reply") stay; lines of code
    (fenced blocks) are never touched.
    """
    seen: set[str] = set()
    lines = text.split("\n")
    kept: list[str] = []
    for paragraph, in_code in zip(lines, _code_lines(lines), strict=True):
        key = "" if in_code else _line_key(paragraph)
        if key and key.count(" ") + 1 >= REPEAT_MIN_WORDS:
            if key in seen:
                continue
            seen.add(key)
        kept.append(paragraph)
    return _tidy("\n".join(kept)) if len(kept) < len(lines) else text


def _tidy(text: str) -> str:
    # trafilatura writes superscripts and subscripts (footnote marks, units) as
    # inline HTML tags; their text reads as well without them.
    text = _SUP_SUB.sub("", text)
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return _MULTI_BLANK.sub("\n\n", "\n".join(lines)).strip()


def _fallback_text(tree: HtmlElement) -> str:
    """Visible text of the body without scripts, navigation, header, footer and forms."""
    root = deepcopy(tree.getroottree().getroot())
    body = root.find(".//body")
    if body is None:
        body = root
    flatten_deep(body)
    for element in list(body.iter(*_FALLBACK_DROP)):
        parent = element.getparent()
        if parent is not None:
            element.drop_tree()
    parts: list[str] = []

    def walk(element: etree._Element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        block = tag in _BLOCK_TAGS
        if block:
            parts.append("\n")
        if element.text and tag:
            parts.append(element.text)
        for child in element:
            walk(child)
        if block:
            parts.append("\n")
        if element.tail:
            parts.append(element.tail)

    walk(body)
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return _tidy("\n".join(line for line in lines if line))
