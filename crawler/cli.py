"""The ``crawl`` command: read one page as LLM-ready text, or crawl a site.

Results go to stdout, diagnostics to stderr. Exit status: 0 success, 1 failure
(the page could not be fetched or read, or no page of a crawl could), 2 usage
error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import mimetypes
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from ._charset import is_textual
from ._crawl import (
    DEFAULT_CRAWL_CONCURRENCY,
    DEFAULT_DELAY,
    DEFAULT_MAX_DEPTH,
    CrawlResult,
    crawl,
)
from ._extract import OutputFormat, document_from_page, extract
from ._fetch import fetch
from ._models import Document, Page
from ._sources import read_source
from ._tool import get_url, render
from ._useragents import preset_names
from .errors import CrawlerError

__all__ = ["main"]

PROG = "crawl"
FORMATS = ("markdown", "text", "json", "html")
_EXTENSIONS = {"markdown": ".md", "text": ".txt", "json": ".json", "html": ".html"}
INDEX_FILE = "index.jsonl"
CLI_NEXT_HINT = "Run again with --page {next} for more."

EXAMPLES = """\
examples:
  crawl https://example.com/article                 # LLM-ready markdown of one page
  crawl https://example.com/article --format json   # title, author, date, text... as JSON
  crawl https://example.com/long --max-tokens 4000 --page 2
  crawl https://example.com/ --max-pages 50 --depth 2 --output-dir site/
  crawl https://example.com/docs/ --max-pages 200 --include '/docs/*' > docs.jsonl
  curl -s https://example.com | crawl -              # extract a document read from stdin

One page (--max-pages 1, the default) prints the text with TITLE/AUTHOR/PUBLISHED/URL
lines. More pages crawl the site breadth-first: one file per page plus index.jsonl in
--output-dir, or one JSON object per line on stdout.
exit status: 0 ok, 1 failure, 2 usage error, 130 interrupted.
"""


class _UsageError(Exception):
    """A bad combination of options: exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crawl`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fetch a web page as LLM-ready text, or crawl a site politely.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "url", metavar="URL",
        help="http(s) URL to read, a local file or folder (read as summarize reads it), "
        "or - to read stdin",
    )
    parser.add_argument(
        "-u",
        "--user-agent",
        metavar="NAME_OR_STRING",
        help=f"a preset ({', '.join(preset_names())}) or a literal User-Agent string "
        "(default: an honest llm-digest UA)",
    )
    parser.add_argument(
        "-f", "--format", choices=FORMATS, default="markdown",
        help="output format (default: markdown)",
    )
    parser.add_argument(
        "-n", "--max-pages", type=int, default=1, metavar="N",
        help="pages to read; above 1 crawls the site (default: 1)",
    )
    parser.add_argument(
        "-d", "--depth", type=int, default=DEFAULT_MAX_DEPTH, metavar="D",
        help=f"crawl: link hops from the start page (default: {DEFAULT_MAX_DEPTH})",
    )
    parser.add_argument(
        "-o", "--output-dir", type=Path, metavar="DIR",
        help="crawl: write one file per page and index.jsonl here (default: JSON lines on stdout)",
    )
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="HOST_OR_CIDR",
        help="allow this host name (.example.com for a domain) or address range despite the "
        "private-address check; repeatable",
    )
    parser.add_argument(
        "--allow-private", action="store_true",
        help="allow hosts on loopback and private networks (off: blocked for safety)",
    )
    parser.add_argument("--timeout", type=float, metavar="S", help="seconds per page, total")
    parser.add_argument("--max-bytes", type=int, metavar="N", help="largest body accepted")
    robots = parser.add_mutually_exclusive_group()
    robots.add_argument(
        "--respect-robots", dest="respect_robots", action="store_true", default=None,
        help="obey robots.txt (default when crawling)",
    )
    robots.add_argument(
        "--ignore-robots", dest="respect_robots", action="store_false",
        help="ignore robots.txt (default for a single page)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CRAWL_CONCURRENCY, metavar="N",
        help=f"crawl: requests in flight per host (default: {DEFAULT_CRAWL_CONCURRENCY})",
    )
    parser.add_argument(
        "--delay", type=float, default=DEFAULT_DELAY, metavar="S",
        help=f"crawl: seconds between requests to one host (default: {DEFAULT_DELAY}; "
        "robots.txt Crawl-delay raises it)",
    )
    parser.add_argument(
        "--include", action="append", metavar="PATTERN",
        help="crawl: only URLs matching a glob ('/docs/*', 'https://x.com/*') or 're:REGEX'; "
        "repeatable",
    )
    parser.add_argument(
        "--exclude", action="append", metavar="PATTERN",
        help="crawl: skip URLs matching this pattern; repeatable",
    )
    parser.add_argument(
        "--no-sitemap", dest="use_sitemap", action="store_false",
        help="crawl: do not read the site's sitemaps",
    )
    parser.add_argument(
        "--max-tokens", type=int, metavar="N",
        help="one page: split the text into pages of at most N tokens (o200k_base)",
    )
    parser.add_argument(
        "--page", type=int, default=1, metavar="K", help="with --max-tokens: which page (from 1)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress or warnings")
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="also log skipped links, retries and failed pages",
    )
    parser.add_argument("--traceback", action="store_true", help="show tracebacks of errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``crawl`` command; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    restore_logging = _configure_logging(args)
    try:
        return _run(parser, args)
    finally:
        restore_logging()


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        _check(args)
        if _is_local(args.url):
            return _local(args)
        if args.max_pages > 1 or args.output_dir is not None:
            return _crawl(args)
        return _one(args)
    except _UsageError as exc:
        parser.print_usage(sys.stderr)
        return _fail(args, exc, status=2)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except (CrawlerError, OSError) as exc:
        return _fail(args, exc, status=1)
    except ValueError as exc:  # an option the library rejected (page out of range...)
        return _fail(args, exc, status=2)


def _check(args: argparse.Namespace) -> None:
    for name, minimum in (("max_pages", 1), ("depth", 0), ("concurrency", 1), ("page", 1)):
        if getattr(args, name) < minimum:
            raise _UsageError(f"--{name.replace('_', '-')} must be >= {minimum}")
    for name in ("max_tokens", "max_bytes"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise _UsageError(f"--{name.replace('_', '-')} must be >= 1")
    if args.timeout is not None and not args.timeout > 0:
        raise _UsageError("--timeout must be > 0 seconds")
    if not args.delay >= 0:
        raise _UsageError("--delay must be >= 0 seconds")
    crawling = args.max_pages > 1 or args.output_dir is not None
    if args.page > 1 and args.max_tokens is None:
        raise _UsageError("--page needs --max-tokens")
    if args.max_tokens is not None and (crawling or args.format not in ("markdown", "text")):
        raise _UsageError(
            "--max-tokens applies to one page (--max-pages 1) in markdown or text format"
        )
    if args.url == "-" and crawling:
        raise _UsageError("reading stdin (URL -) gives one document: drop --max-pages/--output-dir")


def _fetch_options(args: argparse.Namespace, *, crawling: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"user_agent": args.user_agent, "allow_private": args.allow_private}
    if args.allow_host:
        options["allowed_hosts"] = tuple(args.allow_host)
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.max_bytes is not None:
        options["max_bytes"] = args.max_bytes
    if not crawling:
        options["respect_robots"] = bool(args.respect_robots)
    return options


# -- one page ------------------------------------------------------------------------------


def _one(args: argparse.Namespace) -> int:
    text_format: OutputFormat = "text" if args.format == "text" else "markdown"
    if args.url == "-":
        data = sys.stdin.buffer.read()
        if args.format == "html":
            sys.stdout.write(data.decode("utf-8", errors="replace"))
            return 0
        document = extract(data, output_format=text_format)
        if args.format == "json":
            _write_json(sys.stdout, _document_json(document, None))
        else:
            paged = render(
                document, max_tokens=args.max_tokens, page=args.page, next_hint=CLI_NEXT_HINT
            )
            _write_text(paged)
        return 0
    options = _fetch_options(args, crawling=False)
    if args.format in ("markdown", "text"):
        _write_text(
            get_url(
                args.url,
                output_format=args.format,
                max_tokens=args.max_tokens,
                page=args.page,
                next_hint=CLI_NEXT_HINT,
                **options,
            )
        )
        return 0
    page = fetch(args.url, **options)
    if args.format == "html":
        if not is_textual(page.content_type, page.content):
            raise CrawlerError(
                f"{page.final_url} is {page.content_type or 'binary'}, not HTML or text; "
                "use --format markdown, text or json to extract it"
            )
        sys.stdout.write(page.text)
        return 0
    document = document_from_page(page, output_format="markdown")
    _write_json(sys.stdout, _document_json(document, page))
    return 0


# -- local files and folders -------------------------------------------------------------


def _is_local(arg: str) -> bool:
    if arg.lower().startswith("file://"):
        return True
    return arg != "-" and "://" not in arg and Path(arg).exists()


def _local_files(arg: str) -> list[str]:
    path = Path(arg)
    if not path.is_dir():
        return [arg]
    files = [
        str(p) for p in sorted(path.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    if not files:
        raise _UsageError(f"{arg} is a folder with no file in it; pass a file or another folder")
    return files


def _local(args: argparse.Namespace) -> int:
    """A local file or folder, read the way ``summarize`` reads its inputs."""
    if args.format == "html":
        raise _UsageError("--format html applies to fetched pages; use markdown, text or json")
    files = _local_files(args.url)
    folder = len(files) > 1 or Path(args.url).is_dir()
    if folder and args.max_tokens is not None:
        raise _UsageError("--max-tokens applies to one file; pass a file, not a folder")
    failed = 0
    for name in files:
        try:
            source = read_source(name)
        except (CrawlerError, OSError) as exc:
            if not folder:
                raise
            failed += 1
            print(f"{PROG}: warning: {name}: {exc}", file=sys.stderr)
            continue
        if args.format == "json" or folder:  # a folder gives JSON lines, as a crawl does
            record = {"url": source.origin, "kind": source.kind, "title": source.title,
                      "text": source.text}
            _write_json(sys.stdout, record)
        else:
            document = Document(text=source.text, title=source.title, url=source.origin)
            _write_text(render(document, max_tokens=args.max_tokens, page=args.page,
                               next_hint=CLI_NEXT_HINT))
    if folder and not args.quiet:
        print(f"{PROG}: {len(files) - failed} file(s) read, {failed} failed", file=sys.stderr)
    if folder and failed == len(files):
        print(f"{PROG}: error: no file could be read from {args.url}", file=sys.stderr)
        return 1
    return 0


# -- crawl ---------------------------------------------------------------------------------


def _crawl(args: argparse.Namespace) -> int:
    respect = True if args.respect_robots is None else args.respect_robots
    results = crawl(
        args.url,
        max_pages=args.max_pages,
        max_depth=args.depth,
        include=args.include,
        exclude=args.exclude,
        concurrency=args.concurrency,
        delay=args.delay,
        respect_robots=respect,
        use_sitemap=args.use_sitemap,
        output_format="text" if args.format == "text" else "markdown",
        extract=args.format != "html",
        **_fetch_options(args, crawling=True),
    )
    index: IO[str] | None = None
    if args.output_dir is not None:
        try:
            args.output_dir.mkdir(parents=True, exist_ok=True)
            index = (args.output_dir / INDEX_FILE).open("w", encoding="utf-8")
        except OSError as exc:
            raise OSError(
                f"cannot write into --output-dir {args.output_dir}: "
                f"{exc.strerror or exc}; pass a directory you can write to"
            ) from exc
    progress = not args.quiet and sys.stderr.isatty()
    ok = failed = 0
    try:
        for count, result in enumerate(results, start=1):
            if result.ok or (args.format == "html" and result.page is not None):
                ok += 1
            else:
                failed += 1
                if not args.quiet:
                    print(f"{PROG}: warning: {result.url}: {result.error}", file=sys.stderr)
            if progress:
                print(f"[{count}/{args.max_pages}] {result.url}", file=sys.stderr)
            if index is not None:
                record = _save(args.output_dir, args.format, result)
                index.write(json.dumps(record, ensure_ascii=False) + "\n")
                index.flush()
            else:
                _write_json(sys.stdout, _result_json(result, args.format))
                sys.stdout.flush()
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
        if index is not None:
            index.close()
    if not args.quiet:
        where = f" into {args.output_dir}" if args.output_dir is not None else ""
        print(f"{PROG}: {ok} page(s) read{where}, {failed} failed", file=sys.stderr)
    if ok == 0:
        print(f"{PROG}: error: no page could be read from {args.url}", file=sys.stderr)
        return 1
    return 0


def safe_filename(url: str, extension: str) -> str:
    """A file name derived from a URL: readable, unique per URL, never a path."""
    parts = urlsplit(url)
    stem = parts.netloc + parts.path + ("_" + parts.query if parts.query else "")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or "page"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return f"{stem}-{digest}{extension}"


def _save(directory: Path, fmt: str, result: CrawlResult) -> dict[str, Any]:
    record = _result_meta(result)
    content: str | None = None
    if fmt == "html" and result.page is not None:
        # The body exactly as served (after Content-Encoding), named for its type.
        page = result.page
        name = safe_filename(result.final_url, _raw_extension(page.content_type))
        (directory / name).write_bytes(page.content)
        record["file"] = name
        return record
    if result.document is not None:
        if fmt == "json":
            content = json.dumps(
                _document_json(result.document, result.page), ensure_ascii=False, indent=2
            )
        else:
            content = render(result.document)
    if content is not None:
        name = safe_filename(result.final_url, _EXTENSIONS[fmt])
        (directory / name).write_text(content + "\n", encoding="utf-8")
        record["file"] = name
    return record


def _raw_extension(content_type: str) -> str:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in ("text/html", "application/xhtml+xml", ""):
        return ".html"
    return mimetypes.guess_extension(media_type) or ".bin"


def _result_meta(result: CrawlResult) -> dict[str, Any]:
    record: dict[str, Any] = {"url": result.url, "final_url": result.final_url}
    record["depth"] = result.depth
    if result.page is not None:
        record["status_code"] = result.page.status_code
        record["content_type"] = result.page.content_type
    if result.document is not None:
        record["title"] = result.document.title
    if result.referrer is not None:
        record["referrer"] = result.referrer
    if result.skipped_links:  # links of this page not followed, by reason
        record["skipped_links"] = dict(result.skipped_links)
    if result.error is not None:
        record["error"] = str(result.error)
        record["error_type"] = type(result.error).__name__
    return record


def _result_json(result: CrawlResult, fmt: str) -> dict[str, Any]:
    record = _result_meta(result)
    if fmt == "html" and result.page is not None:
        if is_textual(result.page.content_type, result.page.content):
            record["html"] = result.page.text
    elif result.document is not None:
        record.update(_document_json(result.document, result.page))
        record["depth"] = result.depth
    return record


def _document_json(document: Document, page: Page | None) -> dict[str, Any]:
    return {
        "url": page.url if page is not None else document.url,
        "final_url": page.final_url if page is not None else document.url,
        "status_code": page.status_code if page is not None else None,
        "content_type": document.content_type,
        "title": document.title,
        "author": document.author,
        "date": document.date,
        "description": document.description,
        "site_name": document.site_name,
        "language": document.language,
        "format": document.format,
        "text": document.text,
    }


# -- output and errors ---------------------------------------------------------------------


def _write_text(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _write_json(stream: IO[str], value: dict[str, Any]) -> None:
    stream.write(json.dumps(value, ensure_ascii=False) + "\n")


# Python argument names in library messages, and the options of this command that set them.
_CLI_WORDS = (
    (re.compile(r"allow_private=True \(--allow-private\)|allow_private=True"), "--allow-private"),
    (re.compile(r"add the host to allowed_hosts"), "pass --allow-host HOST_OR_CIDR"),
    (re.compile(r"allowed_hosts"), "--allow-host"),
    (re.compile(r"timeout= \(--timeout\)"), "--timeout"),
    (re.compile(r"timeout=(?=\d)"), "--timeout "),
    (re.compile(r"timeout="), "--timeout"),
    (re.compile(r"max_tokens= \(--max-tokens\)"), "--max-tokens"),
    (re.compile(r"max_tokens=(?=\d)"), "--max-tokens "),
    (re.compile(r"\bpage=(\d)"), r"--page \1"),
)


def cli_message(message: str) -> str:
    """A library message in the command's words: CLI options, not Python arguments."""
    for pattern, option in _CLI_WORDS:
        message = pattern.sub(option, message)
    return message


def _fail(args: argparse.Namespace, exc: BaseException, *, status: int) -> int:
    if getattr(args, "traceback", False):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    message = cli_message(str(exc))
    url = getattr(args, "url", None)
    if isinstance(exc, CrawlerError) and url and url != "-" and url not in message:
        message = f"{url}: {message}"  # every error about a page names its URL
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so exiting does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _configure_logging(args: argparse.Namespace) -> Callable[[], None]:
    """Send log records to stderr in the command's style; return how to undo it.

    The library's own records show from WARNING (INFO with --verbose); those of
    third-party libraries (pypdf, trafilatura...) only with --verbose.
    """
    level = logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler.setLevel(level)
    if not args.verbose:
        handler.addFilter(lambda record: record.name.split(".")[0] == "crawler")
    root = logging.getLogger()
    own = logging.getLogger("crawler")
    saved = (root.level, own.level)
    root.addHandler(handler)
    root.setLevel(min(level, root.level) if root.level else level)
    own.setLevel(level)

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        own.setLevel(saved[1])

    return restore


class _Formatter(logging.Formatter):
    """``crawl: warning: message``, like the command's own diagnostics."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {record.getMessage()}"


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("llm-digest")
    except metadata.PackageNotFoundError:  # a source tree that was not installed
        return "0"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
