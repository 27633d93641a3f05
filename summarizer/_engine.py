"""The configured summarizer and the convenience functions that build one.

:func:`summarize` and :func:`asummarize` build a short-lived :class:`Summarizer` from keyword
options and delegate to it. A :class:`Summarizer` holds the policy (backend, tokenizer,
window, budgets, concurrency, prompts) and checks it once; each call plans the run
(:mod:`summarizer._planning`: every request counted in tokens so that it fits the context
window), then executes it (:mod:`summarizer._run`: the recursive map-reduce, concurrent and
guaranteed to terminate) and returns the values of :mod:`summarizer._results`.

The safety margin covers a difference between the tokenizer we count with and the model's.
By default it is :data:`EXACT_SAFETY_MARGIN` (1%) when the tokenizer is known to be the
model's: a tokenizer passed by the caller, a backend that carries its own tokenizer (the
offline ``extractive`` and ``fake`` backends), or a model name whose encoding is known (the
OpenAI families). Otherwise, e.g. a local model counted with ``o200k_base`` as an
approximation, it is :data:`DEFAULT_SAFETY_MARGIN` (5%). ``safety_margin=`` overrides both.

An empty *final* summary raises :class:`~summarizer.errors.EmptySummary` rather than
returning "" for a text that had content.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ._backend import Backend
from ._cache import ResponseCache, resolve_cache
from ._planning import compute_geometry, max_target, plan_run
from ._prompts import Prompts, count_message_tokens
from ._results import Plan, ProgressCallback, SummaryResult, SummaryStats
from ._run import Run
from ._sync import run_sync
from ._tokens import DEFAULT_ENCODING, Tokenizer, get_tokenizer
from .errors import EmptySummary, SummaryDidNotFit

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MAX_LEVELS",
    "DEFAULT_SAFETY_MARGIN",
    "DEFAULT_TARGET_TOKENS",
    "EXACT_SAFETY_MARGIN",
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

T = TypeVar("T")


# -- the configured object --------------------------------------------------------------


def _resolve_backend(backend: Backend | str) -> Backend:
    if isinstance(backend, str):
        from ._registry import get_backend

        return get_backend(backend)
    # Not isinstance(backend, Backend): on Python < 3.12 that reads every protocol attribute,
    # and a lazy context_window property may then query a server.
    if not all(callable(getattr(type(backend), m, None)) for m in ("acomplete",)):
        raise TypeError(
            f"backend must be a backend name or an object with name, context_window, "
            f"an async acomplete(); got {type(backend).__name__}"
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
        cache: where completed calls are kept so that re-runs and resumed runs are free: a
            file path or a :class:`~summarizer.ResponseCache` (any backend), ``None``/``True``
            for the default file (only backends that declare ``cacheable = True``, i.e. the
            OpenAI-compatible one), ``False`` to disable.
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
    cache: ResponseCache | str | os.PathLike[str] | bool | None = None

    def __post_init__(self) -> None:
        backend = _resolve_backend(self.backend)
        object.__setattr__(self, "backend", backend)
        object.__setattr__(self, "_response_cache", resolve_cache(self.cache, backend))
        if getattr(backend, "follows_instructions", True) is False and (
            self.instruction or self.language
        ):
            asked = " and ".join(
                f"{what} {value!r}"
                for what, value in (("instruction", self.instruction), ("language", self.language))
                if value
            )
            warnings.warn(
                f"the {backend.name!r} backend picks sentences from the text and cannot follow "
                f"the {asked}; pass --model (or --base-url for a local server) to use a "
                "language model that can",
                UserWarning,
                stacklevel=3,
            )
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
        """Summarize ``text``; see :mod:`summarizer._run` for the algorithm.

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
        geometry = compute_geometry(self, window)
        plan, chunks = plan_run(self, text, geometry)
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
        state = Run(self, geometry, plan, on_progress)
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
            cached_calls=state.cached,
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
        target = max(1, min(max_tokens, max_target(self, window)))
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
            config = replace(self, target_tokens=max(1, min(max_tokens, max_target(self, window))))
        return plan_run(config, text, compute_geometry(config, window))[0]

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


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("nothing to summarize: the text is empty or blank")


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
