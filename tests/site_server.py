"""A tiny web site on 127.0.0.1 for crawler tests: routes you add, requests it saw.

Usage::

    with Site() as site:
        site.add("/", "<a href='/a'>a</a>")
        site.add("/a", "text", content_type="text/plain", delay=0.2)
        site.redirect("/old", "/a")
        ...  # fetch site.url("/"), then inspect site.requests

Unknown paths answer 404. Every request is recorded (path with query, headers, start
time); ``max_in_flight`` is the most requests that were being served at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Route:
    """What one path answers."""

    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclass(frozen=True)
class Seen:
    """One request the site received."""

    path: str
    headers: dict[str, str]
    started: float = field(default_factory=time.monotonic)


class Site:
    """A threaded HTTP server with a mutable route table."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                site._serve(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this site."""
        return self.origin + path

    def add(
        self,
        path: str,
        body: str | bytes,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve ``body`` at ``path`` (the path and query exactly as requested)."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(data, status, content_type, tuple((headers or {}).items()), delay)

    def redirect(self, path: str, target: str, *, status: int = 301) -> None:
        """Answer ``path`` with a redirect to ``target``."""
        self.add(path, b"", status=status, headers={"Location": target})

    def paths(self) -> list[str]:
        """The requested paths, in arrival order."""
        with self._lock:
            return [seen.path for seen in self.requests]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        if path.startswith("http"):
            path = urlsplit(path)._replace(scheme="", netloc="").geturl()
        with self._lock:
            self.requests.append(Seen(path, dict(handler.headers.items())))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            route = self.routes.get(path) or Route(b"not found", status=404,
                                                   content_type="text/plain")
            if route.delay:
                time.sleep(route.delay)
            handler.send_response(route.status)
            handler.send_header("Content-Type", route.content_type)
            handler.send_header("Content-Length", str(len(route.body)))
            for name, value in route.headers:
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a cancelled request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Site:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
