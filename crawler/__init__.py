"""Safe, user-agent-aware fetching and main-content extraction for LLM agents.

Read one page as LLM-ready text::

    from crawler import get_url
    print(get_url("https://example.com/article", max_tokens=4000))

Fetch many pages, or crawl a site politely::

    from crawler import crawl, fetch_many
    results = fetch_many(["https://a.example/", "https://b.example/"])
    for result in crawl("https://example.com/docs/", max_pages=50):
        print(result.url, result.document.title if result.ok else result.error)
"""

from __future__ import annotations

from ._crawl import (
    CrawlResult,
    FetchResult,
    acrawl,
    afetch_many,
    crawl,
    fetch_many,
)
from ._extract import document_from_page, extract
from ._fetch import FetchConfig, Fetcher, afetch, fetch
from ._models import Document, Page
from ._sources import Source, read_source
from ._tool import aget_url, get_url
from ._urls import normalize_url
from ._useragents import UserAgent
from .errors import (
    BlockedAddress,
    ConnectError,
    ContentEncodingError,
    ContentTooLarge,
    CrawlerError,
    DisallowedByRobots,
    ExtractionError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    InvalidRedirect,
    InvalidURL,
    TooManyRedirects,
    UnsupportedContentType,
)

__all__ = [
    "BlockedAddress",
    "ConnectError",
    "ContentEncodingError",
    "ContentTooLarge",
    "CrawlResult",
    "CrawlerError",
    "DisallowedByRobots",
    "Document",
    "ExtractionError",
    "FetchConfig",
    "FetchError",
    "FetchResult",
    "FetchTimeout",
    "Fetcher",
    "HTTPStatusError",
    "InvalidRedirect",
    "InvalidURL",
    "Page",
    "Source",
    "TooManyRedirects",
    "UnsupportedContentType",
    "UserAgent",
    "acrawl",
    "afetch",
    "afetch_many",
    "aget_url",
    "crawl",
    "document_from_page",
    "extract",
    "fetch",
    "fetch_many",
    "get_url",
    "normalize_url",
    "read_source",
]
