"""Per-fetch state: what one fetch carries across hops and retries, and error translation.

:class:`_FetchState` holds a fetch's deadline, cookies, headers and redirect
history, builds each hop's request, decides redirects and retry delays, and
makes the final :class:`~crawler._models.Page`. :func:`map_httpx_error`
translates httpx exceptions into :mod:`crawler.errors` ones. They live apart
from :mod:`crawler._fetch` (the policy and the public API) so that
:mod:`crawler._robots` can build a state for robots.txt without importing the
fetcher; this module imports neither of them at run time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING

import httpx

from summarizer import RetryPolicy, parse_retry_after

from ._decode import ACCEPT_ENCODING
from ._guard import Target
from ._models import Page
from ._useragents import UserAgent
from .errors import (
    ConnectError,
    ContentEncodingError,
    CrawlerError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    InvalidRedirect,
    InvalidURL,
    TooManyRedirects,
)

if TYPE_CHECKING:
    from ._fetch import FetchConfig

__all__ = ["check_headers", "map_httpx_error"]

_MAX_BACKOFF = 10.0
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_RETRY_CODES = frozenset({429, 503})
_ORIGIN_BOUND_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def check_headers(headers: Mapping[str, str]) -> None:
    """Refuse extra request headers that would be invalid or smuggle more headers.

    Raises:
        TypeError: a name or value is not a string.
        ValueError: ``Host``, a name that is not an HTTP token, or a value with a
            line break, a NUL or a non-ASCII character.
    """
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"header {name!r}: names and values must be str, not {type(value).__name__}"
            )
        if not _HEADER_NAME.match(name):
            raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        if name.lower() == "host":
            raise ValueError("headers must not set Host; the fetcher sets it from the URL")
        if any(ch in value for ch in "\r\n\x00"):
            raise ValueError(f"header {name!r} must not contain line breaks or NUL characters")
        try:
            value.encode("ascii")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"header {name!r} holds non-ASCII characters; percent-encode or "
                "RFC 2047-encode the value"
            ) from exc


# --------------------------------------------------------------------------------------
# Error translation


def map_httpx_error(exc: Exception, url: str) -> CrawlerError:
    """Translate an httpx exception into the matching :mod:`crawler.errors` exception."""
    if isinstance(exc, CrawlerError):
        return exc
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeout(f"timed out fetching {url} ({type(exc).__name__})", url=url)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return InvalidURL(f"unsupported URL {url}: {detail}", url=url)
    if isinstance(exc, httpx.DecodingError):
        return ContentEncodingError(f"could not decode the body of {url}: {detail}", url=url)
    if isinstance(exc, httpx.TooManyRedirects):
        return TooManyRedirects(f"too many redirects for {url}", url=url)
    if isinstance(exc, (httpx.NetworkError, httpx.ProxyError, httpx.ProtocolError)):
        return ConnectError(f"connection to {url} failed: {detail}", url=url)
    if isinstance(exc, httpx.InvalidURL):
        return InvalidURL(f"invalid URL {url}: {detail}", url=url)
    if isinstance(exc, (httpx.HTTPError, httpx.StreamError)):
        return FetchError(f"fetching {url} failed: {detail}", url=url)
    return FetchError(f"fetching {url} failed: {type(exc).__name__}: {detail}", url=url)


_RETRYABLE_TRANSPORT = (
    httpx.ConnectError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def redirect_error(exc: Exception, target: Target, url: str) -> InvalidRedirect | None:
    """The typed error for a ``Location`` httpx cannot turn into a URL, else ``None``.

    httpx builds the next request of every redirect response, even with
    ``follow_redirects=False``: a ``Location`` such as ``javascript:x``,
    ``about:blank`` or a 70 kB URL makes ``send`` raise ``httpx.InvalidURL`` (not
    an ``httpx.HTTPError``) or a ``RemoteProtocolError`` naming the header.
    """
    if isinstance(exc, httpx.InvalidURL) or (
        isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc).lower()
    ):
        return InvalidRedirect(
            f"{target.url} redirects to a URL that cannot be requested ({exc}); "
            "only http(s) URLs are followed",
            url=url,
        )
    return None


def _no_cookie_jar() -> CookieJar:
    # Requests go to IP-address URLs; a shared jar would file cookies under the
    # address. Cookies are kept per fetch instead (see _FetchState).
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


# --------------------------------------------------------------------------------------
# Per-fetch state


@dataclass
class _Hop:
    target: Target
    address_index: int = 0


class _FetchState:
    """What one fetch carries across hops: deadline, cookies, redirect history."""

    def __init__(
        self,
        config: FetchConfig,
        url: str,
        ua: UserAgent,
        headers: Mapping[str, str],
        *,
        deadline: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.config = config
        self.url = url
        self.ua = ua
        self.start = time.monotonic()
        self.deadline = deadline if deadline is not None else self.start + config.timeout
        self.max_bytes = max_bytes or config.max_bytes
        self.cookies = httpx.Cookies()
        self.redirects: list[str] = []
        self.seen: set[tuple[str, str]] = set()
        # httpx.Headers merges case-insensitively: a caller's "user-agent" replaces ours.
        check_headers(headers)
        self.headers = httpx.Headers(ua.headers())
        self.headers["Accept-Encoding"] = ACCEPT_ENCODING
        self.default_headers = self.headers.copy()
        self.headers.update(config.headers)
        self.headers.update(headers)
        keep = {name.lower() for name in config.keep_headers_cross_origin}
        # The caller's own headers go to the first origin only, unless kept by name.
        self.origin_bound = [
            name for name in {**dict(config.headers), **dict(headers)} if name.lower() not in keep
        ]

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check_deadline(self) -> float:
        left = self.remaining()
        if left <= 0:
            raise FetchTimeout(
                f"fetching {self.url} took longer than the total deadline of "
                f"{self.config.timeout:g} s; pass a larger timeout= (--timeout) to wait longer",
                url=self.url,
            )
        return left

    def build_request(self, client: httpx.Client | httpx.AsyncClient, hop: _Hop) -> httpx.Request:
        target = hop.target
        address = target.addresses[hop.address_index]
        headers = self.headers.copy()
        headers["Host"] = target.host_header
        cookie = self._cookie_header(target.url)
        if cookie:
            given = headers.get("cookie")
            headers["Cookie"] = f"{given}; {cookie}" if given else cookie
        left = self.check_deadline()
        return client.build_request(
            "GET",
            target.connect_url(address),
            headers=headers,
            # Untried addresses share the connect time, so one black-holed address
            # (say, IPv6 without a route) cannot use up the whole deadline.
            timeout=httpx.Timeout(left, connect=left / (len(target.addresses) - hop.address_index)),
            extensions=target.extensions,
        )

    def store_cookies(self, target: Target, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            view = httpx.Response(
                response.status_code,
                headers=response.headers,
                request=httpx.Request("GET", target.url),
            )
            self.cookies.extract_cookies(view)

    def _cookie_header(self, url: httpx.URL) -> str:
        """The ``Cookie`` header this fetch's cookies give ``url`` ("" for none)."""
        if not len(self.cookies.jar):  # the usual case: skip building a request
            return ""
        view = httpx.Request("GET", url)
        self.cookies.set_cookie_header(view)
        return view.headers.get("cookie", "")

    def _visit_key(self, url: httpx.URL) -> tuple[str, str]:
        # A URL requested again with the same cookies gets the same answer: a loop.
        # (A redirect that sets a cookie and points back to itself is not one.)
        key = str(url)
        if "#" in key:  # only a fragment holds a bare "#"; "…/#" with an empty one too
            url = url.copy_with(fragment=None)
            key = str(url)
        return key, self._cookie_header(url)

    def visit(self, target: Target) -> None:
        """Record that ``target`` is about to be requested (for loop detection)."""
        self.seen.add(self._visit_key(target.url))

    def next_hop_url(self, target: Target, response: httpx.Response) -> str | None:
        """The redirect destination, or ``None`` when the response is final."""
        if response.status_code not in _REDIRECT_CODES:
            return None
        location = response.headers.get("location")
        if not location:
            return None
        try:
            nxt = target.url.join(location.strip()).copy_with(fragment=None)
        except (httpx.InvalidURL, ValueError) as exc:
            raise InvalidRedirect(
                f"{target.url} redirects to an invalid URL {location[:200]!r}", url=self.url
            ) from exc
        if len(self.redirects) >= self.config.max_redirects:
            raise TooManyRedirects(
                f"{self.url} redirected more than max_redirects={self.config.max_redirects} "
                "times; pass a larger max_redirects= to follow more",
                url=self.url,
            )
        if (nxt.scheme, nxt.host, nxt.port) != (
            target.url.scheme,
            target.url.host,
            target.url.port,
        ):
            # Credentials the caller gave were meant for the first origin only.
            for name in (*_ORIGIN_BOUND_HEADERS, *self.origin_bound):
                self.headers.pop(name, None)
                if name in self.default_headers:  # a default the caller had replaced
                    self.headers[name] = self.default_headers[name]
        if self._visit_key(nxt) in self.seen:
            raise TooManyRedirects(f"redirect loop: {self.url} leads back to {nxt}", url=self.url)
        self.redirects.append(str(nxt))
        return str(nxt)

    def retry_delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to stop retrying."""
        policy = RetryPolicy(
            max_retries=self.config.retries,
            backoff=float(self.config.backoff),
            max_backoff=_MAX_BACKOFF,
            max_retry_after=float(self.config.max_retry_after),
            jitter=False,
        )
        after = parse_retry_after(response.headers) if response is not None else None
        delay = policy.delay(attempt, after)
        if delay is None or time.monotonic() + delay >= self.deadline:
            return None
        return delay

    def status_error(self, response: httpx.Response, target: Target, attempts: int) -> Exception:
        status = response.status_code
        reason = response.reason_phrase or ""
        hint = ""
        if status in _RETRY_CODES:
            after = response.headers.get("retry-after")
            hint = f" after {attempts} attempt(s)" + (
                f"; the server asks to retry after {after}" if after else ""
            )
        elif status in (401, 403):
            hint = "; the site refuses this request (a login may be needed)"
        elif status in (404, 410):
            hint = "; check the URL"
        return HTTPStatusError(
            f"{target.url} answered {status} {reason}{hint}".rstrip(),
            url=self.url,
            status_code=status,
        )

    def page(self, response: httpx.Response, target: Target, content: bytes) -> Page:
        header_type = response.headers.get("content-type", "")
        mime = header_type.split(";", 1)[0].strip().lower()
        # Decoded on first use of page.text: callers that only want the bytes keep one copy.
        return Page.decode_later(
            url=self.url,
            final_url=str(target.url),
            status_code=response.status_code,
            headers=response.headers,
            content_type=mime,
            content=content,
            redirects=tuple(self.redirects),
            elapsed=time.monotonic() - self.start,
        )
