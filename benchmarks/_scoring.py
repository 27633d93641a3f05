"""Metrics for main-content extraction benchmarks.

Two published metrics, each computed per page and averaged over pages:

* ``word_bag_prf`` (WCXB): lower-cased ``\\w+`` tokens compared as multisets.
* ``shingle_prf`` (Zyte article extraction benchmark): sets of lower-cased,
  whitespace-separated word 4-shingles.

Each page weighs the same. As their authors do, WCXB averages the per-page F1
(``Scores.mean_f1``) while the Zyte benchmark takes F1 from the averaged
precision and recall (``Scores.f1``); ``summarize`` computes both.
Every system's prediction is reduced to plain text the same way before scoring
(``markdown_to_text``, harmless on plain text): link targets, image markup,
markup characters and markdown's backslash escapes are not words of the page.
The escapes matter for the whitespace-token shingles of the Zyte metric: a
markdown writer turns ``[Al Maa-idah 2]`` into ``\\[Al Maa-idah 2\\]``, and
``\\[Al`` would not match ``[Al``, costing four shingles per escape.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Scores",
    "markdown_to_text",
    "page_f1",
    "zyte_official_counts",
    "zyte_official_summary",
    "shingle_prf",
    "summarize",
    "word_bag_prf",
]

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M)
_QUOTE = re.compile(r"^\s*>\s?", re.M)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$", re.M)
_EMPHASIS = re.compile(r"(\*\*|__|\*|`{1,3}|~~)")
_PIPE = re.compile(r"\s*\|\s*")
_WORD = re.compile(r"\w+")
# CommonMark: a backslash before ASCII punctuation makes it literal.
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_PARKED = 0xE000
_UNPARK = {_PARKED + code: chr(code) for code in range(0x21, 0x7F)}


def markdown_to_text(text: str) -> str:
    """Reduce markdown to its words: drop images and link targets, keep link text."""
    # Escaped characters are literal text: park them in the private use area so
    # that the markup rules below leave them alone, and put them back at the end.
    text = _ESCAPE.sub(lambda m: chr(_PARKED + ord(m.group(1))), text)
    text = _IMAGE.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _TABLE_RULE.sub("", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _PIPE.sub(" ", text)
    return text.translate(_UNPARK)


@dataclass(frozen=True)
class Scores:
    """Averaged precision and recall, the F1 of the two averages, and the mean page F1."""

    precision: float
    recall: float
    f1: float
    mean_f1: float
    pages: int


def word_bag_prf(prediction: str, reference: str) -> tuple[float, float]:
    """Per-page precision and recall of lower-cased ``\\w+`` tokens as multisets."""
    pred = Counter(_WORD.findall(prediction.lower()))
    ref = Counter(_WORD.findall(reference.lower()))
    return _overlap(sum((pred & ref).values()), sum(pred.values()), sum(ref.values()))


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    tokens = text.lower().split()
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def shingle_prf(prediction: str, reference: str, n: int = 4) -> tuple[float, float]:
    """Per-page precision and recall of sets of lower-cased whitespace-token n-shingles."""
    pred = _shingles(prediction, n)
    ref = _shingles(reference, n)
    return _overlap(len(pred & ref), len(pred), len(ref))


def _overlap(common: int, n_pred: int, n_ref: int) -> tuple[float, float]:
    # Empty against empty is a perfect answer; one side empty scores zero.
    if n_pred == 0 and n_ref == 0:
        return 1.0, 1.0
    precision = common / n_pred if n_pred else 0.0
    recall = common / n_ref if n_ref else 0.0
    return precision, recall


def summarize(pairs: Iterable[tuple[float, float]]) -> Scores:
    """Average per-page (precision, recall) pairs into :class:`Scores`."""
    pairs = list(pairs)
    if not pairs:
        return Scores(0.0, 0.0, 0.0, 0.0, 0)
    precision = sum(p for p, _ in pairs) / len(pairs)
    recall = sum(r for _, r in pairs) / len(pairs)
    mean_f1 = sum(page_f1(p, r) for p, r in pairs) / len(pairs)
    return Scores(precision, recall, page_f1(precision, recall), mean_f1, len(pairs))


def page_f1(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall (0 when both are 0)."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _official_shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _WORD.findall(text or "")
    return Counter(
        tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n]
    )


def zyte_official_counts(prediction: str, reference: str) -> tuple[float, float, float]:
    """Normalized (tp, fp, fn) as the Zyte benchmark's own ``evaluate.py`` computes them.

    It differs from :func:`shingle_prf`: case-sensitive ``\\w+`` tokens, shingles
    counted as a multiset, and (in :func:`zyte_official_summary`) pages with an
    empty prediction left out of the precision average.
    """
    true, pred = _official_shingles(reference), _official_shingles(prediction)
    tp = float(sum((true & pred).values()))
    fp = float(sum(pred.values()) - tp)
    fn = float(sum(true.values()) - tp)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def zyte_official_summary(counts: Iterable[tuple[float, float, float]]) -> float:
    """F1 over pages from :func:`zyte_official_counts`, as the benchmark's authors do."""
    precisions, recalls = [], []
    for tp, fp, fn in counts:
        if tp + fp > 0:
            precisions.append(1.0 if fp == fn == 0 else tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(1.0 if fp == fn == 0 else tp / (tp + fn))
    if not precisions or not recalls:
        return 0.0
    return page_f1(sum(precisions) / len(precisions), sum(recalls) / len(recalls))
