"""Hostile responses to the fetcher and the crawler (issue 17): typed errors, one URL only."""

from __future__ import annotations

import anyio
import httpx
import pytest

import crawler
from crawler.errors import InvalidRedirect, InvalidURL

PUBLIC = ["93.184.216.34"]

BAD_LOCATIONS = [
    "javascript:x",
    "javascript:alert(1)",
    "data:text/html,<p>hi</p>",
    "mailto:someone@example.com",
    "about:blank",
    "x:y",
    "http://" + "a" * 70_000 + "/",
    "http://[::1",
]


def _resolver(host: str) -> list[str]:
    return PUBLIC


def _redirecting_handler(location: str):
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/bad"):
            return httpx.Response(302, headers={"location": location})
        if path == "/":
            links = '<a href="/bad">bad</a> <a href="/good">good</a>'
            body = f"<html><body><p>{'Start page text. ' * 20}</p>{links}</body></html>"
            return httpx.Response(200, html=body)
        return httpx.Response(
            200, html=f"<html><body><p>{'Good page text. ' * 20}</p></body></html>"
        )

    return handler


@pytest.mark.parametrize("location", BAD_LOCATIONS, ids=lambda loc: loc[:24])
def test_fetch_redirect_to_unbuildable_url_is_typed(location: str) -> None:
    transport = httpx.MockTransport(_redirecting_handler(location))
    with pytest.raises(InvalidRedirect) as info:
        crawler.fetch("http://example.com/bad", transport=transport, resolver=_resolver)
    assert isinstance(info.value, InvalidURL)  # callers catching InvalidURL still do
    assert info.value.url == "http://example.com/bad"
    assert "redirects to" in str(info.value)


@pytest.mark.parametrize(
    "location", BAD_LOCATIONS[:3] + BAD_LOCATIONS[-2:], ids=lambda loc: loc[:24]
)
def test_afetch_redirect_to_unbuildable_url_is_typed(location: str) -> None:
    transport = httpx.MockTransport(_redirecting_handler(location))

    async def main() -> None:
        with anyio.fail_after(5), pytest.raises(InvalidRedirect):
            await crawler.afetch("http://example.com/bad", transport=transport, resolver=_resolver)

    anyio.run(main)


@pytest.mark.parametrize("location", ["javascript:x", "about:blank", "http://[::1"])
def test_fetch_many_carries_on_after_a_bad_redirect(location: str) -> None:
    transport = httpx.MockTransport(_redirecting_handler(location))
    results = crawler.fetch_many(
        ["http://example.com/bad", "http://example.com/good", "http://example.com/bad2"],
        transport=transport,
        resolver=_resolver,
        timeout=5,
    )
    assert [r.ok for r in results] == [False, True, False]
    assert isinstance(results[0].error, InvalidRedirect)
    assert isinstance(results[2].error, InvalidRedirect)


def test_crawl_carries_on_after_a_bad_redirect() -> None:
    transport = httpx.MockTransport(_redirecting_handler("javascript:x"))
    results = list(
        crawler.crawl(
            "http://example.com/",
            transport=transport,
            resolver=_resolver,
            respect_robots=False,
            use_sitemap=False,
            delay=0,
            timeout=5,
        )
    )
    by_path = {httpx.URL(r.url).path: r for r in results}
    assert by_path["/"].ok and by_path["/good"].ok
    assert isinstance(by_path["/bad"].error, InvalidRedirect)


def _cross_origin_recorder(seen: dict[str, httpx.Headers]):
    def handler(request: httpx.Request) -> httpx.Response:
        host = request.headers["host"]
        seen[f"{host}{request.url.path}"] = request.headers
        if host == "a.example" and request.url.path == "/start":
            return httpx.Response(302, headers={"location": "/same"})
        if host == "a.example" and request.url.path == "/same":
            return httpx.Response(302, headers={"location": "http://b.example/next"})
        return httpx.Response(200, text="done")

    return handler


def test_callers_headers_are_dropped_on_a_cross_origin_redirect() -> None:
    seen: dict[str, httpx.Headers] = {}
    transport = httpx.MockTransport(_cross_origin_recorder(seen))
    with crawler.Fetcher(
        transport=transport,
        resolver=_resolver,
        headers={"X-Api-Key": "secret", "Accept-Language": "fr", "User-Agent": "mine/1"},
        keep_headers_cross_origin=("accept-language",),
    ) as fetcher:
        page = fetcher.fetch(
            "http://a.example/start",
            headers={"X-Call-Token": "t0k", "Authorization": "Bearer z"},
        )
    assert page.final_url == "http://b.example/next"
    same = seen["a.example/same"]  # same origin: everything still sent
    assert same["x-api-key"] == "secret" and same["x-call-token"] == "t0k"
    assert same["authorization"] == "Bearer z" and same["user-agent"] == "mine/1"
    other = seen["b.example/next"]
    for name in ("x-api-key", "x-call-token", "authorization"):
        assert name not in other, name
    assert other["accept-language"] == "fr"  # kept by name
    assert other["user-agent"] != "mine/1" and other["user-agent"]  # back to the default


@pytest.mark.parametrize("name", ["Authorization", "cookie", "Proxy-Authorization"])
def test_credentials_cannot_be_kept_cross_origin(name: str) -> None:
    with pytest.raises(ValueError, match="credentials are never sent"):
        crawler.FetchConfig(keep_headers_cross_origin=(name,))


def test_keep_headers_cross_origin_rejects_a_bare_string() -> None:
    with pytest.raises(TypeError, match="list of header names"):
        crawler.FetchConfig(keep_headers_cross_origin="X-Api-Key")  # type: ignore[arg-type]


def test_config_headers_are_read_only() -> None:
    given = {"X-Api-Key": "k"}
    config = crawler.FetchConfig(headers=given)
    given["X-Evil"] = "a\r\nHost: internal"  # the caller's dict is copied
    assert dict(config.headers) == {"X-Api-Key": "k"}
    with pytest.raises(TypeError):
        config.headers["X-Evil"] = "a\r\nHost: internal"  # type: ignore[index]


def _big_gzip_sitemap(entries: int) -> bytes:
    import zlib

    deflate = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [deflate.compress(b'<?xml version="1.0"?><urlset>')]
    block = b"".join(
        b"<url><loc>https://site.example/p%d</loc><lastmod>2024-01-01</lastmod></url>" % i
        for i in range(1000)
    )
    parts.extend(deflate.compress(block) for _ in range(entries // 1000))
    parts.append(deflate.compress(b"</urlset>") + deflate.flush())
    return b"".join(parts)


def test_crawl_reads_only_the_sitemap_it_can_use() -> None:
    import time

    sitemap = _big_gzip_sitemap(300_000)  # about 22 MiB of XML once inflated
    sitemap_reads: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/robots.txt":
            return httpx.Response(
                200, text="User-agent: *\nSitemap: https://site.example/s.xml.gz\n"
            )
        if path == "/s.xml.gz":
            sitemap_reads.append(1)
            return httpx.Response(
                200, content=sitemap, headers={"content-type": "application/gzip"}
            )
        return httpx.Response(
            200, html=f"<html><body><p>{'Page text here. ' * 20}</p></body></html>"
        )

    began = time.monotonic()
    results = list(
        crawler.crawl(
            "https://site.example/",
            max_pages=5,
            delay=0,
            timeout=10,
            transport=httpx.MockTransport(handler),
            resolver=_resolver,
        )
    )
    elapsed = time.monotonic() - began
    assert sitemap_reads == [1]
    assert len(results) == 5 and all(r.ok for r in results)
    assert {httpx.URL(r.url).path for r in results[1:]} <= {f"/p{i}" for i in range(20)}
    assert elapsed < 3.0, f"crawl took {elapsed:.1f} s: the sitemap was read whole"


def test_parse_sitemap_caps_stop_early_and_keep_entries_whole() -> None:
    from crawler._sitemap import parse_sitemap

    data = _big_gzip_sitemap(50_000)
    found = parse_sitemap(data, url="https://site.example/s.xml.gz", max_urls=7)
    assert found.urls == tuple(f"https://site.example/p{i}" for i in range(7))
    few = parse_sitemap(data, url="https://site.example/s.xml.gz", max_bytes=4096)
    assert 0 < len(few.urls) < 60 and all(u.startswith("https://site.example/p") for u in few.urls)
    plain = b"".join(b"https://site.example/t%d\n" % i for i in range(10_000))
    whole_lines = plain[:1000].count(b"\n")  # a URL cut by the cap is not returned half
    assert parse_sitemap(plain, max_bytes=1000).urls == tuple(
        f"https://site.example/t{i}" for i in range(whole_lines)
    )


def test_crawl_counts_the_links_it_does_not_follow() -> None:
    links = [
        "/a",
        "/private/x",
        "/private/y",
        "/skip/1",
        "http://other.example/x",
        "http://other.example/y",
        "http://third.example/z",
        "/a",  # seen already: not counted
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/robots.txt":
            return httpx.Response(200, text="User-agent: *\nDisallow: /private/\n")
        if path == "/":
            anchors = "".join(f'<a href="{link}">l</a>' for link in links)
            return httpx.Response(
                200, html=f"<html><body><p>{'Start. ' * 30}</p>{anchors}</body></html>"
            )
        return httpx.Response(200, html=f"<html><body><p>{'Leaf. ' * 30}</p></body></html>")

    results = list(
        crawler.crawl(
            "http://site.example/",
            exclude="/skip/*",
            use_sitemap=False,
            delay=0,
            timeout=5,
            transport=httpx.MockTransport(handler),
            resolver=_resolver,
        )
    )
    start = results[0]
    assert start.url == "http://site.example/"
    assert dict(start.skipped_links) == {"robots": 2, "excluded": 1, "off_site": 3}
    assert [httpx.URL(r.url).path for r in results[1:]] == ["/a"]
    assert dict(results[1].skipped_links) == {}


def test_cli_json_names_the_links_not_followed(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from site_server import Site

    from crawler.cli import main

    page = "<html><body><p>{}</p>{}</body></html>"
    anchors = '<a href="/ok">ok</a><a href="/private/x">p</a><a href="http://other.example/">o</a>'
    with Site() as site:
        site.add("/", page.format("Start text. " * 30, anchors))
        site.add("/ok", page.format("Leaf text. " * 30, ""))
        site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        code = main([site.url("/"), "--allow-private", "--format", "json", "--max-pages", "3"])
    out, _ = capsys.readouterr()
    assert code == 0
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    first = next(r for r in records if r["depth"] == 0)
    assert first["skipped_links"] == {"robots": 1, "off_site": 1}


def test_hanging_robots_files_are_read_concurrently() -> None:
    import asyncio
    import time

    hosts = [f"h{i}.site.example" for i in range(12)]

    async def handler(request: httpx.Request) -> httpx.Response:
        host = request.headers["host"]
        if request.url.path == "/robots.txt":
            if host != "site.example":
                await asyncio.sleep(30)  # hangs: only the fetch deadline ends it
            return httpx.Response(200, text="User-agent: *\nDisallow:\n")
        if host == "site.example" and request.url.path == "/":
            anchors = "".join(f'<a href="http://{h}/page">{h}</a>' for h in hosts)
            return httpx.Response(
                200, html=f"<html><body><p>{'Start. ' * 30}</p>{anchors}</body></html>"
            )
        return httpx.Response(200, html=f"<html><body><p>{'Leaf. ' * 30}</p></body></html>")

    began = time.monotonic()
    results = crawler.crawl(
        "http://site.example/",
        max_pages=3,
        use_sitemap=False,
        delay=0,
        timeout=1.5,
        transport=httpx.MockTransport(handler),
        resolver=_resolver,
    )
    try:
        first = next(results)
        elapsed = time.monotonic() - began
    finally:
        results.close()
    assert first.ok and first.url == "http://site.example/"
    assert len(first.links) == 12
    # One robots.txt deadline (1.5 s) for all twelve hosts, not twelve in a row (18 s).
    assert elapsed < 4.0, f"first result after {elapsed:.1f} s"


def test_bounded_plain_text_sitemap_keeps_its_last_line() -> None:
    import gzip

    from crawler._sitemap import parse_sitemap

    listing = b"https://a.example/1\nhttps://a.example/2"  # no final newline
    expected = ("https://a.example/1", "https://a.example/2")
    assert parse_sitemap(gzip.compress(listing), max_urls=5).urls == expected
    assert parse_sitemap(listing, max_bytes=1000).urls == expected
    assert parse_sitemap(listing, max_bytes=25).urls == expected[:1]
