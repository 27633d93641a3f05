"""Split text into token-bounded chunks cut at the best available boundary.

Every chunk holds at most ``budget`` tokens, counted exactly with the tokenizer, and the
chunks tile the source: ``"".join(c.text for c in chunks) == text``. A cut is made at the
coarsest boundary that still fills the chunk well (at least :data:`MIN_FILL` of the
budget): a blank line, then a line break, then a sentence end, then whitespace, then a
token boundary, and never inside a character. Text without whitespace near the budget
(Chinese, Japanese) would then be cut inside a sentence, so before a plain token cut a
boundary holding at least :data:`MIN_WIDE_FILL` of the budget is looked for.

With a tiktoken-backed tokenizer the text is tokenized once; token byte offsets locate the
budget limit of each chunk. A chunk's count is its share of the whole text's tokens when
both of its ends are *piece boundaries* of the encoding's pre-tokenizer (see
:func:`_piece_boundary`): tiktoken encodes every regex piece on its own, so the pieces, and
hence the tokens, of such a chunk are exactly those of the whole text between its ends.
Any other chunk is counted again to verify it (BPE counts of a substring can differ
slightly from its share), so the whole split runs in linear time. A counter-only tokenizer
(:meth:`~summarizer.Tokenizer.from_counter`) is handled by galloping and binary search
over counted prefixes: slower, equally exact.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, AnyStr, Generic

import tiktoken

from ._tokens import _CL100K_PAT_STR, _O200K_PAT_STR, Tokenizer, get_tokenizer

__all__ = ["MIN_FILL", "MIN_WIDE_FILL", "Chunk", "split_encoded", "split_text"]

logger = logging.getLogger(__name__)

#: A cut at a coarser boundary is preferred only if it keeps at least this share of the
#: budget in the chunk; otherwise a finer boundary closer to the budget is used.
MIN_FILL = 0.9

#: Before a cut at a bare token boundary (no whitespace within MIN_FILL of the budget), a
#: boundary keeping at least this share of the budget is preferred.
MIN_WIDE_FILL = 0.8

# The search for coarse boundaries starts a little above MIN_FILL because a chunk's exact
# count can fall a token or two short of its share of the whole text's tokens.
_WINDOW_FILL = 0.92
_WIDE_WINDOW_FILL = 0.82


@dataclass(frozen=True)
class Chunk:
    """One piece of a split text: ``text == source[start:end]`` and ``tokens`` its count."""

    text: str
    start: int
    end: int
    tokens: int


# -- boundary patterns ----------------------------------------------------------------------

_NEWLINE = r"(?:\r\n?|\n)"
_CLOSERS = "(?:" + "|".join(re.escape(c) for c in "'\")]’”」』）】》〉") + ")"
_CJK_ENDS = "(?:" + "|".join(re.escape(c) for c in "。！？；…．｡") + ")"
_SPACE = r"(?:[ \t\f\v]|" + "\u3000" + ")"  # ASCII blanks or the ideographic space

# (pattern, cut at the match's end?) from coarsest to finest. ASCII classes and explicit
# alternations only, so the same source compiles for both str and UTF-8 bytes.
_LEVELS: tuple[tuple[str, bool], ...] = (
    (_NEWLINE + r"(?:[ \t\f\v]*" + _NEWLINE + ")+", True),  # blank line(s)
    (_NEWLINE, True),  # line break
    (  # sentence end: ". " style needs following whitespace, CJK style does not. Possessive,
        # and never starting inside a run of [.!?] (_SENTENCE_HEAD covers a window that does),
        # so a long run of punctuation is scanned once per window, not once per character.
        r"(?:(?<![.!?])[.!?]++"
        + _CLOSERS
        + r"*+(?=[ \t\r\n\f\v])|"
        + _CJK_ENDS
        + "+"
        + _CLOSERS
        + "*)",
        True,
    ),
    (_SPACE + "+", False),  # whitespace: cut before it, where tokens usually start
)
_LEVELS_STR = tuple((re.compile(p), at_end) for p, at_end in _LEVELS)
_SENTENCE_LEVEL = 2
_SENTENCE_HEAD = r"[.!?]++" + _CLOSERS + r"*+(?=[ \t\r\n\f\v])"
_SENTENCE_HEADS: dict[type, tuple[re.Pattern[Any], Any]] = {
    str: (re.compile(_SENTENCE_HEAD), frozenset(".!?")),
    bytes: (re.compile(_SENTENCE_HEAD.encode("utf-8")), frozenset(b".!?")),
}
_LEVELS_BYTES = tuple((re.compile(p.encode("utf-8")), at_end) for p, at_end in _LEVELS)
_LOOKAROUND = 16  # bytes/chars of context read beyond a window so matches are whole


class _Boundaries(Generic[AnyStr]):
    """Finds the best cut inside a window of a str or of its UTF-8 bytes."""

    def __init__(self, data: AnyStr, levels: tuple[tuple[re.Pattern[AnyStr], bool], ...]) -> None:
        self.data: AnyStr = data
        self.levels: tuple[tuple[re.Pattern[AnyStr], bool], ...] = levels

    def best(self, start: int, lo: int, hi: int) -> int | None:
        """Return the cut in ``[lo, hi]`` (and ``> start``) at the coarsest level, if any."""
        lo = max(lo, start + 1)
        if lo > hi:
            return None
        search_from = max(start, lo - _LOOKAROUND)
        search_to = min(len(self.data), hi + _LOOKAROUND)
        for level, (pattern, at_end) in enumerate(self.levels):
            best: int | None = None
            if level == _SENTENCE_LEVEL and search_from > 0:
                head, marks = _SENTENCE_HEADS[type(self.data)]
                if self.data[search_from - 1] in marks:  # the window starts inside a run
                    found = head.match(self.data, search_from, search_to)
                    if found is not None and lo <= found.end() <= hi:
                        best = found.end()
            for match in pattern.finditer(self.data, search_from, search_to):
                cut: int = match.end() if at_end else match.start()
                if cut > hi:
                    break
                if cut >= lo:
                    best = cut
            if best is not None:
                return best
        return None


def _check_budget(budget: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise TypeError(f"budget must be an int number of tokens, got {type(budget).__name__}")
    if budget < 1:
        raise ValueError(f"budget must be at least 1 token, got {budget}")


def _too_small(budget: int, char: str, index: int, tokens: int) -> ValueError:
    return ValueError(
        f"budget={budget} is too small: the character {char!r} at index {index} alone takes "
        f"{tokens} tokens; use a budget of at least {tokens} (4 always suffices)"
    )


def split_text(
    text: str,
    budget: int,
    *,
    tokenizer: Tokenizer | str | Callable[[str], int] | None = None,
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``budget`` tokens each.

    Args:
        text: the text to split.
        budget: the most tokens a chunk may hold (exactly counted).
        tokenizer: a :class:`~summarizer.Tokenizer`, an encoding or model name, or a
            ``str -> int`` counter; default ``o200k_base``.

    Returns:
        Chunks in order whose spans tile ``text`` exactly; ``[]`` for an empty text.

    Raises:
        ValueError: ``budget < 1``, or a single character needs more tokens than ``budget``
            (possible only below 4 tokens).
    """
    _check_budget(budget)
    return split_encoded(text, budget, get_tokenizer(tokenizer))


def split_encoded(
    text: str, budget: int, tok: Tokenizer, tokens: list[int] | None = None
) -> list[Chunk]:
    """:func:`split_text` with a resolved tokenizer and, optionally, ``tok.encode(text)``.

    For callers that already tokenized ``text`` (the engine counts it first), so that it is
    not tokenized again. ``tokens`` must be exactly ``tok.encode(text)``.
    """
    _check_budget(budget)
    if not text:
        return []
    encoding = tok.encoding
    if encoding is not None:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: tiktoken would replace them
            data = None
        if data is not None:
            chunks = _split_with_encoding(text, data, budget, tok, encoding, tokens)
            if chunks is not None:
                return chunks
    return _split_with_counter(text, budget, tok)


# -- fast path: one tokenization, token offsets -------------------------------------------------

_LENGTH_TABLES: weakref.WeakKeyDictionary[tiktoken.Encoding, list[int]] = (
    weakref.WeakKeyDictionary()
)


def _token_lengths(encoding: tiktoken.Encoding) -> list[int]:
    """Byte length of every token id of ``encoding`` (built once per encoding)."""
    table = _LENGTH_TABLES.get(encoding)
    if table is None:
        table = [0] * encoding.n_vocab
        ranks = getattr(encoding, "_mergeable_ranks", None)
        if isinstance(ranks, dict) and len(ranks) <= encoding.n_vocab:
            for token_bytes, rank in ranks.items():  # 20x faster than decoding each id
                table[rank] = len(token_bytes)
        else:
            for token in range(encoding.n_vocab):
                try:
                    table[token] = len(encoding.decode_single_token_bytes(token))
                except KeyError:  # ids between the ranks and the special tokens
                    pass
        _LENGTH_TABLES[encoding] = table
    return table


# The reasoning of _piece_boundary holds for these pre-tokenizer patterns only.
_KNOWN_PATTERNS = frozenset({_O200K_PAT_STR, _CL100K_PAT_STR})
# Characters outside \s, \p{L} and \p{N} after which a following space starts a new piece.
_PUNCT_BEFORE_SPACE = frozenset(".!?;:,)]\"'’”」』）】》〉。！？；…．｡")


def _char_before(data: bytes, pos: int) -> str:
    begin = pos - 1
    while begin > 0 and 0x80 <= data[begin] < 0xC0:
        begin -= 1
    return data[begin:pos].decode("utf-8")


def _piece_boundary(data: bytes, pos: int) -> bool:
    r"""Whether ``pos`` is surely a pre-tokenizer piece boundary, in the text and in any
    slice of it that starts or ends at ``pos`` (for the o200k/cl100k patterns).

    Sure cases, each checked against every alternative of both patterns: no alternative's
    match can run across ``pos``, and none matches differently when the text ends there
    (``$``, ``(?!\S)``, the contraction suffix and ``[\r\n/]*`` all see the same outcome).

    * after a line break, before a letter or digit, or before spaces/tabs followed by a
      non-whitespace character;
    * after a letter or one of :data:`_PUNCT_BEFORE_SPACE`, before an ASCII space.

    Anything else (e.g. after ``。`` before a letter: ``[^\r\n\p{L}\p{N}]?\p{L}+`` joins
    them) is reported unsure, and the chunk is counted again.
    """
    if pos <= 0 or pos >= len(data):
        return True
    before = data[pos - 1]
    after = data[pos]
    if before in b"\r\n":
        if after in b" \t":
            end = pos
            while end < len(data) and data[end] in b" \t":
                end += 1
            if end >= len(data):
                return False
            nxt = data[end : _next_char_end(data, end)].decode("utf-8")
            return not nxt.isspace() and nxt not in "\x1c\x1d\x1e\x1f\x85"
        nxt = data[pos : _next_char_end(data, pos)].decode("utf-8")
        return nxt.isalnum()
    if after != 0x20:
        return False
    prev = _char_before(data, pos)
    return prev.isalpha() or prev in _PUNCT_BEFORE_SPACE


def _split_with_encoding(
    text: str,
    data: bytes,
    budget: int,
    tok: Tokenizer,
    encoding: tiktoken.Encoding,
    tokens: list[int] | None = None,
) -> list[Chunk] | None:
    if tokens is None:
        tokens = tok.encode(text)  # never encoding.encode_ordinary: it panics on long runs
    lengths = _token_lengths(encoding)
    # offsets[i] is the byte offset where token i starts; offsets[-1] == len(data).
    offsets = list(itertools.accumulate(map(lengths.__getitem__, tokens), initial=0))
    if offsets[-1] != len(data):
        logger.debug("token bytes do not tile the text; using the counting splitter")
        return None
    n_tokens = len(tokens)
    exact_shares = getattr(encoding, "_pat_str", None) in _KNOWN_PATTERNS
    boundaries = _Boundaries(data, _LEVELS_BYTES)
    window = max(1, math.ceil(_WINDOW_FILL * budget))
    wide = max(1, math.ceil(_WIDE_WINDOW_FILL * budget))

    def is_char_start(pos: int) -> bool:
        return pos >= len(data) or not 0x80 <= data[pos] < 0xC0

    chunks: list[Chunk] = []
    start = 0  # byte offset of the current chunk
    char_start = 0
    while start < len(data):
        first = bisect_right(offsets, start) - 1  # token holding the chunk's first byte
        limit = first + budget  # token index the chunk must end by
        while True:
            cut: int | None
            if limit >= n_tokens:
                cut = len(data)
            else:
                cut = boundaries.best(start, offsets[min(first + window, limit)], offsets[limit])
                if cut is None:
                    cut = boundaries.best(start, offsets[min(first + wide, limit)], offsets[limit])
                if cut is None:
                    cut = _last_char_boundary(offsets, first, limit, start, is_char_start)
            if cut is None:
                cut = _next_char_end(data, start)
            piece = data[start:cut].decode("utf-8")
            count = -1
            if exact_shares and _piece_boundary(data, start) and _piece_boundary(data, cut):
                first_index = bisect_left(offsets, start)
                end_index = bisect_left(offsets, cut)
                if offsets[first_index] == start and offsets[end_index] == cut:
                    count = end_index - first_index
            if count < 0:
                count = tok.count(piece)
            if count <= budget:
                break
            if len(piece) == 1:
                raise _too_small(budget, piece, char_start, count)
            # BPE merged differently inside the chunk: aim lower by the overshoot. At
            # limit == first only a single character remains possible.
            limit = max(first, min(limit, bisect_right(offsets, cut) - 1) - (count - budget))
        chunks.append(Chunk(piece, char_start, char_start + len(piece), count))
        char_start += len(piece)
        start = cut
    return chunks


def _last_char_boundary(
    offsets: list[int],
    first: int,
    limit: int,
    start: int,
    is_char_start: Callable[[int], bool],
) -> int | None:
    """Latest token boundary in ``(start, offsets[limit]]`` that is also a character start."""
    index = limit
    while index > first and offsets[index] > start:
        if is_char_start(offsets[index]):
            return offsets[index]
        index -= 1
    return None


def _next_char_end(data: bytes, start: int) -> int:
    """Byte offset just past the character that begins at ``start``."""
    end = start + 1
    while end < len(data) and 0x80 <= data[end] < 0xC0:
        end += 1
    return end


# -- general path: any counting function ------------------------------------------------------


def _split_with_counter(text: str, budget: int, tok: Tokenizer) -> list[Chunk]:
    boundaries = _Boundaries(text, _LEVELS_STR)
    chunks: list[Chunk] = []
    start = 0
    guess = 4 * budget  # characters; adapted to the text as chunks are found
    while start < len(text):
        end, count = _longest_fitting_prefix(text, start, budget, tok, guess)
        if end == start:
            raise _too_small(budget, text[start], start, tok.count(text[start]))
        if end < len(text):
            # The position holding MIN_FILL of the budget bounds the window for coarse cuts.
            lo, _ = _longest_fitting_prefix(
                text, start, max(1, math.ceil(_WINDOW_FILL * budget)), tok, end - start
            )
            cut = boundaries.best(start, lo, end)
            if cut is None:
                lo, _ = _longest_fitting_prefix(
                    text, start, max(1, math.ceil(_WIDE_WINDOW_FILL * budget)), tok, lo - start
                )
                cut = boundaries.best(start, lo, end)
            if cut is not None and cut != end:
                count = tok.count(text[start:cut])
                if count <= budget:
                    end = cut
                else:  # counts of prefixes are not monotonic; the plain fit stays
                    count = tok.count(text[start:end])
        piece = text[start:end]
        chunks.append(Chunk(piece, start, end, count))
        guess = max(1, 2 * len(piece))
        start = end
    return chunks


def _longest_fitting_prefix(
    text: str, start: int, budget: int, tok: Tokenizer, guess: int
) -> tuple[int, int]:
    """Return ``(end, count)`` for the longest ``text[start:end]`` counted within budget.

    Gallops from ``guess`` characters, then binary-searches; ``end == start`` if not even
    one character fits.
    """
    total = len(text) - start
    fits, fits_count = 0, 0  # longest length known to fit, and its count
    over = None  # shortest length known not to fit
    step = max(1, min(guess, total))
    while over is None:
        count = tok.count(text[start : start + step])
        if count <= budget:
            fits, fits_count = step, count
            if step == total:
                return len(text), count
            step = min(total, step * 2)
        else:
            over = step
    while over - fits > 1:
        mid = (fits + over) // 2
        count = tok.count(text[start : start + mid])
        if count <= budget:
            fits, fits_count = mid, count
        else:
            over = mid
    return start + fits, fits_count
