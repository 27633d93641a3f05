"""Exceptions raised by :mod:`crawler`.

Every failure is raised, never returned as ``None`` or as text that could be
mistaken for page content::

    CrawlerError
    ├── FetchError                  the page could not be fetched
    │   ├── InvalidURL              not an http(s) URL, unparsable host, credentials trick
    │   │   └── InvalidRedirect     a redirect to a URL that cannot be requested
    │   ├── BlockedAddress          host resolves to an internal address (see allow_private)
    │   ├── DisallowedByRobots      robots.txt forbids this user agent
    │   ├── FetchTimeout            the total deadline passed
    │   ├── ConnectError            DNS failure, refused or reset connection, TLS failure
    │   ├── TooManyRedirects        redirect limit reached or a redirect loop
    │   ├── HTTPStatusError         the server answered 4xx or 5xx
    │   ├── ContentTooLarge         decoded body exceeded max_bytes
    │   └── ContentEncodingError    corrupt or too deeply stacked Content-Encoding
    └── ExtractionError             the document holds no extractable text
        └── UnsupportedContentType  a content type we cannot turn into text

Misuse of the API (a negative limit, an unknown preset name) raises ``ValueError``
or ``TypeError`` instead.
"""

from __future__ import annotations

__all__ = [
    "BlockedAddress",
    "ConnectError",
    "ContentEncodingError",
    "ContentTooLarge",
    "CrawlerError",
    "DisallowedByRobots",
    "ExtractionError",
    "FetchError",
    "FetchTimeout",
    "HTTPStatusError",
    "InvalidRedirect",
    "InvalidURL",
    "TooManyRedirects",
    "UnsupportedContentType",
]


class CrawlerError(Exception):
    """Root of every error raised by :mod:`crawler`."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class FetchError(CrawlerError):
    """The page could not be fetched."""


class InvalidURL(FetchError):
    """The URL is not an http(s) URL we can safely request."""


class InvalidRedirect(InvalidURL):
    """A redirect points to a URL that cannot be requested.

    ``javascript:``, ``data:``, ``mailto:``, ``about:blank``, a URL too long or
    malformed to parse: only that page fails; a batch or crawl goes on.
    """


class BlockedAddress(FetchError):
    """The host resolves to an internal address; pass ``allow_private=True`` to allow it."""


class DisallowedByRobots(FetchError):
    """robots.txt disallows fetching this URL with this user agent."""


class FetchTimeout(FetchError):
    """The total deadline for the fetch passed."""


class ConnectError(FetchError):
    """The connection could not be made or was broken."""


class TooManyRedirects(FetchError):
    """The redirect limit was reached, or the redirects loop."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, url: str | None = None, status_code: int = 0) -> None:
        super().__init__(message, url=url)
        self.status_code = status_code


class ContentTooLarge(FetchError):
    """The decoded body exceeded the size cap."""

    def __init__(self, message: str, *, url: str | None = None, limit: int = 0) -> None:
        super().__init__(message, url=url)
        self.limit = limit


class ContentEncodingError(FetchError):
    """The Content-Encoding is corrupt, unknown or stacked too deep."""


class ExtractionError(CrawlerError):
    """The document holds no text that could be extracted."""


class UnsupportedContentType(ExtractionError):
    """The content type cannot be turned into text."""

    def __init__(self, message: str, *, url: str | None = None, content_type: str = "") -> None:
        super().__init__(message, url=url)
        self.content_type = content_type
