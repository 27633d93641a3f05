"""The token-budgeted, recursive map-reduce summarizer.

Every request is measured in tokens of the rendered chat request: the content of all
messages, plus :data:`~summarizer._prompts.MESSAGE_OVERHEAD` per message and
:data:`~summarizer._prompts.REPLY_OVERHEAD`, plus a safety margin. That count plus the
``max_tokens`` the request asks for never exceeds the context window.

The safety margin covers a difference between the tokenizer we count with and the model's.
By default it is :data:`EXACT_SAFETY_MARGIN` (1%) when the tokenizer is known to be the
model's: a tokenizer passed by the caller, a backend that carries its own tokenizer (the
offline ``extractive`` and ``fake`` backends), or a model name whose encoding is known (the
OpenAI families). Otherwise, e.g. a local model counted with ``o200k_base`` as an
approximation, it is :data:`DEFAULT_SAFETY_MARGIN` (5%). ``safety_margin=`` overrides both.

The run:

1. If the whole text fits one request (with ``target_tokens`` as output cap), make exactly
   one call.
2. Otherwise split it (:func:`~summarizer.split_text`) into at least two chunks sized so
   each map request fits, and summarize all of them concurrently (at most ``concurrency``
   calls in flight), keeping their order. Each partial summary is capped at the *part cap*
   (``min(target_tokens, a fifth of the window)``).
3. While more than one partial remains: if all of them fit one combine request, make that
   final combine call; otherwise pack consecutive partials greedily into groups that fit,
   combine each group (concurrently), and repeat with the group summaries.

Termination is guaranteed for any model behaviour: every output is capped (and cut on token
boundaries when a model ignores the cap), each combine group takes at least two partials so
every level at least halves their number, the number of levels is bounded by ``max_levels``,
and the number of calls by twice the plan's worst case. When a level's output is not below
0.8x of its input in tokens, its over-long outputs are asked again once with half the cap,
then cut. Empty model outputs are counted (``stats.empty_outputs``) and kept as empty
partials; an empty *final* summary raises :class:`~summarizer.errors.EmptySummary` rather
than returning "" for a text that had content.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

from ._backend import Backend, Completion
from ._chunking import Chunk, split_encoded
from ._prompts import Prompts, count_message_tokens
from ._sync import run_sync
from ._tokens import DEFAULT_ENCODING, Tokenizer, get_tokenizer
from .errors import (
    ChunkFailed,
    ContextWindowTooSmall,
    EmptySummary,
    SummarizerError,
    SummaryDidNotFit,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MAX_LEVELS",
    "DEFAULT_SAFETY_MARGIN",
    "DEFAULT_TARGET_TOKENS",
    "EXACT_SAFETY_MARGIN",
    "PartialSummary",
    "Plan",
    "ProgressEvent",
    "SummaryResult",
    "SummaryStats",
    "Summarizer",
    "asummarize",
    "summarize",
]

logger = logging.getLogger(__name__)

#: Window assumed when neither the caller nor the backend knows the model's window.
DEFAULT_CONTEXT_WINDOW = 8192
#: Model calls in flight at once.
DEFAULT_CONCURRENCY = 8
#: Length of the final summary, in tokens (its output cap).
DEFAULT_TARGET_TOKENS = 512
#: Most levels (the map level counts as one) before giving up.
DEFAULT_MAX_LEVELS = 8
#: Share added to every counted prompt when our tokenizer only approximates the model's.
DEFAULT_SAFETY_MARGIN = 0.05
#: Share added when the tokenizer is known to be the model's (counts are exact).
EXACT_SAFETY_MARGIN = 0.01
#: A non-final level whose outputs are not below this share of its input is tightened.
SHRINK_RATIO = 0.8
#: Joins partial summaries in a combine request.
SEPARATOR = "\n\n"

_ITEM_SLACK = 2  # tokens per joined piece: BPE merges differ at the seams
_PART_SHARE = 5  # the part cap is at most 1/_PART_SHARE of the prompt space
_MIN_PART_TOKENS = 16
_MIN_CHUNK_TOKENS = 32
_NUMBER_PLACEHOLDER = 10**6  # widest {part}/{parts} we budget for

T = TypeVar("T")
ProgressCallback = Callable[["ProgressEvent"], None]


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PartialSummary:
    """A completed summary of one chunk (level 1) or one group of summaries (level 2+).

    ``start``/``end`` are character offsets of the input text it covers.
    """

    level: int
    index: int
    start: int
    end: int
    text: str
    tokens: int


@dataclass(frozen=True)
class ProgressEvent:
    """Reported to ``on_progress`` when a level starts (``done == 0``) and as calls finish.

    Attributes:
        level: 1 for the map level, 2+ for combine levels.
        done: requests of this level finished so far.
        total: requests of this level.
        calls: model calls made so far in the run.
        planned_calls: the plan's worst-case number of calls (for a progress bar).
    """

    level: int
    done: int
    total: int
    calls: int
    planned_calls: int


@dataclass(frozen=True)
class Plan:
    """What a run will do, computed before any call (see :meth:`Summarizer.estimate`).

    The counts assume every output reaches its cap; real runs usually make fewer calls.
    """

    input_tokens: int
    context_window: int
    target_tokens: int
    single_call: bool
    chunks: int
    chunk_tokens: int
    levels: int
    calls: int
    max_calls: int
    part_max_tokens: int
    max_levels: int
    backend: str
    note: str = "worst case: assumes every output reaches its cap; real runs often use fewer calls"

    @property
    def within_max_levels(self) -> bool:
        """Whether the worst case stays within ``max_levels`` (a run raises otherwise)."""
        return self.levels <= self.max_levels

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of the plan."""
        return {**asdict(self), "within_max_levels": self.within_max_levels}

    def __str__(self) -> str:
        lines = [
            f"backend:         {self.backend}",
            f"input tokens:    {self.input_tokens}",
            f"context window:  {self.context_window}",
            f"target tokens:   {self.target_tokens}",
        ]
        if self.calls == 0:
            lines.append("plan:            no call")
        elif self.single_call:
            lines.append("plan:            1 call (the text fits one request)")
        else:
            lines += [
                f"chunks:          {self.chunks} (at most {self.chunk_tokens} tokens each)",
                f"part cap:        {self.part_max_tokens} tokens per partial summary",
                f"levels:          {self.levels} (max {self.max_levels})",
                f"calls:           {self.calls} (hard ceiling {self.max_calls})",
            ]
            if not self.within_max_levels:
                lines.append(
                    f"warning:         more than max_levels={self.max_levels} levels: the run "
                    "would stop before any call; raise max_levels (--max-levels) or use a "
                    "larger context window"
                )
        lines.append(f"note:            {self.note}")
        return "\n".join(lines)


@dataclass(frozen=True)
class SummaryStats:
    """Figures of one run.

    ``prompt_tokens``/``completion_tokens`` come from the server's ``usage`` when it reports
    one, else from our own count. ``elapsed`` is in seconds.
    """

    calls: int
    levels: int
    chunks: int
    input_tokens: int
    prompt_tokens: int
    completion_tokens: int
    elapsed: float
    backend: str
    model: str | None
    context_window: int
    empty_outputs: int = 0
    truncated_outputs: int = 0
    retried_outputs: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of the stats."""
        return asdict(self)


@dataclass(frozen=True)
class SummaryResult:
    """The final summary and the figures of the run that produced it."""

    summary: str
    stats: SummaryStats

    def to_dict(self) -> dict[str, Any]:
        """``{"summary": ..., "stats": {...}}``, JSON-ready."""
        return {"summary": self.summary, "stats": self.stats.to_dict()}

    def __str__(self) -> str:
        return self.summary


# -- geometry -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """Budgets derived from the window, the prompts and the target."""

    window: int
    margin: float
    target: int
    part_cap: int
    chunk_budget: int
    group_budget: int  # sum over items of (tokens + separator + slack), intermediate combine
    separator_tokens: int

    def prompt_cost(self, raw: int) -> int:
        """Counted prompt tokens with the safety margin applied."""
        return math.ceil(raw * (1 + self.margin))

    def fits(self, raw: int, cap: int) -> bool:
        """Whether a prompt of ``raw`` counted tokens plus ``cap`` fits the window."""
        return self.prompt_cost(raw) + cap <= self.window

    def item_cost(self, tokens: int) -> int:
        return tokens + self.separator_tokens + _ITEM_SLACK

    @property
    def group_capacity(self) -> int:
        """Partials of part-cap size one combine request holds."""
        return self.group_budget // self.item_cost(self.part_cap)


@dataclass
class _Job:
    index: int
    start: int
    end: int
    step: str
    text: str
    cap: int
    input_tokens: int
    part: int
    parts: int
    skip: bool = False
    text_tokens: int | None = None  # tokenizer.count(text), when already known


# -- the configured object --------------------------------------------------------------


def _resolve_backend(backend: Backend | str) -> Backend:
    if isinstance(backend, str):
        from ._registry import get_backend

        return get_backend(backend)
    # Not isinstance(backend, Backend): on Python < 3.12 that reads every protocol attribute,
    # and a lazy context_window property may then query a server.
    if not all(callable(getattr(type(backend), m, None)) for m in ("complete", "acomplete")):
        raise TypeError(
            f"backend must be a backend name or an object with name, context_window, "
            f"complete() and acomplete(); got {type(backend).__name__}"
        )
    return backend


def _default_tokenizer(backend: Backend) -> tuple[Tokenizer, bool]:
    """The backend's tokenizer and whether it is known to count as the model does."""
    own = getattr(backend, "tokenizer", None)
    if isinstance(own, Tokenizer):
        return own, True
    model = getattr(backend, "model", None)
    if isinstance(model, str) and model:
        try:
            return Tokenizer.for_model(model), True
        except ValueError:
            try:
                return Tokenizer.for_model(model, default=DEFAULT_ENCODING), False
            except ValueError:
                pass
    return get_tokenizer(None), False


@dataclass(frozen=True, kw_only=True)
class Summarizer:
    """A configured summarizer; build once, call :meth:`run` on many texts.

    Args:
        backend: a backend object or a registered name (default ``"extractive"``, offline).
        tokenizer: counts tokens; default: the backend's own tokenizer, else the one of its
            model, else ``o200k_base``.
        context_window: the model's window in tokens; default: the backend's, else 8192.
        concurrency: most model calls in flight at once.
        target_tokens: length (output cap) of the final summary.
        instruction: extra instruction for the model (style, focus).
        language: output language ("French", "de"...).
        prompts: the map and combine templates.
        max_levels: most levels (the map level included) before giving up.
        safety_margin: share added to every counted prompt; default
            :data:`EXACT_SAFETY_MARGIN` (0.01) when the tokenizer is known to be the
            model's (passed by you, carried by the backend, or the encoding of a known
            model name), else :data:`DEFAULT_SAFETY_MARGIN` (0.05).
    """

    backend: Backend | str = "extractive"
    tokenizer: Tokenizer | str | Callable[[str], int] | None = None
    context_window: int | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    target_tokens: int = DEFAULT_TARGET_TOKENS
    instruction: str | None = None
    language: str | None = None
    prompts: Prompts = field(default_factory=Prompts)
    max_levels: int = DEFAULT_MAX_LEVELS
    safety_margin: float | None = None

    def __post_init__(self) -> None:
        backend = _resolve_backend(self.backend)
        object.__setattr__(self, "backend", backend)
        if self.tokenizer is None:
            tokenizer, exact = _default_tokenizer(backend)
        else:
            tokenizer, exact = get_tokenizer(self.tokenizer), True
        object.__setattr__(self, "tokenizer", tokenizer)
        if self.safety_margin is None:
            margin = EXACT_SAFETY_MARGIN if exact else DEFAULT_SAFETY_MARGIN
            object.__setattr__(self, "safety_margin", margin)
        for name in ("concurrency", "target_tokens", "max_levels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.context_window is not None and (
            isinstance(self.context_window, bool)
            or not isinstance(self.context_window, int)
            or self.context_window < 1
        ):
            raise ValueError(
                f"context_window must be a positive integer, got {self.context_window!r}"
            )
        if (
            isinstance(self.safety_margin, bool)
            or not isinstance(self.safety_margin, int | float)
            or not 0 <= self.safety_margin <= 1
        ):
            raise ValueError(f"safety_margin must be between 0 and 1, got {self.safety_margin!r}")
        if not isinstance(self.prompts, Prompts):
            raise TypeError(f"prompts must be a Prompts, got {type(self.prompts).__name__}")

    # -- public API ---------------------------------------------------------------------

    @property
    def _tok(self) -> Tokenizer:
        assert isinstance(self.tokenizer, Tokenizer)
        return self.tokenizer

    @property
    def _margin(self) -> float:
        assert self.safety_margin is not None
        return self.safety_margin

    @property
    def _backend(self) -> Backend:
        assert not isinstance(self.backend, str)
        return self.backend

    def run(self, text: str, *, on_progress: ProgressCallback | None = None) -> SummaryResult:
        """Summarize ``text``; see the module docstring for the algorithm.

        Works inside a running event loop too (the run then happens in a worker thread).

        Raises:
            ValueError: the text is empty or blank.
            ContextWindowTooSmall: the prompts and caps cannot fit the window.
            ChunkFailed: a call failed for good; completed summaries are in ``.partial``.
            SummaryDidNotFit: more than ``max_levels`` levels would be needed.
            EmptySummary: the model returned an empty final summary.
        """
        return _run_sync(lambda: self.arun(text, on_progress=on_progress))

    async def arun(
        self, text: str, *, on_progress: ProgressCallback | None = None
    ) -> SummaryResult:
        """Async twin of :meth:`run`."""
        _check_text(text)
        started = time.perf_counter()
        window = await asyncio.to_thread(self._window)
        geometry = self._geometry(window)
        plan, chunks = self._plan(text, geometry)
        if not plan.within_max_levels:
            raise SummaryDidNotFit(
                f"summarizing {plan.input_tokens} tokens with a {window}-token window needs up "
                f"to {plan.levels} levels, more than max_levels={self.max_levels}: raise "
                "max_levels (--max-levels), or use a model with a larger context window"
            )
        logger.info(
            "summarizing %d tokens with %s: %d chunk(s), up to %d call(s) in %d level(s)",
            plan.input_tokens,
            self._backend.name,
            plan.chunks,
            plan.calls,
            plan.levels,
        )
        state = _Run(self, geometry, plan, on_progress)
        session = getattr(self._backend, "run_session", None)
        if callable(session):
            async with session():
                summary = await state.execute(text, chunks)
        else:
            summary = await state.execute(text, chunks)
        if not summary.strip():
            raise EmptySummary(
                f"the model returned an empty summary ({state.empty} of {state.calls} call(s) "
                "returned nothing); try another model or prompt",
                partial=state.completed,
            )
        stats = SummaryStats(
            calls=state.calls,
            levels=state.levels,
            chunks=plan.chunks,
            input_tokens=plan.input_tokens,
            prompt_tokens=state.prompt_tokens,
            completion_tokens=state.completion_tokens,
            elapsed=round(time.perf_counter() - started, 6),
            backend=self._backend.name,
            model=state.model or getattr(self._backend, "model", None),
            context_window=window,
            empty_outputs=state.empty,
            truncated_outputs=state.truncated,
            retried_outputs=state.retried,
        )
        return SummaryResult(summary=summary, stats=stats)

    def fit(self, text: str, max_tokens: int) -> str:
        """Return ``text`` unchanged if it has at most ``max_tokens`` tokens, else a summary
        of at most ``max_tokens`` tokens (the target becomes ``max_tokens``)."""
        return _run_sync(lambda: self.afit(text, max_tokens))

    async def afit(self, text: str, max_tokens: int) -> str:
        """Async twin of :meth:`fit`."""
        return (await self.afit_result(text, max_tokens)).summary

    async def afit_result(self, text: str, max_tokens: int) -> SummaryResult:
        """Like :meth:`afit` but with stats (``calls == 0`` when the text already fitted)."""
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        _check_text(text)
        tokens = self._tok.count(text)
        if tokens <= max_tokens:
            window = self.context_window or self._backend.context_window or DEFAULT_CONTEXT_WINDOW
            stats = SummaryStats(
                calls=0,
                levels=0,
                chunks=0,
                input_tokens=tokens,
                prompt_tokens=0,
                completion_tokens=0,
                elapsed=0.0,
                backend=self._backend.name,
                model=getattr(self._backend, "model", None),
                context_window=window,
            )
            return SummaryResult(summary=text, stats=stats)
        # A max_tokens beyond what the window can produce in one request still fits: the
        # summary is then as long as the window allows.
        window = await asyncio.to_thread(self._window)
        target = max(1, min(max_tokens, self._max_target(window)))
        result = await replace(self, target_tokens=target).arun(text)
        summary = result.summary
        if self._tok.count(summary) > max_tokens:  # cannot happen: outputs are cut at caps
            summary = self._tok.truncate(summary, max_tokens)
        return replace(result, summary=summary)

    def estimate(self, text: str, *, max_tokens: int | None = None) -> Plan:
        """Plan the run for ``text`` without calling the model.

        The backend may be asked for its context window (an HTTP ``GET /models`` for an
        OpenAI-compatible server without a known window) but no completion is requested.

        Args:
            text: the text to summarize.
            max_tokens: plan :meth:`fit` instead of :meth:`run`: no call when ``text`` has at
                most that many tokens.
        """
        _check_text(text)
        window = self._window()
        config = self
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
                raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
            tokens = self._tok.count(text)
            if tokens <= max_tokens:
                return Plan(
                    input_tokens=tokens,
                    context_window=window,
                    target_tokens=max_tokens,
                    single_call=False,
                    chunks=0,
                    chunk_tokens=0,
                    levels=0,
                    calls=0,
                    max_calls=0,
                    part_max_tokens=0,
                    max_levels=self.max_levels,
                    backend=self._backend.name,
                    note=f"the text has at most {max_tokens} tokens: returned unchanged",
                )
            config = replace(self, target_tokens=max(1, min(max_tokens, self._max_target(window))))
        return config._plan(text, config._geometry(window))[0]

    # -- planning -----------------------------------------------------------------------

    def _window(self) -> int:
        if self.context_window is not None:
            return self.context_window
        return self._backend.context_window or DEFAULT_CONTEXT_WINDOW

    def _render(self, step: str, text: str, cap: int, part: int = 1, parts: int = 1) -> list:
        return self.prompts.render(
            step,
            text,
            target_tokens=cap,
            part=part,
            parts=parts,
            instruction=self.instruction,
            language=self.language,
        )

    def _raw(self, messages: list, known: tuple[str, int] | None = None) -> int:
        return count_message_tokens(messages, self._tok, known=known)

    def _geometry(self, window: int) -> _Geometry:
        tok = self._tok
        big = _NUMBER_PLACEHOLDER
        widest = max(self.target_tokens, window)
        map_base = self._raw(self._render("map", "", widest, big, big)) + _ITEM_SLACK
        combine_base = self._raw(self._render("combine", "", widest, big, big)) + _ITEM_SLACK
        margin = self._margin

        def prompt_space(cap: int) -> int:
            return math.floor((window - cap) / (1 + margin))

        space = prompt_space(0) - max(map_base, combine_base)
        part_cap = min(self.target_tokens, space // _PART_SHARE)
        separator = tok.count(SEPARATOR)
        hint = (
            "use a model with a larger context window, pass a larger context_window if the "
            "model has one, lower target_tokens, or shorten the instruction/prompts"
        )
        if part_cap < _MIN_PART_TOKENS:
            raise ContextWindowTooSmall(
                f"a context window of {window} tokens is too small: the prompts take "
                f"{max(map_base, combine_base)} tokens, leaving no room for text and summary; "
                + hint
            )
        if self.target_tokens >= window:
            # Below the window the final cap shrinks to the room left (target is a cap).
            raise ContextWindowTooSmall(
                f"target_tokens={self.target_tokens} does not fit a {window}-token context "
                f"window together with the prompts and some text; use target_tokens <= "
                f"{max(1, self._max_target(window))} (--target-tokens), or a model with a "
                "larger window"
            )
        chunk_budget = prompt_space(part_cap) - map_base - _ITEM_SLACK
        group_budget = prompt_space(part_cap) - combine_base
        geometry = _Geometry(
            window=window,
            margin=margin,
            target=self.target_tokens,
            part_cap=part_cap,
            chunk_budget=chunk_budget,
            group_budget=group_budget,
            separator_tokens=separator,
        )
        if chunk_budget < _MIN_CHUNK_TOKENS or geometry.group_capacity < 2:
            raise ContextWindowTooSmall(
                f"a context window of {window} tokens is too small for chunks of at least "
                f"{_MIN_CHUNK_TOKENS} tokens and summaries of {part_cap} tokens; " + hint
            )
        return geometry

    def _max_target(self, window: int) -> int:
        """Largest output cap a request with the prompts and a minimal text leaves room for."""
        big = _NUMBER_PLACEHOLDER
        base = max(
            self._raw(self._render(step, "", window, big, big)) for step in ("map", "combine")
        )
        return window - math.ceil((base + _ITEM_SLACK + _MIN_CHUNK_TOKENS) * (1 + self._margin))

    def _single_call(self, text: str, geometry: _Geometry, total: int) -> bool:
        messages = self._render("map", text, geometry.target)
        return geometry.fits(self._raw(messages, (text, total)), geometry.target)

    def _split(
        self, text: str, geometry: _Geometry, total: int, tokens: list[int] | None
    ) -> list[Chunk]:
        budget = geometry.chunk_budget
        count = max(2, math.ceil(total / budget))
        # Balanced chunks: aim a little above the mean so the last one is not a sliver.
        balanced = min(budget, max(_MIN_CHUNK_TOKENS, math.ceil(total / count * 1.05) + 8))
        for _ in range(6):
            chunks = split_encoded(text, balanced, self._tok, tokens)
            # Every map request is counted exactly; the chunk's own count is reused.
            worst = next(
                (
                    c
                    for i, c in enumerate(chunks)
                    if not geometry.fits(
                        self._raw(
                            self._render("map", c.text, geometry.part_cap, i + 1, len(chunks)),
                            (c.text, c.tokens),
                        ),
                        geometry.part_cap,
                    )
                ),
                None,
            )
            if worst is None:
                return chunks
            balanced = max(_MIN_CHUNK_TOKENS, int(balanced * 0.9))
        raise ContextWindowTooSmall(
            f"could not split the text into requests that fit a {geometry.window}-token window; "
            "pass a larger context_window or simpler prompts"
        )

    def _plan(self, text: str, geometry: _Geometry) -> tuple[Plan, list[Chunk]]:
        tok = self._tok
        # Tokenized once: the count, the single-call check and the split all use it.
        tokens = tok.encode(text) if tok.can_encode else None
        total = len(tokens) if tokens is not None else tok.count(text)
        name = self._backend.name
        if self._single_call(text, geometry, total):
            plan = Plan(
                input_tokens=total,
                context_window=geometry.window,
                target_tokens=geometry.target,
                single_call=True,
                chunks=1,
                chunk_tokens=total,
                levels=1,
                calls=1,
                max_calls=1,
                part_max_tokens=geometry.target,
                max_levels=self.max_levels,
                backend=name,
            )
            return plan, []
        chunks = self._split(text, geometry, total, tokens)
        count = len(chunks)
        calls, levels = count, 1
        capacity = geometry.group_capacity
        while count > 1:
            levels += 1
            count = 1 if count <= capacity else math.ceil(count / capacity)
            calls += count
        plan = Plan(
            input_tokens=total,
            context_window=geometry.window,
            target_tokens=geometry.target,
            single_call=False,
            chunks=len(chunks),
            chunk_tokens=max(c.tokens for c in chunks),
            levels=levels,
            calls=calls,
            # Each non-final call may be asked once more with a tighter cap.
            max_calls=2 * calls + levels,
            part_max_tokens=geometry.part_cap,
            max_levels=self.max_levels,
            backend=name,
        )
        return plan, chunks


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("nothing to summarize: the text is empty or blank")


# -- one run ------------------------------------------------------------------------------


class _Run:
    """Mutable state of one run: counters, completed partials, the semaphore."""

    def __init__(
        self,
        config: Summarizer,
        geometry: _Geometry,
        plan: Plan,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.config = config
        self.backend = config._backend
        self.tok = config._tok
        self.geometry = geometry
        self.plan = plan
        self.on_progress = on_progress
        self.semaphore = asyncio.Semaphore(config.concurrency)
        self.calls = 0
        self.levels = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.empty = 0
        self.truncated = 0
        self.retried = 0
        self.model: str | None = None
        self.completed: list[PartialSummary] = []

    # -- the algorithm --------------------------------------------------------------------

    async def execute(self, text: str, chunks: list[Chunk]) -> str:
        geometry = self.geometry
        if not chunks:  # the plan found that the text fits one request
            total = self.plan.input_tokens
            job = _Job(
                0, 0, len(text), "map", text, geometry.target, total, 1, 1, text_tokens=total
            )
            (only,) = await self._level(1, [job])
            return only.text
        jobs = [
            _Job(
                i,
                c.start,
                c.end,
                "map",
                c.text,
                geometry.part_cap,
                c.tokens,
                i + 1,
                len(chunks),
                text_tokens=c.tokens,
            )
            for i, c in enumerate(chunks)
        ]
        for job in jobs:
            job.skip = not job.text.strip()
        partials = await self._level(1, jobs)
        partials = await self._tighten(1, jobs, partials)
        level = 1
        while True:
            if len(partials) == 1:
                return partials[0].text
            level += 1
            if level > self.config.max_levels:
                raise SummaryDidNotFit(
                    f"{len(partials)} partial summaries remain after {self.config.max_levels} "
                    "levels; raise max_levels or use a model with a larger context window",
                    partial=self.completed,
                )
            useful = [p for p in partials if p.text]
            if not useful:
                return ""
            if len(useful) == 1:
                return useful[0].text
            joined = SEPARATOR.join(p.text for p in useful)
            joined_tokens = self.tok.count(joined)
            raw = self.config._raw(
                self.config._render("combine", joined, geometry.target), (joined, joined_tokens)
            )
            if geometry.fits(raw, geometry.part_cap):
                # The slack covers the prompt re-rendered with a smaller {target_tokens}.
                room = geometry.window - geometry.prompt_cost(raw) - _ITEM_SLACK
                cap = min(geometry.target, max(room, geometry.part_cap))
                job = _Job(
                    0,
                    partials[0].start,
                    partials[-1].end,
                    "combine",
                    joined,
                    cap,
                    sum(p.tokens for p in partials),
                    1,
                    1,
                    text_tokens=joined_tokens,
                )
                (final,) = await self._level(level, [job])
                return final.text
            groups = self._pack(partials)
            jobs = [self._group_job(i, g, len(groups)) for i, g in enumerate(groups)]
            partials = await self._level(level, jobs)
            partials = await self._tighten(level, jobs, partials)

    def _group_job(self, index: int, group: list[PartialSummary], total: int) -> _Job:
        useful = [p.text for p in group if p.text]
        return _Job(
            index,
            group[0].start,
            group[-1].end,
            "combine",
            SEPARATOR.join(useful),
            self.geometry.part_cap,
            sum(p.tokens for p in group),
            index + 1,
            total,
            skip=not useful,
        )

    def _group_fits(self, group: list[PartialSummary], index: int, total: int) -> bool:
        job = self._group_job(index, group, total)
        messages = self.config._render("combine", job.text, job.cap, job.part, job.parts)
        return self.geometry.fits(self.config._raw(messages), job.cap)

    def _pack(self, partials: list[PartialSummary]) -> list[list[PartialSummary]]:
        """Greedy packing of consecutive partials into groups that fit one combine request."""
        geometry = self.geometry
        groups: list[list[PartialSummary]] = []
        current: list[PartialSummary] = []
        used = 0
        for partial in partials:
            cost = geometry.item_cost(partial.tokens)
            if current and used + cost > geometry.group_budget:
                groups.append(current)
                current, used = [], 0
            current.append(partial)
            used += cost
        if current:
            groups.append(current)
        # Verify with exact counts; an item that does not fit moves on to the next group.
        i = 0
        while i < len(groups):
            group = groups[i]
            while len(group) > 1 and not self._group_fits(group, i, len(groups)):
                moved = group.pop()
                if i + 1 < len(groups):
                    groups[i + 1].insert(0, moved)
                else:
                    groups.append([moved])
            if not self._group_fits(group, i, len(groups)):
                raise ContextWindowTooSmall(
                    f"a single partial summary of {group[0].tokens} tokens does not fit a "
                    f"combine request in a {geometry.window}-token window; lower target_tokens"
                )
            i += 1
        return groups

    async def _tighten(
        self, level: int, jobs: list[_Job], partials: list[PartialSummary]
    ) -> list[PartialSummary]:
        """Ask over-long outputs of a level that did not shrink once more, then cut them."""
        spent = sum(j.input_tokens for j in jobs)
        produced = sum(p.tokens for p in partials)
        if len(partials) <= 1 or produced < SHRINK_RATIO * spent:
            return partials
        cap = jobs[0].cap
        tight = max(1, cap // 2)
        redo = [
            replace(job, cap=tight)
            for job, partial in zip(jobs, partials, strict=True)
            if partial.tokens > tight and not job.skip
        ]
        logger.info(
            "level %d produced %d tokens from %d (not below %.0f%%): asking %d output(s) again "
            "with a cap of %d tokens",
            level,
            produced,
            spent,
            SHRINK_RATIO * 100,
            len(redo),
            tight,
        )
        if not redo:
            return partials
        self.retried += len(redo)
        again = await self._level(level, redo, record=False)
        result = list(partials)
        for job, partial in zip(redo, again, strict=True):
            result[job.index] = partial
        self.completed.extend(again)
        return result

    # -- one level, one call ---------------------------------------------------------------

    async def _level(
        self, level: int, jobs: list[_Job], *, record: bool = True
    ) -> list[PartialSummary]:
        """Run ``jobs`` concurrently; return their summaries in job order."""
        self.levels = max(self.levels, level)
        total = len(jobs)
        results: dict[int, PartialSummary] = {}
        done = 0
        self._progress(level, done, total)

        async def run_one(job: _Job) -> None:
            nonlocal done
            text, tokens = ("", 0) if job.skip else await self._call(level, job, total)
            results[job.index] = PartialSummary(level, job.index, job.start, job.end, text, tokens)
            done += 1
            self._progress(level, done, total)

        tasks = [asyncio.create_task(run_one(job)) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        except BaseException as exc:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            finished = [results[j.index] for j in jobs if j.index in results]
            failures = [
                t.exception()
                for t in tasks
                if t.done() and not t.cancelled() and isinstance(t.exception(), ChunkFailed)
            ]
            if isinstance(exc, ChunkFailed) and failures:
                first = min(failures, key=lambda e: e.index)  # type: ignore[union-attr]
                assert isinstance(first, ChunkFailed)
                raise ChunkFailed(
                    level=first.level,
                    index=first.index,
                    total=first.total,
                    start=first.start,
                    end=first.end,
                    cause=first.cause,
                    partial=[*self.completed, *finished],
                ) from first.cause
            raise
        ordered = [results[job.index] for job in jobs]
        if record:
            self.completed.extend(ordered)
        return ordered

    async def _call(self, level: int, job: _Job, total: int) -> tuple[str, int]:
        """Make one request; return the output (stripped, within the cap) and its tokens."""
        config = self.config
        messages = config._render(job.step, job.text, job.cap, job.part, job.parts)
        known = None if job.text_tokens is None else (job.text, job.text_tokens)
        raw = config._raw(messages, known)
        if not self.geometry.fits(raw, job.cap):  # a bug, not a user error
            raise SummarizerError(
                f"internal error: a request of {raw} tokens + {job.cap} does not fit the "
                f"{self.geometry.window}-token window; please report it"
            )
        async with self.semaphore:
            if self.calls >= self.plan.max_calls:
                raise SummarizerError(
                    f"internal error: the hard ceiling of {self.plan.max_calls} calls was "
                    "reached; please report it"
                )
            self.calls += 1
            logger.debug(
                "level %d request %d/%d: %d+%d tokens", level, job.index + 1, total, raw, job.cap
            )
            try:
                completion = await self.backend.acomplete(messages, max_tokens=job.cap)
                text = completion.text
                if not isinstance(text, str):
                    raise TypeError(
                        f"backend {self.backend.name!r} returned {completion!r}, not a "
                        "Completion with a str text"
                    )
            except Exception as exc:
                raise ChunkFailed(
                    level=level,
                    index=job.index,
                    total=total,
                    start=job.start,
                    end=job.end,
                    cause=exc,
                ) from exc
        self._account(completion, raw)
        text = text.strip()
        tokens = self.tok.count(text)
        if tokens > job.cap:
            text = self.tok.truncate(text, job.cap).rstrip()
            tokens = self.tok.count(text)
            self.truncated += 1
        if not text:
            self.empty += 1
            # Not fatal (the others may still make a summary), but that span is then missing.
            logger.warning(
                "level %d request %d/%d (characters %d-%d of the input) returned an empty "
                "summary: that part is missing from the result",
                level,
                job.index + 1,
                total,
                job.start,
                job.end,
            )
        return text, tokens

    def _account(self, completion: Completion, raw: int) -> None:
        self.prompt_tokens += completion.prompt_tokens if completion.prompt_tokens else raw
        self.completion_tokens += (
            completion.completion_tokens
            if completion.completion_tokens is not None
            else self.tok.count(completion.text)
        )
        if completion.model:
            self.model = completion.model

    def _progress(self, level: int, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(ProgressEvent(level, done, total, self.calls, self.plan.calls))


# -- sync bridge and convenience functions ------------------------------------------------------


def _run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion, in a worker thread when a loop is already running."""

    async def main() -> T:
        return await factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # Called from inside a running loop (Jupyter, an async app): a nested asyncio.run is
    # not allowed, so run the coroutine on its own loop in a worker thread; Ctrl-C there
    # cancels the run's calls before it propagates.
    return run_sync(main, name="summarizer")


_BACKEND_OPTIONS = ("model", "base_url", "api_key")


def _build(options: dict[str, Any]) -> Summarizer:
    backend = options.pop("backend", None)
    backend_options = {k: options.pop(k) for k in _BACKEND_OPTIONS if options.get(k) is not None}
    for key in _BACKEND_OPTIONS:
        options.pop(key, None)
    if backend is None:
        backend = "openai" if backend_options else "extractive"
    if isinstance(backend, str):
        from ._registry import get_backend

        backend = get_backend(backend, **backend_options)
    elif backend_options:
        raise ValueError(
            f"{', '.join(sorted(backend_options))} apply to a backend built by name; configure "
            "the backend object you passed instead"
        )
    return Summarizer(backend=backend, **options)


def summarize(text: str, **options: Any) -> str:
    """Summarize ``text`` and return the summary.

    Options are those of :class:`Summarizer` plus ``model``, ``base_url`` and ``api_key``
    (which select the ``"openai"`` backend unless ``backend`` names another), ``backend`` (a
    name or object; default ``"extractive"``, offline), ``on_progress`` and ``max_tokens``
    (fit mode: return ``text`` unchanged when it has at most that many tokens).
    """
    on_progress = options.pop("on_progress", None)
    max_tokens = options.pop("max_tokens", None)
    summarizer = _build(options)
    if max_tokens is not None:
        return summarizer.fit(text, max_tokens)
    return summarizer.run(text, on_progress=on_progress).summary


async def asummarize(text: str, **options: Any) -> str:
    """Async twin of :func:`summarize`."""
    on_progress = options.pop("on_progress", None)
    max_tokens = options.pop("max_tokens", None)
    summarizer = _build(options)
    if max_tokens is not None:
        return await summarizer.afit(text, max_tokens)
    return (await summarizer.arun(text, on_progress=on_progress)).summary
