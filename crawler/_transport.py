"""Connections: httpx transports bounded by the fetch deadline, one pool per TLS name.

The guard checks a host's addresses and the fetcher then requests the checked
address itself (an IP-address URL, with the original ``Host`` header and TLS
server name). So that this stays safe and bounded:

* https requests get a connection pool per TLS server name
  (:class:`TLSPartitionedTransport`): one pool per address would reuse a TLS
  connection verified for one host name for another name on the same address;
* every socket operation of a sync fetch ends by the fetch's total deadline
  (:func:`sync_deadline`, :class:`DeadlineStream`), since httpcore applies its
  timeouts per read and a server trickling bytes could hold a fetch for ever;
  :class:`Watchdog` does the same with a timer for injected transports;
* :class:`OpenSockets` keeps a fetcher's sockets so ``Fetcher.abort()`` can wake
  threads blocked reading them;
* TLS contexts are built once per process and setting (loading CA
  certificates is slow).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

__all__ = [
    "AsyncTLSPartitionedTransport",
    "DeadlineStream",
    "OpenSockets",
    "TLSPartitionedTransport",
    "Watchdog",
    "sync_deadline",
]

_MAX_TLS_POOLS = 64


# The deadline of the sync fetch running in this thread (``time.monotonic()``),
# read by the network streams below; ``None`` outside a fetch.
_SYNC_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "crawler_sync_deadline", default=None
)


@contextlib.contextmanager
def sync_deadline(deadline: float) -> Iterator[None]:
    """Bound the connections of the sync fetch in this block by ``deadline``."""
    token = _SYNC_DEADLINE.set(deadline)
    try:
        yield
    finally:
        _SYNC_DEADLINE.reset(token)


def _cap(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to the time left before the current sync fetch's deadline."""
    deadline = _SYNC_DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the total fetch deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the fetch deadline.

    httpcore applies its timeouts per read: a server sending its status line or
    headers one byte at a time would otherwise hold a sync fetch indefinitely.
    """

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(
            ssl_context, server_hostname, _cap(timeout, httpcore.ConnectTimeout)
        )
        return DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class OpenSockets:
    """The sockets of a fetcher's sync connections, so :meth:`abort` can wake blocked I/O.

    Closing a socket does not wake a thread blocked reading it; shutting it down does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self.aborted = False

    def add(self, stream: httpcore.NetworkStream) -> None:
        sock = stream.get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            aborted = self.aborted
            if not aborted:
                self._socks.add(sock)
        if aborted:  # aborted while this one was connecting
            _shutdown(sock)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            socks = list(self._socks)
            self._socks.clear()
        for sock in socks:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        # The plain-socket method even for TLS sockets: it wakes the reader
        # without touching the TLS object the reading thread is using.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, with streams bounded by the fetch deadline."""

    def __init__(self, sockets: OpenSockets | None = None) -> None:
        self._backend = httpcore.SyncBackend()
        self._sockets = sockets

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if self._sockets is not None and self._sockets.aborted:
            raise httpcore.ConnectError("the fetcher was aborted")
        stream = self._backend.connect_tcp(
            host, port, _cap(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        if self._sockets is not None:
            self._sockets.add(stream)
        return DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.UnsupportedProtocol("the fetcher does not connect to unix sockets")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _http_transport(
    verify: bool | str | ssl.SSLContext, *, keepalive: bool, sockets: OpenSockets | None = None
) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport`` whose connections obey the sync fetch deadline."""
    limits = httpx.Limits() if keepalive else httpx.Limits(max_keepalive_connections=0)
    transport = httpx.HTTPTransport(verify=_ssl_context(verify), limits=limits)
    if not hasattr(transport, "_pool"):  # pragma: no cover - a future httpx
        raise RuntimeError("unsupported httpx version: HTTPTransport has no connection pool")
    transport._pool.close()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_ssl_context(verify),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_DeadlineBackend(sockets),
    )
    return transport


class TLSPartitionedTransport(httpx.BaseTransport):
    """Routes https requests to a pool per TLS server name.

    Requests go to IP-address URLs, so a single pool would reuse a TLS
    connection verified for one host name for another host name on the same
    address. Past ``_MAX_TLS_POOLS`` names, a pool without keep-alive is used.
    """

    def __init__(
        self, *, verify: bool | str | ssl.SSLContext, sockets: OpenSockets | None = None
    ) -> None:
        self._verify = verify
        self._sockets = sockets
        self._lock = threading.Lock()
        self._pools: dict[str, httpx.HTTPTransport] = {}
        self._plain = _http_transport(verify, keepalive=True, sockets=sockets)
        self._overflow = _http_transport(verify, keepalive=False, sockets=sockets)

    def _pool(self, request: httpx.Request) -> httpx.HTTPTransport:
        name = request.extensions.get("sni_hostname")
        if request.url.scheme != "https" or not name:
            return self._plain
        with self._lock:
            pool = self._pools.get(name)
            if pool is None:
                if len(self._pools) >= _MAX_TLS_POOLS:
                    return self._overflow
                pool = self._pools[name] = _http_transport(
                    self._verify, keepalive=True, sockets=self._sockets
                )
            return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._pool(request).handle_request(request)

    def close(self) -> None:
        with self._lock:
            pools = [self._plain, self._overflow, *self._pools.values()]
            self._pools.clear()
        for pool in pools:
            pool.close()


class AsyncTLSPartitionedTransport(httpx.AsyncBaseTransport):
    """Async twin of :class:`TLSPartitionedTransport`."""

    def __init__(self, *, verify: bool | str | ssl.SSLContext) -> None:
        self._verify = verify
        self._pools: dict[str, httpx.AsyncHTTPTransport] = {}
        self._plain = httpx.AsyncHTTPTransport(verify=_ssl_context(verify))
        self._overflow = httpx.AsyncHTTPTransport(
            verify=_ssl_context(verify), limits=httpx.Limits(max_keepalive_connections=0)
        )

    def _pool(self, request: httpx.Request) -> httpx.AsyncHTTPTransport:
        name = request.extensions.get("sni_hostname")
        if request.url.scheme != "https" or not name:
            return self._plain
        pool = self._pools.get(name)
        if pool is None:
            if len(self._pools) >= _MAX_TLS_POOLS:
                return self._overflow
            pool = self._pools[name] = httpx.AsyncHTTPTransport(verify=_ssl_context(self._verify))
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pool(request).handle_async_request(request)

    async def aclose(self) -> None:
        pools = [self._plain, self._overflow, *self._pools.values()]
        self._pools.clear()
        for pool in pools:
            await pool.aclose()


_SSL_LOCK = threading.Lock()


def _ssl_context(verify: bool | str | ssl.SSLContext) -> ssl.SSLContext:
    """One TLS context per process and setting (loading CA certificates takes ~0.1 s).

    Locked: worker threads that start together would otherwise each load the
    certificates, holding the GIL for a second or more between them.
    """
    if isinstance(verify, ssl.SSLContext):
        return verify
    with _SSL_LOCK:
        return _cached_ssl_context(verify)


@functools.lru_cache(maxsize=8)
def _cached_ssl_context(verify: bool | str) -> ssl.SSLContext:
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


class Watchdog:
    """Shuts the socket down at the deadline, so a blocked sync read returns.

    httpcore fixes the read timeout when the body starts; a server that sends a
    byte now and then and stalls right before the deadline could otherwise hold
    the caller for up to twice ``timeout``. Streams of the fetcher's own
    transport (:class:`DeadlineStream`) already cut every read at the deadline
    and need no timer thread: only injected transports get one.
    """

    def __init__(self, response: httpx.Response, deadline: float) -> None:
        self._timer: threading.Timer | None = None
        stream = response.extensions.get("network_stream")
        if isinstance(stream, DeadlineStream):
            return
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            delay = max(deadline - time.monotonic(), 0.0)
            self._timer = threading.Timer(delay, self._fire, args=(sock,))
            self._timer.daemon = True
            self._timer.start()

    @staticmethod
    def _fire(sock: socket.socket) -> None:
        _shutdown(sock)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
