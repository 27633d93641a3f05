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
