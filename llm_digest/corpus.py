"""Summarize a whole corpus: files, URL lists, JSON Lines, CSV or Parquet, one row per input.

>>> from llm_digest.corpus import digest
>>> report = digest("docs/", "summaries.jsonl", backend=my_backend, concurrency=8)
>>> report.done, report.failed

Stages, each a plain async function on a batch of rows (dicts): :func:`fetch_stage`
(guarded fetch of URL rows, one deadline per URL, a per-host limit) -> :func:`extract_stage`
(files and pages to text) -> :func:`summarize_stage` (map-reduce per document) ->
:func:`write_rows`. Every input gets exactly one output row; failures are rows with
``error`` instead of ``summary``. Re-running with the same ``out`` skips inputs whose rows
are already there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from ._corpus_inputs import CorpusInputError, Item, read_items

__all__ = [
    "CorpusInputError",
    "Report",
    "adigest",
    "digest",
    "extract_stage",
    "fetch_stage",
    "summarize_stage",
    "write_rows",
]

DEFAULT_CONCURRENCY = 8
DEFAULT_WORKERS = 16
DEFAULT_PER_HOST = 2
DEFAULT_TIMEOUT = 30.0
_CACHE_IDENTITY = frozenset({"cacheable", "base_url", "model", "temperature", "extra_body"})


@dataclass(frozen=True, kw_only=True)
class Report:
    """Totals of one run (``skipped``: inputs whose rows were already in ``out``)."""

    out: str
    inputs: int
    done: int
    failed: int
    skipped: int
    calls: int
    tokens: int
    wall_time: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _LimitedBackend:
    """One backend shared by every document, with at most ``limit`` calls in flight."""

    def __init__(self, backend: Any, limit: int) -> None:
        self._backend = backend
        self._semaphore = asyncio.Semaphore(limit)
        self.name = backend.name

    @property
    def context_window(self) -> int | None:
        return self._backend.context_window

    def __getattr__(self, name: str) -> Any:
        # What the response cache keys on (and whether it applies) is the wrapped backend's.
        if name in _CACHE_IDENTITY:
            return getattr(self._backend, name)
        raise AttributeError(name)

    async def acomplete(self, messages: Any, *, max_tokens: int) -> Any:
        async with self._semaphore:
            return await self._backend.acomplete(messages, max_tokens=max_tokens)

    def run_session(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The wrapped backend's session (one connection pool), or nothing to share."""
        session = getattr(self._backend, "run_session", None)
        return session() if session is not None else contextlib.nullcontext()


@dataclass(frozen=True, kw_only=True)
class _Settings:
    allow_private: bool
    allowed_hosts: tuple[str, ...]
    user_agent: str | None
    timeout: float
    respect_robots: bool
    per_host: int


def _error(row: dict[str, Any], exc: BaseException) -> None:
    row["error"] = {"type": type(exc).__name__, "message": str(exc) or repr(exc)}


async def fetch_stage(
    rows: list[dict[str, Any]], context: dict[str, Any]
) -> list[dict[str, Any]]:
    """Fetch the ``url`` rows through the guarded fetcher; the page goes to ``row["page"]``."""
    from crawler import afetch

    settings: _Settings = context["settings"]
    hosts: dict[str, asyncio.Semaphore] = context["hosts"]

    async def one(row: dict[str, Any]) -> None:
        if row.get("error") or not row.get("url"):
            return
        host = (urlsplit(row["url"]).hostname or "").lower()
        semaphore = hosts.setdefault(host, asyncio.Semaphore(settings.per_host))
        options: dict[str, Any] = {}
        if settings.user_agent is not None:
            options["user_agent"] = settings.user_agent
        try:
            async with semaphore:
                row["page"] = await asyncio.wait_for(
                    afetch(
                        row["url"],
                        allow_private=settings.allow_private,
                        allowed_hosts=settings.allowed_hosts,
                        respect_robots=settings.respect_robots,
                        timeout=settings.timeout,
                        **options,
                    ),
                    settings.timeout + 5.0,
                )
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error row
            _error(row, exc)

    await asyncio.gather(*(one(row) for row in rows))
    return rows


async def extract_stage(
    rows: list[dict[str, Any]], context: dict[str, Any]
) -> list[dict[str, Any]]:
    """Turn pages and files into ``row["text"]`` (and ``row["title"]``)."""
    from crawler import document_from_page, read_source

    for row in rows:
        if row.get("error"):
            continue
        try:
            if "page" in row:
                document = await asyncio.to_thread(document_from_page, row.pop("page"))
                row["text"], row["title"] = document.text, document.title
            elif row.get("path"):
                source = await asyncio.to_thread(read_source, row["path"])
                row["text"], row["title"] = source.text, source.title
        except Exception as exc:  # noqa: BLE001
            _error(row, exc)
    return rows


async def summarize_stage(
    rows: list[dict[str, Any]], context: dict[str, Any]
) -> list[dict[str, Any]]:
    """Summarize ``row["text"]`` with the run's shared summarizer."""
    summarizer = context["summarizer"]

    async def one(row: dict[str, Any]) -> None:
        if row.get("error"):
            return
        try:
            result = await summarizer.arun(row.get("text") or "")
        except Exception as exc:  # noqa: BLE001
            _error(row, exc)
            return
        stats = result.stats
        row["summary"] = result.summary
        row["stats"] = {
            "calls": stats.calls,
            "cached_calls": stats.cached_calls,
            "tokens": stats.prompt_tokens + stats.completion_tokens,
            "levels": stats.levels,
        }

    await asyncio.gather(*(one(row) for row in rows))
    return rows


def write_rows(rows: Iterable[dict[str, Any]], handle: IO[str]) -> None:
    """Append one JSON line per row: id, source, title, then summary+stats or error."""
    for row in rows:
        record: dict[str, Any] = {
            "id": row["id"],
            "source": row["source"],
            "title": row.get("title"),
        }
        if row.get("error"):
            record["error"] = row["error"]
            record["stats"] = {"calls": 0, "cached_calls": 0, "tokens": 0, "levels": 0}
        else:
            record["summary"] = row["summary"]
            record["stats"] = row["stats"]
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    handle.flush()


def _finished_ids(out: Path) -> set[str]:
    if not out.exists():
        return set()
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        # The last line was cut by a killed run: drop it, so that input is redone and the
        # next row starts on a line of its own.
        with out.open("r+b") as raw:
            raw.truncate(data.rfind(b"\n") + 1)
    ids: set[str] = set()
    with out.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a killed run: that input is redone
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                ids.add(record["id"])
    return ids


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


async def adigest(
    source: str | Path,
    out: str | Path,
    *,
    engine: str = "local",
    concurrency: int = DEFAULT_CONCURRENCY,
    workers: int = DEFAULT_WORKERS,
    backend: Any = None,
    instruction: str | None = None,
    language: str | None = None,
    target_tokens: int | None = None,
    context_window: int | None = None,
    text_column: str | None = None,
    url_column: str | None = None,
    id_column: str | None = None,
    allow_private: bool = False,
    allowed_hosts: Iterable[str] = (),
    user_agent: str | None = None,
    timeout: float | None = None,
    respect_robots: bool = False,
    per_host: int = DEFAULT_PER_HOST,
    cache: Any = None,
    progress: IO[str] | None = None,
) -> Report:
    """Async :func:`digest`."""
    from summarizer import Summarizer, get_backend

    if engine != "local":
        if engine == "ray":
            raise NotImplementedError(
                "engine='ray' is not available yet; use engine='local' (the default)"
            )
        raise ValueError(f"unknown engine {engine!r}: use 'local'")
    _check_positive("concurrency", concurrency)
    _check_positive("workers", workers)
    _check_positive("per_host", per_host)
    if isinstance(allowed_hosts, str):
        raise TypeError("allowed_hosts must be a list of host names or CIDRs, not a string")
    if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    started = time.perf_counter()
    items = read_items(source, text_column=text_column, url_column=url_column,
                       id_column=id_column)
    out_path = Path(out)
    finished = _finished_ids(out_path)
    todo = [item for item in items if item.id not in finished]
    base = get_backend("extractive") if backend is None else backend
    if isinstance(base, str):
        base = get_backend(base)
    options: dict[str, Any] = {"instruction": instruction, "language": language,
                               "context_window": context_window, "cache": cache}
    if target_tokens is not None:
        options["target_tokens"] = target_tokens
    context: dict[str, Any] = {
        "summarizer": Summarizer(backend=_LimitedBackend(base, concurrency), **options),
        "settings": _Settings(
            allow_private=allow_private, allowed_hosts=tuple(allowed_hosts),
            user_agent=user_agent, timeout=timeout or DEFAULT_TIMEOUT,
            respect_robots=respect_robots, per_host=per_host,
        ),
        "hosts": defaultdict(lambda: asyncio.Semaphore(per_host)),
    }
    totals = {"done": 0, "failed": 0, "calls": 0, "tokens": 0}
    queue: asyncio.Queue[Item] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    limited: _LimitedBackend = context["summarizer"].backend
    async with limited.run_session():
        await _run_workers(queue, todo, context, totals, out_path, workers, progress)
    report = Report(
        out=str(out_path), inputs=len(items), skipped=len(items) - len(todo),
        wall_time=round(time.perf_counter() - started, 3), **totals,
    )
    Path(str(out_path) + ".report.json").write_text(
        json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return report


async def _run_workers(
    queue: asyncio.Queue[Item],
    todo: list[Item],
    context: dict[str, Any],
    totals: dict[str, int],
    out_path: Path,
    workers: int,
    progress: IO[str] | None,
) -> None:
    with out_path.open("a", encoding="utf-8") as handle:

        async def worker() -> None:
            while True:
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                rows = [{"id": item.id, "source": item.source, "url": item.url,
                         "path": item.path, "text": item.text, "title": None}]
                for stage in (fetch_stage, extract_stage, summarize_stage):
                    rows = await stage(rows, context)
                write_rows(rows, handle)
                for row in rows:
                    if row.get("error"):
                        totals["failed"] += 1
                    else:
                        totals["done"] += 1
                        totals["calls"] += row["stats"]["calls"]
                        totals["tokens"] += row["stats"]["tokens"]
                if progress is not None:
                    count = totals["done"] + totals["failed"]
                    if count % 100 == 0 or count == len(todo):
                        print(f"corpus: {count}/{len(todo)} rows", file=progress)

        await asyncio.gather(*(worker() for _ in range(min(workers, max(1, len(todo))))))


def digest(source: str | Path, out: str | Path, **options: Any) -> Report:
    """Summarize every input of ``source`` into the JSON Lines file ``out``.

    Args:
        source: A folder, a glob, a ``.txt`` file of URLs (one per line), or a ``.jsonl``,
            ``.csv`` or ``.parquet`` table with a text or URL column.
        out: The JSON Lines output; existing rows are kept and their inputs skipped.
        **options: Those of :func:`adigest`: ``concurrency`` (model calls in flight for
            the whole run), ``workers`` (documents in progress), ``backend``,
            ``instruction``, ``language``, ``target_tokens``, the column names, and the
            fetch options ``allow_private``, ``allowed_hosts``, ``user_agent``,
            ``timeout``, ``respect_robots``, ``per_host``, and ``cache`` (that of
            :class:`summarizer.Summarizer`: ``False`` disables the response cache).

    Returns:
        A :class:`Report`; it is also written to ``out + ".report.json"``.

    Raises:
        CorpusInputError: the input cannot be read (the message says how to fix it).
        ImportError: a Parquet input without pyarrow installed.
    """
    return asyncio.run(adigest(source, out, **options))


def print_report(report: Report, stream: IO[str] | None = None) -> None:
    """One line of run totals, to ``stream`` (stderr by default)."""
    print(
        f"corpus: {report.done} done, {report.failed} failed, {report.skipped} skipped; "
        f"{report.calls} calls, {report.tokens} tokens, {report.wall_time:.1f}s -> {report.out}",
        file=stream if stream is not None else sys.stderr,
    )
