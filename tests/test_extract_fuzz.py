"""Robustness of crawler._extract.extract on malformed, random and hostile input.

Whatever goes in, ``extract`` either returns a Document with non-empty text or raises
ExtractionError (or its subclass UnsupportedContentType); nothing else escapes.
"""

from __future__ import annotations

import logging
import time

import pytest
from _pdfs import make_pdf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler._extract import extract
from crawler._models import Document
from crawler.errors import ExtractionError

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Each tag-soup example runs the whole HTML extractor: fewer of them keep the suite fast.
FUZZ_HTML = settings(FUZZ, max_examples=80)

TAGS = [
    "html", "head", "body", "title", "meta", "div", "p", "span", "a", "article", "main",
    "section", "nav", "header", "footer", "aside", "h1", "h2", "ul", "ol", "li", "table", "tr",
    "td", "th", "pre", "code", "br", "img", "script", "style", "noscript", "template", "svg",
    "math", "iframe", "form", "select", "option", "textarea", "blockquote", "frameset", "xmp",
    "plaintext", "b", "i", "font", "rss", "item", "feed", "entry",
]
ATTRIBUTE_NAMES = ["class", "id", "href", "lang", "charset", "content", "name", "style", "x:y",
                   "data-x", "on\x00load", "\"", "=", "hidden"]
CONTENT_TYPES = [
    None, "", "text/html", "text/html; charset=utf-8", "text/html; charset=bogus-9",
    "text/html; charset=utf-16", "application/xhtml+xml", "text/plain", "text/markdown",
    "application/json", "application/ld+json", "application/xml", "text/xml",
    "application/rss+xml", "application/atom+xml", "application/pdf", "application/octet-stream",
    "image/png", "video/mp4", "application/zip", "application/x-whatever", "text/csv",
    ";;;", "text/html;;charset=", "garbage", "TEXT/HTML; CHARSET=\"UTF-8\"",
]
ENTITIES = ["&amp;", "&amp", "&", "&#", "&#x;", "&#xZZ;", "&#99999999;", "&#0;", "&#xD800;",
            "&nbsp;", "&bogus;", "&lt", "&#x1F600;", "&lol9;"]

text_strategy = st.one_of(
    st.text(max_size=40),
    st.sampled_from(ENTITIES),
    st.sampled_from(["\x00", "\ufeff", "\r", "\u2028", "\ud7ff", "]]>", "<!--", "-->", "<",
                     ">", "<![CDATA[", "<?php ?>", "</", "/>", "<!DOCTYPE html>",
                     '<?xml version="1.0"?>']),
    st.just("Plenty of ordinary words make a paragraph that an extractor may keep. "),
)


@st.composite
def attributes(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(ATTRIBUTE_NAMES))
        value = draw(st.text(max_size=12))
        quote = draw(st.sampled_from(['"', "'", ""]))
        parts.append(f" {name}={quote}{value}{quote}" if draw(st.booleans()) else f" {name}")
    return "".join(parts)


@st.composite
def element(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    tag = draw(st.sampled_from(TAGS))
    inner = "".join(draw(st.lists(children, max_size=4)))
    closing = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", "", f"</{tag.upper()}", "</x>"]))
    return f"<{tag}{draw(attributes())}>{inner}{closing}"


tag_soup = st.recursive(text_strategy, lambda children: element(children), max_leaves=30)


@st.composite
def html_documents(draw: st.DrawFn) -> str:
    body = "".join(draw(st.lists(tag_soup, max_size=6)))
    prefix = draw(st.sampled_from(["", "<!DOCTYPE html>", "<html>", '<?xml version="1.0"?>',
                                   "\ufeff", "<!-- unclosed", "<rss version='2.0'>"]))
    depth = draw(st.integers(0, 3)) * draw(st.sampled_from([1, 50, 400]))
    return prefix + "<div>" * depth + body + "</div>" * draw(st.integers(0, depth))


def check(content: str | bytes, content_type: str | None, output_format: str = "markdown") -> None:
    try:
        document = extract(content, content_type=content_type,
                           output_format=output_format)  # type: ignore[arg-type]
    except ExtractionError:
        return
    assert isinstance(document, Document)
    assert isinstance(document.text, str)
    assert document.text.strip()
    for entry in document.entries:
        assert set(entry) == {"title", "link", "date", "summary"}
        assert all(isinstance(value, str) for value in entry.values())


@pytest.fixture(autouse=True)
def quiet_parsers(caplog: pytest.LogCaptureFixture) -> None:
    # pypdf and the feed repair log warnings about broken input; they are expected here.
    caplog.set_level(logging.CRITICAL)


@FUZZ_HTML
@given(html_documents(), st.sampled_from(CONTENT_TYPES), st.sampled_from(["markdown", "text"]))
def test_tag_soup_never_raises_undocumented_errors(
    html: str, content_type: str | None, output_format: str
) -> None:
    check(html, content_type, output_format)


@FUZZ_HTML
@given(html_documents(), st.sampled_from(["utf-8", "utf-16", "cp1252", "latin-1"]),
       st.sampled_from(CONTENT_TYPES))
def test_tag_soup_as_bytes(html: str, encoding: str, content_type: str | None) -> None:
    check(html.encode(encoding, errors="replace"), content_type)


@FUZZ
@given(st.binary(max_size=2048), st.one_of(st.sampled_from(CONTENT_TYPES), st.text(max_size=30)))
def test_random_bytes_with_random_content_types(content: bytes, content_type: str | None) -> None:
    check(content, content_type)


@FUZZ
@given(
    st.sampled_from([b"%PDF-1.4\n", b"<?xml version='1.0'?><rss><channel>", b"{", b"<html>",
                     b"\x89PNG\r\n\x1a\n", b"\xef\xbb\xbf", b"\xff\xfe", b"# "]),
    st.binary(max_size=1024),
    st.sampled_from(CONTENT_TYPES),
)
def test_known_magic_followed_by_garbage(
    prefix: bytes, rest: bytes, content_type: str | None
) -> None:
    check(prefix + rest, content_type)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2000), st.binary(min_size=1, max_size=64))
def test_corrupted_pdf(position: int, garbage: bytes) -> None:
    pdf = make_pdf(["Some words on the first page", "More words on page two"], title="T")
    position = min(position, len(pdf))
    check(pdf[:position] + garbage + pdf[position + len(garbage):], "application/pdf")


@FUZZ
@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(),
              st.floats(allow_nan=False), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=5), children, max_size=4)),
    max_leaves=20,
))
def test_any_json_value_round_trips(value: object) -> None:
    import json

    text = json.dumps(value)
    document = extract(text, content_type="application/json")
    assert json.loads(document.text) == value


# --------------------------------------------------------------------------- deterministic


NASTY = {
    "deep-divs-10k": "<html><body>" + "<div>" * 10_000 + "deep text" + "</div>" * 10_000,
    "deep-unclosed-10k": "<body>" + "<div><span><p>" * 10_000 + "deep text",
    "deep-tables": "<table><tr><td>" * 3000 + "cell",
    "nul-bytes": "<html><body><p>Hello\x00 world\x00</p>\x00</body></html>",
    "script-only": "<html><head><script>var a = '<p>not text</p>';</script></head>"
    "<body><script>document.write('x')</script></body></html>",
    "style-only": "<style>p { color: red }</style>",
    "comment-only": "<!-- just a comment -->",
    "unclosed-comment": "<html><body><p>text<!-- never closed",
    "broken-entities": "<p>&amp &#xFFFFFFFF; &#0; &#xD800; &bogus; &lt &#</p>",
    "lone-surrogate": "<p>\ud800 lonely surrogate</p>",
    "only-tags": "<div><span></span></div>" * 500,
    "huge-attribute": "<div class='" + "x" * 200_000 + "'>text</div>",
    "many-siblings": "<p>word</p>" * 3_000,
}


@pytest.mark.parametrize("content_type", [None, "text/html", "application/octet-stream"])
@pytest.mark.parametrize("name", list(NASTY))
def test_nasty_html(name: str, content_type: str | None) -> None:
    start = time.perf_counter()
    check(NASTY[name], content_type)
    check(NASTY[name].encode("utf-8", errors="surrogatepass"), content_type)
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize("content_type", [None, "text/html", "text/plain"])
def test_invalid_utf8(content_type: str | None) -> None:
    content = b"<html><body><p>caf\xe9 \xff\xfe\xc3 na\xefve \xed\xa0\x80 words</p></body></html>"
    document = extract(content, content_type=content_type)
    assert "caf" in document.text and "words" in document.text


def test_script_only_page_raises_extraction_error() -> None:
    with pytest.raises(ExtractionError):
        extract(NASTY["script-only"], content_type="text/html")


LAUGHS = "".join(
    f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
)


@pytest.mark.parametrize(
    "document",
    [
        "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY lol0 'lol'>" + LAUGHS + "]>"
        "<rss><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>",
        "<?xml version='1.0'?><!DOCTYPE feed [<!ENTITY lol0 'lol'>" + LAUGHS + "]>"
        "<feed xmlns='http://www.w3.org/2005/Atom'><title>&lol9;</title></feed>",
        # Quadratic blowup: one big entity referenced many times.
        "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a '" + "x" * 50_000 + "'>]><rss><channel>"
        "<title>" + "&a;" * 50_000 + "</title></channel></rss>",
        # External entity and external DTD.
        "<?xml version='1.0'?><!DOCTYPE r SYSTEM 'http://127.0.0.1:9/evil.dtd'>"
        "<rss><channel><title>t</title></channel></rss>",
    ],
    ids=["billion-laughs-rss", "billion-laughs-atom", "quadratic-blowup", "external-dtd"],
)
@pytest.mark.parametrize("content_type", [None, "application/rss+xml", "text/xml"])
def test_xml_bombs_do_not_expand(document: str, content_type: str | None) -> None:
    start = time.perf_counter()
    check(document.encode(), content_type)
    try:
        result = extract(document, content_type=content_type)
    except ExtractionError:
        pass
    else:
        assert len(result.text) < 10_000
        assert "lol" * 10 not in result.text
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        # htmldate (inside trafilatura) asserts on this: AssertionError escaped extract().
        ('<svg>"\u00e9\r<html>\t<p>Some words</p>', "text/html"),
        ('<svg>"\u00e9\r<html>\t', "text/html"),
        # A surrogate character reference in a malformed feed: lxml's recovery kept
        # bytes that are not UTF-8 and reading the title raised UnicodeDecodeError.
        (
            '<feed xmlns="http://www.w3.org/2005/Atom">text here <a href="javascript:x">"\t'
            "</script><svg></div>%PDF-<title>\u00e9text here &#xd800;<entry><pre>'<pre>]]><p>"
            '\t<html>&#0;\t-->><meta charset="bogus"><math></td><meta charset="bogus"><td>'
            '<div>\u00e9<?xml version="1.0" encoding="ebcdic"?><<tr>]]><style>&#xd800;\n<br/>'
            '<table>&#0;&amp;\x00</title><base href="javascript:alert(1)">%PDF-',
            "application/rss+xml",
        ),
        ("<rss><channel><title>A &#xD800; &#0; b</title></channel></rss>", "text/xml"),
    ],
    ids=["htmldate-assert", "htmldate-assert-short", "feed-surrogate", "feed-char-refs"],
)
def test_found_crashes_stay_documented_errors(content: str, content_type: str) -> None:
    try:
        document = extract(content, content_type=content_type)
    except ExtractionError:
        return
    assert isinstance(document, Document) and document.text.strip()
    assert "\ud800" not in document.text


@pytest.mark.parametrize("content_type", [None, "text/html", "application/rss+xml", "text/plain"])
def test_lone_surrogates_in_str_input(content_type: str | None) -> None:
    # A str decoded with surrogateescape (file names, argv) holds lone surrogates.
    content = (
        "<rss><channel><title>News \udcff</title><item><title>A</title></item></channel></rss>"
    )
    try:
        document = extract(content, content_type=content_type)
    except ExtractionError:
        return
    assert "\udcff" not in document.text
    document.text.encode("utf-8")
