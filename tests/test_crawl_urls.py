"""Tests for crawler._urls (normalisation, scope, patterns, links) and crawler._sitemap."""

from __future__ import annotations

import gzip
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler._sitemap import MAX_SITEMAP_BYTES, parse_sitemap
from crawler._urls import compile_patterns, extract_links, in_site, normalize_url, site_root
from crawler.errors import ContentTooLarge, ExtractionError, InvalidURL


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a/..", "https://example.com/"),
        ("https://example.com/../../x", "https://example.com/x"),
        ("https://example.com/p#section", "https://example.com/p"),
        ("https://example.com/?b=2&a=1&b=1", "https://example.com/?a=1&b=2&b=1"),
        ("https://example.com/?utm_source=x&id=3&UTM_Medium=y&fbclid=z", "https://example.com/?id=3"),
        ("https://example.com/?utm_source=x", "https://example.com/"),
        ("https://example.com/%7euser/%2f%41", "https://example.com/~user/%2FA"),
        ("https://example.com/a b/é", "https://example.com/a%20b/%C3%A9"),
        ("https://example.com./x", "https://example.com/x"),
        ("https://bücher.de/", "https://xn--bcher-kva.de/"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("  https://example.com/\tx\n ", "https://example.com/x"),
        ("https://example.com/?q=a+b&x", "https://example.com/?q=a+b&x"),
    ],
    ids=lambda value: value if len(value) < 40 else value[:40],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_normalize_url_relative_and_options() -> None:
    assert normalize_url("../x?z=1&a", "https://a.com/b/c/d") == "https://a.com/b/x?a&z=1"
    assert normalize_url("//cdn.a.com/y", "https://a.com/") == "https://cdn.a.com/y"
    assert normalize_url("https://a.com/?b=1&a=2", sort_query=False) == "https://a.com/?b=1&a=2"
    assert (
        normalize_url("https://a.com/?utm_id=1", strip_tracking=False) == "https://a.com/?utm_id=1"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mailto:someone@example.com", "Not an http"),
        ("ftp://example.com/file", "Not an http"),
        ("javascript:alert(1)", "Not an http"),
        ("example.com/page", "Not an http"),
        ("http:///path", "no host"),
        ("http://example.com:99999/", "Malformed"),
    ],
)
def test_normalize_url_rejects(url: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        normalize_url(url)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", ".", "..", "%41", "x y", "é", ""]), max_size=6),
    st.lists(st.tuples(st.sampled_from(["a", "b", "utm_x", "id"]), st.text("xyz", max_size=2))),
)
def test_normalize_url_is_idempotent(segments: list[str], params: list[tuple[str, str]]) -> None:
    query = "&".join(f"{k}={v}" for k, v in params)
    url = "HTTPS://Example.com:443/" + "/".join(segments) + ("?" + query if query else "")
    once = normalize_url(url)
    assert normalize_url(once) == once
    assert "utm_" not in once and "#" not in once


def test_site_scope() -> None:
    root = site_root("https://www.example.com/start")
    assert root == "example.com"
    assert in_site("https://example.com/a", root)
    assert in_site("https://www.example.com/a", root)
    assert in_site("https://blog.example.com/a", root)
    assert not in_site("https://example.com.evil.org/a", root)
    assert not in_site("https://notexample.com/a", root)


def test_patterns() -> None:
    [docs] = compile_patterns("/docs/*")
    assert docs("https://a.com/docs/intro")
    assert not docs("https://a.com/blog/docs/x")
    [whole] = compile_patterns(["https://a.com/*.pdf"])
    assert whole("https://a.com/files/x.pdf")
    assert not whole("https://b.com/x.pdf")
    [regex] = compile_patterns("re:/p/\\d+$")
    assert regex("https://a.com/p/12")
    assert not regex("https://a.com/p/12/edit")
    [compiled] = compile_patterns([re.compile("edit")])
    assert compiled("https://a.com/p/12/edit")
    assert compile_patterns(None) == []


@pytest.mark.parametrize(
    ("patterns", "error", "message"),
    [("re:(", ValueError, "Invalid regex"), ("  ", ValueError, "Empty"), ([3], TypeError, "int")],
)
def test_bad_patterns(patterns: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        compile_patterns(patterns)  # type: ignore[arg-type]


def test_extract_links() -> None:
    html = """<html><head><base href="/sub/"></head><body>
      <a href="x">relative to base</a>
      <a href="#top">fragment only</a>
      <a rel="nofollow" href="/nofollow">nofollow</a>
      <a href="mailto:a@b.c">mail</a>
      <a href="/picture.PNG">image</a>
      <a href="https://other.org/page?utm_source=x">other site</a>
      <a href="x#again">duplicate</a>
      <area href="/area">
    </body></html>"""
    assert extract_links(html, "https://a.com/p/q") == [
        "https://a.com/sub/x",
        "https://other.org/page",
        "https://a.com/area",
    ]
    assert "https://a.com/nofollow" in extract_links(html, "https://a.com/", follow_nofollow=True)


def test_extract_links_meta_robots_nofollow() -> None:
    html = '<meta name="robots" content="noindex, nofollow"><a href="/a">a</a>'
    assert extract_links(html, "https://a.com/") == []
    assert extract_links(html, "https://a.com/", follow_nofollow=True) == ["https://a.com/a"]


def test_extract_links_of_odd_input() -> None:
    assert extract_links("", "https://a.com/") == []
    xml_declared = "<?xml version='1.0' encoding='utf-8'?><a href='/x'>"
    assert extract_links(xml_declared, "https://a.com/") == ["https://a.com/x"]


URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE urlset [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc> https://a.com/one </loc><lastmod>2024-01-01</lastmod></url>
  <url><loc>/two&secret;</loc></url>
  <url><lastmod>no loc</lastmod></url>
</urlset>"""


def test_parse_sitemap_urlset_without_entities() -> None:
    sitemap = parse_sitemap(URLSET, url="https://a.com/sitemap.xml")
    assert sitemap.urls == ("https://a.com/one", "https://a.com/two")
    assert sitemap.sitemaps == ()


def test_parse_sitemap_index_gzip_and_text() -> None:
    index = b"<sitemapindex><sitemap><loc>https://a.com/s1.xml.gz</loc></sitemap></sitemapindex>"
    assert parse_sitemap(gzip.compress(index)).sitemaps == ("https://a.com/s1.xml.gz",)
    assert parse_sitemap("https://a.com/x\n# note\nhttps://a.com/y\n").urls == (
        "https://a.com/x",
        "https://a.com/y",
    )


def test_parse_sitemap_errors() -> None:
    with pytest.raises(ExtractionError, match="expected <urlset>"):
        parse_sitemap(b"<html><body>Not found</body></html>")
    with pytest.raises(ExtractionError, match="lists no URLs"):
        parse_sitemap(b"just some words")
    with pytest.raises(ExtractionError, match="Corrupt gzip"):
        parse_sitemap(b"\x1f\x8b\x08\x00garbage")
    bomb = gzip.compress(b"<urlset>" + b" " * (MAX_SITEMAP_BYTES + 10))
    with pytest.raises(ContentTooLarge):
        parse_sitemap(bomb)
