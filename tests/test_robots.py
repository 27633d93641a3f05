"""robots.txt per RFC 9309 through the public fetcher: matching, groups, size cap, status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from crawler import DisallowedByRobots, Fetcher
from crawler._robots import ROBOTS_MAX_BYTES, RobotsRules
from crawler._useragents import DEFAULT_USER_AGENT

SITE = "http://127.0.0.1"


def _site(robots: str | Callable[[], httpx.Response]) -> tuple[httpx.MockTransport, list[str]]:
    """A site whose robots.txt is ``robots``; every other path answers 200."""
    seen: list[str] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/robots.txt":
            if callable(robots):
                return robots()
            return httpx.Response(200, text=robots, headers={"content-type": "text/plain"})
        return httpx.Response(200, text="page", headers={"content-type": "text/plain"})

    return httpx.MockTransport(reply), seen


def _allowed(robots: str, paths: list[str], user_agent: str | None = None) -> dict[str, bool]:
    transport, _ = _site(robots)
    with Fetcher(transport=transport, allow_private=True, respect_robots=True) as f:
        return {p: f.robots.allowed(SITE + p, user_agent) for p in paths}


def test_wildcard_blocks_any_path_with_the_query() -> None:
    got = _allowed("User-agent: *\nDisallow: /*?sort=\n", ["/a?sort=1", "/b/c?x=1&sort=2", "/a"])
    assert got == {"/a?sort=1": False, "/b/c?x=1&sort=2": True, "/a": True}
    got = _allowed("User-agent: *\nDisallow: /*sort=\n", ["/b/c?x=1&sort=2"])
    assert got == {"/b/c?x=1&sort=2": False}


def test_dollar_anchors_the_end() -> None:
    got = _allowed(
        "User-agent: *\nDisallow: /*.pdf$\n", ["/doc.pdf", "/d/e.pdf", "/doc.pdf?x=1", "/doc.pdfx"]
    )
    assert got == {"/doc.pdf": False, "/d/e.pdf": False, "/doc.pdf?x=1": True, "/doc.pdfx": True}


def test_longest_match_wins_not_the_first() -> None:
    robots = "User-agent: *\nDisallow: /shop\nAllow: /shop/public\n"
    got = _allowed(robots, ["/shop/public/a", "/shop/cart", "/shop"])
    assert got == {"/shop/public/a": True, "/shop/cart": False, "/shop": False}
    # Order in the file does not matter.
    robots = "User-agent: *\nAllow: /shop/public\nDisallow: /shop\n"
    assert _allowed(robots, ["/shop/public/a", "/shop/cart"]) == {
        "/shop/public/a": True,
        "/shop/cart": False,
    }


def test_allow_wins_a_tie() -> None:
    for robots in ("Disallow: /page\nAllow: /page\n", "Allow: /page\nDisallow: /page\n"):
        assert _allowed("User-agent: *\n" + robots, ["/page"]) == {"/page": True}


def test_our_product_token_group_wins_over_star() -> None:
    robots = (
        "User-agent: *\nDisallow: /\n\n"
        "User-agent: llm-digest\nDisallow: /private/\n\n"
        "User-agent: otherbot\nAllow: /\n"
    )
    assert DEFAULT_USER_AGENT.lower().startswith("llm-digest/")
    got = _allowed(robots, ["/article", "/private/x"])
    assert got == {"/article": True, "/private/x": False}
    # Another agent falls back to the * group; a longer name containing ours is not ours.
    assert _allowed(robots, ["/article"], "SomeBot/1.0") == {"/article": False}
    assert _allowed(robots, ["/article"], "notllm-digest/1.0") == {"/article": False}


def test_blocked_fetch_names_the_rule_source_and_the_way_out() -> None:
    transport, seen = _site("User-agent: *\nDisallow: /*?sort=\n")
    with Fetcher(transport=transport, allow_private=True, respect_robots=True) as f:
        assert f.fetch(SITE + "/list").text == "page"
        with pytest.raises(DisallowedByRobots, match="respect_robots=False"):
            f.fetch(SITE + "/list?sort=price")
    assert seen == ["/robots.txt", "/list"]


def test_crawl_delay_and_request_rate() -> None:
    transport, _ = _site("User-agent: *\nCrawl-delay: 2.5\n")
    with Fetcher(transport=transport, allow_private=True, respect_robots=True) as f:
        assert f.robots.crawl_delay(SITE + "/") == 2.5
    transport, _ = _site("User-agent: *\nRequest-rate: 1/4\n")
    with Fetcher(transport=transport, allow_private=True, respect_robots=True) as f:
        assert f.robots.crawl_delay(SITE + "/") == 4.0
    transport, _ = _site("User-agent: *\nDisallow: /x\n")
    with Fetcher(transport=transport, allow_private=True, respect_robots=True) as f:
        assert f.robots.crawl_delay(SITE + "/") is None


def test_huge_file_is_capped_and_parsed_quickly() -> None:
    rule = "Disallow: /blocked-early\n"
    filler = "# " + "x" * 97 + "\n"
    body = "User-agent: *\n" + rule + filler * (3 * ROBOTS_MAX_BYTES // len(filler))
    body += "Disallow: /blocked-late\n"
    assert len(body) > 2 * ROBOTS_MAX_BYTES
    transport, _ = _site(body)
    start = time.monotonic()
    with Fetcher(transport=transport, allow_private=True, respect_robots=True) as f:
        got = {p: f.robots.allowed(SITE + p) for p in ("/blocked-early", "/blocked-late")}
    assert got == {"/blocked-early": False, "/blocked-late": True}
    assert time.monotonic() - start < 5.0


def test_a_rule_cut_by_the_cap_is_dropped() -> None:
    head = "User-agent: *\n"
    pad = "#" * (ROBOTS_MAX_BYTES - len(head) - len("Disallow: /") - 1) + "\n"
    # Cut at the cap, this line would read "Disallow: /" and block the whole site.
    text = head + pad + "Disallow: /private-area\n"
    rules = RobotsRules.parse(SITE, text)
    assert rules.allowed(SITE + "/index.html", DEFAULT_USER_AGENT)
    with pytest.raises(TypeError, match="must be str"):
        RobotsRules.parse(SITE, b"User-agent: *")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "allowed"), [(401, True), (403, True), (404, True), (429, False), (503, False)]
)
def test_status_policy(status: int, allowed: bool) -> None:
    transport, _ = _site(lambda: httpx.Response(status))
    with Fetcher(transport=transport, allow_private=True, respect_robots=True, retries=0) as f:
        assert f.robots.allowed(SITE + "/x") is allowed
        if not allowed:
            with pytest.raises(DisallowedByRobots, match="RFC 9309"):
                f.fetch(SITE + "/x")


def test_unreachable_disallows_all() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport = httpx.MockTransport(reply)
    with Fetcher(transport=transport, allow_private=True, respect_robots=True, retries=0) as f:
        assert not f.robots.allowed(SITE + "/x")


def test_rules_cached_per_origin_sync_and_async() -> None:
    transport, seen = _site("User-agent: *\nDisallow: /*.pdf$\n")

    async def go() -> list[bool]:
        async with Fetcher(transport=transport, allow_private=True, respect_robots=True) as f:
            return list(
                await asyncio.gather(
                    f.robots.aallowed(SITE + "/a.pdf"), f.robots.aallowed(SITE + "/a.html")
                )
            )

    assert asyncio.run(go()) == [False, True]
    assert seen.count("/robots.txt") == 1


def test_sitemaps_listed_in_file_order() -> None:
    text = "Sitemap: http://127.0.0.1/b.xml\nUser-agent: *\nDisallow:\nSitemap: http://127.0.0.1/a.xml\n"
    rules = RobotsRules.parse(SITE, text)
    assert rules.sitemaps == ("http://127.0.0.1/b.xml", "http://127.0.0.1/a.xml")
    assert rules.parser is not None
    assert rules.parser.site_maps() == list(rules.sitemaps)
    assert RobotsRules.parse(SITE, "User-agent: *\n").sitemaps == ()
