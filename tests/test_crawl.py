"""Tests for crawler.fetch_many / afetch_many and crawl / acrawl against a real local site."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from site_server import Site

from crawler import (
    CrawlResult,
    DisallowedByRobots,
    HTTPStatusError,
    InvalidURL,
    acrawl,
    afetch_many,
    crawl,
    fetch_many,
)
from crawler._crawl import _HostGate

LOCAL = {"allow_private": True}
FAST = {"allow_private": True, "delay": 0.0}


def _page(title: str, *links: str, extra: str = "") -> str:
    anchors = " ".join(f'<a href="{href}">{href}</a>' for href in links)
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>This is the page called {title}. It has enough words to be extracted as the "
        f"main content of the page by the extractor.</p>{extra}<p>{anchors}</p></article>"
        "</body></html>"
    )


def _build(site: Site, *, robots: bool = True, sitemap: bool = True) -> None:
    site.add(
        "/",
        _page(
            "Home",
            "/a",
            "/b",
            "/c?utm_source=newsletter",
            "/a#again",
            "http://localhost:1/elsewhere",
            "/private/secret",
            "/logo.png",
            extra='<a rel="nofollow" href="/nofollow">nf</a><a href="mailto:x@example.org">m</a>',
        ),
    )
    site.add("/a", _page("A", "/a/deep", "/b", "/"))
    site.add("/b", _page("B", "/b/deep", "/missing"))
    site.add("/c", _page("C", "/old-a"))
    site.redirect("/old-a", "/a")
    site.add("/a/deep", _page("A deep", "/a/deeper"))
    site.add("/a/deeper", _page("A deeper"))
    site.add("/b/deep", _page("B deep"))
    site.add("/private/secret", _page("Secret"))
    site.add("/nofollow", _page("Nofollow"))
    site.add("/from-sitemap", _page("From sitemap", "/from-sitemap/child"))
    site.add("/from-sitemap/child", _page("Sitemap child"))
    if robots:
        lines = ["User-agent: *", "Disallow: /private/"]
        if sitemap:
            lines.append(f"Sitemap: {site.url('/sitemap_index.xml')}")
        site.add("/robots.txt", "\n".join(lines) + "\n", content_type="text/plain")
    if sitemap:
        site.add(
            "/sitemap_index.xml",
            f"<sitemapindex><sitemap><loc>{site.url('/pages.xml')}</loc></sitemap></sitemapindex>",
            content_type="application/xml",
        )
        site.add(
            "/pages.xml",
            "<urlset>"
            + "".join(
                f"<url><loc>{site.url(p)}</loc></url>" for p in ("/", "/from-sitemap", "/a")
            )
            + "</urlset>",
            content_type="application/xml",
        )


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        _build(server)
        yield server


def _paths(site: Site, results: list[CrawlResult]) -> list[str]:
    return [result.url.removeprefix(site.origin) for result in results]


# -- fetch_many ----------------------------------------------------------------------------


def test_fetch_many_keeps_input_order_and_carries_errors() -> None:
    with Site() as site:
        for i, delay in enumerate([0.3, 0.0, 0.2, 0.0]):
            site.add(f"/p{i}", f"page {i}", content_type="text/plain", delay=delay)
        urls = [site.url(f"/p{i}") for i in range(4)]
        urls[1:1] = [site.url("/missing"), "ftp://example.org/file"]
        results = fetch_many(urls, concurrency=4, **LOCAL)
    assert [r.url for r in results] == urls
    assert [r.ok for r in results] == [True, False, False, True, True, True]
    assert isinstance(results[1].error, HTTPStatusError) and results[1].page is None
    assert isinstance(results[2].error, InvalidURL)
    assert [r.page.text for r in results if r.page] == [f"page {i}" for i in range(4)]


def test_fetch_many_bounds_concurrency() -> None:
    with Site() as site:
        for i in range(6):
            site.add(f"/slow{i}", "slow", content_type="text/plain", delay=0.15)
        start = time.monotonic()
        results = fetch_many([site.url(f"/slow{i}") for i in range(6)], concurrency=2, **LOCAL)
        elapsed = time.monotonic() - start
        assert all(r.ok for r in results)
        assert site.max_in_flight == 2
    assert elapsed >= 3 * 0.15


def test_afetch_many_and_fetch_options() -> None:
    with Site() as site:
        site.add("/x", "x", content_type="text/plain")
        results = asyncio.run(
            afetch_many([site.url("/x")] * 3, user_agent="ManyBot/1.0", **LOCAL)
        )
        assert [r.ok for r in results] == [True, True, True]
        assert {seen.headers["User-Agent"] for seen in site.requests} == {"ManyBot/1.0"}
        blocked = fetch_many([site.url("/x")])  # loopback refused without allow_private
        assert type(blocked[0].error).__name__ == "BlockedAddress"


def test_fetch_many_and_crawl_with_an_injected_transport() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["host"] + request.url.path)  # the URL holds the pinned IP
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        body = '<html><body><p>Mock page with words enough.</p><a href="/next">n</a></body></html>'
        return httpx.Response(200, html=body)

    network = {
        "transport": httpx.MockTransport(handler),
        "resolver": lambda host: ["93.184.216.34"],
    }
    [result] = fetch_many(["https://mock.example/"], **network)
    assert result.ok and "Mock page" in result.page.text  # type: ignore[union-attr]
    results = list(crawl("https://mock.example/", use_sitemap=False, delay=0, **network))
    assert [r.url for r in results] == ["https://mock.example/", "https://mock.example/next"]
    assert seen[-3:] == ["mock.example/robots.txt", "mock.example/", "mock.example/next"]


def test_fetch_many_with_an_async_only_transport() -> None:
    class AsyncOnly(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, text="async " + request.headers["host"])

    urls = ["https://one.example/", "https://two.example/"]
    results = fetch_many(urls, transport=AsyncOnly(), resolver=lambda host: ["93.184.216.34"])
    assert [r.page.text for r in results if r.page] == ["async one.example", "async two.example"]


def _fetch_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("crawler-fetch"))


def test_fetch_many_runs_on_worker_threads_and_leaves_none_behind() -> None:
    with Site() as site:
        site.add("/x", "x", content_type="text/plain")
        results = fetch_many([site.url("/x")] * 20, concurrency=4, **LOCAL)
    assert all(r.ok for r in results) and len(results) == 20
    assert _fetch_threads() == 0


def test_ctrl_c_cancels_fetch_many_and_its_requests_in_flight() -> None:
    with Site() as site:
        for i in range(8):
            site.add(f"/slow{i}", "slow", content_type="text/plain", delay=30)
        urls = [site.url(f"/slow{i}") for i in range(8)]
        timer = threading.Timer(0.5, _thread.interrupt_main)  # what Ctrl-C does
        timer.start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            fetch_many(urls, concurrency=4, **LOCAL)
        timer.join()
        elapsed = time.monotonic() - start
        assert elapsed < 5  # the 30 s requests were cut, not awaited
        assert len(site.requests) <= 4  # queued URLs were never requested
    assert _fetch_threads() == 0


def test_cancelling_afetch_many_cuts_its_requests_in_flight() -> None:
    async def scenario(urls: list[str]) -> float:
        task = asyncio.ensure_future(afetch_many(urls, concurrency=3, **LOCAL))
        await asyncio.sleep(0.5)
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - start

    with Site() as site:
        for i in range(6):
            site.add(f"/slow{i}", "slow", content_type="text/plain", delay=30)
        elapsed = asyncio.run(scenario([site.url(f"/slow{i}") for i in range(6)]))
        assert elapsed < 3 and len(site.requests) <= 3
    assert _fetch_threads() == 0


@pytest.mark.parametrize(
    ("urls", "options", "error", "message"),
    [
        ("https://example.org/", {}, TypeError, "not a single string"),
        ([b"https://example.org/"], {}, TypeError, "must be a str"),
        (["https://example.org/"], {"concurrency": 0}, ValueError, "concurrency"),
        (["https://example.org/"], {"timeout": -1}, ValueError, "timeout"),
    ],
    ids=["bare-string", "bytes", "zero-concurrency", "bad-option"],
)
def test_fetch_many_rejects_misuse(
    urls: object, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        fetch_many(urls, **options)  # type: ignore[arg-type]


# -- crawl ---------------------------------------------------------------------------------


def test_crawl_is_breadth_first_and_scoped(site: Site) -> None:
    results = list(crawl(site.url("/"), max_depth=2, concurrency=1, **FAST))
    depths = {
        "/": 0,
        "/a": 1,
        "/b": 1,
        "/c": 1,
        "/from-sitemap": 1,
        "/a/deep": 2,
        "/b/deep": 2,
        "/missing": 2,
        "/from-sitemap/child": 2,
    }
    paths = _paths(site, results)
    assert sorted(paths) == sorted(depths)
    assert paths[0] == "/"
    assert {path: r.depth for path, r in zip(paths, results, strict=True)} == depths
    # with one request at a time the fetches go level by level, each level in link order
    fetched = list(dict.fromkeys(p for p in site.paths() if p in depths))  # first requests
    assert [depths[p] for p in fetched] == sorted(depths[p] for p in fetched)
    assert fetched[:5] == ["/", "/a", "/b", "/c", "/from-sitemap"]
    by_path = dict(zip(_paths(site, results), results, strict=True))
    assert by_path["/c"].referrer == site.url("/")
    assert by_path["/a"].document is not None and by_path["/a"].document.title == "A"
    missing = by_path["/missing"]
    assert not missing.ok and isinstance(missing.error, HTTPStatusError)
    assert missing.referrer == site.url("/b")
    requested = site.paths()
    # never fetched: robots-disallowed, nofollow, other host, images, depth 3
    for path in ("/private/secret", "/nofollow", "/logo.png", "/a/deeper"):
        assert path not in requested
    # /old-a redirects to /a, already crawled: followed once, then dropped as a duplicate
    assert requested.count("/old-a") == 1 and "/old-a" not in _paths(site, results)
    assert requested.count("/a") == 2
    assert requested.count("/") == 1


def test_crawl_dedups_final_urls_after_redirects(site: Site) -> None:
    results = list(crawl(site.url("/c"), max_depth=1, concurrency=1, use_sitemap=False, **FAST))
    assert _paths(site, results) == ["/c", "/old-a"]
    assert results[1].final_url == site.url("/a")
    more = list(crawl(site.url("/c"), max_depth=2, concurrency=1, use_sitemap=False, **FAST))
    assert "/a" not in _paths(site, more)  # /a is /old-a's final URL: not crawled twice


def test_crawl_follows_the_site_the_start_url_redirects_to(site: Site) -> None:
    moved = f"http://localhost:{site.port}/a"
    site.redirect("/moved", moved)
    results = list(crawl(site.url("/moved"), max_depth=1, use_sitemap=False, **FAST))
    assert results[0].final_url == moved
    finals = {result.final_url for result in results}
    assert f"http://localhost:{site.port}/a/deep" in finals


def test_crawl_max_pages_and_depth(site: Site) -> None:
    assert len(list(crawl(site.url("/"), max_pages=3, **FAST))) == 3
    assert _paths(site, list(crawl(site.url("/"), max_depth=0, **FAST))) == ["/"]
    deep = list(crawl(site.url("/"), max_depth=3, concurrency=1, **FAST))
    assert "/a/deeper" in _paths(site, deep)


def test_crawl_include_exclude(site: Site) -> None:
    only_a = list(crawl(site.url("/"), include="/a*", concurrency=1, **FAST))
    assert _paths(site, only_a) == ["/", "/a", "/a/deep", "/a/deeper"]
    no_deep = list(crawl(site.url("/"), exclude=["re:/deep"], concurrency=1, **FAST))
    assert not any("deep" in path for path in _paths(site, no_deep))
    assert "/b" in _paths(site, no_deep)


def test_crawl_ignore_robots_and_follow_nofollow(site: Site) -> None:
    results = list(
        crawl(site.url("/"), max_depth=1, respect_robots=False, follow_nofollow=True, **FAST)
    )
    paths = _paths(site, results)
    assert "/private/secret" in paths and "/nofollow" in paths


def test_crawl_start_url_disallowed_by_robots_is_an_error_result(site: Site) -> None:
    [result] = list(crawl(site.url("/private/secret"), max_depth=0, **FAST))
    assert isinstance(result.error, DisallowedByRobots)
    # with sitemaps, the crawl goes on from the sitemap's URLs
    results = list(crawl(site.url("/private/secret"), max_depth=1, concurrency=1, **FAST))
    paths = _paths(site, results)
    assert paths[0] == "/private/secret"
    assert sorted(paths[1:]) == ["/", "/a", "/from-sitemap"]
    assert "/private/secret" not in site.paths()


def test_crawl_reads_sitemap_xml_without_robots() -> None:
    with Site() as site:
        _build(site, robots=False, sitemap=False)
        site.add(
            "/sitemap.xml",
            f"<urlset><url><loc>{site.url('/from-sitemap')}</loc></url></urlset>",
            content_type="application/xml",
        )
        paths = _paths(site, list(crawl(site.url("/"), max_depth=1, concurrency=1, **FAST)))
        assert "/from-sitemap" in paths
        fetched = site.paths()
        assert "/sitemap.xml" in fetched
        # sitemap entries are queued after the start page's own links
        assert fetched.index("/from-sitemap") > max(fetched.index(p) for p in ("/a", "/b", "/c"))
        without = list(crawl(site.url("/"), max_depth=1, use_sitemap=False, **FAST))
        assert "/from-sitemap" not in _paths(site, without)


def test_crawl_user_agent_on_every_request(site: Site) -> None:
    list(crawl(site.url("/"), max_pages=4, user_agent="PoliteBot/1.0", **FAST))
    assert "/robots.txt" in site.paths()
    assert {seen.headers["User-Agent"] for seen in site.requests} == {"PoliteBot/1.0"}


def test_crawl_honours_robots_crawl_delay() -> None:
    with Site() as site:
        _build(site, sitemap=False)
        site.add("/robots.txt", "User-agent: *\nCrawl-delay: 2\n", content_type="text/plain")
        results = list(crawl(site.url("/"), max_pages=3, use_sitemap=False, **FAST))
        assert len(results) == 3
        starts = [seen.started for seen in site.requests if seen.path != "/robots.txt"]
    # The crawler spaces the starts of its requests; the server sees arrivals, which
    # connection set-up on a loaded machine can bring up to a few tenths closer.
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 1.7


def test_host_gate_spaces_request_starts() -> None:
    async def scenario() -> list[float]:
        gate = _HostGate(concurrency=4)
        loop = asyncio.get_running_loop()
        stamps: list[float] = []

        async def work() -> None:
            stamps.append(loop.time())

        await asyncio.gather(*(gate.run("h", 0.05, work) for _ in range(4)))
        return stamps

    stamps = asyncio.run(scenario())
    assert all(b - a >= 0.04 for a, b in zip(stamps, stamps[1:], strict=False))


def test_crawl_extract_false_and_text_format(site: Site) -> None:
    [bare] = list(crawl(site.url("/a"), max_depth=0, extract=False, **FAST))
    assert bare.ok and bare.document is None and bare.page is not None
    assert bare.links[:2] == (site.url("/a/deep"), site.url("/b"))
    [text] = list(crawl(site.url("/a"), max_depth=0, output_format="text", **FAST))
    assert text.document is not None and text.document.format == "text"


def test_sync_api_works_inside_a_running_event_loop(site: Site) -> None:
    async def notebook_cell() -> tuple[bool, int]:
        # like Jupyter: the synchronous API called where a loop is already running
        [result] = fetch_many([site.url("/a")], **LOCAL)
        pages = list(crawl(site.url("/a"), max_depth=0, **FAST))
        return result.ok, len(pages)

    assert asyncio.run(notebook_cell()) == (True, 1)


def _loop_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "crawler-event-loop")


def test_closing_the_generator_stops_the_crawl(site: Site) -> None:
    for i in range(20):
        site.add(f"/slow{i}", _page(f"Slow {i}"), delay=0.5)
    site.add("/", _page("Home", *[f"/slow{i}" for i in range(20)]))
    results = crawl(site.url("/"), concurrency=4, use_sitemap=False, **FAST)
    start = time.monotonic()
    first = next(results)
    assert first.url == site.url("/")
    second = next(results)
    results.close()
    assert time.monotonic() - start < 3
    assert second.depth == 1
    assert _loop_threads() == 0
    count = len(site.requests)
    time.sleep(0.6)
    assert len(site.requests) == count  # nothing new started after close


def test_acrawl_async_generator_and_aclose(site: Site) -> None:
    async def scenario() -> list[CrawlResult]:
        seen: list[CrawlResult] = []
        gen = acrawl(site.url("/"), max_pages=50, concurrency=2, **FAST)
        async for result in gen:
            seen.append(result)
            if len(seen) == 2:
                break
        await gen.aclose()
        return seen

    seen = asyncio.run(scenario())
    assert len(seen) == 2 and seen[0].url == site.url("/")


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"max_pages": 0}, ValueError, "max_pages"),
        ({"max_depth": -1}, ValueError, "max_depth"),
        ({"delay": -1}, ValueError, "delay"),
        ({"concurrency": 0}, ValueError, "concurrency"),
        ({"output_format": "pdf"}, ValueError, "output_format"),
        ({"include": "re:("}, ValueError, "Invalid regex"),
        ({"timeout": 0}, ValueError, "timeout"),
    ],
    ids=["max-pages", "depth", "delay", "concurrency", "format", "regex", "fetch-option"],
)
def test_crawl_rejects_bad_options_at_call_time(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        crawl("https://example.org/", **options)  # type: ignore[arg-type]
    assert _loop_threads() == 0


def test_crawl_rejects_a_bad_start_url() -> None:
    with pytest.raises(InvalidURL, match="Not an http"):
        crawl("file:///etc/passwd")
    with pytest.raises(InvalidURL):
        acrawl("not a url")


def test_crawl_of_an_unreachable_site_yields_an_error() -> None:
    with Site() as site:
        url = site.url("/")
    # the server is closed: the connection is refused
    [result] = list(crawl(url, retries=0, **FAST))
    assert not result.ok and result.page is None
    assert type(result.error).__name__ in {"ConnectError", "DisallowedByRobots"}


def test_ctrl_c_cancels_the_sync_crawl_and_cleans_up(site: Site) -> None:
    for i in range(6):
        site.add(f"/slow{i}", _page(f"Slow {i}"), delay=30)
    site.add("/", _page("Home", *[f"/slow{i}" for i in range(6)]))
    results = crawl(site.url("/"), use_sitemap=False, **FAST)
    assert next(results).url == site.url("/")
    timer = threading.Timer(0.3, _thread.interrupt_main)  # what Ctrl-C does
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        next(results)
    timer.join()
    assert time.monotonic() - start < 10  # the 30 s requests were cancelled, not awaited
    with pytest.raises(StopIteration):
        next(results)  # the generator is finished
    assert _loop_threads() == 0
