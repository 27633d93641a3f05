"""An offline, model-free backend: extractive summaries by sentence ranking.

:class:`ExtractiveBackend` summarizes the last user message (where the engine puts the text
to summarize) by choosing its most central sentences and returning them in their original
order, within ``max_tokens`` tokens counted exactly. It needs no model, no network and no
download, is deterministic, and runs in roughly linear time.

How it ranks:

1. Markdown noise is dropped (code fences, rules, images, table rules, HTML tags, link
   targets, emphasis marks); headings are kept only as evidence of the topic.
2. The rest is split into sentences: ``.``/``!``/``?`` followed by whitespace (common
   abbreviations excepted), CJK ends such as ``。！？；…`` with no space needed, and lines
   without final punctuation (titles, list items) on their own.
3. Each sentence becomes a set of terms: lower-cased words minus English stopwords, and
   character bigrams for Chinese/Japanese text. A term weighs
   ``(tf - 0.9) * log(1 + (N + 1) / sf)``: frequent in the document (a term seen once barely
   counts) but not in every sentence, so sentences about the main topics score highest.
4. Sentences are picked greedily by gain per token (``gain / tokens ** 0.7``), where a
   term's weight decays each time a picked sentence already covers it (so the summary
   does not repeat itself), with a small bonus for leading sentences. Lazy evaluation with
   a heap keeps this near ``O(n log n)``.
"""

from __future__ import annotations

import csv
import heapq
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ._backend import Completion, Message
from ._prompts import count_message_tokens
from ._tokens import Tokenizer, get_tokenizer

__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MAX_RATIO",
    "ExtractiveBackend",
    "extract_sentences",
]

logger = logging.getLogger(__name__)

#: The backend reads any length of text; this only informs the engine's planning.
DEFAULT_CONTEXT_WINDOW = 1_000_000
#: A summary holds at most this share of its input's tokens (and never more than
#: ``max_tokens``), so it shrinks text even when the cap would allow all of it.
DEFAULT_MAX_RATIO = 0.5

_COST_EXPONENT = 0.7  # gain / tokens**0.7: favours informative sentences over fragments
_REDUNDANCY_DECAY = 0.3  # a covered term keeps 30% of its weight for the next sentence
_HEADING_TERM_BOOST = 2  # heading words count double as topic evidence
_REQUEUES_PER_SENTENCE = 16  # bounds lazy greedy's re-evaluations (see _select)

# -- text cleaning ---------------------------------------------------------------------------

_CJK_CHARS = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HIRAGANA_ONLY = re.compile(r"[\u3040-\u309f]+")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_RULE = re.compile(r"^[ \t]*(?:(?:[-*_][ \t]*){3,}|=+[ \t]*)$")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_HEADING = re.compile(r"^[ \t]*(#{1,6})[ \t]+(.*)$")  # closing #s stripped in code
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+•·▪‣]|\d{1,3}[.)]|[a-zA-Z][.)])[ \t]+")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
# Each bracket class excludes its own opener, so a run of openers ("![![", "[x]([x](",
# "<http:<http:") fails at the next one instead of rescanning the rest of the line.
_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^()]*\)")
_LINK = re.compile(r"\[([^\[\]]+)\]\([^()]*\)")
_REF_LINK = re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]")
_FOOTNOTE = re.compile(r"\[\^[^\[\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_EMPHASIS = re.compile(r"\*\*|__|`+|~~")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])(?=\s|$)")
_TERMINAL = re.compile(r"[.!?:;。！？；…」』）”’\"')\]]$")

# -- sentence splitting ----------------------------------------------------------------------

_CLOSERS = "\"'’”)\\]」』）】》〉"
_SENTENCE_END = re.compile(
    rf"[.!?]+[{_CLOSERS}]*(?:\s+|$)|[。！？；…]+[{_CLOSERS}]*\s*|[！？][{_CLOSERS}]*\s*"
)
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e cf al fig figs no nos vol pp ed eds approx "
    "inc ltd co corp dept est jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m"
    "".split()
)
_WORD_BEFORE = re.compile(r"([^\s(\[\"'“‘]+)$")

# -- terms ---------------------------------------------------------------------------------

_TERM = re.compile(rf"([{_CJK_CHARS}]+)|([^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*)")
_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each either else ever every few for from further had
    hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
    himself his how how's however i i'd i'll i'm i've if in into is isn't it it's its itself
    just let's may me might more most much must mustn't my myself neither no nor not now of
    off often on once one only or other ought our ours ourselves out over own per quite rather
    really same shall shan't she she'd she'll she's should shouldn't since so some still such
    than that that's the their theirs them themselves then there there's these they they'd
    they'll they're they've this those though through thus to too toward towards under until
    up upon us very via was wasn't we we'd we'll we're we've were weren't what what's when
    when's where where's whether which while who who's whom whose why why's will with within
    without won't would wouldn't yet you you'd you'll you're you've your yours yourself
    yourselves
    """.split()
)


@dataclass(frozen=True, slots=True)
class _Sentence:
    """A candidate sentence: its cleaned text, where it came from, and what it is about."""

    text: str
    index: int  # position among all candidates, in document order
    block: int  # paragraph/list item/table row it belongs to
    first_in_block: bool
    terms: frozenset[str]
    group: int = -1  # top-level section or page it belongs to (-1: none)
    dependent: bool = False  # opens with a pronoun or connective pointing back
    salient: bool = False  # states a decision, an owner or a date


# A PDF's text as the crawler gives it: pages separated by this marker line.
_PAGE_MARKER = re.compile(r"^[ \t]*--- Page (\d+) ---[ \t]*$")
_PAGE_NUMBER = re.compile(
    r"^\W{0,3}(?:page\s*)?\d{1,5}(?:\s*(?:of|/)\s*\d{1,5})?\W{0,3}$", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+")
_BOILERPLATE_SHARE = 0.6  # a line on at least this share of the pages is a running header
# A sentence opening with one of these words leans on the sentence before it.
_DEPENDENT = re.compile(
    r"^(?:it|its|this|these|those|they|them|their|he|she|his|her|however|but|thus|"
    r"therefore|also|moreover|furthermore|consequently|hence|such|yet|nevertheless|"
    r"instead|meanwhile|otherwise|besides|likewise|similarly)\b(?![-'’])",
    re.IGNORECASE,
)
_MAX_CHAIN = 2  # a dependent sentence brings at most this many sentences before it
# Decisions, owners and dates: what notes and short lists are kept for.
_SALIENT = re.compile(
    r"\b(?i:decided|decision|agreed|approved|rejected|resolved|action|owner|owns|assigned|"
    r"deadline|due|todo|will|to-do|next steps?)\b|\b[A-Z][a-z]+ (?:to|will) [a-z]+\b|"
    r"@\w+|\b\d{4}-\d\d-\d\d\b|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)|"
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}\b|"
    r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b",
)
_SALIENT_BOOST = 2.0


@dataclass
class _Outline:
    """Where the text's sections or pages start, and the headings to print for them."""

    groups: list[int]  # per segment: its section or page (-1: none)
    headings: dict[int, str]  # group -> markdown heading line printed before it
    title: str | None  # a lone top heading above the sections


def _clean_inline(line: str) -> str:
    line = _IMAGE.sub("", line)
    line = _LINK.sub(r"\1", line)
    line = _REF_LINK.sub(r"\1", line)
    line = _FOOTNOTE.sub("", line)
    line = _AUTOLINK.sub(r"\1", line)
    line = _HTML_TAG.sub("", line)
    line = _EMPHASIS.sub("", line)
    line = _SPACES.sub(" ", line).strip()
    return _SPACE_BEFORE_PUNCT.sub(r"\1", line)


def _is_cjk(char: str) -> bool:
    return bool(re.match(rf"[{_CJK_CHARS}。！？；…，、]", char))


def _join(left: str, right: str) -> str:
    """Join two pieces of one paragraph: no space between CJK characters."""
    if not left:
        return right
    if _is_cjk(left[-1]) and _is_cjk(right[0]):
        return left + right
    return f"{left} {right}"


def _boilerplate(text: str) -> set[str]:
    """Lines (digits folded) that repeat on most pages of a paged text: running headers."""
    pages = 1
    seen: dict[str, tuple[int, int]] = {}  # key -> (last page counted, pages holding it)
    for raw in text.splitlines():
        if _PAGE_MARKER.match(raw):
            pages += 1
            continue
        line = raw.strip()
        if not line:
            continue
        key = _DIGITS.sub("#", line)
        last, count = seen.get(key, (0, 0))
        if last != pages:
            seen[key] = (pages, count + 1)
    if pages < 2:
        return set()
    threshold = max(2, math.ceil(_BOILERPLATE_SHARE * pages))
    return {key for key, (_, count) in seen.items() if count >= threshold}


def _segments(text: str) -> tuple[list[tuple[int, str]], list[str], _Outline]:
    """Split markdown-ish text into ``(block, segment)`` pairs, heading texts and outline.

    A segment is a run of lines to split into sentences; a short line without final
    punctuation ends its segment (it is a title, label or list entry by itself). Page
    markers end a page; lines repeated on most pages, and bare page numbers, are dropped.
    """
    segments: list[tuple[int, str]] = []
    headings: list[str] = []
    marks: list[tuple[int, int, str]] = []  # (segment count, level, text) per heading
    seg_heading: list[int] = []  # per segment: index in marks of its heading (-1: none)
    seg_page: list[int] = []
    paged = "--- Page " in text and any(
        _PAGE_MARKER.match(m.group(0)) for m in re.finditer(r"^.*--- Page .*$", text, re.M)
    )
    boilerplate = _boilerplate(text) if paged else set()
    page = 1
    block = 0
    current = ""
    in_fence = False

    def flush(new_block: bool) -> None:
        nonlocal current, block
        if current:
            segments.append((block, current))
            seg_heading.append(len(marks) - 1)
            seg_page.append(page)
            current = ""
        if new_block:
            block += 1

    for raw in text.splitlines():
        if _FENCE.match(raw):
            in_fence = not in_fence
            flush(True)
            continue
        if in_fence:
            continue
        if paged:
            if _PAGE_MARKER.match(raw):
                flush(True)
                page += 1
                continue
            stripped = raw.strip()
            if _PAGE_NUMBER.match(stripped) or _DIGITS.sub("#", stripped) in boilerplate:
                continue
        if not raw.strip() or _RULE.match(raw) or _TABLE_RULE.match(raw):
            flush(True)
            continue
        heading = _HEADING.match(raw)
        if heading:
            flush(True)
            body = heading.group(2).rstrip(" \t")
            stripped_body = body.rstrip("#")
            if stripped_body != body and (not stripped_body or stripped_body[-1] in " \t"):
                body = stripped_body.rstrip(" \t")  # a closing sequence: "## Title ##"
            cleaned = _clean_inline(body)
            if cleaned:
                headings.append(cleaned)
                marks.append((len(segments), len(heading.group(1)), cleaned))
            continue
        line = _QUOTE.sub("", raw)
        if _LIST_ITEM.match(line):
            flush(True)
            line = _LIST_ITEM.sub("", line, count=1)
        elif line.lstrip().startswith("|"):
            flush(True)
            line = "; ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        line = _clean_inline(line)
        if not line:
            continue
        current = _join(current, line)
        if len(line) < 40 and not _TERMINAL.search(line):
            flush(False)  # a title or label: a sentence of its own
    flush(False)
    return segments, headings, _outline(marks, seg_heading, seg_page, paged)


def _outline(
    marks: list[tuple[int, int, str]], seg_heading: list[int], seg_page: list[int], paged: bool
) -> _Outline:
    if paged:
        return _Outline(groups=seg_page, headings={}, title=None)
    levels = [level for _, level, _ in marks]
    if not levels:
        return _Outline(groups=[-1] * len(seg_heading), headings={}, title=None)
    top = min(levels)
    title: str | None = None
    deeper = sorted({level for level in levels if level > top})
    if levels.count(top) == 1 and deeper and levels[0] == top:
        title = "#" * top + " " + marks[0][2]
        top = deeper[0]
    # Each heading maps to the top-level section it opens or sits inside.
    section_of: list[int] = []
    section = -1
    headings: dict[int, str] = {}
    for i, (_, level, text) in enumerate(marks):
        if level <= top and not (title is not None and i == 0):
            section = i
            headings[i] = "#" * level + " " + text
        section_of.append(section)
    groups = [section_of[h] if h >= 0 else -1 for h in seg_heading]
    return _Outline(groups=groups, headings=headings, title=title)


def _split_sentences(segment: str) -> list[str]:
    """Split one segment at sentence ends, keeping abbreviations and initials together."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(segment):
        end = match.end()
        if end >= len(segment):
            break
        if segment[match.start()] == "." and match.end() - match.start() <= 2:
            before = _WORD_BEFORE.search(segment, max(start, match.start() - 16), match.start())
            word = before.group(1).lower().rstrip(".") if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        piece = segment[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    rest = segment[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _terms(text: str) -> list[str]:
    """Content terms of ``text``: words without stopwords, CJK character bigrams."""
    terms: list[str] = []
    for match in _TERM.finditer(text.lower()):
        cjk, word = match.groups()
        if cjk:
            if len(cjk) == 1:
                terms.append(cjk)
                continue
            for i in range(len(cjk) - 1):
                bigram = cjk[i : i + 2]
                if not _HIRAGANA_ONLY.fullmatch(bigram):  # particles and endings
                    terms.append(bigram)
        elif word and word.replace("’", "'") not in _STOPWORDS and len(word) > 1:
            terms.append(_stem(word))
    return terms


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A deliberately light English stemmer: possessives and plain plurals."""
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def extract_sentences(text: str) -> list[str]:
    """Return the candidate sentences of ``text`` (markdown noise removed), in order."""
    segments, _, _ = _segments(text)
    return [s for _, segment in segments for s in _split_sentences(segment)]


# -- selection -----------------------------------------------------------------------------


def _candidates(text: str) -> tuple[list[_Sentence], Counter[str], _Outline]:
    segments, headings, outline = _segments(text)
    sentences: list[_Sentence] = []
    frequency: Counter[str] = Counter()
    last_block = -1
    for (block, segment), group in zip(segments, outline.groups, strict=True):
        for piece in _split_sentences(segment):
            terms = _terms(piece)
            frequency.update(terms)
            sentences.append(
                _Sentence(
                    text=piece,
                    index=len(sentences),
                    block=block,
                    first_in_block=block != last_block,
                    terms=frozenset(terms),
                    group=group,
                    dependent=bool(_DEPENDENT.match(piece)),
                    salient=bool(_SALIENT.search(piece)),
                )
            )
            last_block = block
    if not sentences:
        # Nothing but headings, or nothing but code and markup: those are the content then,
        # line by line (an empty reply to a non-empty text would lose it silently).
        fallback = headings or [line.strip() for line in text.splitlines() if line.strip()]
        for i, line in enumerate(fallback):
            terms = _terms(line)
            frequency.update(terms)
            sentences.append(_Sentence(line, i, i, True, frozenset(terms)))
        headings = []
        outline = _Outline(groups=[], headings={}, title=None)
    for heading in headings:
        for term in _terms(heading):
            frequency[term] += _HEADING_TERM_BOOST
    return sentences, frequency, outline


def _weights(sentences: Sequence[_Sentence], frequency: Counter[str]) -> dict[str, float]:
    spread: Counter[str] = Counter()
    for sentence in sentences:
        spread.update(sentence.terms)
    n = len(sentences)
    # A term seen once says nothing about what the text is about: it keeps a tenth of
    # a repeated term's weight, so off-topic asides do not win on rare words alone.
    return {
        term: (count - 0.9) * math.log(1 + (n + 1) / max(1, spread[term]))
        for term, count in frequency.items()
    }


def _ratio(
    sentence: _Sentence, weights: dict[str, float], costs: Sequence[int], covered: Counter[str]
) -> float:
    """Marginal gain per token of adding ``sentence`` to a summary covering ``covered``."""
    gain: float = sum(weights.get(t, 0.0) * _REDUNDANCY_DECAY ** covered[t] for t in sentence.terms)
    position = 1.0 + 0.3 / (1 + sentence.index)
    if sentence.first_in_block:
        position *= 1.1
    if sentence.salient:
        position *= _SALIENT_BOOST
    return gain * position / math.pow(costs[sentence.index], _COST_EXPONENT)


def _select(
    sentences: Sequence[_Sentence],
    everything: Sequence[_Sentence],
    weights: dict[str, float],
    costs: Sequence[int],
    budget: int,
) -> list[_Sentence]:
    """Lazy greedy selection by marginal gain per token within ``budget`` tokens.

    First each section or page gets its best sentence (in document order, while the budget
    lasts), so every part of the text is represented; then the best remaining sentences
    fill the budget. A sentence that leans on the one before (``This``, ``However``...)
    comes with it, or not at all.

    When every sentence shares terms with every other (a small vocabulary), each pick makes
    all scores stale and lazy evaluation degrades to ``O(n * picks)``; re-queuing stale
    entries is therefore limited to :data:`_REQUEUES_PER_SENTENCE` per sentence, after which
    a popped sentence is taken at its fresh score, keeping the whole selection near
    ``O(n log n)``.
    """
    covered: Counter[str] = Counter()
    by_index = {s.index: s for s in sentences}
    taken: set[int] = set()
    chosen: list[_Sentence] = []
    remaining = budget

    def take(sentence: _Sentence) -> bool:
        nonlocal remaining
        needed = [sentence]
        current = sentence
        while current.dependent:
            before = current.index - 1
            if before < 0 or before in taken:
                break
            previous = everything[before]
            if previous.group != sentence.group or len(needed) > _MAX_CHAIN:
                return False  # its referent is out of reach: leave it out
            needed.append(previous)
            current = previous
        cost = sum(costs[s.index] for s in needed)
        if cost > remaining:
            return False
        for s in needed:
            taken.add(s.index)
            chosen.append(s)
            covered.update(s.terms)
        remaining -= cost
        return True

    groups: dict[int, _Sentence] = {}
    empty: Counter[str] = Counter()
    for s in sentences:
        if s.group < 0:
            continue
        best = groups.get(s.group)
        if best is None or _ratio(s, weights, costs, empty) > _ratio(best, weights, costs, empty):
            groups[s.group] = s
    if len(groups) > 1:
        for group in sorted(groups):
            take(groups[group])
    heap = [
        (-_ratio(s, weights, costs, covered), s.index) for s in sentences if s.index not in taken
    ]
    heapq.heapify(heap)
    requeues = _REQUEUES_PER_SENTENCE * len(sentences)
    while heap and remaining > 0:
        _, index = heapq.heappop(heap)
        if index in taken:
            continue
        sentence = by_index[index]
        if costs[index] > remaining:
            continue  # the budget only shrinks: it will never fit
        current = _ratio(sentence, weights, costs, covered)
        if current <= 0:
            continue
        if requeues > 0 and heap and current < -heap[0][0]:
            requeues -= 1
            heapq.heappush(heap, (-current, index))  # stale score: look again later
            continue
        take(sentence)
    return sorted(chosen, key=lambda s: s.index)


def _compose(chosen: Sequence[_Sentence], outline: _Outline | None = None) -> str:
    parts: list[str] = []
    previous: _Sentence | None = None
    if outline is not None and outline.title and chosen:
        parts.append(outline.title)
    for sentence in chosen:
        new_group = previous is None or sentence.group != previous.group
        if outline is not None and new_group and sentence.group in outline.headings:
            parts.append(outline.headings[sentence.group])
            parts.append(sentence.text)
        elif previous is not None and sentence.block == previous.block:
            parts[-1] = _join(parts[-1], sentence.text)
        else:
            parts.append(sentence.text)
        previous = sentence
    return "\n\n".join(parts)


# -- data files: described by their shape ---------------------------------------------------

_DATA_LIMIT = 8_000_000  # characters: a larger JSON/CSV text is summarized as prose
_SAMPLE_ROWS = 3
_MAX_FIELDS = 12


def _short(value: object, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_json(text: str) -> list[str] | None:
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        try:  # JSON Lines: one value a line
            data = [json.loads(line) for line in stripped.splitlines() if line.strip()]
        except ValueError:
            return None
        kind = "JSON Lines"
    else:
        kind = "JSON"
    if isinstance(data, dict):
        keys = list(data)
        lines = [
            f"A {kind} object with {len(keys)} keys: {', '.join(keys[:_MAX_FIELDS])}"
            + (", …" if len(keys) > _MAX_FIELDS else "")
            + "."
        ]
        lines += [f"- {key}: {_describe_value(data[key])}" for key in keys[:_MAX_FIELDS]]
        return lines
    if isinstance(data, list):
        lines = [f"A {kind} array of {len(data)} items."]
        objects = [item for item in data if isinstance(item, dict)]
        if objects:
            keys: dict[str, None] = {}
            for item in objects:
                keys.update(dict.fromkeys(item))
            names = list(keys)
            lines.append(
                f"Items are objects with keys: {', '.join(names[:_MAX_FIELDS])}"
                + (", …" if len(names) > _MAX_FIELDS else "")
                + "."
            )
            lines += _column_lines({k: [o.get(k) for o in objects] for k in names[:_MAX_FIELDS]})
        samples = enumerate(data[:_SAMPLE_ROWS])
        lines += [f"- item {i + 1}: {_short(item, 160)}" for i, item in samples]
        return lines
    return None


def _describe_value(value: object) -> str:
    if isinstance(value, dict):
        return f"an object with keys {', '.join(list(value)[:_MAX_FIELDS])}"
    if isinstance(value, list):
        return f"a list of {len(value)} items" + (f", e.g. {_short(value[0])}" if value else "")
    return _short(value)


def _column_lines(columns: dict[str, list[object]]) -> list[str]:
    lines: list[str] = []
    for name, values in columns.items():
        present = [v for v in values if v not in (None, "")]
        numbers: list[float] = []
        for v in present:
            if isinstance(v, bool):
                break
            try:
                numbers.append(float(v))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                break
        if present and len(numbers) == len(present):
            lo, hi = min(numbers), max(numbers)
            lines.append(f"- {name}: numbers from {lo:g} to {hi:g}")
        elif present:
            distinct = list(dict.fromkeys(_short(v, 30) for v in present))
            sample = ", ".join(distinct[:4]) + (", …" if len(distinct) > 4 else "")
            lines.append(f"- {name}: {len(distinct)} distinct values ({sample})")
    return lines


def _describe_csv(text: str) -> list[str] | None:
    head = text[:4096]
    first = head.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") >= 1 else ","
    if first.count(delimiter) < 1 or first.lstrip().startswith(("#", "|", "-", "{", "[")):
        return None
    sample = [row for row in csv.reader(head.splitlines()[:-1] or [head], delimiter=delimiter)]
    if len({len(row) for row in sample if row}) != 1:
        return None  # prose with commas: rows of different widths (checked on a sample first)
    rows = [row for row in csv.reader(text.splitlines(), delimiter=delimiter) if row]
    if len(rows) < 3:
        return None
    width = len(rows[0])
    if width < 2 or any(len(row) != width for row in rows[:200]):
        return None
    header, body = rows[0], rows[1:]
    kind = "TSV" if delimiter == "\t" else "CSV"
    lines = [f"A {kind} table of {len(body)} rows and {width} columns: {', '.join(header)}."]
    lines += _column_lines(
        {
            name: [row[i] for row in body if i < len(row)]
            for i, name in enumerate(header[:_MAX_FIELDS])
        }
    )
    lines += [
        "- row " + str(i + 1) + ": " + _short(", ".join(row), 160)
        for i, row in enumerate(body[:_SAMPLE_ROWS])
    ]
    return lines


def _describe_data(text: str) -> list[str] | None:
    """A description of a JSON/JSON Lines/CSV text's shape, or ``None`` for other text."""
    if len(text) > _DATA_LIMIT:
        return None
    return _describe_json(text) or _describe_csv(text)


def _fit_lines(lines: Sequence[str], max_tokens: int, tok: Tokenizer) -> str:
    kept: list[str] = []
    for line in lines:
        candidate = "\n".join([*kept, line])
        if tok.count(candidate) > max_tokens:
            break
        kept.append(line)
    return "\n".join(kept) if kept else tok.truncate(lines[0], max_tokens)


def summarize_extractive(
    text: str,
    max_tokens: int,
    *,
    tokenizer: Tokenizer | None = None,
    max_ratio: float | None = DEFAULT_MAX_RATIO,
) -> str:
    """Return the most central sentences of ``text`` in order, within ``max_tokens`` tokens.

    Args:
        text: the text to summarize (plain text or markdown).
        max_tokens: hard cap on the summary's tokens, counted exactly with ``tokenizer``.
        tokenizer: counts tokens; default ``o200k_base``.
        max_ratio: the summary also holds at most this share of the input's tokens (at
            least one sentence); ``None`` lets it fill ``max_tokens``.

    Raises:
        ValueError: ``max_tokens < 1`` or ``max_ratio`` outside ``(0, 1]``.
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
    tok = tokenizer if tokenizer is not None else get_tokenizer(None)
    described = _describe_data(text)
    if described:
        return _fit_lines(described, max_tokens, tok)
    sentences, frequency, outline = _candidates(text)
    if not sentences:
        return ""
    count: Callable[[str], int] = tok.count
    costs = [count(s.text) + 1 for s in sentences]  # + the joining space or break
    budget = max_tokens
    if max_ratio is not None:
        budget = min(budget, max(1, math.ceil(max_ratio * count(text))))
    weights = _weights(sentences, frequency)
    # The outline (title and section headings) is printed too: reserve its tokens, unless
    # it would take more than half the budget (then the summary goes without it).
    outline_cost = sum(count(h) + 2 for h in outline.headings.values())
    outline_cost += count(outline.title) + 2 if outline.title else 0
    if outline_cost and outline_cost * 2 <= budget:
        budget -= outline_cost
    else:
        outline = _Outline(groups=[], headings={}, title=None)
    # Sentences sharing no repeated term with the rest are asides: never picked to fill
    # space, unless every sentence is one (a text too short to have a topic).
    related = [s for s in sentences if s.salient or any(frequency[t] >= 2 for t in s.terms)]
    if max_ratio is not None:
        # Notes: their decisions, owners and dates are kept even past the ratio.
        budget = max(budget, min(max_tokens, sum(costs[s.index] for s in sentences if s.salient)))
    pool = related or [s for s in sentences if s.terms] or sentences
    chosen = _select(pool, sentences, weights, costs, budget + 1)  # the first piece needs no joiner
    if not chosen:
        # Every sentence is longer than the budget: the best one, cut on token boundaries.
        empty: Counter[str] = Counter()
        best = max(pool, key=lambda s: (_ratio(s, weights, costs, empty), -s.index))
        return tok.truncate(best.text, max_tokens)
    summary = _compose(chosen, outline)
    while len(chosen) > 1 and count(summary) > max_tokens:
        # Seams tokenized differently from the parts: drop sentences from the end.
        chosen = chosen[:-1]
        summary = _compose(chosen, outline)
    if count(summary) > max_tokens:
        summary = tok.truncate(summary, max_tokens)
    return summary


class ExtractiveBackend:
    """Offline backend that answers with an extractive summary of the last user message.

    Args:
        tokenizer: counts tokens for ``max_tokens`` (default ``o200k_base``); any spec
            :func:`~summarizer.get_tokenizer` accepts.
        max_ratio: the reply holds at most this share of the text's tokens (default
            :data:`DEFAULT_MAX_RATIO`); ``None`` fills up to ``max_tokens``.
        context_window: what to report as the window (the backend itself has no limit).
    """

    name = "extractive"
    #: It picks sentences: an instruction or output language cannot be followed (the
    #: summarizer warns when one is given).
    follows_instructions = False

    def __init__(
        self,
        tokenizer: Tokenizer | str | Callable[[str], int] | None = None,
        *,
        max_ratio: float | None = DEFAULT_MAX_RATIO,
        context_window: int | None = DEFAULT_CONTEXT_WINDOW,
    ) -> None:
        if max_ratio is not None and not 0 < max_ratio <= 1:
            raise ValueError(f"max_ratio must be in (0, 1] or None, got {max_ratio!r}")
        self.tokenizer = get_tokenizer(tokenizer)
        self.max_ratio = max_ratio
        self.context_window = context_window

    def __repr__(self) -> str:
        return f"ExtractiveBackend(tokenizer={self.tokenizer.name!r}, max_ratio={self.max_ratio!r})"

    def complete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Summarize the content of the last user message within ``max_tokens`` tokens.

        Raises:
            ValueError: no user message, or ``max_tokens < 1``.
        """
        text = _last_user_content(messages)
        summary = summarize_extractive(
            text, max_tokens, tokenizer=self.tokenizer, max_ratio=self.max_ratio
        )
        return Completion(
            text=summary,
            prompt_tokens=count_message_tokens(messages, self.tokenizer),
            completion_tokens=self.tokenizer.count(summary),
            finish_reason="stop",
            model=self.name,
        )

    async def acomplete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Async twin of :meth:`complete` (the work is CPU-bound and quick)."""
        return self.complete(messages, max_tokens=max_tokens)


def _last_user_content(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if not isinstance(content, str):
                raise TypeError(
                    f"the user message content must be a str, got {type(content).__name__}"
                )
            return content
    raise ValueError(
        "ExtractiveBackend needs a user message holding the text to summarize; got roles "
        f"{[m.get('role') for m in messages]}"
    )
