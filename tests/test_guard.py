"""Internal-address guard: URL parsing, address categories, pinning, rebinding."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable

import httpx
import pytest

from crawler._fetch import Fetcher, afetch, fetch
from crawler._guard import Guard, blocked_reason, parse_host_literal
from crawler.errors import BlockedAddress, ConnectError, InvalidURL

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


class ScriptedResolver:
    """Answers from a table; each host may get a different answer per call."""

    def __init__(self, table: dict[str, list[list[str]] | list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.calls.append(host)
        answer = self.table.get(host)
        if answer is None:
            raise OSError(f"no such host {host}")
        if answer and isinstance(answer[0], list):
            index = min(self.calls.count(host) - 1, len(answer) - 1)
            return list(answer[index])
        return list(answer)  # type: ignore[arg-type]


class Recorder:
    """MockTransport handler that records where each request would connect."""

    def __init__(self, reply: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.reply is not None:
            return self.reply(request)
        return httpx.Response(200, headers={"Content-Type": "text/plain"}, text="ok")

    @property
    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]


# --------------------------------------------------------------------------------------
# Address categories

BLOCKED = {
    "loopback": "127.0.0.1",
    "loopback-high": "127.255.255.254",
    "private-10": "10.1.2.3",
    "private-172": "172.16.5.4",
    "private-192": "192.168.1.1",
    "metadata": "169.254.169.254",
    "shared-cgnat": "100.64.0.1",
    "unspecified": "0.0.0.0",
    "this-network": "0.1.2.3",
    "multicast": "224.0.0.1",
    "reserved": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "benchmark": "198.18.0.1",
    "doc-1": "192.0.2.1",
    "doc-2": "198.51.100.7",
    "doc-3": "203.0.113.9",
    "ietf": "192.0.0.8",
    "v6-loopback": "::1",
    "v6-unspecified": "::",
    "v6-ula": "fd00::1",
    "v6-link-local": "fe80::1",
    "v6-site-local": "fec0::1",
    "v6-multicast": "ff02::1",
    "v6-doc": "2001:db8::1",
    "v6-discard": "100::1",
    "mapped-loopback": "::ffff:127.0.0.1",
    "mapped-metadata": "::ffff:169.254.169.254",
    "mapped-private": "::ffff:10.0.0.1",
    "nat64-loopback": "64:ff9b::7f00:1",
    "nat64-private": "64:ff9b::10.0.0.1",
    "nat64-local-use": "64:ff9b:1::8.8.8.8",
    "6to4-private": "2002:c0a8:0101::1",
    "6to4-loopback": "2002:7f00:1::",
    "teredo-private-client": "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # client 10.0.0.1
    "compat-loopback": "::127.0.0.1",
    "compat-public": "::8.8.8.8",
    "translated-loopback": "::ffff:0:127.0.0.1",
    "translated-metadata": "::ffff:0:169.254.169.254",
    "translated-public": "::ffff:0:8.8.8.8",
    "v6-reserved-low": "::2:1",
    "v6-reserved-high": "4000::1",
}

PUBLIC = {
    "v4": PUBLIC_V4,
    "v4-dns": "8.8.8.8",
    "v6": PUBLIC_V6,
    "mapped-public": "::ffff:8.8.8.8",
    "nat64-public": "64:ff9b::8.8.8.8",
    "6to4-public": "2002:0808:0808::1",
}


@pytest.mark.parametrize("address", list(BLOCKED.values()), ids=list(BLOCKED))
def test_blocked_categories(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", list(PUBLIC.values()), ids=list(PUBLIC))
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_teredo_is_judged_by_embedded_addresses() -> None:
    server = ipaddress.IPv4Address("65.54.227.120")
    for client, blocked in (("8.8.8.8", False), ("10.0.0.1", True), ("127.0.0.1", True)):
        obfuscated = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
        value = (0x20010000 << 96) | (int(server) << 64) | obfuscated
        ip = ipaddress.IPv6Address(value)
        assert ip.teredo == (server, ipaddress.IPv4Address(client))
        assert (blocked_reason(ip) is not None) is blocked


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("10.0.0.1.", "10.0.0.1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
        ("0x", "0.0.0.0"),
        ("08.1.1.1", None),
        ("deadbeef.com", None),
    ],
)
def test_numeric_hosts_read_like_inet_aton(host: str, expected: str | None) -> None:
    ip = parse_host_literal(host)
    assert (str(ip) if ip else None) == (str(ipaddress.ip_address(expected)) if expected else None)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://0/",
        "http://0177.1/",
        "http://0x7f000001:8080/x",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd12:3456::1]/",
        "http://[64:ff9b::a00:1]/",
        "http://[::ffff:0:127.0.0.1]/",
        "http://[0:0:0:0:0:ffff:127.0.0.1]/",
        "http://[::127.0.0.1]/",
        "http://[::]:8080/",
        "http://127.0.0.1./",
        "HTTP://127.0.0.1/",
        "http://127\u30020\u30020\u30021/",
    ],
)
def test_odd_literals_are_blocked_without_dns(url: str) -> None:
    resolver = ScriptedResolver({})
    recorder = Recorder()
    with pytest.raises(BlockedAddress, match="non-public address"):
        fetch(url, transport=httpx.MockTransport(recorder), resolver=resolver)
    assert resolver.calls == []
    assert recorder.requests == []


def test_octal_dotted_quad_is_refused() -> None:
    # httpx refuses 0177.0.0.1 as an invalid IPv4 address; we never connect.
    with pytest.raises((InvalidURL, BlockedAddress)):
        fetch("http://0177.0.0.1/", transport=httpx.MockTransport(Recorder()))


# --------------------------------------------------------------------------------------
# URL parsing


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "http:///nohost",
        "example.com/no-scheme",
        "http://user:pass@example.com/",
        "http://127.0.0.1:80\\@example.com/",
        "http://example.com@127.0.0.1/",
        "http://ex%61mple.com/",
        "http://%31%32%37.0.0.1/",
        "http://\uff11\uff12\uff17.0.0.1/",
        "http://[fe80::1%25eth0]/",
        "http://[::ffff:127.0.0.1%25lo]/",
        "http://[2606:2800:220:1::1%25eth0]/",
        "http://127.0.0.1\t/",
        "http://127.0.0.1\n.example.com/",
    ],
)
def test_invalid_urls(url: str) -> None:
    recorder = Recorder()
    with pytest.raises(InvalidURL):
        fetch(url, transport=httpx.MockTransport(recorder), resolver=ScriptedResolver({}))
    assert recorder.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com#@127.0.0.1/",
        "http://example.com?@127.0.0.1/",
        "http://example.com/@127.0.0.1",
        "HTTP://EXAMPLE.COM./a",
        "http://example.com:8080/",
    ],
)
def test_checked_host_is_the_host_httpx_connects_to(url: str) -> None:
    resolver = ScriptedResolver({"example.com": [PUBLIC_V4], "example.com.": [PUBLIC_V4]})
    target = Guard(resolver=resolver).check(url)
    assert resolver.calls == [httpx.URL(url).host]
    assert target.addresses == (PUBLIC_V4,)


@pytest.mark.parametrize("url", [" http://example.com/a ", "http://example.com/a\n", "\thttp://example.com/a\r\n"])
def test_surrounding_whitespace_is_dropped_like_browsers_do(url: str) -> None:
    recorder = Recorder()
    resolver = ScriptedResolver({"example.com": [PUBLIC_V4]})
    page = fetch(url, transport=httpx.MockTransport(recorder), resolver=resolver)
    assert page.url == "http://example.com/a"
    assert recorder.hosts == [PUBLIC_V4]


@pytest.mark.parametrize("url", [" http://127.0.0.1/ ", "http://[::1]/\n", "\x00http://10.0.0.1/"])
def test_surrounding_whitespace_does_not_hide_an_internal_host(url: str) -> None:
    recorder = Recorder()
    with pytest.raises(BlockedAddress):
        fetch(url, transport=httpx.MockTransport(recorder), resolver=ScriptedResolver({}))
    assert recorder.requests == []


def test_idna_host_is_resolved_in_ascii() -> None:
    resolver = ScriptedResolver({"xn--mnchen-3ya.de": [PUBLIC_V4]})
    target = Guard(resolver=resolver).check("https://münchen.de/")
    assert resolver.calls == ["xn--mnchen-3ya.de"]
    assert target.extensions == {"sni_hostname": "xn--mnchen-3ya.de"}


# --------------------------------------------------------------------------------------
# Resolution and pinning


def test_every_resolved_address_is_checked() -> None:
    resolver = ScriptedResolver({"mixed.example": [PUBLIC_V4, "10.0.0.7"]})
    recorder = Recorder()
    with pytest.raises(BlockedAddress) as info:
        fetch("https://mixed.example/", transport=httpx.MockTransport(recorder), resolver=resolver)
    assert "10.0.0.7" not in str(info.value)
    assert "allow_private=True" in str(info.value)
    assert recorder.requests == []


def test_connection_is_pinned_to_the_checked_address_after_rebinding() -> None:
    # First answer public, every later answer loopback (DNS rebinding).
    resolver = ScriptedResolver({"rebind.example": [[PUBLIC_V4], ["127.0.0.1"]]})
    recorder = Recorder()
    page = fetch(
        "https://rebind.example/page?q=1",
        transport=httpx.MockTransport(recorder),
        resolver=resolver,
    )
    assert resolver.calls == ["rebind.example"]  # resolved once, never again
    (request,) = recorder.requests
    assert request.url.host == PUBLIC_V4
    assert request.url.path == "/page" and request.url.query == b"q=1"
    assert request.headers["host"] == "rebind.example"
    assert request.extensions["sni_hostname"] == "rebind.example"
    assert page.final_url == "https://rebind.example/page?q=1"


def test_async_connection_is_pinned_too() -> None:
    resolver = ScriptedResolver({"rebind.example": [[PUBLIC_V4], ["10.0.0.1"]]})
    recorder = Recorder()
    page = asyncio.run(
        afetch(
            "https://rebind.example:8443/",
            transport=httpx.MockTransport(recorder),
            resolver=resolver,
        )
    )
    assert page.status_code == 200
    assert resolver.calls == ["rebind.example"]
    (request,) = recorder.requests
    assert request.url.host == PUBLIC_V4 and request.url.port == 8443
    assert request.headers["host"] == "rebind.example:8443"


def test_retries_reuse_the_checked_address() -> None:
    resolver = ScriptedResolver({"busy.example": [[PUBLIC_V4], ["127.0.0.1"]]})
    calls = iter([503, 503, 200])
    recorder = Recorder(lambda r: httpx.Response(next(calls), text="x"))
    fetch(
        "http://busy.example/",
        transport=httpx.MockTransport(recorder),
        resolver=resolver,
        retries=2,
        backoff=0.01,
    )
    assert recorder.hosts == [PUBLIC_V4] * 3
    assert resolver.calls == ["busy.example"]


def test_ipv6_address_is_bracketed_and_host_kept() -> None:
    resolver = ScriptedResolver({"v6.example": [PUBLIC_V6]})
    recorder = Recorder()
    fetch("http://v6.example/", transport=httpx.MockTransport(recorder), resolver=resolver)
    (request,) = recorder.requests
    assert request.url.host == PUBLIC_V6
    assert f"[{PUBLIC_V6}]" in str(request.url)
    assert request.headers["host"] == "v6.example"
    assert "sni_hostname" not in request.extensions  # plain http: no TLS


def test_connect_error_tries_the_next_checked_address() -> None:
    resolver = ScriptedResolver({"two.example": [PUBLIC_V6, PUBLIC_V4]})

    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC_V6:
            raise httpx.ConnectError("network unreachable", request=request)
        return httpx.Response(200, text="ok")

    recorder = Recorder(reply)
    page = fetch("http://two.example/", transport=httpx.MockTransport(recorder), resolver=resolver)
    assert page.text == "ok"
    assert recorder.hosts == [PUBLIC_V6, PUBLIC_V4]


def test_redirect_to_name_resolving_private_is_blocked() -> None:
    resolver = ScriptedResolver(
        {"public.example": [PUBLIC_V4], "internal.example": ["169.254.169.254"]}
    )

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://internal.example/latest/"})

    recorder = Recorder(reply)
    with pytest.raises(BlockedAddress) as info:
        fetch("http://public.example/", transport=httpx.MockTransport(recorder), resolver=resolver)
    assert recorder.hosts == [PUBLIC_V4]
    assert "169.254" not in str(info.value)


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1/",
        "http://2130706433/admin",
        "http://[::1]:8080/",
        "file:///etc/passwd",
        "http://user:pw@public.example/",
    ],
)
def test_redirects_are_checked_each_hop(location: str) -> None:
    resolver = ScriptedResolver({"public.example": [PUBLIC_V4]})
    recorder = Recorder(lambda r: httpx.Response(301, headers={"Location": location}))
    with pytest.raises((BlockedAddress, InvalidURL)):
        fetch("http://public.example/", transport=httpx.MockTransport(recorder), resolver=resolver)
    assert recorder.hosts == [PUBLIC_V4]


def test_resolution_failure_is_a_connect_error() -> None:
    with pytest.raises(ConnectError, match="could not resolve"):
        fetch(
            "http://nowhere.example/",
            transport=httpx.MockTransport(Recorder()),
            resolver=ScriptedResolver({}),
        )


def test_resolver_returning_garbage_is_a_connect_error() -> None:
    with pytest.raises(ConnectError):
        fetch(
            "http://odd.example/",
            transport=httpx.MockTransport(Recorder()),
            resolver=ScriptedResolver({"odd.example": ["not-an-ip"]}),
        )


# --------------------------------------------------------------------------------------
# Opting in


def test_allow_private_still_pins_the_address() -> None:
    resolver = ScriptedResolver({"intranet": [["10.0.0.5"], ["10.9.9.9"]]})
    recorder = Recorder()
    fetch(
        "http://intranet/",
        transport=httpx.MockTransport(recorder),
        resolver=resolver,
        allow_private=True,
    )
    assert recorder.hosts == ["10.0.0.5"]
    assert resolver.calls == ["intranet"]


@pytest.mark.parametrize(
    ("allowed", "host", "ok"),
    [
        (["intranet"], "intranet", True),
        (["INTRANET."], "intranet", True),
        ([".corp.example"], "wiki.corp.example", True),
        ([".corp.example"], "corp.example", True),
        ([".corp.example"], "evilcorp.example", False),
        (["10.0.0.0/8"], "intranet", True),
        (["10.0.0.5"], "intranet", True),
        (["192.168.0.0/16"], "intranet", False),
        (["other"], "intranet", False),
    ],
)
def test_allowed_hosts(allowed: list[str], host: str, ok: bool) -> None:
    resolver = ScriptedResolver({host: ["10.0.0.5"]})
    guard = Guard(allowed_hosts=allowed, resolver=resolver)
    if ok:
        assert guard.check(f"http://{host}/").addresses == ("10.0.0.5",)
    else:
        with pytest.raises(BlockedAddress):
            guard.check(f"http://{host}/")


def test_allowed_hosts_must_be_a_list() -> None:
    with pytest.raises(TypeError, match="list"):
        Guard(allowed_hosts="10.0.0.0/8")


def test_target_refuses_unchecked_addresses() -> None:
    target = Guard(resolver=ScriptedResolver({"a.example": [PUBLIC_V4]})).check("http://a.example")
    with pytest.raises(ValueError):
        target.connect_url("127.0.0.1")


# --------------------------------------------------------------------------------------
# Real TLS: the pinned connection still verifies the certificate for the host name


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory):
    import shutil

    from page_server import PageServer, make_tls_files

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    files = make_tls_files(str(tmp_path_factory.mktemp("tls")), ["pinned.test"])
    names: list[str | None] = []
    with PageServer(ssl_context=files.server_context(names.append)) as server:
        yield server, files, names


def test_tls_to_pinned_address_uses_host_name_for_sni_and_certificate(tls_server) -> None:
    server, files, names = tls_server
    resolver = ScriptedResolver({"pinned.test": [["127.0.0.1"], ["10.0.0.1"]]})
    with Fetcher(resolver=resolver, allowed_hosts=["127.0.0.1"], verify=files.ca) as f:
        page = f.fetch(server.url("/article.html", host="pinned.test"))
    assert page.status_code == 200
    assert page.final_url == server.url("/article.html", host="pinned.test")
    assert names[-1] == "pinned.test"
    assert server.requests_for("/article.html")[-1].headers["host"] == f"pinned.test:{server.port}"
    assert resolver.calls == ["pinned.test"]


def test_tls_certificate_is_checked_against_the_host_name(tls_server) -> None:
    server, files, _ = tls_server
    resolver = ScriptedResolver({"pinned.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    with Fetcher(resolver=resolver, allow_private=True, verify=files.ca, retries=0) as f:
        assert f.fetch(server.url("/", host="pinned.test")).status_code == 200
        # Same address, same port, kept-alive connection available: it must not be
        # reused for a host name its certificate was not checked for.
        with pytest.raises(ConnectError, match="(?i)certificate|hostname"):
            f.fetch(server.url("/", host="other.test"))
        with pytest.raises(ConnectError):
            f.fetch(server.url("/"))  # by IP: the certificate has no IP address


def test_tls_async(tls_server) -> None:
    server, files, names = tls_server
    resolver = ScriptedResolver({"pinned.test": ["127.0.0.1"]})

    async def go() -> int:
        async with Fetcher(resolver=resolver, allow_private=True, verify=files.ca) as f:
            page = await f.afetch(server.url("/gzip.html", host="pinned.test"))
            return page.status_code

    assert asyncio.run(go()) == 200
    assert names[-1] == "pinned.test"


def test_slow_resolver_is_bounded_by_the_deadline_async() -> None:
    import threading
    import time

    from crawler.errors import FetchTimeout

    release = threading.Event()

    def slow(host: str) -> list[str]:
        release.wait(5)
        return [PUBLIC_V4]

    started = time.monotonic()
    try:
        with pytest.raises(FetchTimeout):
            asyncio.run(
                afetch("http://slow.example/", transport=httpx.MockTransport(Recorder()),
                       resolver=slow, timeout=0.5)
            )  # fmt: skip
        assert time.monotonic() - started < 2
    finally:
        release.set()


def test_slow_injected_resolver_is_bounded_by_the_deadline_sync() -> None:
    import threading
    import time

    from crawler.errors import FetchTimeout

    release = threading.Event()

    def slow(host: str) -> list[str]:
        release.wait(5)
        return [PUBLIC_V4]

    recorder = Recorder()
    started = time.monotonic()
    try:
        with pytest.raises(FetchTimeout, match="timeout="):
            fetch("http://slow.example/", transport=httpx.MockTransport(recorder),
                  resolver=slow, timeout=0.5)  # fmt: skip
        assert time.monotonic() - started < 1.5
        assert recorder.requests == []
    finally:
        release.set()


def test_connect_time_is_shared_between_addresses() -> None:
    resolver = ScriptedResolver({"slow6.example": [PUBLIC_V6, PUBLIC_V4]})
    timeouts: list[float] = []

    def reply(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["connect"])
        if request.url.host == PUBLIC_V6:
            raise httpx.ConnectTimeout("timed out", request=request)
        return httpx.Response(200, text="ok")

    recorder = Recorder(reply)
    page = fetch(
        "http://slow6.example/", transport=httpx.MockTransport(recorder), resolver=resolver,
        timeout=10,
    )  # fmt: skip
    assert page.text == "ok"
    assert recorder.hosts == [PUBLIC_V6, PUBLIC_V4]
    assert 4 < timeouts[0] <= 5 and timeouts[1] > 9
