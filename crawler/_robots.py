"""robots.txt: fetched through the guarded fetcher, parsed once per origin, cached.

Policy (RFC 9309):

* 2xx: the file is parsed with Protego (first 512 KiB, UTF-8; a line cut by the cap is
  dropped): ``*`` wildcards, ``$`` end anchors, the longest matching rule wins and an
  ``Allow`` wins a tie with a ``Disallow`` of the same length; the group whose user-agent
  line names our product token wins over ``*``;
* 4xx other than 429, or more redirects than allowed: no usable file, everything
  is allowed;
* 429, 5xx or an unreachable server: everything is **disallowed** (RFC 9309
  section 2.3.1.4), and the answer is cached for one minute only so a transient
  outage does not lock a site out for the whole crawl;
* successful answers are cached for 24 hours per ``scheme://host:port``.

:class:`RobotsCache` is shared with the crawler, which reads
:meth:`RobotsCache.crawl_delay` to space requests to one host.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import httpx
from protego import Protego

from ._fetch_state import _FetchState
from ._useragents import UserAgent, resolve_user_agent
from .errors import (
    DisallowedByRobots,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooManyRedirects,
)

if TYPE_CHECKING:
    from ._fetch import Fetcher

__all__ = ["MAX_CRAWL_DELAY", "ROBOTS_MAX_BYTES", "ROBOTS_TTL", "RobotsCache", "RobotsRules"]

logger = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 512 * 1024
"""robots.txt bytes read; the rest is ignored (Google's limit is 500 KiB)."""
ROBOTS_TTL = 24 * 3600.0
"""Seconds a fetched (or missing) robots.txt stays cached."""
ROBOTS_FAILURE_TTL = 60.0
"""Seconds an unreachable robots.txt (disallow all) stays cached."""
MAX_CRAWL_DELAY = 60.0
"""A robots.txt Crawl-delay above this many seconds is capped."""
_MAX_ORIGINS = 1024


@dataclass(frozen=True)
class RobotsRules:
    """The rules of one origin.

    Attributes:
        origin: ``scheme://host[:port]``.
        parser: the parsed file (a :class:`protego.Protego`), or ``None`` when
            ``allow_all``/``disallow_all`` decide.
        allow_all: no usable robots.txt (4xx): everything allowed.
        disallow_all: robots.txt unreachable (5xx, 429, network error).
        reason: why the file was not used, for messages.
        expires: ``time.monotonic()`` after which the rules are fetched again.
    """

    origin: str
    parser: RobotsParser | None
    allow_all: bool = False
    disallow_all: bool = False
    reason: str = ""
    expires: float = 0.0

    def allowed(self, url: str, user_agent: str) -> bool:
        """Whether ``user_agent`` may fetch ``url`` under these rules."""
        if self.disallow_all:
            return False
        if self.allow_all or self.parser is None:
            return True
        return self.parser.can_fetch(url, user_agent)

    def crawl_delay(self, user_agent: str) -> float | None:
        """The Crawl-delay (or 1/Request-rate) for ``user_agent``, in seconds."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        if delay is not None:
            return float(delay)
        rate = self.parser.request_rate(user_agent)
        if rate is not None and rate.requests > 0:
            return float(rate.seconds) / rate.requests
        return None

    @property
    def sitemaps(self) -> tuple[str, ...]:
        """The ``Sitemap:`` URLs the file lists, in file order."""
        return tuple(self.parser.sitemaps) if self.parser is not None else ()

    @classmethod
    def parse(cls, origin: str, text: str, *, expires: float | None = None) -> RobotsRules:
        """Rules from the text of a robots.txt (RFC 9309 matching, through Protego).

        Only the first :data:`ROBOTS_MAX_BYTES` bytes (UTF-8) are read; a line cut by that
        cap is dropped rather than read as a shorter, wrong rule.

        Args:
            origin: ``scheme://host[:port]`` the file belongs to.
            text: the file's content.
            expires: ``time.monotonic()`` after which to fetch again; default: now plus
                :data:`ROBOTS_TTL`.
        """
        if not isinstance(text, str):
            raise TypeError(f"robots.txt text must be str, got {type(text).__name__}")
        raw = text.encode("utf-8", errors="replace")
        if len(raw) > ROBOTS_MAX_BYTES:
            text = raw[:ROBOTS_MAX_BYTES].decode("utf-8", errors="ignore")
        if len(raw) >= ROBOTS_MAX_BYTES:
            cut = max(text.rfind("\n"), text.rfind("\r"))
            text = text[: cut + 1] if cut >= 0 else ""
        when = time.monotonic() + ROBOTS_TTL if expires is None else expires
        return cls(origin, RobotsParser.parse(text), expires=when)


class RobotsParser(Protego):
    """Protego, plus the ``site_maps()`` of :class:`urllib.robotparser.RobotFileParser`.

    The crawler's sitemap discovery reads ``rules.parser.site_maps()``; prefer
    :attr:`RobotsRules.sitemaps`.
    """

    def site_maps(self) -> list[str] | None:
        """The ``Sitemap:`` URLs in file order, or ``None`` when there are none."""
        return list(self.sitemaps) or None


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


class RobotsCache:
    """robots.txt rules per origin, fetched on demand through a :class:`Fetcher`.

    Args:
        fetcher: fetches robots.txt with its guard, user agent and deadline.
    """

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._rules: OrderedDict[str, RobotsRules] = OrderedDict()
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._async_locks: dict[str, anyio.Lock] = {}

    # -- cache ------------------------------------------------------------------------

    def _cached(self, origin: str) -> RobotsRules | None:
        with self._lock:
            rules = self._rules.get(origin)
            if rules is None:
                return None
            if rules.expires <= time.monotonic():
                del self._rules[origin]
                return None
            self._rules.move_to_end(origin)
            return rules

    def _store(self, rules: RobotsRules) -> RobotsRules:
        with self._lock:
            self._rules[rules.origin] = rules
            self._rules.move_to_end(rules.origin)
            while len(self._rules) > _MAX_ORIGINS:
                self._rules.popitem(last=False)
        return rules

    def clear(self) -> None:
        """Forget every cached robots.txt."""
        with self._lock:
            self._rules.clear()

    # -- fetching ---------------------------------------------------------------------

    def _robots_state(
        self, url: httpx.URL, ua: UserAgent, state: _FetchState | None
    ) -> _FetchState:
        robots_url = str(url.copy_with(path="/robots.txt", query=None, fragment=None))
        return _FetchState(
            self._fetcher.config,
            robots_url,
            ua,
            {},
            deadline=state.deadline if state is not None else None,
            max_bytes=ROBOTS_MAX_BYTES,
        )

    def _outcome(self, origin: str, page_text: str | None, exc: FetchError | None) -> RobotsRules:
        now = time.monotonic()
        if exc is None:
            return RobotsRules.parse(origin, page_text or "", expires=now + ROBOTS_TTL)
        if isinstance(exc, FetchTimeout):
            raise exc
        if isinstance(exc, HTTPStatusError) and exc.status_code < 500 and exc.status_code != 429:
            reason = f"robots.txt answered {exc.status_code}"
            return RobotsRules(
                origin, None, allow_all=True, reason=reason, expires=now + ROBOTS_TTL
            )
        if isinstance(exc, TooManyRedirects):
            return RobotsRules(
                origin,
                None,
                allow_all=True,
                reason="robots.txt redirects too often",
                expires=now + ROBOTS_TTL,
            )
        logger.info("robots.txt of %s unreachable (%s): disallowing all", origin, exc)
        return RobotsRules(
            origin,
            None,
            disallow_all=True,
            reason=f"robots.txt could not be fetched ({exc}); RFC 9309 then disallows everything",
            expires=now + ROBOTS_FAILURE_TTL,
        )

    def rules(self, url: str | httpx.URL, *, state: _FetchState | None = None) -> RobotsRules:
        """The rules for the origin of ``url``, fetching robots.txt when not cached."""
        parsed = httpx.URL(str(url))
        origin = _origin(parsed)
        cached = self._cached(origin)
        if cached is not None:
            return cached
        with self._lock:
            host_lock = self._host_locks.setdefault(origin, threading.Lock())
        with host_lock:
            cached = self._cached(origin)
            if cached is not None:
                return cached
            ua = (
                state.ua
                if state is not None
                else resolve_user_agent(self._fetcher.config.user_agent)
            )
            robots_state = self._robots_state(parsed, ua, state)
            try:
                page = self._fetcher._fetch(robots_state, check_robots=False, truncate=True)
            except FetchError as exc:
                return self._store(self._outcome(origin, None, exc))
            text = page.content.decode("utf-8", errors="replace")
            return self._store(self._outcome(origin, text, None))

    async def arules(
        self, url: str | httpx.URL, *, state: _FetchState | None = None
    ) -> RobotsRules:
        """Async :meth:`rules`."""
        parsed = httpx.URL(str(url))
        origin = _origin(parsed)
        cached = self._cached(origin)
        if cached is not None:
            return cached
        host_lock = self._async_locks.setdefault(origin, anyio.Lock())
        async with host_lock:
            cached = self._cached(origin)
            if cached is not None:
                return cached
            ua = (
                state.ua
                if state is not None
                else resolve_user_agent(self._fetcher.config.user_agent)
            )
            robots_state = self._robots_state(parsed, ua, state)
            try:
                page = await self._fetcher._afetch(robots_state, check_robots=False, truncate=True)
            except FetchError as exc:
                return self._store(self._outcome(origin, None, exc))
            text = page.content.decode("utf-8", errors="replace")
            return self._store(self._outcome(origin, text, None))

    # -- checks -----------------------------------------------------------------------

    def _raise_if_disallowed(self, rules: RobotsRules, url: httpx.URL, state: _FetchState) -> None:
        agent = state.ua.user_agent
        if rules.allowed(str(url), agent):
            return
        why = rules.reason or "robots.txt disallows it"
        raise DisallowedByRobots(
            f"{url} may not be fetched by user agent {agent.split('/')[0]!r}: {why}; "
            "pass respect_robots=False (--ignore-robots) only if you are entitled to",
            url=state.url,
        )

    def check(self, url: httpx.URL, state: _FetchState) -> RobotsRules:
        """Raise :class:`DisallowedByRobots` unless robots.txt allows ``url``; return the rules."""
        rules = self.rules(url, state=state)
        self._raise_if_disallowed(rules, url, state)
        return rules

    async def acheck(self, url: httpx.URL, state: _FetchState) -> RobotsRules:
        """Async :meth:`check`."""
        rules = await self.arules(url, state=state)
        self._raise_if_disallowed(rules, url, state)
        return rules

    def _agent(self, user_agent: str | UserAgent | None) -> str:
        chosen = user_agent if user_agent is not None else self._fetcher.config.user_agent
        return resolve_user_agent(chosen).user_agent

    def allowed(self, url: str, user_agent: str | UserAgent | None = None) -> bool:
        """Whether robots.txt lets ``user_agent`` (default: the fetcher's) fetch ``url``."""
        return self.rules(url).allowed(str(url), self._agent(user_agent))

    async def aallowed(self, url: str, user_agent: str | UserAgent | None = None) -> bool:
        """Async :meth:`allowed`."""
        return (await self.arules(url)).allowed(str(url), self._agent(user_agent))

    def crawl_delay(self, url: str, user_agent: str | UserAgent | None = None) -> float | None:
        """Seconds robots.txt asks between requests to the host of ``url``, or ``None``."""
        return self.rules(url).crawl_delay(self._agent(user_agent))

    async def acrawl_delay(
        self, url: str, user_agent: str | UserAgent | None = None
    ) -> float | None:
        """Async :meth:`crawl_delay`."""
        return (await self.arules(url)).crawl_delay(self._agent(user_agent))
