"""Every error the summarizer raises on purpose, under one root.

::

    SummarizerError
    ├── BackendError                  a model call failed (raised by backends)
    │   ├── BackendTimeout            connect/read/write/pool timeout
    │   ├── BackendConnectionError    refused, reset, DNS, protocol or proxy failure
    │   ├── BackendHTTPError          the server answered with an error status (.status)
    │   │   ├── RateLimited           429 Too Many Requests (.retry_after)
    │   │   └── ContextLengthExceeded the request did not fit the model's window
    │   ├── BackendResponseError      the answer was not a Chat Completions response
    │   └── MissingCredentials        no API key for a server that needs one
    ├── UnknownBackend                no backend registered under that name (.known)
    ├── DuplicateBackend              two backends registered under one name (.sources)
    ├── ContextWindowTooSmall         prompts + output cap cannot fit the window
    └── MapReduceError                a run stopped; completed summaries in .partial
        ├── ChunkFailed               one call failed for good (.level, .index, .start, .end)
        ├── SummaryDidNotFit          still too long after the maximum number of levels
        └── EmptySummary              the model returned nothing for the final summary

Misuse of the API (a negative budget, a non-string text) raises ``ValueError`` or
``TypeError`` instead. Third-party exceptions (httpx) are translated once, at the backend
boundary, and kept as ``__cause__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._results import PartialSummary

__all__ = [
    "BackendConnectionError",
    "BackendError",
    "BackendHTTPError",
    "BackendResponseError",
    "BackendTimeout",
    "ChunkFailed",
    "ContextLengthExceeded",
    "ContextWindowTooSmall",
    "DuplicateBackend",
    "EmptySummary",
    "MapReduceError",
    "MissingCredentials",
    "RateLimited",
    "SummarizerError",
    "SummaryDidNotFit",
    "UnknownBackend",
]


class SummarizerError(Exception):
    """Root of every error the summarizer raises on purpose."""


class BackendError(SummarizerError):
    """A call to a language model failed."""


class BackendTimeout(BackendError):
    """The model server did not answer in time."""


class BackendConnectionError(BackendError):
    """The model server could not be reached or broke the connection."""


class BackendHTTPError(BackendError):
    """The model server answered with an HTTP error status.

    Attributes:
        status: the HTTP status code.
        body: the start of the response body, for diagnosis.
    """

    def __init__(self, message: str, *, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class RateLimited(BackendHTTPError):
    """429: the server asked us to slow down, and retries did not help.

    Attributes:
        retry_after: seconds the server asked to wait, when it said so.
    """

    def __init__(
        self, message: str, *, status: int = 429, body: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class ContextLengthExceeded(BackendHTTPError):
    """The request (prompt plus ``max_tokens``) did not fit the model's context window."""


class BackendResponseError(BackendError):
    """The server answered 2xx with something that is not a Chat Completions response."""


class MissingCredentials(BackendError):
    """No API key for a server that requires one."""


class UnknownBackend(SummarizerError, LookupError):
    """No backend is registered under the requested name.

    Attributes:
        name: the requested name.
        known: the registered names.
    """

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(sorted(known))
        listed = ", ".join(self.known) or "none"
        super().__init__(
            f"unknown backend {name!r}; known backends: {listed}. Third-party backends register "
            "under the entry-point group 'summarizer.backends'."
        )


class DuplicateBackend(SummarizerError, LookupError):
    """Two backends are registered under one name (a built-in or an entry point).

    Attributes:
        name: the contested name.
        sources: what registers it (``"built-in summarizer._fake:FakeBackend"``,
            ``"entry point of echo-backend 1.0: echo_backend:EchoBackend"``).
    """

    def __init__(self, name: str, sources: Iterable[str]) -> None:
        self.name = name
        self.sources = tuple(sources)
        super().__init__(
            f"backend name {name!r} is registered twice: {' and '.join(self.sources)}. "
            "Uninstall one of them, or rename the third-party entry point in the "
            "'summarizer.backends' group."
        )


class ContextWindowTooSmall(SummarizerError):
    """The prompts plus the output cap cannot fit the model's context window."""


class MapReduceError(SummarizerError):
    """A summarization run stopped before producing its final summary.

    Attributes:
        partial: the summaries completed before the stop, in level then input order
            (``PartialSummary`` values with ``level``, ``index``, ``start``, ``end``, ``text``).
    """

    def __init__(self, message: str, *, partial: Sequence[PartialSummary] = ()) -> None:
        super().__init__(message)
        self.partial: tuple[PartialSummary, ...] = tuple(partial)


class ChunkFailed(MapReduceError):
    """One model call failed even after the backend's retries.

    Attributes:
        level: 1 for the map level (summaries of input chunks), 2+ for combine levels.
        index: 0-based position of the failed request within its level.
        start: start of the source text covered, in characters of the input.
        end: end (exclusive) of the source text covered.
        cause: the exception that made the call fail (also ``__cause__``).
    """

    def __init__(
        self,
        *,
        level: int,
        index: int,
        total: int,
        start: int,
        end: int,
        cause: BaseException,
        partial: Sequence[PartialSummary] = (),
    ) -> None:
        kind = "chunk" if level == 1 else "combine group"
        super().__init__(
            f"{kind} {index + 1} of {total} at level {level} (characters {start}-{end} of the "
            f"input) failed: {type(cause).__name__}: {cause}",
            partial=partial,
        )
        self.level = level
        self.index = index
        self.total = total
        self.start = start
        self.end = end
        self.cause = cause


class SummaryDidNotFit(MapReduceError):
    """The summary could not be brought under its budget within the allowed levels."""


class EmptySummary(MapReduceError):
    """The model returned an empty final summary for a non-empty text."""
