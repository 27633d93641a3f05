"""Response bodies: raw bytes read from the stream, decoded and size-capped.

The fetcher asks for ``Accept-Encoding: gzip, deflate, br`` and decodes the body
here itself, not with httpx, so that the cap applies to what it *decodes*: each
decoder yields pieces of at most ``_DECODE_CHUNK`` bytes, at most
``max_encodings`` of them are stacked, and :class:`BodyReader` stops at
``max_bytes``. A compression bomb therefore ends at the cap (an error, or a
truncated body when asked) with bounded memory, and the fetch deadline is
checked before each chunk read from the network is decoded.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Protocol

import brotli
import httpx

from .errors import ContentEncodingError, ContentTooLarge

__all__ = ["ACCEPT_ENCODING", "BodyReader", "FetchProgress", "aiter_raw", "iter_raw"]

logger = logging.getLogger(__name__)

ACCEPT_ENCODING = "gzip, deflate, br"
"""The ``Accept-Encoding`` request header: the encodings decoded here."""
_DECODE_CHUNK = 64 * 1024


class FetchProgress(Protocol):
    """What a :class:`BodyReader` needs of its fetch (``crawler._fetch_state._FetchState``)."""

    @property
    def url(self) -> str: ...

    @property
    def max_bytes(self) -> int: ...

    def check_deadline(self) -> float: ...


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _ZlibDecoder:
    """gzip or deflate, producing at most ``_DECODE_CHUNK`` bytes per piece."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._raw_fallback = kind == "deflate"
        self._started = False
        self._done = False
        self._d = zlib.decompressobj(31 if kind == "gzip" else 15)

    def feed(self, data: bytes) -> Iterator[bytes]:
        buf = data
        while buf and not self._done:
            try:
                out = self._d.decompress(buf, _DECODE_CHUNK)
            except zlib.error as exc:
                if self._raw_fallback and not self._started:
                    # "deflate" is meant to be zlib-wrapped; many servers send raw deflate.
                    self._raw_fallback = False
                    self._d = zlib.decompressobj(-15)
                    continue
                raise ContentEncodingError(f"corrupt {self.kind} body: {exc}") from exc
            self._started = True
            if out:
                yield out
            if self._d.eof:
                rest = self._d.unused_data
                if self.kind == "gzip" and rest and b"\x1f\x8b".startswith(rest[:2]):
                    self._d = zlib.decompressobj(31)  # concatenated gzip members
                    buf = rest
                    continue
                self._done = True  # trailing bytes after the stream end are ignored
                return
            buf = self._d.unconsumed_tail
            while not buf and len(out) == _DECODE_CHUNK and not self._d.eof:
                out = self._d.decompress(b"", _DECODE_CHUNK)
                if out:
                    yield out
                buf = self._d.unconsumed_tail

    def flush(self) -> Iterator[bytes]:
        if self._done:
            return
        try:
            out = self._d.flush()
        except zlib.error as exc:
            raise ContentEncodingError(f"corrupt {self.kind} body: {exc}") from exc
        if out:
            yield out
        if self._started and not self._d.eof:
            logger.warning("%s body ended before the end of its compressed stream", self.kind)


class _BrotliDecoder:
    """Brotli, producing bounded pieces (``output_buffer_limit``)."""

    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._started = True
        try:
            out = self._d.process(data, output_buffer_limit=_DECODE_CHUNK)
            if out:
                yield out
            while not self._d.can_accept_more_data():
                out = self._d.process(b"", output_buffer_limit=_DECODE_CHUNK)
                if not out:
                    break
                yield out
        except brotli.error as exc:
            raise ContentEncodingError(f"corrupt br body: {exc}") from exc

    def flush(self) -> Iterator[bytes]:
        if self._started and not self._d.is_finished():
            logger.warning("br body ended before the end of its compressed stream")
        return iter(())


def _decoders_for(headers: httpx.Headers, max_encodings: int) -> list[_Decoder]:
    """Decoders in the order they must run (reverse of the Content-Encoding list)."""
    names = [
        token.strip().lower()
        for value in headers.get_list("content-encoding")
        for token in value.split(",")
    ]
    names = [n for n in names if n and n != "identity"]
    if len(names) > max_encodings:
        raise ContentEncodingError(
            f"the response stacks {len(names)} content encodings ({', '.join(names[:5])}...); "
            f"at most {max_encodings} are decoded (raise max_encodings= to allow more)"
        )
    decoders: list[_Decoder] = []
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            decoders.append(_ZlibDecoder("gzip"))
        elif name == "deflate":
            decoders.append(_ZlibDecoder("deflate"))
        elif name == "br":
            decoders.append(_BrotliDecoder())
        else:
            raise ContentEncodingError(
                f"unsupported Content-Encoding {name!r}; supported: gzip, deflate, br"
            )
    return decoders


def _stage(decoder: _Decoder, chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield from decoder.feed(chunk)


def _decode_feed(decoders: list[_Decoder], data: bytes) -> Iterator[bytes]:
    chunks: Iterable[bytes] = (data,)
    for decoder in decoders:
        chunks = _stage(decoder, chunks)
    return iter(chunks)


def _decode_flush(decoders: list[_Decoder]) -> Iterator[bytes]:
    for i, decoder in enumerate(decoders):
        chunks: Iterable[bytes] = decoder.flush()
        for later in decoders[i + 1 :]:
            chunks = _stage(later, chunks)
        yield from chunks


class BodyReader:
    """Accumulates decoded pieces and enforces the size cap and the deadline."""

    def __init__(
        self,
        fetch: FetchProgress,
        response: httpx.Response,
        *,
        max_encodings: int,
        truncate: bool,
    ) -> None:
        self.fetch = fetch
        self.truncate = truncate
        self.limit = fetch.max_bytes
        self.size = 0
        self.parts: list[bytes] = []
        self.full = False
        self.decoders = _decoders_for(response.headers, max_encodings)
        length = response.headers.get("content-length", "")
        if not self.decoders and length.isdigit() and int(length) > self.limit and not truncate:
            raise self._too_large()

    def _too_large(self) -> ContentTooLarge:
        return ContentTooLarge(
            f"the body of {self.fetch.url} is larger than max_bytes={self.limit:,} bytes "
            "(counted after decompression); pass a larger max_bytes= (--max-bytes) to allow it",
            url=self.fetch.url,
            limit=self.limit,
        )

    def add(self, pieces: Iterable[bytes]) -> None:
        for piece in pieces:
            if self.size + len(piece) > self.limit:
                if not self.truncate:
                    raise self._too_large()
                self.parts.append(piece[: self.limit - self.size])
                self.size = self.limit
                self.full = True
                return
            self.size += len(piece)
            self.parts.append(piece)

    def feed(self, raw: bytes) -> None:
        self.fetch.check_deadline()
        self.add(_decode_feed(self.decoders, raw))

    def finish(self) -> bytes:
        if not self.full:
            self.add(_decode_flush(self.decoders))
        return b"".join(self.parts)


def iter_raw(response: httpx.Response) -> Iterator[bytes]:
    """The raw (still encoded) body of a streamed sync response, in non-empty chunks."""
    # The stream itself, not Response.iter_raw(): in-memory responses (MockTransport)
    # count as already consumed there, and we decode the raw bytes ourselves.
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise TypeError("expected a sync response stream")
    for chunk in stream:
        if chunk:
            yield chunk


async def aiter_raw(response: httpx.Response) -> AsyncIterator[bytes]:
    """Async :func:`iter_raw`."""
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):
        raise TypeError("expected an async response stream")
    async for chunk in stream:
        if chunk:
            yield chunk
