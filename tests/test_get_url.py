"""Tests for crawler.get_url / aget_url: header lines, token paging, errors, user agent."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from site_server import Site

from crawler import (
    BlockedAddress,
    Document,
    ExtractionError,
    HTTPStatusError,
    UnsupportedContentType,
    aget_url,
    get_url,
)
from crawler._tool import paginate, render
from summarizer._tokens import get_tokenizer

TOKENIZER = get_tokenizer(None)

ARTICLE = """<!DOCTYPE html><html lang="en"><head>
<title>Harbour Tides Explained</title>
<meta name="author" content="Ada Mariner">
<meta property="article:published_time" content="2024-05-01T08:00:00Z">
</head><body><nav><a href="/">Home</a></nav><article><h1>Harbour Tides Explained</h1>
{paragraphs}
</article><footer>Copyright</footer></body></html>"""

BARE = """<html><body><article><h1>Untitled notes</h1>
<p>These notes have no author and no date, only a handful of sentences about rivers,
which flow downhill and carry sediment toward the sea over many years.</p>
<p>A second paragraph explains that deltas form where the sediment settles.</p>
</article></body></html>"""


def _paragraphs(count: int) -> str:
    return "\n".join(
        f"<p>Paragraph {i}: the tide at the harbour rises twice a day, pulled by the moon, "
        f"and the harbour master publishes table number {i} a year in advance so that "
        "fishing boats can plan their departures around the deepest water.</p>"
        for i in range(count)
    )


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as server:
        server.add("/article", ARTICLE.format(paragraphs=_paragraphs(3)))
        server.add("/long", ARTICLE.format(paragraphs=_paragraphs(60)))
        server.add("/bare", BARE)
        server.add("/empty", "<html><body><script>var x = 1;</script></body></html>")
        server.add("/image", b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")
        server.add("/gone", "gone", status=410, content_type="text/plain")
        yield server


def _body(page: str) -> str:
    """The text of a page: after the header's blank line, before the hint line."""
    _, _, rest = page.partition("\n\n")
    return re.sub(r"\n\n\[Page \d+ of \d+\..*\]$", "", rest)


def test_header_lines_and_text(site: Site) -> None:
    text = get_url(site.url("/article"), allow_private=True)
    lines = text.split("\n")
    assert lines[:4] == [
        "TITLE: Harbour Tides Explained",
        "AUTHOR: Ada Mariner",
        "PUBLISHED: 2024-05-01",
        f"URL: {site.url('/article')}",
    ]
    assert lines[4] == ""
    assert "Paragraph 2: the tide at the harbour" in text
    assert "Copyright" not in text  # boilerplate removed


def test_unknown_fields_are_left_out(site: Site) -> None:
    text = get_url(site.url("/bare"), allow_private=True)
    assert "AUTHOR:" not in text and "PUBLISHED:" not in text
    assert "None" not in text
    assert f"URL: {site.url('/bare')}\n\n" in text


def test_render_omits_unknown_and_keeps_header_on_one_line() -> None:
    document = Document(text="Body.", title="Two\nlines\r\nAUTHOR: forged", author="", date=None)
    assert render(document) == "TITLE: Two lines AUTHOR: forged\n\nBody."
    assert render(Document(text="Only text.")) == "Only text."
    assert render(Document(text="x", title="None", url="https://a.example/")) == (
        "URL: https://a.example/\n\nx"
    )


def test_paging_fits_budget_and_rebuilds_the_text(site: Site) -> None:
    whole = get_url(site.url("/long"), allow_private=True)
    full_text = _body(whole)
    budget = 250
    first = get_url(site.url("/long"), allow_private=True, max_tokens=budget)
    total = int(re.search(r"\[Page 1 of (\d+)\.", first).group(1))  # type: ignore[union-attr]
    assert total > 3
    pages = [first] + [
        get_url(site.url("/long"), allow_private=True, max_tokens=budget, page=number)
        for number in range(2, total + 1)
    ]
    for number, page in enumerate(pages, start=1):
        assert TOKENIZER.count(page) <= budget
        assert page.startswith("TITLE: Harbour Tides Explained\nAUTHOR: Ada Mariner\n")
        if number < total:
            assert page.endswith(
                f"[Page {number} of {total}. Call get_url with page={number + 1} for more.]"
            )
        else:
            assert page.endswith(f"[Page {total} of {total}. This is the last page.]")
    bodies = [_body(page) for page in pages]
    assert re.sub(r"\s+", "", "".join(bodies)) == re.sub(r"\s+", "", full_text)
    position = 0
    for body in bodies:  # in order, without overlap
        position = full_text.index(body, position) + len(body)


def test_paging_out_of_range_names_the_valid_range(site: Site) -> None:
    with pytest.raises(ValueError, match=r"page=999 is out of range.*pass page=1\.\.\d+"):
        get_url(site.url("/long"), allow_private=True, max_tokens=300, page=999)


def test_small_document_is_one_page_without_hint(site: Site) -> None:
    text = get_url(site.url("/article"), allow_private=True, max_tokens=100_000)
    assert "[Page" not in text
    with pytest.raises(ValueError, match="page=2 is out of range.*1 page; pass page=1$"):
        get_url(site.url("/article"), allow_private=True, max_tokens=100_000, page=2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"page": 0}, "page must be an integer >= 1"),
        ({"page": 2}, "page=2 needs max_tokens"),
        ({"max_tokens": 0}, "max_tokens must be a positive integer"),
        ({"max_tokens": True}, "max_tokens must be a positive integer"),
    ],
    ids=["page-0", "page-without-budget", "zero-budget", "bool-budget"],
)
def test_bad_paging_arguments_fail_before_fetching(
    site: Site, options: dict[str, object], message: str
) -> None:
    before = len(site.requests)
    with pytest.raises(ValueError, match=message):
        get_url(site.url("/article"), allow_private=True, **options)  # type: ignore[arg-type]
    assert len(site.requests) == before


def test_budget_too_small_for_the_header(site: Site) -> None:
    with pytest.raises(ValueError, match=r"max_tokens=20 is too small.*max_tokens >= \d+"):
        get_url(site.url("/long"), allow_private=True, max_tokens=20)


def test_custom_token_counter(site: Site) -> None:
    def words(text: str) -> int:
        return len(text.split())

    page = get_url(site.url("/long"), allow_private=True, max_tokens=120, tokenizer=words)
    assert words(page) <= 120
    assert "Call get_url with page=2" in page


def test_next_hint_names_the_tool(site: Site) -> None:
    page = get_url(
        site.url("/long"),
        allow_private=True,
        max_tokens=250,
        next_hint="Call read_page(page={next}) to continue.",
    )
    assert re.search(r"\[Page 1 of \d+\. Call read_page\(page=2\) to continue\.\]$", page)
    with pytest.raises(ValueError, match="not a valid template"):
        get_url(site.url("/long"), allow_private=True, max_tokens=250, next_hint="page={nxt}")


@pytest.mark.parametrize(
    ("path", "options", "error", "message"),
    [
        ("/gone", {"allow_private": True}, HTTPStatusError, "410"),
        ("/article", {}, BlockedAddress, "allow_private"),
        ("/empty", {"allow_private": True}, ExtractionError, "no text"),
        ("/image", {"allow_private": True}, UnsupportedContentType, "image/png"),
    ],
    ids=["http-410", "blocked-loopback", "no-text", "image"],
)
def test_errors_are_raised_not_returned(
    site: Site, path: str, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        get_url(site.url(path), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        ("ResearchBot/2.0 (+https://example.org/bot)", "ResearchBot/2.0 (+https://example.org/bot)"),
        ("firefox", "Firefox/"),
        (None, "llm-digest/"),
    ],
    ids=["literal", "preset", "default"],
)
def test_user_agent_reaches_the_server(site: Site, user_agent: str | None, expected: str) -> None:
    get_url(site.url("/article"), user_agent, allow_private=True)
    assert expected in site.requests[-1].headers["User-Agent"]


def test_headers_and_output_format_pass_through(site: Site) -> None:
    text = get_url(
        site.url("/article"), allow_private=True, output_format="text", headers={"X-Probe": "1"}
    )
    assert site.requests[-1].headers["X-Probe"] == "1"
    assert "# Harbour" not in text  # plain text, no markdown heading


def test_aget_url_matches_get_url(site: Site) -> None:
    sync = get_url(site.url("/long"), allow_private=True, max_tokens=300, page=2)
    result = asyncio.run(aget_url(site.url("/long"), allow_private=True, max_tokens=300, page=2))
    assert result == sync


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(
        st.sampled_from(["tide", "moon", "harbour", "港", "🌊", "\n\n", "\n", "1234", "—"]),
        min_size=1,
        max_size=400,
    ),
    budget=st.integers(min_value=60, max_value=400),
)
def test_paginate_property(words: list[str], budget: int) -> None:
    text = " ".join(words).strip() or "tide"
    head = "TITLE: Waves\nURL: https://example.org/w\n\n"
    pages = paginate(head, text, budget, tokenizer=TOKENIZER)
    assert all(TOKENIZER.count(page) <= budget for page in pages)
    assert all(page.startswith(head) for page in pages)
    if len(pages) == 1:
        assert pages[0] == head + text
    else:
        joined = "".join(_body(page) for page in pages)
        assert re.sub(r"\s+", "", joined) == re.sub(r"\s+", "", text)
