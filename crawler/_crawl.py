"""Many pages at once: :func:`fetch_many` and the breadth-first site crawler :func:`crawl`.

:func:`crawl` is written once, asynchronously (:func:`acrawl`), and driven on a
private event loop in a helper thread; :func:`fetch_many` runs blocking fetches on
a pool of worker threads (faster than httpx's asyncio pool). Both work where an
event loop is already running (Jupyter), and Ctrl-C in the calling thread cancels
the requests in flight before it propagates.

Crawl order and politeness:

* Breadth-first: the start page (depth 0), then the links it holds (depth 1), then
  the site's sitemap entries (depth 1), then the links of depth-1 pages (depth 2)...
  Results are yielded as they arrive, so with ``concurrency > 1`` pages of the same
  depth may come in any order.
* Scope: by default only the start URL's site is crawled (its host, ``www.`` of it,
  and its subdomains); ``include``/``exclude`` patterns narrow it further, and
  ``same_site=False`` lifts the host limit. The start URL is always fetched.
* Politeness per host: at most ``concurrency`` requests in flight and at least
  ``delay`` seconds between the starts of two requests; a robots.txt ``Crawl-delay``
  raises the delay (up to :data:`MAX_CRAWL_DELAY`).
* With ``respect_robots`` (the default), links that robots.txt disallows are not
  queued (logged at INFO); a disallowed start URL is yielded as a
  :class:`~crawler.errors.DisallowedByRobots` error.
* Every URL is fetched at most once, after :func:`~crawler._urls.normalize_url`;
  a page whose final URL (after redirects) was already yielded is dropped as a
  duplicate and does not count against ``max_pages``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from ._extract import DEFAULT_OUTPUT_FORMAT, OUTPUT_FORMATS, OutputFormat, document_from_page
from ._fetch import Fetcher
from ._models import Document, Page
from ._robots import MAX_CRAWL_DELAY
from ._sitemap import MAX_SITEMAP_BYTES, parse_sitemap
from ._sync import amap_threads, iterate_sync, map_threads, run_sync
from ._urls import Patterns, compile_patterns, extract_links, in_site, normalize_url, site_root
from .errors import CrawlerError, InvalidURL

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_CRAWL_CONCURRENCY",
    "DEFAULT_DELAY",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_PAGES",
    "MAX_CRAWL_DELAY",
    "MAX_SITEMAP_FILES",
    "CrawlResult",
    "FetchResult",
    "acrawl",
    "afetch_many",
    "crawl",
    "fetch_many",
]

logger = logging.getLogger(__name__)

#: fetch_many: requests in flight at once.
DEFAULT_CONCURRENCY = 8
#: crawl: requests in flight at once per host.
DEFAULT_CRAWL_CONCURRENCY = 2
#: crawl: minimum seconds between the starts of two requests to one host.
DEFAULT_DELAY = 0.5
#: crawl: pages yielded at most.
DEFAULT_MAX_PAGES = 100
#: crawl: link hops from the start page at most.
DEFAULT_MAX_DEPTH = 3
#: Sitemap files (indexes included) read per crawl at most.
MAX_SITEMAP_FILES = 20
#: Decoded bytes read of one sitemap: this much, plus the next figure per URL wanted.
SITEMAP_BYTES_BASE = 256 * 1024
SITEMAP_BYTES_PER_URL = 2 * 1024
# Requests in flight over all hosts at once; per-host limits apply below it.
_MAX_IN_FLIGHT = 32

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

T = TypeVar("T")


@dataclass(frozen=True)
class FetchResult:
    """The outcome of fetching one URL of a batch: the page, or the error."""

    url: str
    page: Page | None = None
    error: CrawlerError | None = None

    @property
    def ok(self) -> bool:
        """Whether the page was fetched."""
        return self.error is None


@dataclass(frozen=True)
class CrawlResult:
    """One crawled URL: the page and its extracted document, or the error.

    ``error`` is set when the fetch failed (``page`` is then ``None``) or when the
    page was fetched but no text could be extracted from it (``page`` is set,
    ``document`` is ``None``). ``links`` are all the links found on an HTML page
    (normalised, unique, in document order), whether or not they were in scope.
    ``skipped_links`` counts the links of this page that the crawl did not queue,
    by reason: ``"off_site"`` (another site, with ``same_site=True``),
    ``"excluded"`` (``include``/``exclude`` patterns), ``"robots"`` (robots.txt
    disallows them) and ``"frontier_full"``; links already seen are not counted.
    A link to an internal address is queued and fails as a ``BlockedAddress``
    result of its own.
    """

    url: str
    depth: int
    page: Page | None = None
    document: Document | None = None
    error: CrawlerError | None = None
    referrer: str | None = None
    links: tuple[str, ...] = ()
    skipped_links: Mapping[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the page was fetched and its text extracted."""
        return self.error is None

    @property
    def final_url(self) -> str:
        """Where the URL led after redirects (the URL itself when the fetch failed)."""
        return self.page.final_url if self.page is not None else self.url


# -- fetch_many ----------------------------------------------------------------------------


def fetch_many(
    urls: Iterable[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    **fetch_options: Any,
) -> list[FetchResult]:
    """Fetch many URLs concurrently; one result per URL, in input order.

    The fetches run on ``concurrency`` worker threads, each with its own
    connection pool (an injected async-only ``transport`` uses the asyncio path
    of :func:`afetch_many` instead). Ctrl-C drops the URLs not started, cuts
    the requests in flight and re-raises ``KeyboardInterrupt``.

    Args:
        urls: The URLs (any iterable of strings, duplicates fetched again).
        concurrency: Requests in flight at once.
        **fetch_options: Options of :func:`crawler.fetch` (``user_agent``,
            ``timeout``, ``max_bytes``, ``allow_private``, ``respect_robots``...),
            shared by all requests (one connection pool).

    Returns:
        A list of :class:`FetchResult`; a URL that failed carries its
        :class:`~crawler.errors.CrawlerError` instead of a page. Nothing is raised
        for a single URL's failure.

    Raises:
        TypeError, ValueError: Bad arguments (a bare string for ``urls``, a
            non-positive ``concurrency``, an unknown option).
    """
    url_list = _url_list(urls)
    _check_positive_int("concurrency", concurrency)
    fetcher = Fetcher(**fetch_options)
    if not _threaded(fetch_options):
        return run_sync(lambda: _fetch_all(fetcher, url_list, concurrency))
    # Blocking fetches on worker threads: same guard, deadline and limits as
    # afetch, and several times the throughput of httpx's asyncio pool.
    with fetcher:
        return map_threads(
            functools.partial(_fetch_one, fetcher),
            url_list,
            workers=concurrency,
            abort=fetcher.abort,
            name="crawler-fetch",
        )


def _threaded(fetch_options: dict[str, Any]) -> bool:
    """Whether the fetches can run on worker threads (not with an async-only transport)."""
    transport = fetch_options.get("transport")
    return transport is None or isinstance(transport, httpx.BaseTransport)


def _fetch_one(fetcher: Fetcher, url: str) -> FetchResult:
    try:
        return FetchResult(url, page=fetcher.fetch(url))
    except CrawlerError as exc:
        logger.debug("fetch_many: %s failed: %s", url, exc)
        return FetchResult(url, error=exc)


async def afetch_many(
    urls: Iterable[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    **fetch_options: Any,
) -> list[FetchResult]:
    """Async :func:`fetch_many`: the event loop awaits the worker threads.

    Cancelling the call drops the URLs not started and cuts the requests in flight.
    """
    url_list = _url_list(urls)
    _check_positive_int("concurrency", concurrency)
    fetcher = Fetcher(**fetch_options)
    if not _threaded(fetch_options):
        return await _fetch_all(fetcher, url_list, concurrency)
    async with fetcher:
        return await amap_threads(
            functools.partial(_fetch_one, fetcher),
            url_list,
            workers=concurrency,
            abort=fetcher.abort,
            name="crawler-fetch",
        )


async def _fetch_all(fetcher: Fetcher, urls: list[str], concurrency: int) -> list[FetchResult]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(url: str) -> FetchResult:
        async with semaphore:
            try:
                return FetchResult(url, page=await fetcher.afetch(url))
            except CrawlerError as exc:
                logger.debug("fetch_many: %s failed: %s", url, exc)
                return FetchResult(url, error=exc)

    async with fetcher:
        tasks = [asyncio.ensure_future(one(url)) for url in urls]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            await _cancel_all(tasks)


def _url_list(urls: Iterable[str]) -> list[str]:
    if isinstance(urls, (str, bytes)):
        raise TypeError("urls must be a list of URLs, not a single string; wrap it: [url]")
    url_list = list(urls)
    for url in url_list:
        if not isinstance(url, str):
            raise TypeError(f"every URL must be a str, not {type(url).__name__}")
    return url_list


# -- crawl ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _CrawlSettings:
    """The crawl policy, validated once."""

    max_pages: int = DEFAULT_MAX_PAGES
    max_depth: int = DEFAULT_MAX_DEPTH
    include: tuple[Callable[[str], bool], ...] = ()
    exclude: tuple[Callable[[str], bool], ...] = ()
    same_site: bool = True
    concurrency: int = DEFAULT_CRAWL_CONCURRENCY
    delay: float = DEFAULT_DELAY
    respect_robots: bool = True
    use_sitemap: bool = True
    follow_nofollow: bool = False
    sort_query: bool = True
    output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT
    extract: bool = True


def crawl(
    start_url: str,
    *,
    max_pages: int = DEFAULT_MAX_PAGES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    include: Patterns = None,
    exclude: Patterns = None,
    same_site: bool = True,
    concurrency: int = DEFAULT_CRAWL_CONCURRENCY,
    delay: float = DEFAULT_DELAY,
    respect_robots: bool = True,
    use_sitemap: bool = True,
    follow_nofollow: bool = False,
    sort_query: bool = True,
    output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
    extract: bool = True,
    **fetch_options: Any,
) -> Iterator[CrawlResult]:
    """Crawl a site breadth-first, yielding each page's result as it arrives.

    Args:
        start_url: Where to start (depth 0); always fetched.
        max_pages: Stop after yielding this many results (errors included).
        max_depth: Follow links at most this many hops from the start page
            (0: the start page only).
        include: URL patterns, one of which a URL must match to be queued: a glob
            against the whole URL (``"https://example.com/docs/*"``), a glob starting
            with ``/`` against the path and query (``"/docs/*"``), ``"re:<regex>"``
            or a compiled regex searched in the URL. One pattern or a list.
        exclude: URL patterns (same forms) that keep a URL out of the queue.
        same_site: Only queue URLs on the start URL's host, its ``www.`` twin and
            its subdomains.
        concurrency: Requests in flight at once per host.
        delay: Minimum seconds between the starts of two requests to one host;
            robots.txt ``Crawl-delay`` raises it.
        respect_robots: Obey robots.txt (``Disallow`` and ``Crawl-delay``).
        use_sitemap: Also queue the URLs of the site's sitemaps (robots.txt
            ``Sitemap:`` lines, else ``/sitemap.xml``; sitemap indexes followed).
        follow_nofollow: Also follow ``rel="nofollow"`` links and the links of pages
            whose ``<meta name="robots">`` says ``nofollow``.
        sort_query: Sort query parameters when normalising URLs (for de-duplication).
        output_format: ``"markdown"`` or ``"text"`` for the extracted documents.
        extract: Extract a :class:`~crawler.Document` from each page (set ``False``
            to get pages only).
        **fetch_options: Options of :func:`crawler.fetch` (``user_agent``,
            ``timeout``, ``max_bytes``, ``allow_private``, ``headers``...).

    Yields:
        :class:`CrawlResult` values. A page that fails yields a result carrying the
        error; nothing is raised for a single page. Closing the generator (or
        Ctrl-C) cancels the requests in flight.

    Raises:
        InvalidURL: ``start_url`` is not an http(s) URL.
        ValueError, TypeError: Bad options (raised by this call, before crawling).
    """
    settings, start, fetcher = _prepare(
        start_url,
        dict(
            max_pages=max_pages,
            max_depth=max_depth,
            include=include,
            exclude=exclude,
            same_site=same_site,
            concurrency=concurrency,
            delay=delay,
            respect_robots=respect_robots,
            use_sitemap=use_sitemap,
            follow_nofollow=follow_nofollow,
            sort_query=sort_query,
            output_format=output_format,
            extract=extract,
        ),
        fetch_options,
    )
    return iterate_sync(lambda: _Crawler(start, settings, fetcher).run())


def acrawl(
    start_url: str,
    *,
    max_pages: int = DEFAULT_MAX_PAGES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    include: Patterns = None,
    exclude: Patterns = None,
    same_site: bool = True,
    concurrency: int = DEFAULT_CRAWL_CONCURRENCY,
    delay: float = DEFAULT_DELAY,
    respect_robots: bool = True,
    use_sitemap: bool = True,
    follow_nofollow: bool = False,
    sort_query: bool = True,
    output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
    extract: bool = True,
    **fetch_options: Any,
) -> AsyncGenerator[CrawlResult, None]:
    """Async :func:`crawl`: ``async for result in acrawl(url): ...``.

    Options are checked when called; the crawl starts on the first iteration.
    Close it early with ``await gen.aclose()`` (or leave the ``async for``).
    """
    settings, start, fetcher = _prepare(
        start_url,
        dict(
            max_pages=max_pages,
            max_depth=max_depth,
            include=include,
            exclude=exclude,
            same_site=same_site,
            concurrency=concurrency,
            delay=delay,
            respect_robots=respect_robots,
            use_sitemap=use_sitemap,
            follow_nofollow=follow_nofollow,
            sort_query=sort_query,
            output_format=output_format,
            extract=extract,
        ),
        fetch_options,
    )
    return _Crawler(start, settings, fetcher).run()


def _prepare(
    start_url: str, options: dict[str, Any], fetch_options: dict[str, Any]
) -> tuple[_CrawlSettings, str, Fetcher]:
    _check_positive_int("max_pages", options["max_pages"])
    _check_positive_int("concurrency", options["concurrency"])
    max_depth = options["max_depth"]
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0:
        raise ValueError(f"max_depth must be an integer >= 0, not {max_depth!r}")
    delay = options["delay"]
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not delay >= 0:
        raise ValueError(f"delay must be a number of seconds >= 0, not {delay!r}")
    if options["output_format"] not in OUTPUT_FORMATS:
        raise ValueError(
            f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, "
            f"not {options['output_format']!r}"
        )
    settings = _CrawlSettings(
        **{
            **options,
            "delay": float(delay),
            "include": tuple(compile_patterns(options["include"], option="include")),
            "exclude": tuple(compile_patterns(options["exclude"], option="exclude")),
        }
    )
    start = normalize_url(start_url, sort_query=settings.sort_query)
    fetcher = Fetcher(respect_robots=settings.respect_robots, **fetch_options)
    return settings, start, fetcher


class _HostGate:
    """Per-host politeness: a concurrency limit and a minimum interval between starts."""

    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._next_start: dict[str, float] = {}

    async def run(self, host: str, delay: float, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` once a slot for ``host`` is free and its interval has passed."""
        slot = self._slots.setdefault(host, asyncio.Semaphore(self._concurrency))
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with slot:
            async with lock:
                loop = asyncio.get_running_loop()
                wait = self._next_start.get(host, 0.0) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                # From the moment this request really starts: a sleep that overran
                # on a busy loop must not bring the next start closer.
                self._next_start[host] = loop.time() + delay
            return await work()


_DUPLICATE = object()


class _Crawler:
    """State of one crawl: the frontier, what was seen and fetched, tasks in flight."""

    def __init__(self, start: str, settings: _CrawlSettings, fetcher: Fetcher) -> None:
        self.start = start
        self.settings = settings
        self.fetcher = fetcher
        self.roots = {site_root(start)}
        # Frontier entries past this are never fetched (max_pages is reached first).
        self.frontier_cap = 2 * settings.max_pages + 100
        self.frontier: deque[tuple[str, int, str | None]] = deque()
        self.seen: set[str] = set()
        self.fetched: set[str] = set()
        self.gate = _HostGate(settings.concurrency)
        self._delays: dict[str, float] = {}

    # -- scope

    def unwanted(self, url: str) -> str | None:
        """Why a discovered URL may not be queued (scope and patterns; not robots), if so."""
        s = self.settings
        if s.same_site and not any(in_site(url, root) for root in self.roots):
            return "off_site"
        if s.include and not any(match(url) for match in s.include):
            return "excluded"
        return "excluded" if any(match(url) for match in s.exclude) else None

    async def enqueue(
        self, urls: Iterable[str], depth: int, referrer: str | None
    ) -> dict[str, int]:
        """Queue the URLs that may be followed; return how many were not, by reason."""
        skipped: dict[str, int] = {}
        candidates: list[str] = []
        room = self.frontier_cap - len(self.frontier)
        pending = list(urls)
        for index, url in enumerate(pending):
            if url in self.seen:
                continue
            reason = self.unwanted(url)
            if reason is not None:
                logger.debug("Not following %s: %s", url, reason)
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            if len(candidates) >= room:
                logger.debug("Frontier full (%d URLs): not queueing %s", self.frontier_cap, url)
                rest = {u for u in pending[index:] if u not in self.seen}
                skipped["frontier_full"] = skipped.get("frontier_full", 0) + len(rest)
                break
            self.seen.add(url)
            candidates.append(url)
        allowed = await self.robots_verdicts(candidates)
        for url in candidates:
            if allowed.get(url, True):
                self.frontier.append((url, depth, referrer))
            else:
                logger.info("Skipping %s: disallowed by robots.txt", url)
                skipped["robots"] = skipped.get("robots", 0) + 1
        return skipped

    # -- robots and politeness

    async def robots_verdicts(self, urls: list[str]) -> dict[str, bool]:
        """Whether robots.txt allows each URL; the origins' files are read concurrently.

        One slow or hanging robots.txt costs at most its fetch deadline, once,
        whatever the number of hosts linked: each origin is checked in its own
        task, and an origin whose file could not be read is not asked again
        (the fetch of each page will say why it failed).
        """
        if not self.settings.respect_robots or not urls:
            return {}
        by_origin: dict[str, list[str]] = {}
        for url in urls:
            parts = urlsplit(url)
            by_origin.setdefault(f"{parts.scheme}://{parts.netloc}", []).append(url)

        async def origin_verdicts(group: list[str]) -> dict[str, bool]:
            verdicts: dict[str, bool] = {}
            for url in group:
                try:
                    verdicts[url] = await self.fetcher.robots.aallowed(url)
                except CrawlerError as exc:  # robots.txt unreachable: allow the origin
                    logger.debug("robots.txt check for %s failed: %s", url, exc)
                    return {**verdicts, **dict.fromkeys(group[len(verdicts) :], True)}
            return verdicts

        found: dict[str, bool] = {}
        for verdicts in await asyncio.gather(*map(origin_verdicts, by_origin.values())):
            found.update(verdicts)
        return found

    async def host_delay(self, url: str) -> float:
        host = urlsplit(url).netloc
        if host in self._delays:
            return self._delays[host]
        delay = self.settings.delay
        if self.settings.respect_robots:
            try:
                crawl_delay = await self.fetcher.robots.acrawl_delay(url)
            except CrawlerError:
                crawl_delay = None
            if crawl_delay is not None:
                if crawl_delay > MAX_CRAWL_DELAY:
                    logger.warning(
                        "robots.txt of %s asks for Crawl-delay %.0f s; using %.0f s",
                        host,
                        crawl_delay,
                        MAX_CRAWL_DELAY,
                    )
                delay = max(delay, min(float(crawl_delay), MAX_CRAWL_DELAY))
        self._delays[host] = delay
        return delay

    async def polite_fetch(self, url: str) -> Page:
        delay = await self.host_delay(url)
        return await self.gate.run(urlsplit(url).netloc, delay, lambda: self.fetcher.afetch(url))

    # -- one page

    async def visit(self, url: str, depth: int, referrer: str | None) -> CrawlResult | object:
        try:
            page = await self.polite_fetch(url)
        except CrawlerError as exc:
            logger.info("Failed %s: %s", url, exc)
            return CrawlResult(url, depth, error=exc, referrer=referrer)
        try:
            final = normalize_url(page.final_url, sort_query=self.settings.sort_query)
        except InvalidURL:
            final = url
        if final in self.fetched:
            logger.debug("Dropping %s: it redirected to %s, already crawled", url, final)
            return _DUPLICATE
        self.fetched.add(final)
        self.fetched.add(url)
        self.seen.add(final)
        return await asyncio.to_thread(self._digest, url, depth, referrer, page)

    def _digest(self, url: str, depth: int, referrer: str | None, page: Page) -> CrawlResult:
        """Extract the document and the links of a fetched page (CPU work, off the loop)."""
        links: tuple[str, ...] = ()
        if _media_type(page.content_type) in _HTML_TYPES:
            links = tuple(
                extract_links(
                    page.text,
                    page.final_url,
                    follow_nofollow=self.settings.follow_nofollow,
                    sort_query=self.settings.sort_query,
                )
            )
        document = None
        error: CrawlerError | None = None
        if self.settings.extract:
            try:
                document = document_from_page(page, output_format=self.settings.output_format)
            except CrawlerError as exc:
                logger.info("No text extracted from %s: %s", url, exc)
                error = exc
        return CrawlResult(
            url, depth, page=page, document=document, error=error, referrer=referrer, links=links
        )

    # -- sitemaps

    async def sitemap_urls(self) -> list[str]:
        """URLs listed by the start site's sitemaps (robots.txt ``Sitemap:`` or /sitemap.xml)."""
        parts = urlsplit(self.start)
        origin = f"{parts.scheme}://{parts.netloc}"
        listed: list[str] = []
        try:
            rules = await self.fetcher.robots.arules(self.start)
            if rules.parser is not None:
                listed = list(rules.parser.site_maps() or [])
        except CrawlerError as exc:
            logger.debug("No robots.txt sitemaps for %s: %s", origin, exc)
        implicit = not listed
        queue = deque(listed or [origin + "/sitemap.xml"])
        done: set[str] = set()
        urls: list[str] = []
        cap = self.settings.max_pages * 4
        while queue and len(done) < MAX_SITEMAP_FILES and len(urls) < cap:
            location = queue.popleft()
            if location in done:
                continue
            done.add(location)
            try:
                page = await self.polite_fetch(location)
                # Read only what the crawl can use: a 50 MiB sitemap is not inflated
                # nor parsed whole when 20 URLs will do.
                want = max(cap - len(urls), MAX_SITEMAP_FILES)
                sitemap = await asyncio.to_thread(
                    parse_sitemap,
                    page.content,
                    url=page.final_url,
                    max_urls=want,
                    max_bytes=min(
                        MAX_SITEMAP_BYTES, SITEMAP_BYTES_BASE + want * SITEMAP_BYTES_PER_URL
                    ),
                )
            except CrawlerError as exc:
                log = logger.debug if implicit else logger.warning
                log("Sitemap %s not used: %s", location, exc)
                continue
            queue.extend(sitemap.sitemaps)
            for loc in sitemap.urls:
                try:
                    urls.append(normalize_url(loc, sort_query=self.settings.sort_query))
                except InvalidURL:
                    logger.debug("Sitemap %s: skipping invalid URL %r", location, loc)
        return urls[:cap]

    # -- the loop

    async def run(self) -> AsyncGenerator[CrawlResult, None]:
        """Crawl; yield results as they arrive; cancel everything on close."""
        s = self.settings
        self.seen.add(self.start)
        self.frontier.append((self.start, 0, None))
        in_flight: dict[asyncio.Task[Any], int] = {}
        sitemap_task: asyncio.Task[list[str]] | None = None
        order = 0
        started = 0
        yielded = 0
        try:
            async with self.fetcher:
                if s.use_sitemap and s.max_depth >= 1 and s.max_pages > 1:
                    sitemap_task = asyncio.ensure_future(self.sitemap_urls())
                while True:
                    while (
                        self.frontier and started < s.max_pages and len(in_flight) < _MAX_IN_FLIGHT
                    ):
                        url, depth, referrer = self.frontier.popleft()
                        task = asyncio.ensure_future(self.visit(url, depth, referrer))
                        in_flight[task] = order
                        order += 1
                        started += 1
                    if not in_flight:
                        if sitemap_task is not None:
                            await self._add_sitemap(sitemap_task)
                            sitemap_task = None
                            continue
                        return
                    done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    for task in sorted(done, key=in_flight.__getitem__):
                        del in_flight[task]
                        result = task.result()
                        if not isinstance(result, CrawlResult):
                            started -= 1  # a duplicate frees its slot
                            continue
                        if result.depth == 0 and result.page is not None:
                            # The start URL may redirect to another host: that is the site.
                            self.roots.add(site_root(result.page.final_url))
                        if result.links and result.depth < s.max_depth:
                            skipped = await self.enqueue(result.links, result.depth + 1, result.url)
                            if skipped:
                                result = replace(result, skipped_links=skipped)
                        if result.depth == 0 and sitemap_task is not None:
                            await self._add_sitemap(sitemap_task)
                            sitemap_task = None
                        yield result
                        yielded += 1
                        if yielded >= s.max_pages:
                            return
        finally:
            pending = list(in_flight)
            if sitemap_task is not None:
                pending.append(sitemap_task)
            await _cancel_all(pending)

    async def _add_sitemap(self, task: asyncio.Task[list[str]]) -> None:
        try:
            urls = await task
        except CrawlerError as exc:  # pragma: no cover - sitemap_urls catches its own
            logger.warning("Sitemaps not used: %s", exc)
            return
        await self.enqueue(urls, 1, None)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, not {value!r}")


async def _cancel_all(tasks: Iterable[asyncio.Future[Any]]) -> None:
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
