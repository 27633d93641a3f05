"""Pathological inputs: every extraction path stays linear, and PDF text is capped."""

from __future__ import annotations

import time

import pytest
from _pdfs import make_pdf

import crawler._formats as formats
from crawler import extract


def _seconds(data: bytes, content_type: str) -> float:
    start = time.perf_counter()
    extract(data, content_type=content_type)
    return time.perf_counter() - start


def _heading(n: int) -> bytes:
    return ("# a" + "#" * n + "b\nbody\n").encode()


def _front_matter(n: int) -> bytes:
    return ("---\ntitle: a" + " " * n + "b\n---\nbody\n").encode()


def _link_runs(n: int) -> bytes:
    return ("<html><body><article><p>" + "](" * (n // 2) + "</p></article></body></html>").encode()


@pytest.mark.parametrize(
    ("make", "content_type", "bound"),
    [
        (_heading, "text/plain", 0.5),
        (_front_matter, "text/markdown", 0.5),
        (_link_runs, "text/html", 4.0),
    ],
    ids=["heading-hashes", "front-matter-spaces", "link-target-runs"],
)
def test_extraction_scales_linearly(make, content_type: str, bound: float) -> None:
    # Before: 4x the input took about 16x the time (a 100 KB heading took 50 s).
    small = _seconds(make(50_000), content_type)
    large = _seconds(make(200_000), content_type)
    assert large < bound
    assert large < max(10 * small, 0.05)


def test_titles_still_found_without_regex() -> None:
    assert extract(b"# Hello world ##\nbody", content_type="text/plain").title == "Hello world"
    assert extract(b"#\tTabbed\nbody", content_type="text/markdown").title == "Tabbed"
    assert extract(b"#nospace\nbody", content_type="text/markdown").title is None
    doc = extract(b'---\nlayout: x\ntitle:  "Quoted title"  \n---\nbody',
                  content_type="text/markdown")
    assert doc.title == "Quoted title"
    assert extract(_heading(200_000), content_type="text/plain").title == "a" + "#" * 200_000 + "b"


def test_pdf_text_is_capped_with_a_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    # 40 pages share one content stream: the file is small, its text 40x a page.
    page = "\n".join(["the same shared content stream line"] * 50)
    data = make_pdf([page] * 40, shared_content=True)
    full = extract(data, content_type="application/pdf")
    assert "truncated" not in full.text
    assert full.text.count("--- Page") == 39

    monkeypatch.setattr(formats, "PDF_MAX_TEXT_CHARS", 5 * len(page))
    start = time.perf_counter()
    doc = extract(data, content_type="application/pdf")
    assert time.perf_counter() - start < 5
    body, _, notice = doc.text.rpartition("\n\n[")
    assert len(body) <= 5 * len(page)
    assert notice.startswith("Text truncated at ")
    assert "(40 pages)" in notice
    assert doc.text.count("--- Page") < 10


def test_pdf_default_cap_is_the_fetch_cap() -> None:
    from crawler._fetch import DEFAULT_MAX_BYTES

    assert formats.PDF_MAX_TEXT_CHARS == DEFAULT_MAX_BYTES


def test_visible_text_fallback_on_an_unclosed_tag_run_is_linear() -> None:
    # Too deep for lxml: the visible-text fallback reads it. Before, html.parser
    # rescanned the tail for every "<a " (10,000 of them took 25 s).
    page = ("<html><body>" + "<div>" * 3000 + "<a " * 20_000).encode()
    start = time.perf_counter()
    doc = extract(page, content_type="text/html")
    assert time.perf_counter() - start < 8
    assert doc.extractor == "visible-text"
    assert doc.text.startswith("<a <a ")
