"""Tests for crawler._extract: dispatch by content type and sniffing, and every non-HTML format."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest
from _pdfs import encrypt_pdf, make_pdf

from crawler._extract import (
    PDF_PAGE_MARKER,
    document_from_page,
    extract,
    sniff_content_type,
)
from crawler._models import Document, Page
from crawler.errors import CrawlerError, ExtractionError, UnsupportedContentType

ARTICLE_HTML = (
    "<!DOCTYPE html><html lang='en'><head><title>Tide Tables | Coast News</title></head><body>"
    "<nav><a href='/'>Home</a></nav><article><h1>Tide Tables</h1>"
    + "".join(
        f"<p>Paragraph {i}: the tides along the northern coast rise twice a day, pulled by the "
        "moon, and harbour masters publish their tables a year in advance.</p>"
        for i in range(4)
    )
    + "</article><footer>Copyright</footer></body></html>"
)

RSS2 = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
 <title>Example Blog</title><link>https://example.org/</link>
 <description>News &amp; notes</description><language>en-us</language>
 <item><title>First post</title><link>https://example.org/1</link>
  <pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate>
  <description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description></item>
 <item><title>Second</title><guid>https://example.org/2</guid>
  <content:encoded><![CDATA[<p>Rich <i>content</i></p><script>evil()</script>]]></content:encoded>
 </item>
</channel></rss>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
  xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel rdf:about="https://example.org/"><title>RDF Feed</title>
  <link>https://example.org/</link><description>Old style</description></channel>
 <item rdf:about="https://example.org/a"><title>Item A</title><link>https://example.org/a</link>
  <dc:date>2024-02-02</dc:date><description>Alpha</description></item>
 <item rdf:about="https://example.org/b"><title>Item B</title></item>
</rdf:RDF>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
 <title type="text">Carnet de bord</title><subtitle>Notes du large</subtitle>
 <link href="https://example.fr/" rel="alternate"/>
 <entry><title>Première</title><link rel="self" href="https://example.fr/1.atom"/>
  <link href="https://example.fr/1"/><updated>2024-03-03T00:00:00Z</updated>
  <summary type="html">&lt;em&gt;Une entrée&lt;/em&gt;</summary></entry>
 <entry><title>Deuxième</title><published>2024-03-04T00:00:00Z</published>
  <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Texte <b>riche</b></p></div>
  </content></entry>
</feed>""".encode()

_LOL = "".join(
    f' <!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">\n' for i in range(1, 10)
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 "lol">\n' + _LOL + "]>\n"
    "<rss version='2.0'><channel><title>Bomb &lol9;</title>"
    "<item><title>t &lol9;</title></item></channel></rss>"
).encode()

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>XXE &xxe;</title><item><title>i &xxe;</title></item></channel>
</rss>"""

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(40))


def make_page(content: bytes, content_type: str, *, text: str | None = None) -> Page:
    return Page(
        url="http://example.org/start",
        final_url="http://example.org/final",
        status_code=200,
        headers=httpx.Headers({"content-type": content_type}),
        content_type=content_type,
        encoding="utf-8",
        content=content,
        text=content.decode("utf-8", errors="replace") if text is None else text,
    )


# --------------------------------------------------------------------------- dispatch

HTML_EXTRACTORS = {"trafilatura", "structure", "trafilatura+structure", "fallback"}


@pytest.mark.parametrize(
    ("content", "content_type", "extractor", "media_type"),
    [
        (ARTICLE_HTML, "text/html; charset=utf-8", "html", "text/html"),
        (ARTICLE_HTML, "TEXT/HTML", "html", "text/html"),
        (ARTICLE_HTML.encode(), None, "html", "text/html"),
        (ARTICLE_HTML.encode(), "application/octet-stream", "html", "text/html"),
        (ARTICLE_HTML, "text/plain", "html", "text/html"),
        (ARTICLE_HTML, "application/xhtml+xml", "html", "text/html"),
        ("just words", "text/plain", "plain", "text/plain"),
        ("just words", None, "plain", "text/plain"),
        (b"just words", "application/octet-stream", "plain", "text/plain"),
        ("# T\n\nbody", "text/markdown; charset=utf-8", "plain", "text/markdown"),
        ("body { color: red }", "text/css", "plain", "text/css"),
        ("key: value", "application/x-yaml", "plain", "application/x-yaml"),
        ('{"a": 1}', "application/json", "json", "application/json"),
        ('{"a": 1}', "application/ld+json", "json", "application/ld+json"),
        ('{"a": 1}', None, "json", "application/json"),
        ("[1, 2]", "application/octet-stream", "json", "application/json"),
        ("[not json] at all", None, "plain", "text/plain"),
        ('{"a": 1}', "text/plain", "plain", "text/plain"),
        (RSS2, "application/rss+xml", "feed", "application/rss+xml"),
        (RSS2, "text/xml", "feed", "application/rss+xml"),
        (RSS2, None, "feed", "application/rss+xml"),
        (RSS2, "text/plain", "feed", "application/rss+xml"),
        (RDF, "application/rdf+xml", "feed", "application/rdf+xml"),
        (ATOM, "application/atom+xml", "feed", "application/atom+xml"),
        (ATOM, "application/octet-stream", "feed", "application/atom+xml"),
    ],
    ids=[
        "html", "html-uppercase", "html-sniffed", "html-octet-stream", "html-as-text-plain",
        "xhtml", "text", "text-untyped", "text-octet-stream", "markdown", "css-as-text",
        "yaml-as-text", "json", "json-suffix", "json-sniffed", "json-octet-stream",
        "bracket-text", "json-as-text-plain", "rss", "rss-text-xml", "rss-sniffed",
        "rss-as-text-plain", "rdf", "atom", "atom-octet-stream",
    ],
)
def test_dispatch(
    content: str | bytes, content_type: str | None, extractor: str, media_type: str
) -> None:
    document = extract(content, content_type=content_type, url="https://example.org/doc")
    assert isinstance(document, Document)
    if extractor == "html":  # _html.extract_html picks among its own extractors
        assert document.extractor in HTML_EXTRACTORS
    else:
        assert document.extractor == extractor
    assert document.content_type == media_type
    assert document.text.strip()


def test_html_goes_through_extract_html_with_options() -> None:
    markdown = extract(ARTICLE_HTML, content_type="text/html", url="https://example.org/t")
    assert markdown.title and "Tide Tables" in markdown.title
    assert "# Tide Tables" in markdown.text
    assert "harbour masters" in markdown.text
    assert "Copyright" not in markdown.text
    assert markdown.url == "https://example.org/t"
    assert markdown.format == "markdown"
    text = extract(ARTICLE_HTML, content_type="text/html", output_format="text")
    assert text.format == "text"
    assert "# Tide Tables" not in text.text


def test_html_bytes_are_decoded_with_the_declared_charset() -> None:
    body = "<html><body><article><p>Crème brûlée à la française, servie froide, " \
        "avec du sucre caramélisé sur le dessus et des fruits.</p></article></body></html>"
    document = extract(body.encode("cp1252"), content_type="text/html; charset=windows-1252")
    assert "Crème brûlée" in document.text


def test_script_only_page_is_an_extraction_error() -> None:
    with pytest.raises(ExtractionError):
        extract("<html><body><script>alert(1)</script></body></html>", content_type="text/html")


# --------------------------------------------------------------------------- text


def test_text_passthrough_normalises_newlines_and_strips_bom() -> None:
    document = extract("\ufeffline one\r\nline two\rline three\n\n", content_type="text/plain")
    assert document.text == "line one\nline two\nline three"
    assert document.format == "text"
    assert document.title is None


def test_text_bytes_with_bom_and_nul_bytes() -> None:
    document = extract(b"\xef\xbb\xbfcaf\xc3\xa9\x00 ok", content_type="text/plain")
    assert document.text == "café ok"


def test_markdown_title_from_leading_heading() -> None:
    document = extract("\n# The Title ##\n\nBody text.", content_type="text/markdown")
    assert document.title == "The Title"
    assert document.format == "markdown"
    assert document.text.startswith("# The Title")


def test_markdown_title_from_front_matter() -> None:
    document = extract('---\ntitle: "Front Title"\n---\n\nBody.', content_type="text/markdown")
    assert document.title == "Front Title"


def test_heading_not_on_first_line_is_not_a_title() -> None:
    assert extract("intro\n# Later", content_type="text/plain").title is None


@pytest.mark.parametrize(
    "content",
    ["", "   \n\t ", b"", b" \r\n ", "\ufeff  "],
    ids=["empty", "ws", "bytes", "bytes-ws", "bom"],
)
@pytest.mark.parametrize("content_type", [None, "text/plain", "text/html", "application/json"])
def test_empty_content_is_an_extraction_error(
    content: str | bytes, content_type: str | None
) -> None:
    with pytest.raises(ExtractionError, match="(?i)no text|empty"):
        extract(content, content_type=content_type)


# --------------------------------------------------------------------------- JSON


def test_json_pretty_printed_keeping_non_ascii() -> None:
    document = extract(b'{"name":"J\xc3\xbcrgen","tags":[1,2]}', content_type="application/json")
    assert document.text == json.dumps({"name": "Jürgen", "tags": [1, 2]}, indent=2,
                                       ensure_ascii=False)
    assert "Jürgen" in document.text
    assert document.extractor == "json"


def test_invalid_json_reports_the_parser_message() -> None:
    with pytest.raises(ExtractionError, match=r"Invalid JSON: Expecting .* line 1 column"):
        extract('{"a": }', content_type="application/json")


def test_too_deep_json_is_an_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="nested too deeply"):
        extract("[" * 100_000 + "]" * 100_000, content_type="application/json")


def test_huge_json_integer_is_an_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="Invalid JSON"):
        extract("9" * 10_000, content_type="application/json")


# --------------------------------------------------------------------------- PDF


def test_pdf_text_per_page_with_markers_and_metadata() -> None:
    pdf = make_pdf(
        ["First page about (tides)\nsecond line", "Second page about harbours"],
        title="Tides", author="Ann Mariner", creation_date="D:20240102030405Z",
        subject="Coastal notes",
    )
    document = extract(pdf, content_type="application/pdf", url="https://example.org/t.pdf")
    assert document.text == (
        "First page about (tides)\nsecond line"
        + PDF_PAGE_MARKER.format(number=2)
        + "Second page about harbours"
    )
    assert document.title == "Tides"
    assert document.author == "Ann Mariner"
    assert document.date == "2024-01-02T03:04:05+00:00"
    assert document.description == "Coastal notes"
    assert document.language == "en-GB"
    assert document.content_type == "application/pdf"
    assert document.extractor == "pypdf"
    assert document.url == "https://example.org/t.pdf"


def test_pdf_blank_page_keeps_the_numbering() -> None:
    document = extract(make_pdf(["one", "", "three"]))
    assert document.text == "one\n\n--- Page 2 ---\n\n--- Page 3 ---\n\nthree"


@pytest.mark.parametrize(
    "content_type", [None, "application/octet-stream", "text/html", "application/x-pdf"]
)
def test_pdf_is_recognised_whatever_it_is_served_as(content_type: str | None) -> None:
    assert extract(make_pdf(["Sniffed words"]), content_type=content_type).text == "Sniffed words"


def test_pdf_passed_as_latin1_text_is_read() -> None:
    assert extract(make_pdf(["As text"]).decode("latin-1")).text == "As text"


def test_pdf_without_text_layer_needs_ocr() -> None:
    with pytest.raises(ExtractionError, match="no text layer.*OCR"):
        extract(make_pdf(["", ""]), content_type="application/pdf")


def test_pdf_encrypted_with_a_password() -> None:
    locked = encrypt_pdf(make_pdf(["Secret words"]), user_password="hunter2")
    with pytest.raises(ExtractionError, match="encrypted and needs a password"):
        extract(locked, content_type="application/pdf")


def test_pdf_encrypted_with_only_an_owner_password_is_read() -> None:
    restricted = encrypt_pdf(make_pdf(["Open words"]), user_password="")
    assert extract(restricted, content_type="application/pdf").text == "Open words"


@pytest.mark.parametrize(
    "content",
    [
        make_pdf(["Truncated document text"])[:150],
        b"%PDF-1.7\n" + b"garbage " * 50,
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R"
        b" >>\n%%EOF",
    ],
    ids=["truncated", "garbage", "dangling-ref"],
)
def test_broken_pdf_is_an_extraction_error(
    content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)
    with pytest.raises(ExtractionError, match="(?i)broken|no pages|no text layer"):
        extract(content, content_type="application/pdf")


# --------------------------------------------------------------------------- feeds


def test_rss2_entries_and_markdown() -> None:
    document = extract(RSS2, content_type="application/rss+xml; charset=utf-8")
    assert document.title == "Example Blog"
    assert document.description == "News & notes"
    assert document.language == "en-us"
    assert document.url == "https://example.org/"
    assert document.date == "Mon, 01 Jan 2024 10:00:00 GMT"
    assert document.entries == (
        {"title": "First post", "link": "https://example.org/1",
         "date": "Mon, 01 Jan 2024 10:00:00 GMT", "summary": "Hello world"},
        {"title": "Second", "link": "https://example.org/2", "date": "", "summary": "Rich content"},
    )
    assert document.text == (
        "# Example Blog\n\nNews & notes\n\n"
        "- [First post](https://example.org/1) (Mon, 01 Jan 2024 10:00:00 GMT)\n  Hello world\n"
        "- [Second](https://example.org/2)\n  Rich content"
    )
    assert "evil" not in document.text


def test_feed_as_plain_text() -> None:
    document = extract(RSS2, output_format="text")
    assert document.format == "text"
    assert document.text.startswith("Example Blog\n\nNews & notes\n\nFirst post\n")
    assert "](" not in document.text


def test_rss1_rdf_entries() -> None:
    document = extract(RDF)
    assert document.title == "RDF Feed"
    assert document.content_type == "application/rdf+xml"
    assert document.entries[0] == {
        "title": "Item A", "link": "https://example.org/a", "date": "2024-02-02",
        "summary": "Alpha",
    }
    assert document.entries[1]["link"] == "https://example.org/b"  # from rdf:about


def test_atom_entries_with_alternate_links_and_xhtml_content() -> None:
    document = extract(ATOM, url="https://example.fr/feed")
    assert document.title == "Carnet de bord"
    assert document.description == "Notes du large"
    assert document.language == "fr"
    assert document.url == "https://example.fr/feed"
    first, second = document.entries
    assert first == {"title": "Première", "link": "https://example.fr/1",
                     "date": "2024-03-03T00:00:00Z", "summary": "Une entrée"}
    assert second["summary"] == "Texte riche"
    assert second["date"] == "2024-03-04T00:00:00Z"
    assert "- Deuxième (2024-03-04T00:00:00Z)" in document.text


def test_feed_declared_latin1_is_decoded() -> None:
    latin = ATOM.decode().replace("utf-8", "iso-8859-1").encode("latin-1")
    assert extract(latin).entries[0]["title"] == "Première"


@pytest.mark.parametrize("feed", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_feeds_declaring_entities_are_refused_without_expanding(feed: bytes) -> None:
    start = time.perf_counter()
    with pytest.raises(ExtractionError, match="declares its own XML entities"):
        extract(feed, content_type="application/rss+xml")
    assert time.perf_counter() - start < 1.0


def test_malformed_feed_entities_are_repaired(caplog: pytest.LogCaptureFixture) -> None:
    broken = RSS2.replace(b"News &amp; notes", b"News & notes &copy; AT&T")
    with caplog.at_level(logging.WARNING, logger="crawler._formats"):
        document = extract(broken)
    assert document.description == "News & notes \u00a9 AT&T"
    assert len(document.entries) == 2
    assert "malformed entities" in caplog.text


def test_xml_that_is_not_a_feed_is_unsupported() -> None:
    sitemap = b'<?xml version="1.0"?><urlset><url><loc>https://e.org/</loc></url></urlset>'
    with pytest.raises(UnsupportedContentType, match="not an RSS or Atom feed.*<urlset>"):
        extract(sitemap, content_type="application/xml")


def test_empty_feed_is_an_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="no entries and no title"):
        extract(b"<rss version='2.0'><channel></channel></rss>")


def test_feed_with_title_but_no_entries_says_so() -> None:
    document = extract(b"<rss version='2.0'><channel><title>Quiet</title></channel></rss>")
    assert document.text == "# Quiet\n\n(The feed has no entries.)"
    assert document.entries == ()


# --------------------------------------------------------------------------- unsupported


@pytest.mark.parametrize(
    ("content", "content_type", "named"),
    [
        (b"whatever", "image/png", "image/png"),
        (b"whatever", "video/mp4; codecs=avc1", "video/mp4"),
        (PNG, None, "image/png"),
        (PNG, "application/octet-stream", "image/png"),
        (PNG, "text/html", "image/png"),
        (ZIP, "application/zip", "application/zip"),
        (ZIP, None, "application/zip"),
        (b"\x1f\x8b\x08\x00" + bytes(20), "text/html", "application/gzip"),
        (bytes(range(256)), "application/octet-stream", "application/octet-stream"),
        (b"\x00\x01\x02text\x00\x03", None, "application/octet-stream"),
        (bytes(range(256)), "application/x-custom", "application/x-custom"),
    ],
    ids=[
        "image", "video", "png-sniffed", "png-octet", "png-as-html", "zip", "zip-sniffed",
        "gzip-as-html", "octet-binary", "untyped-binary", "unknown-binary",
    ],
)
def test_unsupported_content(content: bytes, content_type: str | None, named: str) -> None:
    with pytest.raises(UnsupportedContentType) as info:
        extract(content, content_type=content_type, url="https://example.org/x")
    message = str(info.value)
    assert named in message
    assert "Supported formats: HTML/XHTML" in message and "PDF" in message
    assert info.value.content_type == named
    assert info.value.url == "https://example.org/x"
    assert isinstance(info.value, ExtractionError)


def test_html_with_a_stray_nul_byte_is_still_html() -> None:
    body = ARTICLE_HTML.replace("rise twice", "rise\x00 twice").encode()
    assert "harbour masters" in extract(body, content_type="text/html").text


def test_text_mentioning_the_pdf_magic_is_text() -> None:
    assert extract("The header is %PDF-1.7, then objects.").extractor == "plain"


def test_utf16_text_with_bom_is_text() -> None:
    assert extract("hello there".encode("utf-16")).text == "hello there"


# --------------------------------------------------------------------------- misuse


def test_unknown_output_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="output_format must be one of markdown, text"):
        extract("x", output_format="html")  # type: ignore[arg-type]


def test_content_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="content must be str or bytes"):
        extract(42)  # type: ignore[arg-type]


def test_bytearray_is_accepted() -> None:
    assert extract(bytearray(b"plain"), content_type="text/plain").text == "plain"


# --------------------------------------------------------------------------- pages


def test_document_from_page_uses_the_decoded_text_and_final_url() -> None:
    html = ARTICLE_HTML.replace("harbour", "h\u00e4rbour")
    page = make_page(html.encode("cp1252"), "text/html", text=html)
    document = document_from_page(page, output_format="text")
    assert "härbour masters" in document.text
    assert document.url == "http://example.org/final"
    assert document.format == "text"


def test_document_from_page_reads_pdf_bytes() -> None:
    pdf = make_pdf(["Fetched PDF words"], title="Fetched")
    page = make_page(pdf, "application/pdf", text=pdf.decode("utf-8", errors="replace"))
    document = document_from_page(page)
    assert document.text == "Fetched PDF words"
    assert document.title == "Fetched"


def test_document_from_page_unsupported_names_the_url() -> None:
    with pytest.raises(UnsupportedContentType, match="image/png content at http://example.org/final"):
        document_from_page(make_page(PNG, "image/png", text=""))


def test_document_from_page_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="crawler Page"):
        document_from_page("<html></html>")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"%PDF-1.7\n...", "application/pdf"),
        (b"\xef\xbb\xbf  <!DOCTYPE html><html>", "text/html"),
        ("<!-- c --><html lang=en>", "text/html"),
        ("<p>fragment</p>", "text/html"),
        ("<?xml version='1.0'?>\n<!-- c -->\n<rss>", "application/rss+xml"),
        ("<feed xmlns='http://www.w3.org/2005/Atom'>", "application/rss+xml"),
        ("<?xml version='1.0'?><rdf:RDF>", "application/rss+xml"),
        ("<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'>", "text/html"),
        ("<?xml version='1.0'?><urlset>", "application/xml"),
        (' \n{"a": 1}', "application/json"),
        ("plain words", None),
        ("<notatag", None),
        (PNG, "image/png"),
        (b"\x00\x00\x00 binary \x01\x02", "application/octet-stream"),
        ("<html>".encode("utf-16"), "text/html"),
    ],
)
def test_sniff_content_type(content: str | bytes, expected: str | None) -> None:
    assert sniff_content_type(content) == expected


def test_every_error_is_a_crawler_error() -> None:
    for content, content_type in [(PNG, None), ("", None), ("{", "application/json")]:
        with pytest.raises(CrawlerError):
            extract(content, content_type=content_type)


@pytest.mark.parametrize(
    "html",
    [
        "<div>" * 5000 + "Words hidden deep in the page." + "</div>" * 5000,
        "<html><body>" + "<b>" * 5000 + "Unclosed bold words. " * 20,
    ],
    ids=["deep-divs", "unclosed-tags"],
)
def test_html_with_text_never_comes_back_empty(html: str) -> None:
    # lxml stops at 256 levels of nesting: the visible text is the last resort.
    document = extract(html, content_type="text/html")
    assert "Words hidden deep" in document.text or "Unclosed bold words." in document.text
    assert document.extractor == "visible-text"


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>T</title><script>var x = 1;</script></head><body></body></html>",
        "<html><body><style>p { color: red }</style><img src='a.png'></body></html>",
        "<html><body>\ufeff\u200b &nbsp; <script>x()</script></body></html>",
    ],
    ids=["script-only", "style-and-image", "invisible"],
)
def test_html_without_visible_text_still_raises(html: str) -> None:
    with pytest.raises(ExtractionError):
        extract(html, content_type="text/html")
