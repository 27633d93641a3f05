"""Charset decoding: BOM, header, meta, XML declaration, detection, fallback."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler._charset import (
    charset_from_content_type,
    decode_body,
    is_textual,
    normalize_encoding,
    sniff_meta_charset,
)

SAMPLES = {
    "gbk": "潮池形成于海水每天两次退去的地方，岩石的凹处留下了海水。海葵和小螃蟹生活在那里。",
    "gb2312": "中文网页，欢迎光临。这是一个测试页面，用来检查编码。",
    "shift_jis": "潮だまりは、海が一日に二度引いて岩のくぼみに水が残る場所にできます。",
    "euc-kr": "조수 웅덩이는 바다가 하루에 두 번 물러나 바위의 움푹한 곳에 물이 남습니다.",
    "windows-1251": "Приливные лужи образуются там, где море отступает дважды в день.",
    "koi8-r": "Приливные лужи образуются там, где море отступает дважды в день.",
    "latin-1": "Les mares à marée se forment là où la mer se retire deux fois par jour; "
    "les élèves étudient la faune, été comme hiver.",
    "windows-1252": "Größe, Straße und schöne Tümpel: „Gezeiten“ – überall.",
    "utf-8": "Tide pools — 潮池 — приливные лужи — 조수 웅덩이.",
}

EXPECTED_CODEC = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "shift_jis": "cp932",
    "euc-kr": "cp949",
    "windows-1251": "cp1251",
    "koi8-r": "koi8-r",
    "latin-1": "cp1252",
    "windows-1252": "cp1252",
    "utf-8": "utf-8",
}


def _page(text: str, meta: str = "") -> str:
    return f"<html><head>{meta}<title>x</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize("enc", sorted(SAMPLES))
def test_header_charset(enc: str) -> None:
    html = _page(SAMPLES[enc])
    text, encoding = decode_body(html.encode(enc), f"text/html; charset={enc.upper()}")
    assert text == html
    assert encoding == EXPECTED_CODEC[enc]


@pytest.mark.parametrize("enc", sorted(SAMPLES))
@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="{enc}">',
        "<meta charset={enc}>",
        '<meta http-equiv="Content-Type" content="text/html; charset={enc}">',
        "<META HTTP-EQUIV='content-type' CONTENT='text/html;charset={enc}'>",
    ],
    ids=["charset", "unquoted", "http-equiv", "upper-case"],
)
def test_meta_charset(enc: str, meta: str) -> None:
    html = _page(SAMPLES[enc], meta.format(enc=enc))
    text, encoding = decode_body(html.encode(enc), "text/html")
    assert text == html
    assert encoding == EXPECTED_CODEC[enc]


@pytest.mark.parametrize("enc", ["gbk", "shift_jis", "euc-kr", "windows-1251", "latin-1", "utf-8"])
def test_detection_without_any_declaration(enc: str) -> None:
    html = _page(SAMPLES[enc] * 3)
    text, _ = decode_body(html.encode(enc), "text/html")
    assert text == html


@pytest.mark.parametrize(
    ("text", "enc"),
    [("Grüße", "latin-1"), ("Zażółć gęślą jaźń", "cp1250"), ("Ελληνικά κείμενα εδώ", "cp1253")],
)
def test_detection_of_short_text_answers_a_web_encoding(text: str, enc: str) -> None:
    # charset-normalizer's first guess for "Grüße" is cp1006 (Urdu): "Grﮰﻑe".
    decoded, encoding = decode_body(text.encode(enc), "text/plain")
    assert decoded == text
    assert encoding in {"cp1252", "cp1250", "cp1253"}


def test_no_utf16_guess_without_a_bom() -> None:
    decoded, encoding = decode_body(b"abc\xff", "text/plain")
    assert not encoding.startswith("utf-16")
    assert decoded.startswith("abc")


def test_xml_declaration() -> None:
    xml = '<?xml version="1.0" encoding="windows-1251"?><rss><title>Привет мир</title></rss>'
    text, encoding = decode_body(xml.encode("cp1251"), "application/rss+xml")
    assert text == xml and encoding == "cp1251"


def test_header_wins_over_meta() -> None:
    html = _page(SAMPLES["windows-1251"], '<meta charset="iso-8859-5">')
    text, encoding = decode_body(html.encode("cp1251"), "text/html; charset=windows-1251")
    assert text == html and encoding == "cp1251"


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_bom_wins_over_header(bom: bytes, codec: str) -> None:
    html = _page("Grüße 你好")
    text, encoding = decode_body(bom + html.encode(codec), "text/html; charset=iso-8859-1")
    assert text == html and encoding == codec


def test_utf8_mislabeled_as_latin1_is_read_as_utf8() -> None:
    html = _page("Crème brûlée — Grüße")
    text, encoding = decode_body(html.encode("utf-8"), "text/html; charset=ISO-8859-1")
    assert text == html and encoding == "utf-8"


def test_meta_utf16_on_ascii_bytes_means_utf8() -> None:
    html = _page("plain", '<meta charset="utf-16">')
    assert decode_body(html.encode(), None) == (html, "utf-8")


def test_unknown_labels_fall_through() -> None:
    html = _page("héllo")
    text, encoding = decode_body(html.encode(), "text/html; charset=no-such-charset")
    assert text == html and encoding == "utf-8"


def test_invalid_bytes_become_replacement_characters() -> None:
    text, encoding = decode_body(b"ok \xff\xfe\xfd end", "text/plain; charset=utf-8")
    assert encoding == "utf-8"
    assert text.startswith("ok ") and text.endswith(" end") and "\ufffd" in text


def test_truncated_utf8_at_end_still_utf8() -> None:
    data = "naïve 潮池".encode()[:-1]
    text, encoding = decode_body(data, "text/plain")
    assert encoding == "utf-8" and text.startswith("naïve ")


def test_empty_body() -> None:
    assert decode_body(b"", None) == ("", "utf-8")


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("GB2312", "gb18030"),
        ("gbk", "gb18030"),
        ("x-sjis", "cp932"),
        ("Shift_JIS", "cp932"),
        ("windows-31j", "cp932"),
        ("EUC-KR", "cp949"),
        ("ks_c_5601-1987", "cp949"),
        ("ISO-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("iso-8859-9", "cp1254"),
        ("tis-620", "cp874"),
        ("big5", "big5hkscs"),
        ("UTF8", "utf-8"),
        ("utf-16", "utf-16-le"),
        ("'utf-8'", "utf-8"),
        ("koi8-u", "koi8-u"),
        ("euc-jp", "euc_jp"),
        ("", None),
        ("bogus-charset", None),
        (None, None),
    ],
)
def test_aliases(label: str | None, codec: str | None) -> None:
    assert normalize_encoding(label) == codec


def test_content_type_parsing() -> None:
    assert charset_from_content_type('text/html; charset="Shift_JIS"') == "cp932"
    assert charset_from_content_type("text/html;charset=utf-8;foo=bar") == "utf-8"
    assert charset_from_content_type("text/html") is None
    assert charset_from_content_type(None) is None


def test_meta_beyond_sniff_window_is_ignored() -> None:
    html = "<html><head>" + " " * 5000 + '<meta charset="windows-1251"></head></html>'
    assert sniff_meta_charset(html.encode()) is None


@pytest.mark.parametrize(
    ("ctype", "content", "textual"),
    [
        ("text/html; charset=utf-8", b"", True),
        ("application/json", b"{}", True),
        ("application/rss+xml", b"<rss/>", True),
        ("image/svg+xml", b"<svg/>", True),
        ("application/ld+json", b"{}", True),
        ("application/pdf", b"%PDF-1.4", False),
        ("image/png", b"\x89PNG", False),
        ("", b"%PDF-1.7 ...", False),
        ("application/octet-stream", b"\x00\x01\x02", False),
        ("", b"<html>hello</html>", True),
        (None, codecs.BOM_UTF16_LE + "hi".encode("utf-16-le"), True),
    ],
)
def test_is_textual(ctype: str | None, content: bytes, textual: bool) -> None:
    assert is_textual(ctype, content) is textual


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=2048),
    st.sampled_from(
        [
            None,
            "text/html",
            "text/html; charset=utf-8",
            "text/plain; charset=gbk",
            "text/html; charset=shift_jis",
            "text/html; charset=bogus",
            "text/html; charset=",
        ]
    ),
)
def test_never_raises(content: bytes, ctype: str | None) -> None:
    text, encoding = decode_body(content, ctype)
    assert isinstance(text, str)
    codecs.lookup(encoding)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=500))
def test_utf8_round_trip(text: str) -> None:
    expected = text[1:] if text.startswith("\ufeff") else text
    assert decode_body(text.encode("utf-8"), "text/plain") == (expected, "utf-8")


NOT_TEXT_CODECS = [
    "rot13",
    "rot_13",
    "base64",
    "zlib",
    "idna",
    "undefined",
    "hex",
    "uu",
    "bz2",
    "quopri",
    "punycode",
    "utf-7",
    "unicode_escape",
    "raw_unicode_escape",
]


@pytest.mark.parametrize("label", NOT_TEXT_CODECS)
def test_charset_naming_a_non_text_codec_is_unknown(label: str) -> None:
    # In the header: the label is ignored and the body (valid UTF-8) is read as UTF-8.
    body = "caf\u00e9 na\u00efve".encode()
    assert decode_body(body, f"text/html; charset={label}") == ("caf\u00e9 na\u00efve", "utf-8")
    # In <meta>: the same, and the detection chain still runs.
    page = f'<meta charset="{label}"><p>caf\u00e9</p>'.encode()
    text, encoding = decode_body(page, "text/html")
    assert encoding == "utf-8" and "caf\u00e9" in text
    assert normalize_encoding(label) is None


def test_overlong_or_odd_charset_label_is_unknown() -> None:
    assert normalize_encoding("x" * 10_000) is None
    assert normalize_encoding("utf-8\x00") is None
    assert decode_body(b"abc", "text/plain; charset=" + "u" * 5000) == ("abc", "utf-8")
