"""Tests for crawler._html: main-content extraction from HTML."""

from __future__ import annotations

import pytest

from crawler._html import extract_html
from crawler._models import Document
from crawler.errors import ExtractionError

NAV = '<nav><ul><li><a href="/">Home</a></li><li><a href="/shop">Shop</a></li></ul></nav>'
FOOTER = "<footer><p>Copyright 2024 Example Corp. All rights reserved. Privacy policy.</p></footer>"
COOKIES = (
    '<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your '
    "experience. Accept all cookies?</p><button>Accept</button></div>"
)


def page(body: str, head: str = "", lang: str = "en") -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head>'
        f"<body>{NAV}{COOKIES}{body}{FOOTER}</body></html>"
    )


ARTICLE = page(
    "<article><h1>Rivers of the North</h1>"
    '<p class="byline">By Jane Doe</p>'
    + "".join(
        f"<p>Paragraph {i} tells how the glacial rivers of the north carve their valleys, "
        f"moving gravel and silt over thousands of years before reaching the cold sea.</p>"
        for i in range(6)
    )
    + "</article>",
    head=(
        "<title>Rivers of the North | Geo Weekly</title>"
        '<meta name="author" content="Jane Doe">'
        '<meta property="og:site_name" content="Geo Weekly">'
        '<meta name="description" content="How glacial rivers shape valleys.">'
        '<meta property="article:published_time" content="2024-03-05T10:00:00Z">'
    ),
)


def test_article_keeps_body_and_drops_boilerplate() -> None:
    doc = extract_html(ARTICLE, url="https://geo.example/rivers")
    assert isinstance(doc, Document)
    assert "glacial rivers of the north carve their valleys" in doc.text
    assert "Paragraph 5" in doc.text
    for boilerplate in ("All rights reserved", "We use cookies", "Shop"):
        assert boilerplate not in doc.text
    assert doc.format == "markdown"


def test_article_metadata() -> None:
    doc = extract_html(ARTICLE, url="https://geo.example/rivers")
    assert doc.title is not None and doc.title.startswith("Rivers of the North")
    assert doc.author == "Jane Doe"
    assert doc.date == "2024-03-05"
    assert doc.description == "How glacial rivers shape valleys."
    assert doc.site_name == "Geo Weekly"
    assert doc.language == "en"
    assert doc.url == "https://geo.example/rivers"


def test_bytes_input_and_text_format() -> None:
    doc = extract_html(ARTICLE.encode("utf-8"), output_format="text")
    assert doc.format == "text"
    assert "glacial rivers" in doc.text


def test_unknown_metadata_is_none() -> None:
    doc = extract_html(page("<main>" + "<p>Plain words about nothing in particular here.</p>" * 8
                            + "</main>"))
    assert doc.author is None
    assert doc.date is None or isinstance(doc.date, str)
    assert "None" not in (doc.title or "")


def test_fallback_returns_text_of_a_tiny_page() -> None:
    doc = extract_html("<html><body><div>Short note.</div></body></html>")
    assert "Short note." in doc.text


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   ",
        b"",
        "<html><head><title>x</title></head><body></body></html>",
        "<html><body><script>var x = 1;</script><style>p{}</style></body></html>",
    ],
    ids=["empty", "blank", "empty-bytes", "empty-body", "only-scripts"],
)
def test_page_without_text_raises(html: str | bytes) -> None:
    with pytest.raises(ExtractionError, match="no text|empty"):
        extract_html(html, url="https://example.org/")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="output_format"):
        extract_html(ARTICLE, output_format="html")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str or bytes"):
        extract_html(123)  # type: ignore[arg-type]
