"""One run of the recursive map-reduce, as planned by :mod:`summarizer._planning`.

1. If the whole text fits one request (with ``target_tokens`` as output cap), make exactly
   one call.
2. Otherwise summarize the chunks concurrently (at most ``concurrency`` calls in flight),
   keeping their order. Each partial summary is capped at the *part cap*.
3. While more than one partial remains: if all of them fit one combine request, make that
   final combine call; otherwise pack consecutive partials greedily into groups that fit,
   combine each group (concurrently), and repeat with the group summaries.

Termination is guaranteed for any model behaviour: every output is capped (and cut on token
boundaries when a model ignores the cap), each combine group takes at least two partials so
every level at least halves their number, the number of levels is bounded by ``max_levels``,
and the number of calls by twice the plan's worst case. When a level's output is not below
0.8x of its input in tokens, its over-long outputs are asked again once with half the cap,
then cut. Empty model outputs are counted (``stats.empty_outputs``) and kept as empty
partials; the engine turns an empty *final* summary into
:class:`~summarizer.errors.EmptySummary`.

:class:`Run` holds the mutable state of one run (counters, completed partials, the
semaphore), apart from the frozen :class:`~summarizer.Summarizer` that configures it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

from ._backend import Completion
from ._cache import cache_key
from ._chunking import Chunk
from ._planning import ITEM_SLACK, SEPARATOR, Geometry, RunConfig
from ._results import PartialSummary, Plan, ProgressCallback, ProgressEvent
from .errors import ChunkFailed, ContextWindowTooSmall, SummarizerError, SummaryDidNotFit

__all__ = ["SHRINK_RATIO", "Run"]

logger = logging.getLogger(__name__)

#: A non-final level whose outputs are not below this share of its input is tightened.
SHRINK_RATIO = 0.8


@dataclass
class _Job:
    """One request of a level: its text, output cap and place in the input."""

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


class Run:
    """Mutable state of one run: counters, completed partials, the semaphore."""

    def __init__(
        self,
        config: RunConfig,
        geometry: Geometry,
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
        self.cached = 0
        self.cache = getattr(config, "_response_cache", None)
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
                room = geometry.window - geometry.prompt_cost(raw) - ITEM_SLACK
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
        key = cache_key(self.backend, messages, job.cap) if self.cache is not None else ""
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            self.cached += 1
            return self._finish(level, job, total, hit, raw)
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
        if self.cache is not None:
            self.cache.put(key, completion)
        return self._finish(level, job, total, completion, raw)

    def _finish(
        self, level: int, job: _Job, total: int, completion: Completion, raw: int
    ) -> tuple[str, int]:
        """Account for one answer (fresh or cached); return its text within the cap."""
        self._account(completion, raw)
        text = completion.text.strip()
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
