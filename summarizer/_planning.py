"""Budgets and plan of a run: how many tokens each request may hold, computed before any call.

Every request is measured in tokens of the rendered chat request: the content of all
messages, plus :data:`~summarizer._prompts.MESSAGE_OVERHEAD` per message and
:data:`~summarizer._prompts.REPLY_OVERHEAD`, plus the safety margin. That count plus the
``max_tokens`` the request asks for never exceeds the context window.

:func:`compute_geometry` derives the budgets from the window, the prompts and the target:
the *part cap* (``min(target_tokens, a fifth of the window)``, the output cap of every
partial summary), the chunk budget of a map request and the group budget of a combine
request. :func:`plan_run` counts the text once, decides between one call and a split into
at least two chunks that each fit a map request, and computes the worst case of calls and
levels (:class:`~summarizer.Plan`). :meth:`~summarizer.Summarizer.estimate` and a run share
this code, so a run uses the very chunks and budgets its plan counted. The configuration is
read through :class:`RunConfig` so that this module does not import the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from ._backend import Backend
from ._chunking import Chunk, split_encoded
from ._results import Plan
from ._tokens import Tokenizer
from .errors import ContextWindowTooSmall

__all__ = [
    "ITEM_SLACK",
    "SEPARATOR",
    "Geometry",
    "RunConfig",
    "compute_geometry",
    "max_target",
    "plan_run",
]

#: Joins partial summaries in a combine request.
SEPARATOR = "\n\n"

ITEM_SLACK = 2  # tokens per joined piece: BPE merges differ at the seams
_PART_SHARE = 5  # the part cap is at most 1/_PART_SHARE of the prompt space
_MIN_PART_TOKENS = 16
_MIN_CHUNK_TOKENS = 32
_NUMBER_PLACEHOLDER = 10**6  # widest {part}/{parts} we budget for


class RunConfig(Protocol):
    """What planning and a run read from a :class:`~summarizer.Summarizer`."""

    @property
    def concurrency(self) -> int: ...

    @property
    def target_tokens(self) -> int: ...

    @property
    def max_levels(self) -> int: ...

    @property
    def _tok(self) -> Tokenizer: ...

    @property
    def _margin(self) -> float: ...

    @property
    def _backend(self) -> Backend: ...

    def _render(self, step: str, text: str, cap: int, part: int = 1, parts: int = 1) -> list: ...

    def _raw(self, messages: list, known: tuple[str, int] | None = None) -> int: ...


@dataclass(frozen=True)
class Geometry:
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
        return tokens + self.separator_tokens + ITEM_SLACK

    @property
    def group_capacity(self) -> int:
        """Partials of part-cap size one combine request holds."""
        return self.group_budget // self.item_cost(self.part_cap)


def compute_geometry(config: RunConfig, window: int) -> Geometry:
    """Budgets of every request for a ``window``-token model; raises when it is too small."""
    tok = config._tok
    big = _NUMBER_PLACEHOLDER
    widest = max(config.target_tokens, window)
    map_base = config._raw(config._render("map", "", widest, big, big)) + ITEM_SLACK
    combine_base = config._raw(config._render("combine", "", widest, big, big)) + ITEM_SLACK
    margin = config._margin

    def prompt_space(cap: int) -> int:
        return math.floor((window - cap) / (1 + margin))

    space = prompt_space(0) - max(map_base, combine_base)
    part_cap = min(config.target_tokens, space // _PART_SHARE)
    separator = tok.count(SEPARATOR)
    hint = (
        "use a model with a larger context window, pass a larger context_window if the "
        "model has one, lower target_tokens, or shorten the instruction/prompts"
    )
    if part_cap < _MIN_PART_TOKENS:
        raise ContextWindowTooSmall(
            f"a context window of {window} tokens is too small: the prompts take "
            f"{max(map_base, combine_base)} tokens, leaving no room for text and summary; " + hint
        )
    if config.target_tokens >= window:
        # Below the window the final cap shrinks to the room left (target is a cap).
        raise ContextWindowTooSmall(
            f"target_tokens={config.target_tokens} does not fit a {window}-token context "
            f"window together with the prompts and some text; use target_tokens <= "
            f"{max(1, max_target(config, window))} (--target-tokens), or a model with a "
            "larger window"
        )
    chunk_budget = prompt_space(part_cap) - map_base - ITEM_SLACK
    group_budget = prompt_space(part_cap) - combine_base
    geometry = Geometry(
        window=window,
        margin=margin,
        target=config.target_tokens,
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


def max_target(config: RunConfig, window: int) -> int:
    """Largest output cap a request with the prompts and a minimal text leaves room for."""
    big = _NUMBER_PLACEHOLDER
    base = max(
        config._raw(config._render(step, "", window, big, big)) for step in ("map", "combine")
    )
    return window - math.ceil((base + ITEM_SLACK + _MIN_CHUNK_TOKENS) * (1 + config._margin))


def _single_call(config: RunConfig, text: str, geometry: Geometry, total: int) -> bool:
    messages = config._render("map", text, geometry.target)
    return geometry.fits(config._raw(messages, (text, total)), geometry.target)


def _split(
    config: RunConfig, text: str, geometry: Geometry, total: int, tokens: list[int] | None
) -> list[Chunk]:
    budget = geometry.chunk_budget
    count = max(2, math.ceil(total / budget))
    # Balanced chunks: aim a little above the mean so the last one is not a sliver.
    balanced = min(budget, max(_MIN_CHUNK_TOKENS, math.ceil(total / count * 1.05) + 8))
    for _ in range(6):
        chunks = split_encoded(text, balanced, config._tok, tokens)
        # Every map request is counted exactly; the chunk's own count is reused.
        worst = next(
            (
                c
                for i, c in enumerate(chunks)
                if not geometry.fits(
                    config._raw(
                        config._render("map", c.text, geometry.part_cap, i + 1, len(chunks)),
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


def plan_run(config: RunConfig, text: str, geometry: Geometry) -> tuple[Plan, list[Chunk]]:
    """The plan of a run and its chunks (none when the text fits one request)."""
    tok = config._tok
    # Tokenized once: the count, the single-call check and the split all use it.
    tokens = tok.encode(text) if tok.can_encode else None
    total = len(tokens) if tokens is not None else tok.count(text)
    name = config._backend.name
    if _single_call(config, text, geometry, total):
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
            max_levels=config.max_levels,
            backend=name,
        )
        return plan, []
    chunks = _split(config, text, geometry, total, tokens)
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
        max_levels=config.max_levels,
        backend=name,
    )
    return plan, chunks
