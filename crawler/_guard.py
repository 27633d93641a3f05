"""Internal-address guard: refuse to connect to anything but the public internet.

The guard looks at a URL exactly as httpx will use it (``httpx.URL`` parsing, so
``http://127.0.0.1:80\\@example.com`` is checked as ``example.com``, the host httpx
would contact), resolves the host **once** with an injectable resolver, and
checks **every** address it gets. The fetcher then connects to the checked
address itself, sending the original ``Host`` header and TLS server name, so a
DNS answer that changes between the check and the connection (DNS rebinding)
never reaches the socket.

Blocked: loopback, RFC 1918 private, link-local (cloud metadata at
169.254.169.254), shared address space 100.64/10, "this network" 0/8, IETF
protocol assignments, documentation and benchmarking ranges, multicast,
reserved, broadcast, IPv6 unique-local, link-local, site-local, discard,
documentation, every IPv6 address outside global unicast ``2000::/3``, and
every address IANA does not list as globally reachable. IPv6 forms that carry
an IPv4 address (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4
``2002::/16``, Teredo ``2001::/32``, IPv4-compatible ``::a.b.c.d``,
IPv4-translated ``::ffff:0:a.b.c.d``) are judged by the IPv4 address inside.
IPv6 literals with a zone id (``[fe80::1%25eth0]``) are refused. Numeric hosts in the
forms ``inet_aton`` accepts (``2130706433``, ``0x7f.1``, ``127.1``, ``0``) are
read the way the operating system would read them.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import anyio.to_thread
import httpx

from .errors import BlockedAddress, ConnectError, FetchTimeout, InvalidURL

__all__ = [
    "ALLOWED_SCHEMES",
    "Guard",
    "IPAddress",
    "Resolver",
    "Target",
    "blocked_reason",
    "parse_host_literal",
    "system_resolver",
]

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Iterable[str]]
"""A resolver takes a host name (ASCII, IDNA-encoded) and returns IP address strings."""

ALLOWED_SCHEMES = ("http", "https")

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

_BLOCKED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "'this network' (unspecified)"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared address space (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local (includes cloud metadata)"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "deprecated 6to4 relay anycast"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
)

_BLOCKED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("100::/64"), "discard-only"),
    (_V6("2001:2::/48"), "benchmarking"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("fc00::/7"), "unique-local (private)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
)

_NAT64 = _V6("64:ff9b::/96")
_IPV4_COMPATIBLE = _V6("::/96")
_TEREDO = _V6("2001::/32")
_SIXTOFOUR = _V6("2002::/16")
_MAPPED = _V6("::ffff:0:0/96")
_TRANSLATED = _V6("::ffff:0:0:0/96")
# Every globally routed IPv6 unicast address lies here; the rest of the space is
# reserved or special-purpose, whatever ``ipaddress.is_global`` says of it.
_GLOBAL_UNICAST = _V6("2000::/3")

_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")
_HOST_CHARS = re.compile(r"^[A-Za-z0-9_.-]+$")


def _parse_inet_aton_part(part: str) -> int | None:
    """Read one dotted part the way inet_aton does: 0x hex, leading-0 octal, else decimal."""
    if not part:
        return None
    try:
        if part[:2].lower() == "0x":
            return int(part[2:], 16) if len(part) > 2 else 0
        if len(part) > 1 and part[0] == "0":
            return int(part[1:], 8)
        if not part.isdigit():
            return None
        return int(part, 10)
    except ValueError:
        return None


def _inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """Interpret ``host`` as inet_aton(3) would (1 to 4 parts, last part fills the rest)."""
    if not _NUMERIC_HOST.match(host):
        return None
    parts = host.split(".")
    if len(parts) > 4:
        return None
    values = [_parse_inet_aton_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    nums = [v for v in values if v is not None]
    *head, last = nums
    if any(v > 0xFF for v in head):
        return None
    if last >= 1 << (8 * (4 - len(head))):
        return None
    value = 0
    for v in head:
        value = (value << 8) | v
    value = (value << (8 * (4 - len(head)))) | last
    return ipaddress.IPv4Address(value)


def parse_host_literal(host: str) -> IPAddress | None:
    """Return the IP address a numeric host denotes, or ``None`` for a host name.

    Accepts IPv6 literals (with or without brackets; zone ids are refused by
    :meth:`Guard.parse`) and every IPv4 spelling inet_aton accepts, including a
    trailing dot.
    """
    text = host.strip("[]")
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    return _inet_aton(text[:-1] if text.endswith(".") else text)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """Return (kind, IPv4 addresses) for IPv6 forms that carry an IPv4 address."""
    if ip in _MAPPED:
        assert ip.ipv4_mapped is not None
        return "IPv4-mapped", [ip.ipv4_mapped]
    if ip in _NAT64:
        return "NAT64", [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip in _TRANSLATED:
        return "IPv4-translated", [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip in _SIXTOFOUR:
        assert ip.sixtofour is not None
        return "6to4", [ip.sixtofour]
    if ip in _TEREDO:
        assert ip.teredo is not None
        server, client = ip.teredo
        return "Teredo", [server, client]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return "IPv4-compatible", [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Return why ``ip`` is not a public address, or ``None`` when it is public."""
    if isinstance(ip, ipaddress.IPv4Address):
        for net, reason in _BLOCKED_V4:
            if ip in net:
                return reason
        return None if ip.is_global else "not globally reachable"
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        kind, v4s = embedded
        for v4 in v4s:
            inner = blocked_reason(v4)
            if inner is not None:
                return f"{inner} (IPv4 inside a {kind} IPv6 address)"
        if kind in ("IPv4-compatible", "IPv4-translated"):
            return f"deprecated {kind} IPv6 address"
        return None
    for net6, reason in _BLOCKED_V6:
        if ip in net6:
            return reason
    if ip not in _GLOBAL_UNICAST:
        return "reserved (outside IPv6 global unicast 2000::/3)"
    return None if ip.is_global else "not globally reachable"


_HAS_ABANDON_ON_CANCEL = (
    "abandon_on_cancel" in inspect.signature(anyio.to_thread.run_sync).parameters
)


@functools.lru_cache(maxsize=1)
def _resolver_pool() -> concurrent.futures.ThreadPoolExecutor:
    # Sized for fetch_many's worker threads, which all resolve through this pool.
    return concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="resolve")


def system_resolver(host: str) -> list[str]:
    """Resolve ``host`` with the operating system (``socket.getaddrinfo``), TCP only."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = str(sockaddr[0]).split("%", 1)[0]
        if addr not in seen:
            seen.append(addr)
    return seen


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect and what to tell the server.

    Attributes:
        url: the URL as requested (host name kept), used for Host, SNI, cookies
            and resolving relative redirects.
        host: the ASCII (IDNA) host name, or the canonical IP for numeric hosts.
        addresses: the checked addresses, in resolver order; connections go to
            these and nowhere else.
        is_ip_literal: whether the URL named an address rather than a host name.
    """

    url: httpx.URL
    host: str
    addresses: tuple[str, ...]
    is_ip_literal: bool

    @property
    def host_header(self) -> str:
        """The ``Host`` header value: host, plus the port when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = self.url.port
        default = 443 if self.url.scheme == "https" else 80
        return host if port in (None, default) else f"{host}:{port}"

    def connect_url(self, address: str) -> httpx.URL:
        """The URL with its host replaced by ``address`` (one of :attr:`addresses`)."""
        if address not in self.addresses:
            raise ValueError(f"{address!r} is not one of the checked addresses")
        return self.url.copy_with(host=address)

    @property
    def extensions(self) -> dict[str, str]:
        """httpx request extensions: the TLS server name for https host names."""
        if self.url.scheme == "https" and not self.is_ip_literal:
            return {"sni_hostname": self.host}
        return {}


def _parse_allowed(
    allowed_hosts: Iterable[str],
) -> tuple[frozenset[str], tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]:
    names: set[str] = set()
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    if isinstance(allowed_hosts, str):
        raise TypeError("allowed_hosts must be a list of host names or CIDRs, not a string")
    for entry in allowed_hosts:
        item = entry.strip()
        if not item:
            raise ValueError("allowed_hosts contains an empty entry")
        try:
            nets.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        names.add(item.lower().rstrip("."))
    return frozenset(names), tuple(nets)


class Guard:
    """Checks URLs and the addresses their hosts resolve to.

    Args:
        allow_private: allow every address (the host is still resolved once and
            the connection still pinned to the checked address).
        allowed_hosts: host names (exact, or ``.example.com`` for a domain and its
            subdomains) whose addresses are not checked, and IP networks in CIDR
            notation (``10.0.0.0/8``, ``127.0.0.1``) that are allowed.
        resolver: ``host -> iterable of IP strings``; default :func:`system_resolver`.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_hosts: Iterable[str] = (),
        resolver: Resolver | None = None,
    ) -> None:
        self.allow_private = allow_private
        self._names, self._nets = _parse_allowed(allowed_hosts)
        self._resolver: Resolver = resolver or system_resolver

    # -- URL parsing -------------------------------------------------------------

    def parse(self, url: str | httpx.URL) -> tuple[httpx.URL, str, IPAddress | None]:
        """Parse and validate ``url``; return (url, ASCII host, literal IP or None).

        Raises:
            InvalidURL: not http(s), no host, credentials in the URL, bad host.
        """
        text = str(url)
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise InvalidURL(f"not a valid URL: {text!r} ({exc})", url=text) from exc
        if parsed.scheme not in ALLOWED_SCHEMES:
            raise InvalidURL(
                f"only http and https URLs can be fetched, not {parsed.scheme or 'no'} scheme "
                f"in {text!r}",
                url=text,
            )
        if parsed.userinfo:
            raise InvalidURL(
                "URL contains credentials (user:password@host); they are refused because "
                "they are a common way to disguise the real host. Pass credentials in "
                "headers= instead.",
                url=text,
            )
        try:
            host = parsed.raw_host.decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidURL(f"URL host is not valid: {text!r}", url=text) from exc
        if not host:
            raise InvalidURL(f"URL has no host: {text!r}", url=text)
        if ":" in host and "%" in host:
            # A zone id names a local interface: never meaningful for a public fetch.
            raise InvalidURL(
                f"URL host {host!r} carries an IPv6 zone id (%...); drop it", url=text
            )
        literal = parse_host_literal(host)
        if literal is None:
            if ":" in host or not _HOST_CHARS.match(host):
                raise InvalidURL(f"URL host {host!r} is not a valid host name", url=text)
        return parsed, host, literal

    # -- checking ------------------------------------------------------------------

    def _name_allowed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        if name in self._names:
            return True
        return any(n.startswith(".") and (name.endswith(n) or name == n[1:]) for n in self._names)

    def _check_addresses(self, url: httpx.URL, host: str, addresses: Sequence[str]) -> None:
        if self.allow_private or self._name_allowed(host):
            return
        for addr in addresses:
            ip = ipaddress.ip_address(addr)
            if any(ip in net for net in self._nets if net.version == ip.version):
                continue
            reason = blocked_reason(ip)
            if reason is not None:
                logger.info("blocked %s: %s resolves to %s (%s)", url, host, addr, reason)
                raise BlockedAddress(
                    f"{host} resolves to a non-public address; "
                    "pass allow_private=True (--allow-private) to allow, or add the host "
                    "to allowed_hosts",
                    url=str(url),
                )

    def _finish(
        self, url: httpx.URL, host: str, literal: IPAddress | None, resolved: Iterable[str]
    ) -> Target:
        if literal is not None:
            addresses: tuple[str, ...] = (str(literal),)
            host = str(literal)
        else:
            addresses = _normalise_addresses(resolved, host, url)
        self._check_addresses(url, host, addresses)
        return Target(url=url, host=host, addresses=addresses, is_ip_literal=literal is not None)

    def check(self, url: str | httpx.URL, *, timeout: float | None = None) -> Target:
        """Parse ``url``, resolve its host once and check every address.

        Args:
            url: the URL to check.
            timeout: seconds to wait for the resolver (``None``: no limit). The
                resolver then runs in a worker thread, since ``getaddrinfo``
                cannot be interrupted.

        Raises:
            InvalidURL, BlockedAddress, ConnectError (the host does not resolve),
            FetchTimeout (the resolver took longer than ``timeout``).
        """
        parsed, host, literal = self.parse(url)
        resolved: Iterable[str] = ()
        if literal is None:
            if timeout is None:
                resolved = self._resolve(host, parsed)
            else:
                resolved = self._resolve_with_timeout(host, parsed, timeout)
        return self._finish(parsed, host, literal, resolved)

    def _resolve_with_timeout(self, host: str, url: httpx.URL, timeout: float) -> list[str]:
        future = _resolver_pool().submit(self._resolve, host, url)
        try:
            return future.result(timeout=max(timeout, 0.0))
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise FetchTimeout(
                f"resolving {host!r} took longer than the fetch deadline; "
                "pass a larger timeout= to wait longer",
                url=str(url),
            ) from exc

    async def acheck(self, url: str | httpx.URL) -> Target:
        """Async :meth:`check`; the resolver runs in a worker thread."""
        parsed, host, literal = self.parse(url)
        resolved: Iterable[str] = ()
        if literal is None:
            # Abandon (not wait for) a resolver thread stuck past the caller's deadline.
            if _HAS_ABANDON_ON_CANCEL:
                resolved = await anyio.to_thread.run_sync(
                    self._resolve, host, parsed, abandon_on_cancel=True
                )
            else:  # anyio < 4.1
                resolved = await anyio.to_thread.run_sync(
                    self._resolve,
                    host,
                    parsed,
                    cancellable=True,
                )
        return self._finish(parsed, host, literal, resolved)

    def _resolve(self, host: str, url: httpx.URL) -> list[str]:
        try:
            return list(self._resolver(host))
        except (OSError, UnicodeError) as exc:
            raise ConnectError(
                f"could not resolve host {host!r}: {exc}; check the URL and your DNS",
                url=str(url),
            ) from exc


def _normalise_addresses(resolved: Iterable[str], host: str, url: httpx.URL) -> tuple[str, ...]:
    out: list[str] = []
    for addr in resolved:
        try:
            ip = ipaddress.ip_address(str(addr).split("%", 1)[0])
        except ValueError as exc:
            raise ConnectError(
                f"the resolver returned something that is not an IP address for {host!r}",
                url=str(url),
            ) from exc
        text = str(ip)
        if text not in out:
            out.append(text)
    if not out:
        raise ConnectError(f"host {host!r} resolved to no addresses", url=str(url))
    return tuple(out)
