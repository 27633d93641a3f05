"""The values a summarizer run returns or reports, and nothing that computes them.

:class:`SummaryResult` (the summary and its :class:`SummaryStats`), :class:`Plan` (what a
run will do, from :meth:`~summarizer.Summarizer.estimate`), :class:`ProgressEvent` (given to
``on_progress``) and :class:`PartialSummary` (carried by ``ChunkFailed.partial`` and the
other :class:`~summarizer.errors.MapReduceError` subclasses). They live apart from the
engine so that ``errors``, the CLI and the run machinery can use them without importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "PartialSummary",
    "Plan",
    "ProgressCallback",
    "ProgressEvent",
    "SummaryResult",
    "SummaryStats",
]

ProgressCallback = Callable[["ProgressEvent"], None]


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
    one, else from our own count. ``elapsed`` is in seconds. ``cached_calls`` answers came
    from the response cache (not counted in ``calls``: no model call was made).
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
    cached_calls: int = 0

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
