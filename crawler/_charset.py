"""Turn response bytes into text the way a browser would.

Order of evidence: byte-order mark, then the ``charset`` of the HTTP
``Content-Type`` header, then ``<meta charset>`` / ``<meta http-equiv>`` / the
XML declaration in the first bytes, then statistical detection
(charset-normalizer), then UTF-8 with replacement characters.

Labels are mapped to the superset browsers actually use (WHATWG Encoding
Standard): ``gb2312``/``gbk`` -> ``gb18030``, ``shift_jis`` -> ``cp932``,
``euc-kr`` -> ``cp949``, ``iso-8859-1``/``latin-1``/``ascii`` -> ``cp1252``.
One deliberate exception: when a page declared as Latin-1/windows-1252 is valid
UTF-8 containing non-ASCII bytes, it is decoded as UTF-8; that mislabeling is
common and the reverse coincidence practically never happens.
"""

from __future__ import annotations

import codecs
import functools
import re
from email.message import Message

__all__ = [
    "SNIFF_BYTES",
    "charset_from_content_type",
    "decode_body",
    "is_textual",
    "normalize_encoding",
    "sniff_meta_charset",
]

SNIFF_BYTES = 4096
"""How many leading bytes are searched for ``<meta>`` and XML declarations."""

_DETECT_BYTES = 256 * 1024

_ALIASES: dict[str, str] = {}
for _target, _labels in {
    "gb18030": "gb2312 gbk x-gbk gb-2312 csgb2312 chinese iso-ir-58 euc-cn cp936 ms936 "
    "windows-936 csiso58gb231280 gb18030",
    "cp932": "shift_jis shift-jis sjis x-sjis ms_kanji ms-kanji csshiftjis windows-31j ms932 "
    "cp932 x-ms-cp932",
    "cp949": "euc-kr euckr ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 korean "
    "csksc56011987 iso-ir-149 windows-949 cp949 uhc",
    "cp1252": "iso-8859-1 iso8859-1 iso_8859-1 latin1 latin-1 l1 us-ascii ascii ansi_x3.4-1968 "
    "cp819 ibm819 iso-ir-100 csisolatin1 windows-1252 cp1252 x-cp1252",
    "cp1254": "iso-8859-9 iso8859-9 latin5 l5 windows-1254 cp1254",
    "cp874": "tis-620 iso-8859-11 windows-874 cp874",
    "big5hkscs": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "utf-8": "utf8 utf-8 unicode-1-1-utf-8 unicode11utf8 unicode20utf8 x-unicode20utf8",
    "utf-16-le": "utf-16 utf-16le unicode ucs-2 csunicode iso-10646-ucs-2",
    "utf-16-be": "utf-16be",
}.items():
    for _label in _labels.split():
        _ALIASES[_label] = _target

_TEXTUAL_TYPES = {
    "application/json",
    "application/ld+json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/javascript",
    "application/ecmascript",
    "application/x-javascript",
    "application/x-www-form-urlencoded",
    "application/x-sh",
    "application/toml",
    "application/yaml",
    "application/x-yaml",
}

_META_RE = re.compile(rb"<meta\b[^>]*?\bcharset\s*=\s*[\"']?\s*([A-Za-z0-9._:\-]+)", re.I)
_XML_DECL_RE = re.compile(rb"^\s*<\?xml\b[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._\-]+)[\"']")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def normalize_encoding(label: str | None) -> str | None:
    """Map an encoding label to the Python codec browsers effectively use, or ``None``."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    if not key:
        return None
    target = _ALIASES.get(key) or _ALIASES.get(key.replace("_", "-"))
    if target is None:
        target = _text_codec(key)
        if target is None:
            return None
        target = _ALIASES.get(target, target)
    return codecs.lookup(target).name


# Python codecs that decode bytes to str but are no page encoding: ``idna`` and
# ``punycode`` reject replacement, ``undefined`` always fails, the escapes and
# UTF-7 turn ASCII into other characters (UTF-7 is a known XSS trick; browsers
# refuse it). A label naming one is unknown, as in the WHATWG Encoding Standard.
_NOT_PAGE_ENCODINGS = frozenset(
    codecs.lookup(name).name
    for name in ("idna punycode undefined unicode_escape raw_unicode_escape utf-7").split()
)


@functools.lru_cache(maxsize=256)
def _text_codec(label: str) -> str | None:
    """The codec name for ``label`` if it is a usable text encoding, else ``None``.

    ``codecs.lookup`` also finds bytes-to-bytes codecs (``base64``, ``zlib``,
    ``hex``, ``uu``, ``rot13``) that ``bytes.decode`` refuses with a
    ``LookupError``; those, and the codecs above, count as unknown so that the
    detection chain goes on.
    """
    if len(label) > 64:
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_PAGE_ENCODINGS:
        return None
    try:
        b"a <\x80\xff\x00".decode(info.name, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None
    return info.name


def charset_from_content_type(content_type: str | None) -> str | None:
    """Return the normalised ``charset`` parameter of a Content-Type value, if any."""
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    charset = msg.get_param("charset")
    if isinstance(charset, tuple):  # RFC 2231 form
        charset = charset[2]
    return normalize_encoding(charset) if isinstance(charset, str) else None


def sniff_meta_charset(content: bytes) -> str | None:
    """Find a charset declared in the document itself (XML declaration or ``<meta>``)."""
    head = content[:SNIFF_BYTES]
    match = _XML_DECL_RE.match(head) or _META_RE.search(head)
    if not match:
        return None
    found = normalize_encoding(match.group(1).decode("ascii", "replace"))
    # A document readable as ASCII cannot really be UTF-16 (WHATWG: treat as UTF-8).
    if found in ("utf-16-le", "utf-16-be"):
        return "utf-8"
    return found


def is_textual(content_type: str | None, content: bytes = b"") -> bool:
    """Whether a body of this type should be decoded to text.

    Without a usable type, the first bytes decide: PDF magic and NUL bytes mean binary.
    """
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime.startswith("text/") or mime in _TEXTUAL_TYPES:
        return True
    if mime.endswith("+xml") or mime.endswith("+json"):
        return True
    if mime and mime not in ("application/octet-stream", "binary/octet-stream"):
        return False
    head = content[:1024]
    if head.startswith(b"%PDF"):
        return False
    return any(head.startswith(bom) for bom, _ in _BOMS) or b"\x00" not in head


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by a size limit at the very end is still UTF-8.
        return exc.start >= len(content) - 3 and exc.reason == "unexpected end of data"
    return True


_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


def _looks_western(sample: bytes) -> bool:
    """Mostly-ASCII letters with sparse high bytes, all defined in windows-1252.

    Western European text has a few accented letters per word; Cyrillic, Greek,
    Hebrew or Arabic single-byte text is made almost only of high bytes.
    """
    high = sum(1 for b in sample if b >= 0x80)
    if high == 0 or any(b in _CP1252_UNDEFINED for b in sample):
        return False
    ascii_letters = sum(1 for b in sample if 65 <= b <= 90 or 97 <= b <= 122)
    return high < 0.3 * (ascii_letters + high)


# The encodings of the WHATWG Encoding Standard (what browsers decode), as Python
# codec names. Detection may only answer one of these: on short samples
# charset-normalizer also proposes code pages no web page uses (cp1006, cp864,
# johab...), which turn a few accented letters into another script. UTF-16 is
# left out: without a BOM browsers never read a page as UTF-16.
_WEB_ENCODINGS = frozenset(
    codecs.lookup(name).name
    for name in (
        "utf-8 cp866 iso8859_2 iso8859_3 iso8859_4 iso8859_5 iso8859_6 iso8859_7 iso8859_8 "
        "iso8859_10 iso8859_13 iso8859_14 iso8859_15 iso8859_16 koi8_r koi8_u mac_roman "
        "mac_cyrillic cp874 cp1250 cp1251 cp1252 cp1253 cp1254 cp1255 cp1256 cp1257 cp1258 "
        "gb18030 big5hkscs euc_jp iso2022_jp cp932 cp949"
    ).split()
)
# Detected variants whose web counterpart decodes the same text.
_WEB_EQUIVALENT = {
    codecs.lookup(name).name: target
    for name, target in (
        ("shift_jis_2004", "cp932"),
        ("shift_jisx0213", "cp932"),
        ("euc_jis_2004", "euc_jp"),
        ("euc_jisx0213", "euc_jp"),
    )
}


def _web_encoding(name: str | None) -> str | None:
    found = normalize_encoding(name)
    if found is None:
        return None
    found = _WEB_EQUIVALENT.get(found, found)
    return found if found in _WEB_ENCODINGS else None


def _detect(content: bytes) -> str | None:
    from charset_normalizer import from_bytes

    sample = content[:_DETECT_BYTES]
    candidates = (_web_encoding(match.encoding) for match in from_bytes(sample))
    found = next((name for name in candidates if name is not None), None)
    single_byte = found is None or codecs.lookup(found).name not in _MULTIBYTE
    # Statistical detection is weak on short Western text (it guesses Baltic or
    # Central European code pages); windows-1252 is by far the likelier answer.
    if single_byte and _looks_western(sample):
        return "cp1252"
    return found


_MULTIBYTE = frozenset(
    codecs.lookup(name).name
    for name in (
        "utf-8 utf-16-le utf-16-be utf-32 gb18030 cp932 cp949 big5hkscs euc_jp euc_kr "
        "iso2022_jp iso2022_kr hz big5 shift_jis gbk gb2312 johab euc_jis_2004 "
        "shift_jis_2004 utf-7"
    ).split()
)


def decode_body(content: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode a response body; return ``(text, encoding)``.

    ``encoding`` is a Python codec name (``"utf-8"``, ``"gb18030"``, ``"cp932"``...).
    Undecodable bytes become U+FFFD; this function never raises on bad bytes.
    """
    for bom, name in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(name, errors="replace"), name
    declared = charset_from_content_type(content_type) or sniff_meta_charset(content)
    if declared == "cp1252" and not content.isascii() and _is_utf8(content):
        declared = "utf-8"
    if declared is None:
        if content.isascii() or _is_utf8(content):
            declared = "utf-8"
        else:
            declared = _detect(content) or "utf-8"
    return content.decode(declared, errors="replace"), declared
