"""Any OpenAI-compatible Chat Completions server over httpx.

Works with OpenAI itself and with local servers that speak the same API: Ollama
(``http://localhost:11434/v1``), vLLM (``http://localhost:8000/v1``), llama.cpp's
``llama-server`` (``http://localhost:8080/v1``), LM Studio (``http://localhost:1234/v1``).

Every httpx exception is translated here, once, into the package's error tree; failed
requests are retried with exponential backoff and jitter on 408/409/429/5xx, timeouts and
connection errors, honouring ``Retry-After`` (seconds or an HTTP date, capped).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx

from ._backend import Completion, Message
from ._retry import RetryPolicy, parse_retry_after
from .errors import (
    BackendConnectionError,
    BackendError,
    BackendHTTPError,
    BackendResponseError,
    BackendTimeout,
    ContextLengthExceeded,
    MissingCredentials,
    RateLimited,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MODEL",
    "DEFAULT_TIMEOUT",
    "KNOWN_CONTEXT_WINDOWS",
    "OpenAIBackend",
    "RetryPolicy",
    "context_window_for_model",
    "map_httpx_error",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Model used against api.openai.com when none is given.
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
#: Window assumed when neither the caller, the table nor the server knows it.
DEFAULT_CONTEXT_WINDOW = 8192
#: Largest reply body (decoded bytes) read from the model server; a longer one fails.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
USER_AGENT = "llm-digest-summarizer/0.1 (+https://pypi.org/project/llm-digest/)"

#: Context windows (tokens) of common models, matched on the model name's prefix.
KNOWN_CONTEXT_WINDOWS: Mapping[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-3.5-turbo": 16_385,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    "llama2": 4_096,
    "llama-2": 4_096,
    "llama3": 8_192,
    "llama-3": 8_192,
    "llama3.1": 131_072,
    "llama-3.1": 131_072,
    "llama3.2": 131_072,
    "llama-3.2": 131_072,
    "llama3.3": 131_072,
    "llama-3.3": 131_072,
    "mistral": 32_768,
    "mixtral": 32_768,
    "qwen2": 32_768,
    "qwen2.5": 32_768,
    "qwen3": 40_960,
    "gemma": 8_192,
    "gemma2": 8_192,
    "gemma3": 131_072,
    "phi3": 4_096,
    "phi4": 16_384,
}

_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_RETRY_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_WINDOW_KEYS = ("max_model_len", "context_length", "context_window", "max_context_length")
_CONTEXT_ERROR = re.compile(
    r"context[_ ]length|context window|maximum context|too many tokens|prompt is too long",
    re.IGNORECASE,
)
_COMPLETION_TOKENS_MODELS = re.compile(r"^(?:o\d|gpt-5)", re.IGNORECASE)


def context_window_for_model(model: str) -> int | None:
    """Window of a known model from :data:`KNOWN_CONTEXT_WINDOWS`, else ``None``.

    The longest key that is a prefix of the model's base name (after any ``org/``, ending at
    a ``-``, ``:``, ``.``, ``_`` or ``@``) wins: ``"gpt-4o-mini-2024-07-18"`` is
    ``gpt-4o-mini``, ``"llama3.1:8b"`` is ``llama3.1``.
    """
    name = model.strip().lower().rsplit("/", 1)[-1]
    name = name.removeprefix("meta-")
    best: str | None = None
    for key in KNOWN_CONTEXT_WINDOWS:
        if name.startswith(key) and (len(name) == len(key) or name[len(key)] in "-:._@ "):
            if best is None or len(key) > len(best):
                best = key
    return KNOWN_CONTEXT_WINDOWS[best] if best else None


def map_httpx_error(exc: httpx.HTTPError, base_url: str) -> BackendError:
    """Translate an httpx exception into the package's error tree."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeout(
            f"the model server at {base_url} did not answer in time ({type(exc).__name__}: "
            f"{detail}); raise the timeout or try again later"
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return BackendConnectionError(
            f"cannot use the URL {base_url} ({detail}); --base-url must start with http:// or "
            "https://"
        )
    if isinstance(exc, httpx.ProxyError):
        return BackendConnectionError(
            f"the proxy refused the connection to {base_url} ({detail}); check HTTPS_PROXY"
        )
    if isinstance(exc, (httpx.NetworkError, httpx.ProtocolError, httpx.TransportError)):
        return BackendConnectionError(
            f"cannot reach the model server at {base_url} ({type(exc).__name__}: {detail}); "
            "check --base-url and that the server is running"
        )
    return BackendError(f"request to {base_url} failed ({type(exc).__name__}: {detail})")


def _error_message(response: httpx.Response) -> str:
    try:
        payload = json.loads(response.content)
    except (ValueError, RecursionError):
        return response.text[:300].strip()
    if isinstance(payload, dict):
        error = payload.get("error", payload.get("detail", payload.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:300]
    return response.text[:300].strip()


def _status_error(response: httpx.Response, base_url: str, model: str) -> BackendHTTPError:
    status = response.status_code
    message = _error_message(response)
    body = response.text[:1000]
    if status == 429:
        return RateLimited(
            f"the model server at {base_url} is rate limiting us (429: {message}); wait, lower "
            "--concurrency, or check your quota",
            body=body,
            retry_after=parse_retry_after(response.headers),
        )
    if status in (401, 403):
        return BackendHTTPError(
            f"the model server at {base_url} refused the credentials ({status}: {message}); "
            "check --api-key or OPENAI_API_KEY",
            status=status,
            body=body,
        )
    if status == 404:
        return BackendHTTPError(
            f"not found at {base_url} (404: {message}); check --model ({model!r}) and "
            "--base-url (it usually ends in /v1)",
            status=status,
            body=body,
        )
    if status in (400, 413, 422) and _CONTEXT_ERROR.search(message):
        return ContextLengthExceeded(
            f"the request did not fit the context window of {model!r} ({status}: {message}); "
            "pass --context-window with the window the server really has, or a smaller one "
            "if the model's tokenizer counts more tokens than o200k_base/cl100k_base",
            status=status,
            body=body,
        )
    if status >= 500:
        return BackendHTTPError(
            f"the model server at {base_url} failed ({status}: {message}); try again later",
            status=status,
            body=body,
        )
    return BackendHTTPError(
        f"the model server at {base_url} answered {status}: {message}", status=status, body=body
    )


_JSON = {"Content-Type": "application/json"}


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    """The request body as UTF-8 JSON; lone surrogates (not encodable) are sent escaped."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body, separators=(",", ":")).encode("ascii")


def _total_seconds(timeout: httpx.Timeout) -> float | None:
    """The whole-call deadline a timeout stands for: its largest phase, ``None`` if unset."""
    values = [v for v in (timeout.connect, timeout.read, timeout.write, timeout.pool) if v]
    return max(values) if values else None


def _loads(data: bytes, base_url: str) -> Any:
    """Parse a reply body; nesting too deep for the parser is a typed error, not a crash."""
    try:
        return json.loads(data)
    except RecursionError as exc:
        raise BackendResponseError(
            f"the server at {base_url} answered with JSON nested too deeply to parse "
            f"({len(data)} bytes); is --base-url an OpenAI-compatible API?"
        ) from exc


def _buffered(response: httpx.Response, body: bytes) -> httpx.Response:
    """A complete response holding the already-decoded ``body`` of a streamed one."""
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


def _models_entries(payload: Any) -> list[dict[str, Any]]:
    data = payload.get("data", payload.get("models")) if isinstance(payload, dict) else payload
    if not isinstance(data, list):
        return []
    return [entry for entry in data if isinstance(entry, dict)]


def _entry_id(entry: Mapping[str, Any]) -> str:
    return str(entry.get("id", entry.get("name", entry.get("model", ""))))


def _entry_window(entry: Mapping[str, Any]) -> int | None:
    for key in _WINDOW_KEYS:
        value = entry.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _check_base_url(base: str) -> httpx.URL:
    """Parse the API root; a ``ValueError`` says what a valid one looks like."""
    example = "for example http://localhost:11434/v1"
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {base!r} ({example})")
    try:
        url = httpx.URL(base)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url {base!r} is not a valid URL ({exc}); {example}") from None
    if not url.host:
        raise ValueError(f"base_url {base!r} has no host name; {example}")
    return url


class OpenAIBackend:
    """Chat Completions over httpx, for OpenAI and OpenAI-compatible servers.

    Args:
        model: model name; default ``gpt-4o-mini`` on api.openai.com, else the first model
            the server lists at ``GET /models``.
        base_url: API root; default ``OPENAI_BASE_URL``, else ``https://api.openai.com/v1``.
        api_key: default ``OPENAI_API_KEY``; required for api.openai.com only.
        context_window: the model's window in tokens; default: the table of common models,
            else the server's ``/models`` entry (``max_model_len``, ``context_length`` or
            ``context_window``), else 8192.
        timeout: seconds or an ``httpx.Timeout``. Besides bounding each phase, its largest
            value is the total deadline of every request (connect, headers and the whole
            body), so a server that drips its reply cannot hold a call open longer.
        max_response_bytes: the most bytes (after decompression) read from one reply,
            :data:`DEFAULT_MAX_RESPONSE_BYTES` (8 MiB) by default; a longer reply fails with
            :class:`BackendResponseError`. Replies nested too deeply to parse fail the same way.
        retry: the :class:`RetryPolicy`; ``max_retries`` is a shortcut for its field.
        temperature: sent when not ``None``.
        headers: extra HTTP headers.
        extra_body: extra JSON fields for every completion request.
        client: an ``httpx.Client`` to use for synchronous calls (you close it).
        async_client: an ``httpx.AsyncClient`` for asynchronous calls (you close it).
        transport: an httpx transport for clients this backend creates (e.g.
            ``httpx.MockTransport``, which serves both sync and async calls).
        async_transport: an async transport, when different from ``transport``.

    Raises:
        MissingCredentials: no API key for api.openai.com.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        context_window: int | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
        temperature: float | None = None,
        headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self._is_openai = _check_base_url(base).host == "api.openai.com"
        self.base_url = base.rstrip("/")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key and self._is_openai:
            raise MissingCredentials("No API key: pass --api-key or set OPENAI_API_KEY")
        if context_window is not None and (
            isinstance(context_window, bool)
            or not isinstance(context_window, int)
            or context_window < 1
        ):
            raise ValueError(f"context_window must be a positive integer, got {context_window!r}")
        self._model = model or (DEFAULT_MODEL if self._is_openai else None)
        self._window = context_window
        self._window_resolved = context_window is not None
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ValueError(
                f"max_response_bytes must be a positive integer, got {max_response_bytes!r}"
            )
        self.max_response_bytes = max_response_bytes
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = RetryPolicy(
                max_retries=max_retries,
                backoff=policy.backoff,
                max_backoff=policy.max_backoff,
                max_retry_after=policy.max_retry_after,
                jitter=policy.jitter,
            )
        self.retry = policy
        self.temperature = temperature
        self.extra_body = dict(extra_body or {})
        self._headers = {"User-Agent": USER_AGENT, **dict(headers or {})}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._client = client
        self._async_client = async_client
        self._transport = transport if isinstance(transport, httpx.BaseTransport) else None
        if async_transport is None and isinstance(transport, httpx.AsyncBaseTransport):
            async_transport = transport
        self._async_transport = async_transport
        self._session: contextvars.ContextVar[httpx.AsyncClient | None] = contextvars.ContextVar(
            f"openai_backend_session_{id(self)}", default=None
        )
        # Overridable in tests so that backoff delays need not really pass.
        self._sleep = time.sleep
        self._asleep = asyncio.sleep

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self._model!r}, base_url={self.base_url!r})"

    # -- Backend attributes ---------------------------------------------------------------

    #: Paid calls: kept in the response cache by default (see ``Summarizer(cache=...)``).
    cacheable = True

    @property
    def name(self) -> str:
        """``"openai:<model>"``."""
        return f"openai:{self._model or 'auto'}"

    @property
    def model(self) -> str | None:
        """The model name (``None`` until discovered when none was given)."""
        return self._model

    @property
    def context_window(self) -> int:
        """The model's window; resolved once (may ``GET /models``)."""
        if not self._window_resolved:
            self._window = context_window_for_model(self._model) if self._model else None
            if self._window is None:
                self._discover_sync()
            if self._window is None:
                self._window = DEFAULT_CONTEXT_WINDOW
                logger.info(
                    "context window of %s unknown: assuming %d tokens (pass context_window)",
                    self._model,
                    DEFAULT_CONTEXT_WINDOW,
                )
            self._window_resolved = True
        assert self._window is not None
        return self._window

    # -- discovery ------------------------------------------------------------------------

    def _apply_models(self, payload: Any) -> None:
        entries = _models_entries(payload)
        if self._model is None:
            if not entries or not _entry_id(entries[0]):
                raise BackendResponseError(
                    f"the server at {self.base_url} lists no model at /models; pass --model"
                )
            self._model = _entry_id(entries[0])
            logger.info("using model %s, the first listed by %s", self._model, self.base_url)
        wanted = self._model.rsplit("/", 1)[-1]
        for entry in entries:
            ident = _entry_id(entry)
            if ident == self._model or ident.rsplit("/", 1)[-1] == wanted:
                window = _entry_window(entry)
                if window is not None and not self._window_resolved:
                    self._window = window
                return

    def _discover_failed(self, exc: Exception) -> None:
        if self._model is None:
            if isinstance(exc, BackendError):
                kind = (
                    BackendResponseError if isinstance(exc, BackendResponseError) else BackendError
                )
                raise kind(
                    f"no model given and listing the models of {self.base_url} failed ({exc}); "
                    "pass --model"
                ) from exc
            raise BackendResponseError(
                f"no model given and {self.base_url}/models did not answer with a model list "
                f"({exc}); pass --model"
            ) from exc
        logger.debug("GET %s/models failed: %s", self.base_url, exc)

    def _discover_sync(self) -> None:
        try:
            with self._sync_client() as client:
                response = self._send(client, "GET", f"{self.base_url}/models")
            if response.status_code >= 400:
                raise _status_error(response, self.base_url, self._model or "?")
            self._apply_models(_loads(response.content, self.base_url))
        except httpx.HTTPError as exc:
            self._discover_failed(map_httpx_error(exc, self.base_url))
        except (BackendError, ValueError) as exc:
            self._discover_failed(exc)

    async def _discover_async(self) -> None:
        try:
            async with self._async_client_scope() as client:
                response = await self._asend(client, "GET", f"{self.base_url}/models")
            if response.status_code >= 400:
                raise _status_error(response, self.base_url, self._model or "?")
            self._apply_models(_loads(response.content, self.base_url))
        except httpx.HTTPError as exc:
            self._discover_failed(map_httpx_error(exc, self.base_url))
        except (BackendError, ValueError) as exc:
            self._discover_failed(exc)

    # -- clients --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _sync_client(self) -> Iterator[httpx.Client]:
        if self._client is not None:
            yield self._client
            return
        with httpx.Client(
            transport=self._transport, timeout=self.timeout, headers=self._headers
        ) as client:
            yield client

    def _new_async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self._async_transport, timeout=self.timeout, headers=self._headers
        )

    @contextlib.asynccontextmanager
    async def _async_client_scope(self) -> AsyncIterator[httpx.AsyncClient]:
        client = self._async_client or self._session.get()
        if client is not None:
            yield client
            return
        async with self._new_async_client() as own:
            yield own

    @contextlib.asynccontextmanager
    async def run_session(self) -> AsyncIterator[None]:
        """Share one connection pool between the calls of a run (the engine enters this).

        Outside a session each async call opens and closes its own client, so no
        connection outlives the event loop it was made on.
        """
        if self._async_client is not None or self._session.get() is not None:
            if self._model is None:  # once here, not in each of the concurrent first calls
                await self._discover_async()
            yield
            return
        async with self._new_async_client() as client:
            token = self._session.set(client)
            try:
                if self._model is None:
                    await self._discover_async()
                yield
            finally:
                self._session.reset(token)

    # -- one guarded request ----------------------------------------------------------------

    def _too_large(self, url: str) -> BackendResponseError:
        return BackendResponseError(
            f"the reply of {url} exceeds max_response_bytes={self.max_response_bytes} bytes; "
            "raise max_response_bytes if the server really sends that much"
        )

    def _past_deadline(self, url: str, deadline: float) -> BackendTimeout:
        return BackendTimeout(
            f"the model server at {self.base_url} did not finish its reply to {url} within "
            f"the total deadline of {deadline:g}s; raise the timeout or try again later"
        )

    def _request(
        self, client: httpx.Client | httpx.AsyncClient, method: str, url: str, content: bytes | None
    ) -> httpx.Request:
        return client.build_request(
            method, url, content=content, headers=_JSON if content is not None else None
        )

    def _check_length(self, response: httpx.Response, url: str) -> None:
        length = response.headers.get("content-length", "")
        if length.isascii() and length.isdigit() and int(length) > self.max_response_bytes:
            raise self._too_large(url)

    def _send(
        self, client: httpx.Client, method: str, url: str, content: bytes | None = None
    ) -> httpx.Response:
        """One request whose whole reply (headers and body) must arrive within the deadline
        and within :attr:`max_response_bytes`."""
        total = _total_seconds(self.timeout)
        start = time.monotonic()
        response = client.send(self._request(client, method, url, content), stream=True)
        try:
            self._check_length(response, url)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise self._too_large(url)
                if total is not None and time.monotonic() - start > total:
                    raise self._past_deadline(url, total)
                chunks.append(chunk)
        finally:
            response.close()
        if total is not None and time.monotonic() - start > total:
            raise self._past_deadline(url, total)
        return _buffered(response, b"".join(chunks))

    async def _asend(
        self, client: httpx.AsyncClient, method: str, url: str, content: bytes | None = None
    ) -> httpx.Response:
        """Async twin of :meth:`_send`; the deadline also bounds connecting and headers."""
        total = _total_seconds(self.timeout)

        async def read() -> httpx.Response:
            response = await client.send(self._request(client, method, url, content), stream=True)
            try:
                self._check_length(response, url)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise self._too_large(url)
                    chunks.append(chunk)
            finally:
                await response.aclose()
            return _buffered(response, b"".join(chunks))

        if total is None:
            return await read()
        try:
            return await asyncio.wait_for(read(), total)
        except TimeoutError as exc:
            raise self._past_deadline(url, total) from exc

    # -- completions ----------------------------------------------------------------------

    def _body(self, messages: list[Message], max_tokens: int) -> dict[str, Any]:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
        assert self._model is not None
        field = (
            "max_completion_tokens"
            if self._is_openai and _COMPLETION_TOKENS_MODELS.match(self._model)
            else "max_tokens"
        )
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            field: max_tokens,
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        body.update(self.extra_body)
        return body

    def _retry_delay(
        self,
        attempt: int,
        error: BackendError,
        exc: BaseException | None = None,
        response: httpx.Response | None = None,
    ) -> float | None:
        """Seconds before the next attempt, or ``None`` when ``error`` is final."""
        if isinstance(error, BackendHTTPError):
            if error.status not in _RETRY_STATUSES:
                return None
            retry_after = parse_retry_after(response.headers) if response is not None else None
            return self.retry.delay(attempt, retry_after)
        if isinstance(exc, _RETRY_TRANSPORT_ERRORS):
            return self.retry.delay(attempt)
        return None

    def _final(self, error: BackendHTTPError) -> BackendHTTPError:
        """The error to raise; a wait beyond ``max_retry_after`` is named with the cap."""
        wait = error.retry_after if isinstance(error, RateLimited) else None
        cap = self.retry.max_retry_after
        if wait is None or wait <= cap:
            return error
        return RateLimited(
            f"the model server at {self.base_url} asked us to wait {wait:g}s (Retry-After), "
            f"more than max_retry_after={cap:g}s, so we stop now instead of waiting; retry "
            "later, or raise RetryPolicy(max_retry_after=...)",
            status=error.status,
            body=error.body,
            retry_after=wait,
        )

    def _parse(self, response: httpx.Response) -> Completion:
        try:
            payload = _loads(response.content, self.base_url)
        except ValueError as exc:
            raise BackendResponseError(
                f"the server at {self.base_url} did not answer with JSON (status "
                f"{response.status_code}, {response.headers.get('content-type', 'no type')}); is "
                "--base-url an OpenAI-compatible API root (usually ending in /v1)?"
            ) from exc
        try:
            choice = payload["choices"][0]
            message = choice.get("message") or {}
            content = message.get("content")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BackendResponseError(
                f"the server at {self.base_url} answered without choices[0].message: "
                f"{str(payload)[:200]}"
            ) from exc
        if isinstance(content, list):  # content parts
            content = "".join(
                str(part.get("text", "")) for part in content if isinstance(part, dict)
            )
        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}

        def number(key: str) -> int | None:
            value = usage.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        return Completion(
            text=content if isinstance(content, str) else "",
            prompt_tokens=number("prompt_tokens"),
            completion_tokens=number("completion_tokens"),
            finish_reason=choice.get("finish_reason"),
            model=payload.get("model") or self._model,
        )

    def complete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Ask for one completion of at most ``max_tokens`` tokens, retrying per policy."""
        if self._model is None:
            self._discover_sync()
        body = self._body(messages, max_tokens)
        url = f"{self.base_url}/chat/completions"
        with self._sync_client() as client:
            attempt = 0
            while True:
                try:
                    response = self._send(client, "POST", url, _json_bytes(body))
                except httpx.HTTPError as exc:
                    error: BackendError = map_httpx_error(exc, self.base_url)
                    delay = self._retry_delay(attempt, error, exc)
                    if delay is None:
                        raise error from exc
                else:
                    if response.status_code < 400:
                        return self._parse(response)
                    error = _status_error(response, self.base_url, body["model"])
                    delay = self._retry_delay(attempt, error, response=response)
                    if delay is None:
                        raise self._final(error)
                logger.info("retrying in %.2fs after: %s", delay, error)
                self._sleep(delay)
                attempt += 1

    async def acomplete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        """Async twin of :meth:`complete`."""
        if self._model is None:
            await self._discover_async()
        body = self._body(messages, max_tokens)
        url = f"{self.base_url}/chat/completions"
        async with self._async_client_scope() as client:
            attempt = 0
            while True:
                try:
                    response = await self._asend(client, "POST", url, _json_bytes(body))
                except httpx.HTTPError as exc:
                    error: BackendError = map_httpx_error(exc, self.base_url)
                    delay = self._retry_delay(attempt, error, exc)
                    if delay is None:
                        raise error from exc
                else:
                    if response.status_code < 400:
                        return self._parse(response)
                    error = _status_error(response, self.base_url, body["model"])
                    delay = self._retry_delay(attempt, error, response=response)
                    if delay is None:
                        raise self._final(error)
                logger.info("retrying in %.2fs after: %s", delay, error)
                await self._asleep(delay)
                attempt += 1
