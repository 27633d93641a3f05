"""URL normalisation, crawl scope, include/exclude patterns and link extraction.

Normalisation turns the many spellings of one address into one key, so a crawl
fetches each page once:

* the scheme and host are lower-cased, the host is IDNA-encoded and loses a
  trailing dot, the default port (80 for http, 443 for https) is dropped;
* ``.`` and ``..`` path segments are resolved, an empty path becomes ``/``;
* percent-escapes are upper-cased, escaped unreserved characters
  (``A-Z a-z 0-9 - . _ ~``) are decoded, and characters that must be escaped
  (spaces, non-ASCII) are escaped as UTF-8;
* the fragment (``#...``) is dropped;
* tracking parameters (``utm_*``, ``fbclid``, ``gclid``... see
  :data:`TRACKING_PARAMS`) are removed from the query;
* the query parameters are sorted by name (stable: repeated names keep their
  order). Servers almost never give the order a meaning, and sorting makes
  ``?a=1&b=2`` and ``?b=2&a=1`` one page. Pass ``sort_query=False`` to keep it.
  Parameter values are otherwise left exactly as written (``+`` stays ``+``).
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable, Iterable
from typing import Union
from urllib.parse import quote as _quote
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from lxml import etree

from .errors import InvalidURL

__all__ = [
    "SKIP_EXTENSIONS",
    "Patterns",
    "TRACKING_PARAMS",
    "compile_patterns",
    "extract_links",
    "in_site",
    "normalize_url",
    "site_root",
]

logger = logging.getLogger(__name__)

#: Query parameters removed by :func:`normalize_url` (names starting with ``utm_`` too).
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
        "vero_id", "oly_anon_id", "oly_enc_id", "srsltid",
    }
)
_TRACKING_PREFIXES = ("utm_",)

#: Link targets with these extensions are not followed: they are never text.
SKIP_EXTENSIONS: frozenset[str] = frozenset(
    """
    png jpg jpeg gif webp avif svg ico bmp tif tiff heic
    mp3 mp4 m4a m4v avi mov mkv webm wav ogg oga ogv flac aac wmv flv
    zip gz tgz bz2 xz 7z rar tar zst exe msi dmg iso apk deb rpm bin img
    woff woff2 ttf otf eot css js mjs map wasm
    doc docx xls xlsx ppt pptx odt ods odp
    """.split()
)

#: What ``include=``/``exclude=`` accept: one pattern or several (see :func:`compile_patterns`).
Patterns = Union[str, "re.Pattern[str]", Iterable[Union[str, "re.Pattern[str]"]], None]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_PATH_SAFE = "/:@!$&'()*+,;=%"
_QUERY_SAFE = "/?:@!$'()*+,;=%"
# WHATWG URL parsing drops tabs and newlines anywhere in a URL.
_STRIP_CHARS = re.compile(r"[\t\n\r]")

def normalize_url(
    url: str,
    base: str | None = None,
    *,
    sort_query: bool = True,
    strip_tracking: bool = True,
) -> str:
    """Return the canonical form of an http(s) URL (see the module docstring).

    Args:
        url: An absolute URL, or a relative one when ``base`` is given.
        base: The URL ``url`` is relative to (a page's URL or its ``<base href>``).
        sort_query: Sort query parameters by name.
        strip_tracking: Remove ``utm_*`` and other tracking parameters.

    Returns:
        The normalised absolute URL, without fragment.

    Raises:
        InvalidURL: The result is not an http(s) URL with a host, or it has a
            malformed port or host.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    raw = _STRIP_CHARS.sub("", url).strip()
    if base is not None:
        raw = urljoin(_STRIP_CHARS.sub("", base).strip(), raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"Malformed URL {url!r}: {exc}", url=url) from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL(
            f"Not an http(s) URL: {url!r}. Give a URL starting with http:// or https://.",
            url=url,
        )
    host = _normalize_host(parts.hostname or "", url)
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    userinfo, sep, _ = parts.netloc.rpartition("@")
    if sep:
        # Kept so that the fetcher can refuse it with its own clear message.
        netloc = f"{userinfo}@{netloc}"
    path = _fix_escapes(_remove_dot_segments(parts.path), _PATH_SAFE)
    query = _normalize_query(parts.query, sort_query=sort_query, strip_tracking=strip_tracking)
    return urlunsplit((scheme, netloc, path, query, ""))


def _normalize_host(host: str, url: str) -> str:
    if not host:
        raise InvalidURL(f"URL {url!r} has no host.", url=url)
    host = host.rstrip(".").lower()
    if ":" in host:  # IPv6 literal; urlsplit removed the brackets
        return f"[{host}]"
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidURL(f"URL {url!r} has an invalid host name: {exc}", url=url) from exc
    if not host or any(ch in host for ch in " %<>\\^`{|}\""):
        raise InvalidURL(f"URL {url!r} has an invalid host name.", url=url)
    return host


def _remove_dot_segments(path: str) -> str:
    """Resolve ``.`` and ``..`` segments (RFC 3986, section 5.2.4)."""
    segments = path.split("/")
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def _fix_escapes(text: str, safe: str) -> str:
    def repl(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _quote(_ESCAPE.sub(repl, text), safe=safe)


def _normalize_query(query: str, *, sort_query: bool, strip_tracking: bool) -> str:
    if not query:
        return ""
    params = [p for p in query.split("&") if p]
    if strip_tracking:
        params = [p for p in params if not _is_tracking(_param_name(p))]
    if sort_query:
        params.sort(key=_param_name)
    return "&".join(_fix_escapes(p, _QUERY_SAFE + "=") for p in params)


def _param_name(param: str) -> str:
    return unquote_plus(param.partition("=")[0])


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


# -- scope ---------------------------------------------------------------------------------


def site_root(url: str) -> str:
    """The host that defines "the same site" as ``url``: its host without ``www.``."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return host[4:] if host.startswith("www.") else host


def in_site(url: str, root: str) -> bool:
    """Whether ``url``'s host is ``root``, ``www.<root>`` or a subdomain of ``root``."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return host == root or host.endswith("." + root)


def compile_patterns(
    patterns: Patterns,
    *,
    option: str = "include",
) -> list[Callable[[str], bool]]:
    """Turn include/exclude patterns into URL predicates.

    A pattern is one of:

    * a glob matched against the whole normalised URL (``"https://example.com/docs/*"``,
      ``"*.pdf"``); ``*`` also matches ``/``;
    * a glob starting with ``/``, matched against the path and query (``"/blog/*"``);
    * ``"re:<regex>"`` or a compiled :class:`re.Pattern`, searched anywhere in the URL.

    Raises:
        ValueError: A regex does not compile, or a pattern is empty.
        TypeError: A pattern is neither a string nor a compiled regex.
    """
    if patterns is None:
        return []
    if isinstance(patterns, (str, re.Pattern)):
        patterns = [patterns]
    predicates: list[Callable[[str], bool]] = []
    for pattern in patterns:
        predicates.append(_compile_one(pattern, option))
    return predicates


def _compile_one(pattern: object, option: str) -> Callable[[str], bool]:
    if isinstance(pattern, re.Pattern):
        regex: re.Pattern[str] = pattern
        return lambda url: regex.search(url) is not None
    if not isinstance(pattern, str):
        raise TypeError(
            f"{option} patterns must be strings or compiled regexes, not {type(pattern).__name__}"
        )
    if not pattern.strip():
        raise ValueError(f"Empty {option} pattern: give a glob such as '/docs/*' or 're:<regex>'.")
    if pattern.startswith("re:"):
        try:
            compiled = re.compile(pattern[3:])
        except re.error as exc:
            raise ValueError(f"Invalid regex in {option} pattern {pattern!r}: {exc}") from exc
        return lambda url: compiled.search(url) is not None
    if pattern.startswith("/"):
        translated = re.compile(fnmatch.translate(pattern))

        def match_path(url: str) -> bool:
            parts = urlsplit(url)
            target = parts.path + ("?" + parts.query if parts.query else "")
            return translated.match(target) is not None

        return match_path
    whole = re.compile(fnmatch.translate(pattern))
    return lambda url: whole.match(url) is not None


# -- links -------------------------------------------------------------------------------


def extract_links(
    html: str | bytes,
    page_url: str,
    *,
    follow_nofollow: bool = False,
    sort_query: bool = True,
) -> list[str]:
    """The normalised http(s) link targets of an HTML page, in document order, unique.

    ``<a href>`` and ``<area href>`` are read; relative links are resolved against
    the page's ``<base href>`` when it has one, else against ``page_url``. Links to
    other schemes (``mailto:``, ``javascript:``...), and links whose path ends in an
    extension from :data:`SKIP_EXTENSIONS` are left out. Unless ``follow_nofollow``
    is true, ``rel="nofollow"`` links are left out, and a page whose
    ``<meta name="robots">`` says ``nofollow`` or ``none`` yields no links at all.
    """
    root = _parse_html(html)
    if root is None:
        return []
    base = page_url
    have_base = False
    for element in root.iter("base", "meta"):
        if element.tag == "base" and element.get("href") and not have_base:
            have_base = True  # only the first <base href> counts
            try:
                base = normalize_url(element.get("href", ""), page_url, sort_query=False)
            except InvalidURL:
                pass
        elif element.tag == "meta" and not follow_nofollow:
            name = (element.get("name") or "").strip().lower()
            content = {t.strip() for t in (element.get("content") or "").lower().split(",")}
            if name == "robots" and content & {"nofollow", "none"}:
                return []
    links: list[str] = []
    seen: set[str] = set()
    for element in root.iter("a", "area"):
        href = element.get("href")
        if not href or href.lstrip().startswith("#"):
            continue
        if not follow_nofollow and "nofollow" in (element.get("rel") or "").lower().split():
            continue
        try:
            link = normalize_url(href, base, sort_query=sort_query)
        except InvalidURL:
            continue
        if link in seen or _skipped_extension(link):
            continue
        seen.add(link)
        links.append(link)
    return links


def _skipped_extension(url: str) -> bool:
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    _, dot, ext = last.rpartition(".")
    return bool(dot) and ext.lower() in SKIP_EXTENSIONS


def _parse_html(html: str | bytes) -> etree._Element | None:
    if not html:
        return None
    parser = etree.HTMLParser(recover=True, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(html, parser)
    except ValueError:
        # A str that starts with an XML declaration naming an encoding.
        if not isinstance(html, str):
            return None
        root = etree.fromstring(html.encode("utf-8"), parser)
    except etree.LxmlError as exc:
        logger.debug("Could not parse HTML for links: %s", exc)
        return None
    return root
