"""The public API of :mod:`crawler`: exactly these names, all importable and documented."""

from __future__ import annotations

import inspect

import crawler
from crawler import errors

EXPECTED = {
    # functions
    "fetch", "afetch", "fetch_many", "afetch_many", "crawl", "acrawl",
    "get_url", "aget_url", "extract", "document_from_page", "normalize_url", "read_source",
    # classes and values
    "Fetcher", "FetchConfig", "UserAgent", "Page", "Document", "FetchResult", "CrawlResult",
    "Source",
}


def test_exported_names() -> None:
    assert set(crawler.__all__) == EXPECTED | set(errors.__all__)
    assert len(crawler.__all__) == len(set(crawler.__all__))
    for name in crawler.__all__:
        assert getattr(crawler, name) is not None


def test_every_error_is_exported_and_rooted() -> None:
    for name in errors.__all__:
        cls = getattr(crawler, name)
        assert cls is getattr(errors, name)
        assert issubclass(cls, crawler.CrawlerError)


def test_public_callables_have_docstrings() -> None:
    for name in crawler.__all__:
        obj = getattr(crawler, name)
        if callable(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_async_twins_are_coroutines_or_async_generators() -> None:
    assert inspect.iscoroutinefunction(crawler.afetch)
    assert inspect.iscoroutinefunction(crawler.afetch_many)
    assert inspect.iscoroutinefunction(crawler.aget_url)
    assert not inspect.iscoroutinefunction(crawler.acrawl)  # returns an async generator


def test_console_script_entry_point() -> None:
    from importlib import metadata

    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts.get("crawl") == "crawler.cli:main"
