"""Fetching: one safe, bounded, streamed GET per page.

Layers, as in httpx: :func:`fetch` / :func:`afetch` build a short-lived
:class:`Fetcher`, which holds the policy (:class:`FetchConfig`) and sends all
I/O through one ``httpx.Client`` / ``httpx.AsyncClient``.

What a fetch guarantees:

* every hop (the first request and each redirect) goes through the
  internal-address :class:`~crawler._guard.Guard`; the connection is made to
  the address that was checked, with the original ``Host`` header and TLS name;
* one total deadline (``timeout``) covers resolution, connecting, retries,
  back-off sleeps, redirects and reading the body;
* the body is decoded by the fetcher itself (gzip, deflate, br, at most
  ``max_encodings`` stacked) in bounded pieces, and the *decoded* size is capped
  by ``max_bytes``, so a compression bomb stops at the cap with bounded memory;
* connection errors, 429 and 503 are retried a bounded number of times with
  back-off, honouring ``Retry-After`` when it fits in the deadline;
* every httpx exception is translated into a :mod:`crawler.errors` exception.

This module holds that policy and the public API. Beside it,
:mod:`crawler._fetch_state` holds what one fetch carries across hops (deadline,
cookies, redirects, retry delays) and the httpx error translation. The layers
below: :mod:`crawler._transport` (connections bounded by the deadline, one pool
per TLS server name) and :mod:`crawler._decode` (reading and decoding the body
under the size cap).
"""

from __future__ import annotations

import logging
import math
import ssl
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any

import anyio
import httpx

from ._decode import BodyReader, aiter_raw, iter_raw
from ._fetch_state import (
    _ORIGIN_BOUND_HEADERS,
    _RETRY_CODES,
    _RETRYABLE_TRANSPORT,
    _FetchState,
    _Hop,
    _no_cookie_jar,
    check_headers,
    map_httpx_error,
    redirect_error,
)
from ._guard import Guard, Resolver, Target
from ._models import Page
from ._robots import MAX_CRAWL_DELAY, RobotsCache, RobotsRules
from ._transport import (
    AsyncTLSPartitionedTransport,
    OpenSockets,
    TLSPartitionedTransport,
    Watchdog,
    sync_deadline,
)
from ._useragents import UserAgent, resolve_user_agent
from .errors import FetchTimeout

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ENCODINGS",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_MAX_RETRY_AFTER",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "FetchConfig",
    "Fetcher",
    "afetch",
    "fetch",
    "map_httpx_error",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
"""Seconds for the whole fetch: every hop, retry, back-off and the body."""
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""Cap on the decoded body, in bytes."""
DEFAULT_MAX_REDIRECTS = 10
DEFAULT_MAX_ENCODINGS = 2
"""How many stacked Content-Encodings are decoded (``gzip, br`` is two)."""
DEFAULT_RETRIES = 2
"""Extra attempts after a connection error, 429 or 503."""
DEFAULT_BACKOFF = 0.5
"""First back-off in seconds; doubled on each further attempt."""
DEFAULT_MAX_RETRY_AFTER = 30.0
"""Longest ``Retry-After`` honoured; a longer one ends the fetch with the status error."""


@dataclass(frozen=True, kw_only=True)
class FetchConfig:
    """Policy for a :class:`Fetcher`. Every field has a ``DEFAULT_*`` constant.

    Attributes:
        user_agent: ``None`` (honest default), a preset name (``"chrome"``,
            ``"firefox"``, ``"safari"``, ``"edge"``, ``"mobile"``...) or any string.
        headers: extra request headers sent with every request (kept read-only).
            On a redirect to another origin (scheme, host or port) they are
            dropped, as are ``Authorization``, ``Proxy-Authorization`` and
            ``Cookie``; an API key meant for one site is not sent to the next.
        keep_headers_cross_origin: names of the caller's headers (configured or
            per call) still sent after a cross-origin redirect, e.g.
            ``("Accept-Language",)``; the three credential headers above are
            always dropped.
        timeout: total seconds for a fetch, across hops, retries and body.
        max_bytes: cap on the decoded body size.
        max_redirects: redirects followed before :class:`TooManyRedirects`.
        max_encodings: stacked Content-Encodings allowed.
        retries: extra attempts on connection errors, 429 and 503.
        backoff: first back-off delay in seconds (doubles per attempt).
        max_retry_after: longest ``Retry-After`` the fetcher waits for.
        allow_private: allow internal addresses (loopback, private, metadata...).
        allowed_hosts: host names or CIDRs exempt from the address check.
        respect_robots: check robots.txt before each hop, and keep its Crawl-delay
            (or Request-rate) between requests of this fetcher to one origin.
        verify: verify TLS certificates: ``True`` (certifi CAs), a CA bundle
            file or directory path, or an ``ssl.SSLContext``; ``False`` only for tests.
    """

    user_agent: str | UserAgent | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    keep_headers_cross_origin: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    max_encodings: int = DEFAULT_MAX_ENCODINGS
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()
    respect_robots: bool = False
    verify: bool | str | ssl.SSLContext = True

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout, (int, float)) and self.timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout!r}")
        if math.isinf(self.timeout) or math.isnan(self.timeout):
            raise ValueError("timeout must be finite; a fetch always has a deadline")
        for name in ("max_bytes", "max_encodings"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        for name in ("max_redirects", "retries"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        if self.backoff < 0 or self.max_retry_after < 0:
            raise ValueError("backoff and max_retry_after must not be negative")
        if isinstance(self.allowed_hosts, str):
            raise TypeError("allowed_hosts must be a list of host names or CIDRs, not a string")
        object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))
        headers = dict(self.headers)
        check_headers(headers)
        # Read-only: a caller mutating the mapping later would skip check_headers.
        object.__setattr__(self, "headers", MappingProxyType(headers))
        keep = self.keep_headers_cross_origin
        if isinstance(keep, str):
            raise TypeError(
                "keep_headers_cross_origin must be a list of header names, not a string"
            )
        keep = tuple(keep)
        for name in keep:
            if not isinstance(name, str) or not name:
                raise TypeError(f"keep_headers_cross_origin holds {name!r}, not a header name")
            if name.lower() in _CREDENTIAL_HEADERS:
                raise ValueError(
                    f"keep_headers_cross_origin cannot keep {name}: credentials are never "
                    "sent to another origin; fetch that origin with its own headers= instead"
                )
        object.__setattr__(self, "keep_headers_cross_origin", keep)
        resolve_user_agent(self.user_agent)  # validate early


_CREDENTIAL_HEADERS = frozenset(name.lower() for name in _ORIGIN_BOUND_HEADERS)
_URL_STRIP = "".join(chr(c) for c in range(0x21))


# --------------------------------------------------------------------------------------
# The fetcher


class _ThreadClient:
    """A thread's sync client, kept in a ``threading.local``."""

    __slots__ = ("__weakref__", "client", "generation")

    def __init__(self, generation: int, client: httpx.Client) -> None:
        self.generation = generation
        self.client = client


def _drop_client(fetcher_ref: weakref.ReferenceType[Fetcher], client: httpx.Client) -> None:
    fetcher = fetcher_ref()
    if fetcher is not None:
        with fetcher._lock:
            if client in fetcher._clients:
                fetcher._clients.remove(client)
    client.close()


class Fetcher:
    """Holds fetch policy and one HTTP client; fetches pages safely.

    Use it as a context manager (``with Fetcher() as f:`` or ``async with``) or
    call :meth:`close` / :meth:`aclose`. The sync and async clients are created
    on first use and reused across fetches (connection keep-alive).

    Args:
        config: a :class:`FetchConfig`; or pass its fields as keyword arguments.
        transport: an httpx transport (``httpx.MockTransport`` in tests). Used as
            given for sync fetches if it is a ``BaseTransport``, for async ones
            if it is an ``AsyncBaseTransport``.
        resolver: ``host -> IP strings`` used by the address guard; default
            ``socket.getaddrinfo`` (in a worker thread for async fetches).
        **options: :class:`FetchConfig` fields (``timeout=``, ``max_bytes=``...).
    """

    def __init__(
        self,
        config: FetchConfig | None = None,
        *,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        **options: Any,
    ) -> None:
        if config is not None and options:
            raise TypeError("pass either config= or keyword options, not both")
        self.config = config if config is not None else FetchConfig(**options)
        self.guard = Guard(
            allow_private=self.config.allow_private,
            allowed_hosts=self.config.allowed_hosts,
            resolver=resolver,
        )
        self._transport = transport
        # An injected transport is shared by one sync client; the default one gets a
        # client (and connection pool) per thread: httpcore's pool scans every
        # connection on each request under one lock, which a thread pool contends on.
        self._client: httpx.Client | None = None
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._generation = 0
        self._sockets = OpenSockets()
        self._aclient: httpx.AsyncClient | None = None
        self._lock = threading.Lock()
        self.robots = RobotsCache(self)
        # When each origin may next be requested (robots.txt Crawl-delay).
        self._next_start: dict[str, float] = {}
        self._delay_lock = threading.Lock()

    # -- clients ----------------------------------------------------------------------

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "follow_redirects": False,
            "trust_env": False,  # proxies from the environment must not bypass the guard
            "cookies": _no_cookie_jar(),
            "headers": {"User-Agent": resolve_user_agent(self.config.user_agent).user_agent},
        }

    @property
    def client(self) -> httpx.Client:
        """The sync httpx client of this thread (created on first use).

        Sync fetches may run on many threads at once; each thread gets its own
        client unless a transport was injected, which all threads then share.
        """
        mine: _ThreadClient | None = getattr(self._local, "client", None)
        if mine is not None and mine.generation == self._generation:
            return mine.client
        with self._lock:
            transport = self._transport
            if transport is not None:
                if not isinstance(transport, httpx.BaseTransport):
                    raise TypeError(
                        "this Fetcher was given an async-only transport; use afetch(), "
                        "or pass an httpx.BaseTransport for sync fetches"
                    )
                if self._client is None:
                    self._client = httpx.Client(transport=transport, **self._client_kwargs())
                return self._client
            if self._sockets.aborted:
                self._sockets = OpenSockets()  # a fetcher closed after abort() is reusable
            sockets, generation = self._sockets, self._generation
        # Built outside the lock: the first one loads the CA certificates.
        client = httpx.Client(
            transport=TLSPartitionedTransport(verify=self.config.verify, sockets=sockets),
            **self._client_kwargs(),
        )
        with self._lock:
            if generation != self._generation:  # closed meanwhile: it must not leak
                client.close()
                raise RuntimeError("the Fetcher was closed while a sync fetch was starting")
            self._clients.append(client)
        holder = _ThreadClient(generation, client)
        # When the thread ends, its thread-local holder goes and the client is closed,
        # so threads that come and go do not pile up connection pools.
        weakref.finalize(holder, _drop_client, weakref.ref(self), client)
        self._local.client = holder
        return client

    def abort(self) -> None:
        """Make the sync fetches running on other threads fail now, then :meth:`close`.

        Their sockets are shut down (a blocked read returns at once), no new
        connection is made and nothing is retried; each such fetch raises
        :class:`~crawler.errors.ConnectError`. Used to cancel a batch (Ctrl-C).
        """
        with self._lock:
            sockets = self._sockets
        sockets.abort()
        self.close()

    @property
    def aclient(self) -> httpx.AsyncClient:
        """The async httpx client (created on first use)."""
        if self._aclient is None:
            transport = self._transport
            if transport is None:
                transport = AsyncTLSPartitionedTransport(verify=self.config.verify)
            elif not isinstance(transport, httpx.AsyncBaseTransport):
                raise TypeError(
                    "this Fetcher was given a sync-only transport; use fetch(), "
                    "or pass an httpx.AsyncBaseTransport for async fetches"
                )
            self._aclient = httpx.AsyncClient(transport=transport, **self._client_kwargs())
        return self._aclient

    def close(self) -> None:
        """Close the sync clients (the async one needs :meth:`aclose`)."""
        with self._lock:
            clients = [*self._clients, self._client]
            self._client = None
            self._clients = []
            self._generation += 1
        for client in clients:
            if client is not None:
                client.close()

    async def aclose(self) -> None:
        """Close both clients."""
        self.close()
        client, self._aclient = self._aclient, None
        if client is not None:
            await client.aclose()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- public fetches ---------------------------------------------------------------

    def _state(
        self,
        url: str | httpx.URL,
        user_agent: str | UserAgent | None,
        headers: Mapping[str, str] | None,
        **kw: Any,
    ) -> _FetchState:
        ua = resolve_user_agent(user_agent if user_agent is not None else self.config.user_agent)
        # As browsers do (WHATWG URL), leading and trailing spaces and control
        # characters are dropped: URLs pasted or written by a model often end in "\n".
        text = str(url).strip(_URL_STRIP)
        return _FetchState(self.config, text, ua, headers or {}, **kw)

    def fetch(
        self,
        url: str | httpx.URL,
        *,
        user_agent: str | UserAgent | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Page:
        """Fetch ``url`` and return the :class:`Page`.

        Args:
            url: an http(s) URL.
            user_agent: overrides the configured user agent for this call.
            headers: extra headers for this call (added to the configured ones).

        Raises:
            InvalidURL, BlockedAddress, DisallowedByRobots, FetchTimeout, ConnectError,
            TooManyRedirects, HTTPStatusError, ContentTooLarge, ContentEncodingError.
        """
        state = self._state(url, user_agent, headers)
        return self._fetch(state, check_robots=self.config.respect_robots)

    async def afetch(
        self,
        url: str | httpx.URL,
        *,
        user_agent: str | UserAgent | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Page:
        """Async :meth:`fetch`; the deadline is enforced with a cancel scope."""
        state = self._state(url, user_agent, headers)
        return await self._afetch(state, check_robots=self.config.respect_robots)

    def _crawl_delay_wait(self, rules: RobotsRules, target: Target, state: _FetchState) -> float:
        """Seconds to wait so requests to this origin keep robots.txt's Crawl-delay apart."""
        delay = rules.crawl_delay(state.ua.user_agent)
        if not delay or delay <= 0:
            return 0.0
        delay = min(delay, MAX_CRAWL_DELAY)
        origin = rules.origin
        with self._delay_lock:
            now = time.monotonic()
            start = max(now, self._next_start.get(origin, now))
            if start >= state.deadline:
                raise FetchTimeout(
                    f"robots.txt of {origin} asks for {delay:g} s between requests "
                    f"(Crawl-delay) and the next one may start in {start - now:.1f} s, after "
                    "the fetch deadline; pass a larger timeout= (--timeout) to wait",
                    url=state.url,
                )
            self._next_start[origin] = start + delay
        return start - now

    # -- sync implementation ----------------------------------------------------------

    def _resolve_timeout(self, state: _FetchState) -> float:
        # Any resolver may hang (slow DNS, a remote lookup service): it runs in a
        # worker thread that is abandoned at the deadline.
        return state.check_deadline()

    def _fetch(self, state: _FetchState, *, check_robots: bool, truncate: bool = False) -> Page:
        with sync_deadline(state.deadline):
            return self._fetch_hops(state, check_robots=check_robots, truncate=truncate)

    def _fetch_hops(self, state: _FetchState, *, check_robots: bool, truncate: bool) -> Page:
        url: str = state.url
        while True:
            state.check_deadline()
            target = self.guard.check(url, timeout=self._resolve_timeout(state))
            if check_robots:
                wait = self._crawl_delay_wait(self.robots.check(target.url, state), target, state)
                if wait > 0:
                    time.sleep(wait)
            state.visit(target)
            response = self._send(state, target)
            try:
                nxt = state.next_hop_url(target, response)
                if nxt is not None:
                    url = nxt
                    continue
                if response.status_code >= 400:
                    raise state.status_error(response, target, attempts=1)
                reader = BodyReader(
                    state, response, max_encodings=state.config.max_encodings, truncate=truncate
                )
                watchdog = Watchdog(response, state.deadline)
                try:
                    for raw in iter_raw(response):
                        reader.feed(raw)
                        if reader.full:
                            break
                except httpx.HTTPError as exc:
                    state.check_deadline()  # the watchdog cut the read: a timeout
                    raise map_httpx_error(exc, state.url) from exc
                finally:
                    watchdog.cancel()
                return state.page(response, target, reader.finish())
            finally:
                response.close()

    def _send(self, state: _FetchState, target: Target) -> httpx.Response:
        hop = _Hop(target)
        attempt = 0
        while True:
            request = state.build_request(self.client, hop)
            try:
                response = self.client.send(request, stream=True)
            except httpx.InvalidURL as exc:  # only a bad Location does this
                raise (redirect_error(exc, target, state.url) or exc) from exc
            except httpx.ConnectTimeout as exc:
                if hop.address_index + 1 < len(target.addresses):
                    hop.address_index += 1
                    continue
                raise map_httpx_error(exc, state.url) from exc
            except _RETRYABLE_TRANSPORT as exc:
                bad_redirect = redirect_error(exc, target, state.url)
                if bad_redirect is not None:
                    raise bad_redirect from exc
                if self._sockets.aborted:
                    raise map_httpx_error(exc, state.url) from exc
                if hop.address_index + 1 < len(target.addresses):
                    hop.address_index += 1  # try the next checked address first
                    continue
                delay = state.retry_delay(attempt, None)
                if delay is None:
                    raise map_httpx_error(exc, state.url) from exc
                logger.info("retrying %s in %.2f s after %s", state.url, delay, exc)
                hop.address_index = 0
            except httpx.HTTPError as exc:
                if isinstance(exc, httpx.TimeoutException):
                    state.check_deadline()  # cut by the total deadline: say so
                raise map_httpx_error(exc, state.url) from exc
            else:
                state.store_cookies(target, response)
                if response.status_code not in _RETRY_CODES:
                    return response
                delay = state.retry_delay(attempt, response)
                response.close()
                if delay is None:
                    raise state.status_error(response, target, attempt + 1)
                logger.info(
                    "retrying %s in %.2f s after %d", state.url, delay, response.status_code
                )
            attempt += 1
            time.sleep(delay)

    # -- async implementation ---------------------------------------------------------

    async def _afetch(
        self, state: _FetchState, *, check_robots: bool, truncate: bool = False
    ) -> Page:
        try:
            with anyio.fail_after(max(state.remaining(), 0.0)):
                return await self._afetch_hops(state, check_robots=check_robots, truncate=truncate)
        except TimeoutError as exc:
            raise FetchTimeout(
                f"fetching {state.url} took longer than the total deadline of "
                f"{state.config.timeout:g} s; pass a larger timeout= (--timeout) to wait longer",
                url=state.url,
            ) from exc

    async def _afetch_hops(self, state: _FetchState, *, check_robots: bool, truncate: bool) -> Page:
        url: str = state.url
        while True:
            state.check_deadline()
            target = await self.guard.acheck(url)
            if check_robots:
                rules = await self.robots.acheck(target.url, state)
                wait = self._crawl_delay_wait(rules, target, state)
                if wait > 0:
                    await anyio.sleep(wait)
            state.visit(target)
            response = await self._asend(state, target)
            try:
                nxt = state.next_hop_url(target, response)
                if nxt is not None:
                    url = nxt
                    continue
                if response.status_code >= 400:
                    raise state.status_error(response, target, attempts=1)
                reader = BodyReader(
                    state, response, max_encodings=state.config.max_encodings, truncate=truncate
                )
                try:
                    async for raw in aiter_raw(response):
                        reader.feed(raw)
                        if reader.full:
                            break
                except httpx.HTTPError as exc:
                    raise map_httpx_error(exc, state.url) from exc
                return state.page(response, target, reader.finish())
            finally:
                await response.aclose()

    async def _asend(self, state: _FetchState, target: Target) -> httpx.Response:
        hop = _Hop(target)
        attempt = 0
        while True:
            request = state.build_request(self.aclient, hop)
            try:
                response = await self.aclient.send(request, stream=True)
            except httpx.InvalidURL as exc:  # only a bad Location does this
                raise (redirect_error(exc, target, state.url) or exc) from exc
            except httpx.ConnectTimeout as exc:
                if hop.address_index + 1 < len(target.addresses):
                    hop.address_index += 1
                    continue
                raise map_httpx_error(exc, state.url) from exc
            except _RETRYABLE_TRANSPORT as exc:
                bad_redirect = redirect_error(exc, target, state.url)
                if bad_redirect is not None:
                    raise bad_redirect from exc
                if hop.address_index + 1 < len(target.addresses):
                    hop.address_index += 1
                    continue
                delay = state.retry_delay(attempt, None)
                if delay is None:
                    raise map_httpx_error(exc, state.url) from exc
                logger.info("retrying %s in %.2f s after %s", state.url, delay, exc)
                hop.address_index = 0
            except httpx.HTTPError as exc:
                raise map_httpx_error(exc, state.url) from exc
            else:
                state.store_cookies(target, response)
                if response.status_code not in _RETRY_CODES:
                    return response
                delay = state.retry_delay(attempt, response)
                await response.aclose()
                if delay is None:
                    raise state.status_error(response, target, attempt + 1)
                logger.info(
                    "retrying %s in %.2f s after %d", state.url, delay, response.status_code
                )
            attempt += 1
            await anyio.sleep(delay)


def _fetcher_for(
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
    resolver: Resolver | None,
    options: dict[str, Any],
) -> Fetcher:
    return Fetcher(transport=transport, resolver=resolver, **options)


def fetch(
    url: str | httpx.URL,
    *,
    user_agent: str | UserAgent | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    allow_private: bool = False,
    allowed_hosts: Iterable[str] = (),
    respect_robots: bool = False,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    max_encodings: int = DEFAULT_MAX_ENCODINGS,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
) -> Page:
    """Fetch one URL safely and return the :class:`Page` (see :class:`FetchConfig`).

    Example::

        page = fetch("https://example.org/", user_agent="firefox", timeout=10)
        print(page.status_code, page.encoding, page.text[:80])
    """
    options = dict(
        user_agent=user_agent,
        timeout=timeout,
        max_bytes=max_bytes,
        max_redirects=max_redirects,
        allow_private=allow_private,
        allowed_hosts=tuple(_hosts(allowed_hosts)),
        respect_robots=respect_robots,
        retries=retries,
        backoff=backoff,
        max_retry_after=max_retry_after,
        max_encodings=max_encodings,
    )
    with _fetcher_for(transport, resolver, options) as fetcher:
        return fetcher.fetch(url, headers=headers)


async def afetch(
    url: str | httpx.URL,
    *,
    user_agent: str | UserAgent | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    allow_private: bool = False,
    allowed_hosts: Iterable[str] = (),
    respect_robots: bool = False,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    max_encodings: int = DEFAULT_MAX_ENCODINGS,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> Page:
    """Async :func:`fetch`."""
    options = dict(
        user_agent=user_agent,
        timeout=timeout,
        max_bytes=max_bytes,
        max_redirects=max_redirects,
        allow_private=allow_private,
        allowed_hosts=tuple(_hosts(allowed_hosts)),
        respect_robots=respect_robots,
        retries=retries,
        backoff=backoff,
        max_retry_after=max_retry_after,
        max_encodings=max_encodings,
    )
    async with _fetcher_for(transport, resolver, options) as fetcher:
        return await fetcher.afetch(url, headers=headers)


def _hosts(allowed_hosts: Iterable[str]) -> Iterable[str]:
    if isinstance(allowed_hosts, str):
        raise TypeError("allowed_hosts must be a list of host names or CIDRs, not a string")
    return allowed_hosts
