"""A real HTTP server on 127.0.0.1 for end-to-end crawler tests and benchmarks.

Start it as a context manager; it serves on a free port in daemon threads and
stops cleanly (slow handlers watch a stop event)::

    from page_server import PageServer

    with PageServer() as server:
        page = fetch(server.url("/article.html"), allow_private=True)
        assert server.requests[-1].headers["user-agent"].startswith("llm-digest/")

Built-in routes (see :data:`ROUTES` and :meth:`PageServer.describe`): an HTML
article, the same page in GBK, Shift_JIS, EUC-KR, windows-1251 and Latin-1 (with
the charset in the header, only in ``<meta>``, or nowhere), gzip / deflate /
brotli responses, a 1 GB gzip (and brotli) bomb generated on the fly, a body
dripping one byte per second, redirect chains and loops, a redirect to any URL,
429 with Retry-After, 503 then success, robots.txt, a sitemap, a PDF, an RSS
feed, a JSON document, stacked and corrupt encodings, any status code.

Add routes with :meth:`PageServer.add` (static bytes or a callable that gets the
:class:`Recorded` request and returns a :class:`Reply`).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import brotli

__all__ = [
    "ARTICLE_HTML",
    "ARTICLE_TITLE",
    "BOMB_DECODED_SIZE",
    "CHARSET_SAMPLES",
    "PageServer",
    "Recorded",
    "Reply",
    "TLSFiles",
    "make_pdf",
    "make_tls_files",
]

ARTICLE_TITLE = "Tide pools of the northern coast"
ARTICLE_TEXT = (
    "Tide pools form where the sea retreats twice a day and leaves water behind in the "
    "hollows of the rock. Anemones, limpets and small crabs live there, and each pool is "
    "a world that changes with every tide. Researchers count the species in fixed squares "
    "of rock every spring, and the counts show how warmer water moves the southern species "
    "north by a few kilometres each decade."
)
ARTICLE_HTML = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{ARTICLE_TITLE}</title>
<meta name="author" content="Ada Shore"></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<article><h1>{ARTICLE_TITLE}</h1>
<p>{ARTICLE_TEXT}</p>
<p>Visitors should step only on bare rock and put every stone back the way it was.</p>
</article><footer>Copyright 2024 Coast Society</footer></body></html>
"""

CHARSET_SAMPLES: dict[str, str] = {
    "gbk": "潮池形成于海水每天两次退去的地方，岩石的凹处留下了海水。海葵和小螃蟹生活在那里。",
    "shift_jis": "潮だまりは、海が一日に二度引いて岩のくぼみに水が残る場所にできます。"
    "イソギンチャクや小さなカニが住んでいます。",
    "euc-kr": "조수 웅덩이는 바다가 하루에 두 번 물러나 바위의 움푹한 곳에 물이 남는 "
    "곳에 생깁니다. 말미잘과 작은 게가 삽니다.",
    "windows-1251": "Приливные лужи образуются там, где море отступает дважды в день "
    "и оставляет воду в углублениях скал. Там живут актинии и маленькие крабы.",
    "latin-1": "Les mares à marée se forment là où la mer se retire deux fois par jour. "
    "Les anémones, les patelles et les petits crabes y vivent; chaque mare est un "
    "monde qui change à chaque marée, été comme hiver.",
    "utf-8": "Tide pools — Gezeitentümpel — 潮池 — приливные лужи.",
}
"""Text served by ``/charset/<encoding>/<header|meta|none>``."""

BOMB_DECODED_SIZE = 1024**3
"""Decoded size of ``/bomb.gz`` and ``/bomb.br`` (1 GiB of zeros)."""

SITEMAP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/article.html</loc><lastmod>2024-05-01</lastmod></url>
<url><loc>{base}/feed.rss</loc></url>
<url><loc>{base}/data.json</loc></url>
</urlset>
"""

RSS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Coast Society news</title>
<link>{base}/</link><description>News from the coast</description>
<item><title>Spring count finished</title><link>{base}/article.html</link>
<description>The spring species count is done.</description>
<pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate></item>
<item><title>New pools mapped</title><link>{base}/pools</link>
<description>Twelve new pools were mapped.</description></item>
</channel></rss>
"""

ROBOTS_TXT = """User-agent: *
Disallow: /private/
Crawl-delay: 1

User-agent: blocked-bot
Disallow: /

Sitemap: {base}/sitemap.xml
"""

JSON_DOC = {"title": "Tide pools", "species": ["anemone", "limpet", "crab"], "count": 3}


def make_pdf(text: str = "Hello from a tide pool PDF") -> bytes:
    """A minimal valid one-page PDF showing ``text`` (Helvetica), with a correct xref."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 18 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@dataclass(frozen=True)
class TLSFiles:
    """A throw-away CA and a server certificate signed by it (PEM paths)."""

    ca: str
    cert: str
    key: str

    def server_context(self, on_sni: Callable[[str | None], None] | None = None) -> ssl.SSLContext:
        """A server-side context for :class:`PageServer`; ``on_sni`` gets each SNI name."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        if on_sni is not None:

            def callback(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
                on_sni(name)

            ctx.sni_callback = callback  # type: ignore[assignment]
        return ctx


def make_tls_files(directory: str, hostnames: Iterable[str]) -> TLSFiles:
    """Create a CA and a certificate for ``hostnames`` with the ``openssl`` CLI.

    Raises:
        RuntimeError: ``openssl`` is not installed.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make test certificates")
    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    key, csr = os.path.join(directory, "leaf.key"), os.path.join(directory, "leaf.csr")
    cert, ext = os.path.join(directory, "leaf.pem"), os.path.join(directory, "leaf.ext")
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(ext, "w") as fh:
        fh.write("subjectAltName=" + ",".join(f"DNS:{h}" for h in hostnames) + "\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=30)

    run("req", "-x509", *curve, "-keyout", ca_key, "-out", ca, "-days", "2",
        "-subj", "/CN=page_server test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", *curve, "-keyout", key, "-out", csr, "-subj", "/CN=page_server")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)  # fmt: skip
    return TLSFiles(ca=ca, cert=cert, key=key)


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names

    @property
    def user_agent(self) -> str:
        """The User-Agent header ('' when absent)."""
        return self.headers.get("user-agent", "")


@dataclass
class Reply:
    """What a route answers.

    ``body`` may be bytes or an iterable of byte chunks (sent as they come,
    ``chunk_delay`` seconds apart, stopping early when the server stops).
    Without ``Content-Length`` in ``headers`` the body ends when the connection
    closes.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    chunk_delay: float = 0.0


Route = Callable[["PageServer", Recorded], Reply]


def _html(body: str, charset: str | None = "utf-8") -> Reply:
    ctype = "text/html" + (f"; charset={charset}" if charset else "")
    return Reply(headers={"Content-Type": ctype}, body=body.encode(charset or "utf-8"))


def _charset_page(enc: str, where: str) -> Reply:
    text = CHARSET_SAMPLES[enc]
    meta = f'<meta charset="{enc}">' if where == "meta" else ""
    html = (
        f"<!DOCTYPE html><html><head>{meta}<title>t</title></head><body><p>{text}</p></body></html>"
    )
    ctype = "text/html" + (f"; charset={enc}" if where == "header" else "")
    return Reply(headers={"Content-Type": ctype}, body=html.encode(enc))


def _gzip(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def _zeros_gzip(total: int) -> Iterator[bytes]:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    for _ in range(total // len(block)):
        out = c.compress(block)
        if out:
            yield out
    yield c.flush()


def _zeros_brotli(total: int) -> Iterator[bytes]:
    c = brotli.Compressor(quality=5)
    block = bytes(1024 * 1024)
    for _ in range(total // len(block)):
        out = c.process(block)
        if out:
            yield out
    yield c.finish()


def _drip(server: PageServer, req: Recorded) -> Reply:
    size = int(req.query.get("n", ["60"])[0])
    delay = float(req.query.get("delay", ["1"])[0])
    return Reply(
        headers={"Content-Type": "text/plain", "Content-Length": str(size)},
        body=(b"x" for _ in range(size)),
        chunk_delay=delay,
    )


def _stall(server: PageServer, req: Recorded) -> Reply:
    """``/stall?n=3&delay=0.4&stall=5``: n bytes ``delay`` apart, then silence."""
    count = int(req.query.get("n", ["3"])[0])
    delay = float(req.query.get("delay", ["0.4"])[0])
    stall = float(req.query.get("stall", ["5"])[0])

    def body() -> Iterator[bytes]:
        for _ in range(count):
            yield b"x"
            if server.stopping.wait(delay):
                return
        server.stopping.wait(stall)
        yield b"end"

    return Reply(
        headers={"Content-Type": "text/plain", "Content-Length": str(count + 3)}, body=body()
    )


def _redirect_chain(server: PageServer, req: Recorded) -> Reply:
    n = int(req.path.rsplit("/", 1)[1])
    location = "/article.html" if n <= 0 else f"/redirect/{n - 1}"
    return Reply(302, {"Location": location})


def _redirect_to(server: PageServer, req: Recorded) -> Reply:
    status = int(req.query.get("status", ["302"])[0])
    return Reply(status, {"Location": req.query["url"][0]})


def _retry_after(server: PageServer, req: Recorded) -> Reply:
    """``/retry-after/<key>?n=1&after=1``: 429 (Retry-After: after) n times, then 200."""
    times = int(req.query.get("n", ["1"])[0])
    after = req.query.get("after", ["1"])[0]
    if server.count(req.path) <= times:
        return Reply(429, {"Retry-After": after, "Content-Type": "text/plain"}, b"slow down")
    return _html(ARTICLE_HTML)


def _flaky(server: PageServer, req: Recorded) -> Reply:
    """``/flaky/<key>?n=1``: 503 n times, then the article."""
    times = int(req.query.get("n", ["1"])[0])
    if server.count(req.path) <= times:
        return Reply(503, {"Content-Type": "text/plain"}, b"busy")
    return _html(ARTICLE_HTML)


def _status(server: PageServer, req: Recorded) -> Reply:
    code = int(req.path.rsplit("/", 1)[1])
    return Reply(code, {"Content-Type": "text/plain"}, f"status {code}".encode())


def _cookie_redirect(server: PageServer, req: Recorded) -> Reply:
    if "visited=1" in req.headers.get("cookie", ""):
        return _html(ARTICLE_HTML)
    return Reply(302, {"Location": req.path, "Set-Cookie": "visited=1; Path=/"})


def _echo(server: PageServer, req: Recorded) -> Reply:
    body = json.dumps({"path": req.path, "headers": req.headers}).encode()
    return Reply(headers={"Content-Type": "application/json"}, body=body)


def _static(status: int, headers: dict[str, str], body: bytes) -> Route:
    def route(server: PageServer, req: Recorded) -> Reply:
        return Reply(status, dict(headers), body)

    return route


def _with_base(template: str, ctype: str) -> Route:
    def route(server: PageServer, req: Recorded) -> Reply:
        body = template.format(base=server.base).encode()
        return Reply(headers={"Content-Type": ctype}, body=body)

    return route


def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


_ARTICLE = ARTICLE_HTML.encode()
_HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}

ROUTES: dict[str, Route] = {
    "/": _static(200, _HTML_TYPE, _ARTICLE),
    "/article.html": _static(200, _HTML_TYPE, _ARTICLE),
    "/private/secret.html": _static(200, _HTML_TYPE, _ARTICLE),
    "/gzip.html": _static(200, {**_HTML_TYPE, "Content-Encoding": "gzip"}, _gzip(_ARTICLE)),
    "/deflate.html": _static(
        200, {**_HTML_TYPE, "Content-Encoding": "deflate"}, zlib.compress(_ARTICLE)
    ),
    "/raw-deflate.html": _static(
        200, {**_HTML_TYPE, "Content-Encoding": "deflate"}, _deflate_raw(_ARTICLE)
    ),
    "/brotli.html": _static(
        200, {**_HTML_TYPE, "Content-Encoding": "br"}, brotli.compress(_ARTICLE)
    ),
    "/gzip-br.html": _static(
        200, {**_HTML_TYPE, "Content-Encoding": "gzip, br"}, brotli.compress(_gzip(_ARTICLE))
    ),
    "/stacked.html": _static(
        200,
        {**_HTML_TYPE, "Content-Encoding": "gzip, gzip, gzip"},
        _gzip(_gzip(_gzip(_ARTICLE))),
    ),
    "/corrupt.gz": _static(
        200, {**_HTML_TYPE, "Content-Encoding": "gzip"}, b"\x1f\x8b\x08\x00garbage-not-gzip"
    ),
    "/unknown-encoding.html": _static(
        200, {**_HTML_TYPE, "Content-Encoding": "zstd"}, b"\x28\xb5\x2f\xfd not really"
    ),
    "/bomb.gz": lambda s, r: Reply(
        headers={**_HTML_TYPE, "Content-Encoding": "gzip"}, body=_zeros_gzip(BOMB_DECODED_SIZE)
    ),
    "/bomb.br": lambda s, r: Reply(
        headers={**_HTML_TYPE, "Content-Encoding": "br"}, body=_zeros_brotli(BOMB_DECODED_SIZE)
    ),
    "/big.txt": lambda s, r: Reply(
        headers={"Content-Type": "text/plain", "Content-Length": str(3 * 1024 * 1024)},
        body=(bytes(1024 * 1024) for _ in range(3)),
    ),
    "/drip": _drip,
    "/stall": _stall,
    "/loop/a": _static(302, {"Location": "/loop/b"}, b""),
    "/loop/b": _static(302, {"Location": "/loop/a"}, b""),
    "/self-loop": _static(301, {"Location": "/self-loop"}, b""),
    "/redirect-to": _redirect_to,
    "/cookie-redirect": _cookie_redirect,
    "/headers": _echo,
    "/robots.txt": _with_base(ROBOTS_TXT, "text/plain"),
    "/sitemap.xml": _with_base(SITEMAP_XML, "application/xml"),
    "/feed.rss": _with_base(RSS_XML, "application/rss+xml"),
    "/data.json": _static(200, {"Content-Type": "application/json"}, json.dumps(JSON_DOC).encode()),
    "/doc.pdf": _static(200, {"Content-Type": "application/pdf"}, make_pdf()),
    "/plain.txt": _static(200, {"Content-Type": "text/plain; charset=utf-8"}, b"plain text\n"),
}

PREFIX_ROUTES: dict[str, Route] = {
    "/redirect/": _redirect_chain,
    "/retry-after/": _retry_after,
    "/flaky/": _flaky,
    "/status/": _status,
}

for _enc in CHARSET_SAMPLES:
    for _where in ("header", "meta", "none"):
        ROUTES[f"/charset/{_enc}/{_where}"] = (
            lambda s, r, e=_enc, w=_where: _charset_page(e, w)  # type: ignore[misc]
        )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass  # keep test output clean

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve("GET")

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self._serve("HEAD")

    def _serve(self, method: str) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        req = Recorded(
            method=method,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        owner._record(req)
        route = owner.routes.get(parts.path)
        if route is None:
            route = next(
                (r for p, r in owner.prefix_routes.items() if parts.path.startswith(p)), None
            )
        reply = route(owner, req) if route else Reply(404, {"Content-Type": "text/plain"}, b"nf")
        body = reply.body
        headers = dict(reply.headers)
        if isinstance(body, bytes):
            headers.setdefault("Content-Length", str(len(body)))
        if "Content-Length" not in headers:
            headers["Connection"] = "close"
            self.close_connection = True
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method == "HEAD":
            return
        try:
            if isinstance(body, bytes):
                self.wfile.write(body)
                return
            for chunk in body:
                if owner.stopping.is_set():
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                self.wfile.flush()
                if reply.chunk_delay and owner.stopping.wait(reply.chunk_delay):
                    self.close_connection = True
                    return
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: PageServer

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up early (size cap, deadline) are part of the tests.
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class PageServer:
    """HTTP server on 127.0.0.1 with the routes above; records every request.

    Args:
        port: 0 picks a free port.
        ssl_context: serve HTTPS with this server-side context (see ``make_tls_files``).
    """

    def __init__(self, port: int = 0, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = dict(ROUTES)
        self.prefix_routes: dict[str, Route] = dict(PREFIX_ROUTES)
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.owner = self
        self.scheme = "http"
        if ssl_context is not None:
            self.scheme = "https"
            self._httpd.socket = ssl_context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>`` (``https`` when serving TLS)."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        """Absolute URL for ``path`` on this server, optionally under another host name."""
        return f"{self.scheme}://{host}:{self.port}" + (
            path if path.startswith("/") else "/" + path
        )

    def add(
        self,
        path: str,
        reply: bytes | str | Reply | Route,
        *,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
    ) -> None:
        """Serve ``path``: static bytes/str, a fixed :class:`Reply`, or a route callable."""
        if callable(reply):
            self.routes[path] = reply
            return
        if isinstance(reply, Reply):
            fixed = reply
            self.routes[path] = lambda s, r: Reply(
                fixed.status, dict(fixed.headers), fixed.body, fixed.chunk_delay
            )
            return
        data = reply.encode() if isinstance(reply, str) else reply
        self.routes[path] = _static(status, {"Content-Type": content_type}, data)

    def _record(self, req: Recorded) -> None:
        with self._lock:
            self.requests.append(req)
            self._counts[req.path] = self._counts.get(req.path, 0) + 1

    def count(self, path: str) -> int:
        """How many requests for ``path`` arrived so far."""
        with self._lock:
            return self._counts.get(path, 0)

    def requests_for(self, path: str) -> list[Recorded]:
        """The recorded requests for ``path``."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> PageServer:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end slow handlers, and close the socket."""
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> PageServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - manual use
    with PageServer(8765) as srv:
        print(f"serving on {srv.base}; Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
