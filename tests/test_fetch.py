"""End-to-end fetch tests against tests/page_server.py, plus MockTransport unit tests."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import gzip
import pickle
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from page_server import (
    ARTICLE_HTML,
    ARTICLE_TITLE,
    CHARSET_SAMPLES,
    JSON_DOC,
    PageServer,
    Reply,
)

from crawler._fetch import (
    DEFAULT_MAX_BYTES,
    FetchConfig,
    Fetcher,
    afetch,
    fetch,
)
from crawler._fetch_state import map_httpx_error
from crawler._useragents import DEFAULT_USER_AGENT, PRESETS, resolve_user_agent
from crawler.errors import (
    BlockedAddress,
    ConnectError,
    ContentEncodingError,
    ContentTooLarge,
    CrawlerError,
    DisallowedByRobots,
    FetchTimeout,
    HTTPStatusError,
    InvalidURL,
    TooManyRedirects,
)
from summarizer import parse_retry_after as _parse_retry_after

LOCAL: dict[str, Any] = {"allow_private": True, "timeout": 10.0}


@pytest.fixture(scope="module")
def server() -> Iterator[PageServer]:
    with PageServer() as srv:
        yield srv


@pytest.fixture()
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(**LOCAL, backoff=0.05) as f:
        yield f


def _last(server: PageServer, path: str):
    return server.requests_for(path)[-1]


# --------------------------------------------------------------------------------------
# Basics and the Page


def test_article_page_fields(server: PageServer, fetcher: Fetcher) -> None:
    page = fetcher.fetch(server.url("/article.html"))
    assert page.status_code == 200
    assert page.url == page.final_url == server.url("/article.html")
    assert page.content_type == "text/html"
    assert page.encoding == "utf-8"
    assert page.text == ARTICLE_HTML
    assert page.content == ARTICLE_HTML.encode()
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.redirects == ()
    assert 0 < page.elapsed < 5


def test_page_text_is_decoded_once_on_first_use(server: PageServer, fetcher: Fetcher) -> None:
    page = fetcher.fetch(server.url("/article.html"))
    assert "text" not in vars(page) and "encoding" not in vars(page)  # only the bytes held
    assert page.encoding == "utf-8" and vars(page)["text"] == ARTICLE_HTML
    assert page.text is page.text  # cached
    same = dataclasses.replace(page)
    assert same == page and same.text == ARTICLE_HTML
    revived = pickle.loads(pickle.dumps(fetcher.fetch(server.url("/article.html"))))
    assert revived.text == ARTICLE_HTML and revived.encoding == "utf-8"
    pdf = fetcher.fetch(server.url("/doc.pdf"))
    assert (pdf.text, pdf.encoding) == ("", "")
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        page.nothing  # noqa: B018 - other names still fail as usual


@pytest.mark.parametrize(
    ("path", "ctype", "check"),
    [
        ("/doc.pdf", "application/pdf", lambda p: p.content.startswith(b"%PDF-") and p.text == ""),
        ("/data.json", "application/json", lambda p: '"species"' in p.text),
        ("/feed.rss", "application/rss+xml", lambda p: "<rss" in p.text),
        ("/sitemap.xml", "application/xml", lambda p: "/article.html</loc>" in p.text),
        ("/robots.txt", "text/plain", lambda p: "Disallow: /private/" in p.text),
    ],
    ids=["pdf", "json", "rss", "sitemap", "robots"],
)
def test_document_types(server: PageServer, fetcher: Fetcher, path, ctype, check) -> None:
    page = fetcher.fetch(server.url(path))
    assert page.content_type == ctype
    assert check(page)


def test_json_is_intact(server: PageServer, fetcher: Fetcher) -> None:
    import json

    assert json.loads(fetcher.fetch(server.url("/data.json")).text) == JSON_DOC


# --------------------------------------------------------------------------------------
# User agents


def test_default_user_agent_names_package_and_version(server: PageServer, fetcher: Fetcher) -> None:
    from importlib.metadata import version

    fetcher.fetch(server.url("/article.html?ua=default"))
    ua = _last(server, "/article.html").user_agent
    assert ua == DEFAULT_USER_AGENT
    assert ua.startswith(f"llm-digest/{version('llm-digest')} ")
    assert "+https://pypi.org/project/llm-digest/" in ua


@pytest.mark.parametrize("preset", ["chrome", "firefox", "safari", "edge", "mobile", "Chrome"])
def test_presets_send_matching_headers(server: PageServer, preset: str) -> None:
    with Fetcher(**LOCAL, user_agent=preset) as f:
        f.fetch(server.url("/headers"))
    seen = _last(server, "/headers")
    expected = PRESETS[preset.lower()]
    assert seen.user_agent == expected.user_agent
    assert seen.headers["accept"] == expected.accept
    assert seen.headers["accept-language"] == expected.accept_language
    assert "Mozilla/5.0" in seen.user_agent


def test_custom_user_agent_and_extra_headers_per_call(server: PageServer, fetcher: Fetcher) -> None:
    fetcher.fetch(
        server.url("/headers"), user_agent="my-agent/2.0 (ops@example.org)", headers={"X-A": "1"}
    )
    seen = _last(server, "/headers")
    assert seen.user_agent == "my-agent/2.0 (ops@example.org)"
    assert seen.headers["x-a"] == "1"
    fetcher.fetch(server.url("/headers"), headers={"user-agent": "lower/1", "accept": "x/y"})
    seen = _last(server, "/headers")
    assert seen.user_agent == "lower/1" and seen.headers["accept"] == "x/y"
    assert seen.headers["accept-encoding"] == "gzip, deflate, br"
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"
    fetcher.fetch(server.url("/headers"))  # the next call is back to the configured default
    assert _last(server, "/headers").user_agent == DEFAULT_USER_AGENT


def test_fetch_function_user_agent(server: PageServer) -> None:
    fetch(server.url("/headers"), user_agent="firefox", **LOCAL)
    assert "Firefox/" in _last(server, "/headers").user_agent


@pytest.mark.parametrize("bad", ["", "   ", "evil\r\nX-Injected: 1", "a\nb"])
def test_bad_user_agents_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="user_agent"):
        resolve_user_agent(bad)


def test_user_agent_type_is_checked() -> None:
    with pytest.raises(TypeError):
        resolve_user_agent(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Encodings, size cap


@pytest.mark.parametrize(
    "path", ["/gzip.html", "/deflate.html", "/raw-deflate.html", "/brotli.html", "/gzip-br.html"]
)
def test_content_encodings(server: PageServer, fetcher: Fetcher, path: str) -> None:
    page = fetcher.fetch(server.url(path))
    assert page.text == ARTICLE_HTML


@pytest.mark.parametrize("path", ["/bomb.gz", "/bomb.br"])
def test_compression_bomb_stops_at_cap_with_bounded_memory(server: PageServer, path: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ContentTooLarge, match=r"max_bytes=10,485,760") as info:
            fetch(server.url(path), **LOCAL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.limit == DEFAULT_MAX_BYTES
    assert "pass a larger max_bytes=" in str(info.value)
    assert peak < 3 * DEFAULT_MAX_BYTES  # 1 GiB decoded would be 100x this
    assert time.monotonic() - started < 10


def test_small_cap(server: PageServer) -> None:
    with pytest.raises(ContentTooLarge) as info:
        fetch(server.url("/gzip.html"), max_bytes=100, **LOCAL)
    assert info.value.limit == 100
    assert len(fetch(server.url("/gzip.html"), max_bytes=len(ARTICLE_HTML), **LOCAL).content) == (
        len(ARTICLE_HTML.encode())
    )


def test_content_length_over_cap_fails_before_reading(server: PageServer) -> None:
    started = time.monotonic()
    with pytest.raises(ContentTooLarge):
        fetch(server.url("/big.txt"), max_bytes=1024 * 1024, **LOCAL)
    assert time.monotonic() - started < 2


def test_stacked_encodings_are_limited(server: PageServer, fetcher: Fetcher) -> None:
    with pytest.raises(ContentEncodingError, match="stacks 3 content encodings"):
        fetcher.fetch(server.url("/stacked.html"))
    page = fetch(server.url("/stacked.html"), max_encodings=3, **LOCAL)
    assert page.text == ARTICLE_HTML


@pytest.mark.parametrize("path", ["/corrupt.gz", "/unknown-encoding.html"])
def test_bad_encodings(server: PageServer, fetcher: Fetcher, path: str) -> None:
    with pytest.raises(ContentEncodingError):
        fetcher.fetch(server.url(path))


def test_many_encodings_in_header_are_refused_before_decoding() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Encoding": ", ".join(["gzip"] * 50)}, content=b"x"
        )

    with pytest.raises(ContentEncodingError, match="max_encodings="):
        fetch("http://127.0.0.1/", transport=httpx.MockTransport(reply), allow_private=True)


def test_concatenated_gzip_members() -> None:
    body = gzip.compress(b"first ") + gzip.compress(b"second")

    def reply(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain"}
        return httpx.Response(200, headers=headers, content=body)

    page = fetch("http://127.0.0.1/", transport=httpx.MockTransport(reply), allow_private=True)
    assert page.text == "first second"


# --------------------------------------------------------------------------------------
# Charsets through HTTP


@pytest.mark.parametrize("where", ["header", "meta", "none"])
@pytest.mark.parametrize("enc", sorted(CHARSET_SAMPLES))
def test_charsets(server: PageServer, fetcher: Fetcher, enc: str, where: str) -> None:
    page = fetcher.fetch(server.url(f"/charset/{enc}/{where}"))
    assert CHARSET_SAMPLES[enc] in page.text
    assert "\ufffd" not in page.text


# --------------------------------------------------------------------------------------
# Deadline


def test_drip_is_cut_by_total_deadline(server: PageServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="timeout="):
        fetch(server.url("/drip?n=60&delay=1"), allow_private=True, timeout=2)
    elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 3.5


def test_stall_after_trickle_is_cut_at_the_deadline(server: PageServer) -> None:
    # Bytes at 0.45 s intervals, then silence: the per-read timeout (fixed when the
    # body starts) alone would end the fetch ~1.3 s late.
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetch(server.url("/stall?n=4&delay=0.45&stall=5"), allow_private=True, timeout=1.5)
    assert time.monotonic() - started < 2.2


@pytest.fixture()
def header_drip() -> Iterator[str]:
    """A raw server that sends its status line and headers one piece at a time."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                for piece in [b"H", b"TTP/1.1 ", b"200 OK\r\n"] + [b"X-Drip: 1\r\n"] * 100:
                    conn.sendall(piece)
                    if stop.wait(0.2):
                        return
            except OSError:
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop.set()
    listener.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_header_drip_is_cut_by_total_deadline(header_drip: str, mode: str) -> None:
    # httpcore's timeouts apply per read: headers trickling in 0.2 s apart would
    # hold a sync fetch for 20 s without the deadline-bound network streams.
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="total deadline"):
        if mode == "sync":
            fetch(header_drip, allow_private=True, timeout=1, retries=0)
        else:
            asyncio.run(afetch(header_drip, allow_private=True, timeout=1, retries=0))
    assert time.monotonic() - started < 1.6


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_abort_ends_sync_fetches_blocked_on_other_threads(
    server: PageServer, header_drip: str, phase: str
) -> None:
    url = header_drip if phase == "headers" else server.url("/stall?n=2&delay=0.1&stall=8")
    fetcher = Fetcher(allow_private=True, timeout=20)
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            fetcher.fetch(url)
        except CrawlerError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.6)
    started = time.monotonic()
    fetcher.abort()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - started < 1.5
    assert [type(exc) for exc in outcome] == [ConnectError]  # no retry after the abort
    assert fetcher.fetch(server.url("/plain.txt")).text == "plain text\n"  # usable again
    fetcher.close()


def test_sync_clients_are_per_thread_unless_a_transport_is_injected(server: PageServer) -> None:
    fetcher = Fetcher(**LOCAL)
    clients: list[httpx.Client] = []
    worker = threading.Thread(target=lambda: clients.append(fetcher.client))
    worker.start()
    worker.join()
    assert fetcher.client is fetcher.client and fetcher.client is not clients[0]
    assert fetcher.fetch(server.url("/plain.txt")).status_code == 200
    first = fetcher.client
    fetcher.close()
    assert clients[0].is_closed and first.is_closed
    assert fetcher.fetch(server.url("/plain.txt")).status_code == 200  # a fresh client
    fetcher.close()
    shared = Fetcher(transport=httpx.MockTransport(lambda r: httpx.Response(200)), **LOCAL)
    seen: list[httpx.Client] = []
    worker = threading.Thread(target=lambda: seen.append(shared.client))
    worker.start()
    worker.join()
    assert seen == [shared.client]
    shared.close()


def test_a_finished_threads_client_is_closed_and_forgotten(server: PageServer) -> None:
    fetcher = Fetcher(**LOCAL)
    used: list[httpx.Client] = []

    def work() -> None:
        fetcher.fetch(server.url("/plain.txt"))
        used.append(fetcher.client)

    for _ in range(3):
        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
    gc.collect()
    assert len(used) == 3 and all(client.is_closed for client in used)
    assert fetcher._clients == []
    fetcher.close()


def test_async_drip_is_cut_by_total_deadline(server: PageServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        asyncio.run(afetch(server.url("/drip?n=60&delay=0.5"), allow_private=True, timeout=1.5))
    assert time.monotonic() - started < 2.6


def test_deadline_covers_retry_after(server: PageServer) -> None:
    # Retry-After 5 s does not fit in a 1 s deadline: fail now with the status.
    started = time.monotonic()
    with pytest.raises(HTTPStatusError) as info:
        fetch(server.url("/retry-after/deadline?n=5&after=5"), allow_private=True, timeout=1)
    assert info.value.status_code == 429
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_timeout_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        FetchConfig(timeout=bad)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_bytes": 0}, {"max_redirects": -1}, {"retries": -1}, {"max_encodings": 0}],
)
def test_config_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        FetchConfig(**kwargs)


def test_host_header_cannot_be_overridden() -> None:
    with pytest.raises(ValueError, match="Host"):
        FetchConfig(headers={"Host": "internal"})
    with Fetcher(allow_private=True) as f, pytest.raises(ValueError, match="Host"):
        f.fetch("http://127.0.0.1/", headers={"host": "x"})


@pytest.mark.parametrize(
    ("headers", "error", "match"),
    [
        ({"X-A": "1\r\nX-Injected: 2"}, ValueError, "line breaks"),
        ({"X-A": "1\x00"}, ValueError, "NUL"),
        ({"X A": "1"}, ValueError, "not a valid HTTP header name"),
        ({"X-A": "caf\u00e9"}, ValueError, "non-ASCII"),
        ({"X-A": 1}, TypeError, "must be str"),
        ({"hOsT": "example.com"}, ValueError, "Host"),
    ],
    ids=["crlf", "nul", "bad-name", "non-ascii", "not-str", "host"],
)
def test_bad_extra_headers_are_misuse_not_connect_errors(
    headers: dict[str, Any], error: type[Exception], match: str
) -> None:
    recorder: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: recorder.append(r) or httpx.Response(200))
    with pytest.raises(error, match=match):
        fetch("http://127.0.0.1/", allow_private=True, headers=headers, transport=transport)
    with pytest.raises(error, match=match):
        Fetcher(headers=headers)
    assert recorder == []


def test_config_or_options_not_both() -> None:
    with pytest.raises(TypeError):
        Fetcher(FetchConfig(), timeout=3)


# --------------------------------------------------------------------------------------
# Redirects


def test_redirect_chain(server: PageServer, fetcher: Fetcher) -> None:
    page = fetcher.fetch(server.url("/redirect/3"))
    assert page.final_url == server.url("/article.html")
    assert page.redirects == (
        server.url("/redirect/2"),
        server.url("/redirect/1"),
        server.url("/redirect/0"),
        server.url("/article.html"),
    )
    assert page.text == ARTICLE_HTML


def test_redirect_limit(server: PageServer) -> None:
    with pytest.raises(TooManyRedirects, match="max_redirects=2"):
        fetch(server.url("/redirect/3"), max_redirects=2, **LOCAL)
    assert fetch(server.url("/redirect/1"), max_redirects=2, **LOCAL).status_code == 200


@pytest.mark.parametrize("path", ["/loop/a", "/self-loop"])
def test_redirect_loops(server: PageServer, fetcher: Fetcher, path: str) -> None:
    before = server.count(path)
    with pytest.raises(TooManyRedirects, match="loop"):
        fetcher.fetch(server.url(path))
    assert server.count(path) - before == 1  # detected on revisit, not at the limit


def test_cookie_then_redirect_to_self_is_not_a_loop(server: PageServer, fetcher: Fetcher) -> None:
    page = fetcher.fetch(server.url("/cookie-redirect"))
    assert page.text == ARTICLE_HTML
    # Cookies do not leak into the next fetch.
    fetcher.fetch(server.url("/headers"))
    assert "cookie" not in _last(server, "/headers").headers


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/",
        "http://metadata.internal/latest/",
        "http://2852039166/",
        # On Linux these reach the server on 127.0.0.1: they must be refused.
        "http://0.0.0.0:{port}/article.html",
        "http://[::]:{port}/article.html",
        "http://[::ffff:127.0.0.1]:{port}/article.html",
        "http://0:{port}/article.html",
    ],
)
def test_redirect_to_internal_address_is_blocked(server: PageServer, target: str) -> None:
    resolver_calls: list[str] = []

    def resolver(host: str) -> list[str]:
        resolver_calls.append(host)
        return {"metadata.internal": ["169.254.169.254"]}[host]

    url = server.url(f"/redirect-to?url={target.format(port=server.port)}")
    before = server.count("/article.html")
    with Fetcher(allowed_hosts=["127.0.0.1/32"], resolver=resolver, timeout=5) as f:
        with pytest.raises(BlockedAddress, match="allow_private=True"):
            f.fetch(url)
    assert server.count("/article.html") == before


def test_redirect_to_internal_is_blocked_async(server: PageServer) -> None:
    url = server.url("/redirect-to?url=http://169.254.169.254/")

    async def go() -> None:
        async with Fetcher(allowed_hosts=["127.0.0.1"], timeout=5) as f:
            await f.afetch(url)

    with pytest.raises(BlockedAddress):
        asyncio.run(go())


def test_guard_on_by_default_blocks_test_server(server: PageServer) -> None:
    before = len(server.requests)
    with pytest.raises(BlockedAddress):
        fetch(server.url("/article.html"))
    assert len(server.requests) == before


def test_environment_proxies_do_not_apply(
    server: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://192.0.2.1:3128")
    page = fetch(server.url("/article.html"), allow_private=True, timeout=3, retries=0)
    assert page.status_code == 200


# --------------------------------------------------------------------------------------
# Retries and status errors


def test_429_retry_after_is_honoured(server: PageServer, fetcher: Fetcher) -> None:
    started = time.monotonic()
    page = fetcher.fetch(server.url("/retry-after/honour?n=1&after=1"))
    assert page.status_code == 200
    assert time.monotonic() - started >= 0.95
    assert server.count("/retry-after/honour") == 2


def test_retry_after_longer_than_cap_is_not_waited(server: PageServer) -> None:
    started = time.monotonic()
    with pytest.raises(HTTPStatusError, match="retry after 120") as info:
        fetch(server.url("/retry-after/cap?n=1&after=120"), **LOCAL)
    assert info.value.status_code == 429
    assert time.monotonic() - started < 1


def test_503_then_success(server: PageServer, fetcher: Fetcher) -> None:
    page = fetcher.fetch(server.url("/flaky/once?n=1"))
    assert page.text == ARTICLE_HTML
    assert server.count("/flaky/once") == 2


def test_503_retries_are_bounded(server: PageServer) -> None:
    with pytest.raises(HTTPStatusError) as info:
        fetch(server.url("/flaky/always?n=100"), retries=2, backoff=0.01, **LOCAL)
    assert info.value.status_code == 503
    assert server.count("/flaky/always") == 3


def test_async_503_then_success(server: PageServer) -> None:
    page = asyncio.run(afetch(server.url("/flaky/async?n=1"), backoff=0.01, **LOCAL))
    assert page.status_code == 200


@pytest.mark.parametrize("code", [400, 401, 403, 404, 410, 500, 502])
def test_error_status(server: PageServer, fetcher: Fetcher, code: int) -> None:
    with pytest.raises(HTTPStatusError) as info:
        fetcher.fetch(server.url(f"/status/{code}"))
    assert info.value.status_code == code
    assert str(code) in str(info.value)


def test_retry_after_parsing() -> None:
    assert _parse_retry_after("7") == 7.0
    assert _parse_retry_after(None) is None
    assert _parse_retry_after("soon") is None
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 < (_parse_retry_after(format_datetime(when, usegmt=True)) or 0) <= 31
    past = datetime.now(timezone.utc) - timedelta(days=1)
    assert _parse_retry_after(format_datetime(past, usegmt=True)) == 0.0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_retried_then_connect_error() -> None:
    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(ConnectError, match="connection to"):
        fetch(f"http://127.0.0.1:{port}/", retries=1, backoff=0.05, **LOCAL)
    assert time.monotonic() - started < 3


def test_connection_errors_are_retried() -> None:
    attempts: list[int] = []

    def reply(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 3:
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        return httpx.Response(200, text="ok")

    page = fetch(
        "http://127.0.0.1/",
        transport=httpx.MockTransport(reply),
        allow_private=True,
        retries=2,
        backoff=0.01,
    )
    assert page.text == "ok" and len(attempts) == 3


# --------------------------------------------------------------------------------------
# Exception mapping


def _subclasses(cls: type) -> list[type]:
    out: list[type] = []
    sub: type
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


TRANSPORT_ERRORS = sorted(set(_subclasses(httpx.TransportError)), key=lambda c: c.__name__)


def _instance(cls: type[Exception]) -> Exception:
    return cls("boom", request=httpx.Request("GET", "http://127.0.0.1/"))  # type: ignore[call-arg]


@pytest.mark.parametrize("cls", TRANSPORT_ERRORS, ids=lambda c: c.__name__)
def test_every_transport_error_is_mapped(cls: type[Exception]) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        raise cls("boom", request=request)  # type: ignore[call-arg]

    transport = httpx.MockTransport(reply)
    with pytest.raises(CrawlerError) as info:
        fetch("http://127.0.0.1/", transport=transport, allow_private=True, retries=0)
    assert isinstance(info.value.__cause__, cls)
    with pytest.raises(CrawlerError):
        asyncio.run(afetch("http://127.0.0.1/", transport=transport, allow_private=True, retries=0))


def test_transport_error_list_is_complete() -> None:
    names = {c.__name__ for c in TRANSPORT_ERRORS}
    assert {"ConnectError", "ReadTimeout", "RemoteProtocolError", "ProxyError"} <= names


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (httpx.ConnectTimeout, FetchTimeout),
        (httpx.ReadTimeout, FetchTimeout),
        (httpx.PoolTimeout, FetchTimeout),
        (httpx.ConnectError, ConnectError),
        (httpx.ReadError, ConnectError),
        (httpx.RemoteProtocolError, ConnectError),
        (httpx.UnsupportedProtocol, InvalidURL),
        (httpx.DecodingError, ContentEncodingError),
        (httpx.TooManyRedirects, TooManyRedirects),
    ],
)
def test_mapping_targets(cls: type[Exception], expected: type[Exception]) -> None:
    assert isinstance(map_httpx_error(_instance(cls), "http://x/"), expected)


# --------------------------------------------------------------------------------------
# robots.txt


def test_robots_disallow(server: PageServer) -> None:
    with Fetcher(**LOCAL, respect_robots=True) as f:
        assert f.fetch(server.url("/article.html")).status_code == 200
        with pytest.raises(DisallowedByRobots, match="respect_robots=False"):
            f.fetch(server.url("/private/secret.html"))
        with pytest.raises(DisallowedByRobots):
            f.fetch(server.url("/article.html"), user_agent="blocked-bot/1.0")
        assert f.robots.crawl_delay(server.url("/")) == 1.0
        assert f.robots.allowed(server.url("/article.html"))
        assert not f.robots.allowed(server.url("/private/x"))
    # fetched once per fetcher, with the fetcher's user agent
    assert server.requests_for("/robots.txt")[-1].user_agent == DEFAULT_USER_AGENT


def test_robots_ignored_by_default(server: PageServer, fetcher: Fetcher) -> None:
    assert fetcher.fetch(server.url("/private/secret.html")).status_code == 200


def test_robots_fetched_once_per_host(server: PageServer) -> None:
    before = server.count("/robots.txt")
    with Fetcher(**LOCAL, respect_robots=True) as f:
        for _ in range(2):  # Crawl-delay: 1 spaces them a second apart
            f.fetch(server.url("/article.html"))
    assert server.count("/robots.txt") - before == 1


def _rate_limited_site(starts: list[float]) -> httpx.MockTransport:
    """robots.txt asking for 0.25 s between requests (Request-rate: 4/1)."""

    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(200, text="User-agent: *\nRequest-rate: 4/1\n")
        starts.append(time.monotonic())
        return httpx.Response(200, text="page")

    return httpx.MockTransport(reply)


def test_robots_crawl_delay_spaces_single_fetches() -> None:
    starts: list[float] = []
    options: dict[str, Any] = {"allow_private": True, "respect_robots": True}
    with Fetcher(transport=_rate_limited_site(starts), **options) as f:
        for path in ("/a", "/b", "/c"):
            f.fetch("http://127.0.0.1" + path)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.24
    # Without respect_robots, no spacing.
    starts.clear()
    with Fetcher(transport=_rate_limited_site(starts), allow_private=True) as f:
        for path in ("/a", "/b"):
            f.fetch("http://127.0.0.1" + path)
    assert starts[1] - starts[0] < 0.2


def test_robots_crawl_delay_async_and_within_the_deadline() -> None:
    starts: list[float] = []
    transport = _rate_limited_site(starts)

    async def go() -> None:
        async with Fetcher(transport=transport, allow_private=True, respect_robots=True) as f:
            await asyncio.gather(f.afetch("http://127.0.0.1/a"), f.afetch("http://127.0.0.1/b"))

    asyncio.run(go())
    assert abs(starts[1] - starts[0]) >= 0.24
    with Fetcher(transport=transport, allow_private=True, respect_robots=True, timeout=0.1) as f:
        f.fetch("http://127.0.0.1/a")
        with pytest.raises(FetchTimeout, match="Crawl-delay"):
            f.fetch("http://127.0.0.1/b")


def test_robots_checked_on_redirect_hops(server: PageServer) -> None:
    with Fetcher(**LOCAL, respect_robots=True) as f, pytest.raises(DisallowedByRobots):
        f.fetch(server.url("/redirect-to?url=/private/secret.html"))


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (410, True), (500, False)])
def test_robots_missing_or_failing(status: int, allowed: bool) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(status)
        return httpx.Response(200, text="page")

    transport = httpx.MockTransport(reply)
    with Fetcher(transport=transport, allow_private=True, respect_robots=True, retries=0) as f:
        if allowed:
            assert f.fetch("http://127.0.0.1/x").text == "page"
        else:
            with pytest.raises(DisallowedByRobots, match="RFC 9309"):
                f.fetch("http://127.0.0.1/x")


def test_robots_async(server: PageServer) -> None:
    async def go() -> None:
        async with Fetcher(**LOCAL, respect_robots=True) as f:
            assert (await f.afetch(server.url("/article.html"))).status_code == 200
            with pytest.raises(DisallowedByRobots):
                await f.afetch(server.url("/private/secret.html"))
            assert await f.robots.acrawl_delay(server.url("/")) == 1.0

    asyncio.run(go())


# --------------------------------------------------------------------------------------
# Async and the client seam


def test_async_fetches_share_one_client(server: PageServer) -> None:
    async def go() -> list[int]:
        async with Fetcher(**LOCAL) as f:
            pages = await asyncio.gather(
                *(f.afetch(server.url(p)) for p in ("/article.html", "/gzip.html", "/brotli.html"))
            )
            assert f.aclient is f.aclient
            return [len(p.text) for p in pages]

    assert asyncio.run(go()) == [len(ARTICLE_HTML)] * 3


def test_async_bomb(server: PageServer) -> None:
    with pytest.raises(ContentTooLarge):
        asyncio.run(afetch(server.url("/bomb.gz"), max_bytes=1_000_000, **LOCAL))


def test_server_added_route_and_title(server: PageServer, fetcher: Fetcher) -> None:
    server.add("/added.html", Reply(headers={"Content-Type": "text/html"}, body=b"<p>added</p>"))
    assert fetcher.fetch(server.url("/added.html")).text == "<p>added</p>"
    assert ARTICLE_TITLE in fetcher.fetch(server.url("/")).text


def test_sync_only_transport_for_async_is_a_clear_error() -> None:
    class SyncOnly(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200)

    async def go() -> None:
        async with Fetcher(transport=SyncOnly(), allow_private=True) as f:
            await f.afetch("http://127.0.0.1/")

    with pytest.raises(TypeError, match="sync-only transport"):
        asyncio.run(go())


def test_caller_headers_replace_ours_case_insensitively() -> None:
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    fetch(
        "http://127.0.0.1/",
        transport=httpx.MockTransport(reply),
        allow_private=True,
        headers={"user-agent": "x/1", "ACCEPT": "a/b"},
    )
    (request,) = seen
    assert request.headers.get_list("user-agent") == ["x/1"]
    assert request.headers.get_list("accept") == ["a/b"]


def test_credentials_are_not_sent_to_another_origin() -> None:
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers["host"] == "a.example":
            return httpx.Response(302, headers={"Location": "http://b.example/"})
        return httpx.Response(200)

    fetch(
        "http://a.example/",
        transport=httpx.MockTransport(reply),
        resolver=lambda host: ["93.184.216.34"],
        headers={"Authorization": "Bearer secret", "Cookie": "s=1", "X-Keep": "1"},
    )
    first, second = seen
    assert first.headers["authorization"] == "Bearer secret"
    assert first.headers["cookie"] == "s=1"
    assert "authorization" not in second.headers and "cookie" not in second.headers
    # The caller's own headers (an API key...) went to the first origin only (issue 17);
    # FetchConfig.keep_headers_cross_origin names those that may follow.
    assert first.headers["x-keep"] == "1"
    assert "x-keep" not in second.headers
