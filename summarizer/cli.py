"""The ``summarize`` command: summarize files or stdin with any backend.

The summary goes to stdout; diagnostics, the backend used and the progress bar go to
stderr. Exit status: 0 success, 1 failure, 2 usage error (bad option, missing, unreadable
or empty input), 130 interrupted.

Input reading lives in one function, :func:`read_input`, so that other input kinds (URLs,
HTML, PDF) can be plugged in there.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from ._cache import ResponseCache
from ._engine import DEFAULT_CONCURRENCY, Summarizer, _run_sync
from ._registry import available_backends, get_backend
from ._results import ProgressEvent, SummaryResult
from .errors import (
    ChunkFailed,
    ContextWindowTooSmall,
    MapReduceError,
    MissingCredentials,
    SummarizerError,
    UnknownBackend,
)

__all__ = ["InputError", "InputUnavailable", "build_parser", "main", "read_input"]

PROG = "summarize"

EPILOG = """\
examples:
  summarize report.md                          offline extractive summary
  summarize https://example.org/article        a web page (main content only)
  summarize paper.pdf page.html                one summary per input, each headed by its name
  summarize --merge a.md b.md                  one summary of all inputs together
  summarize docs/ --include '*.md' -o out/     a folder; one summary file per input in out/
  summarize -u urls.txt --json                 a list of URLs; JSON Lines, one per input
  cat notes.txt | summarize -                  read stdin
  summarize --model gpt-4o-mini report.md      OpenAI (needs OPENAI_API_KEY)
  summarize --base-url http://localhost:11434/v1 --model llama3.1 report.md   Ollama
  summarize --base-url http://localhost:8000/v1 book.txt   vLLM (model and window discovered)
  summarize --max-tokens 2000 notes.md         print unchanged if it fits, else summarize
  summarize --estimate --context-window 8192 book.txt   show the plan, make no call
  summarize --json -i "focus on risks" -l French report.md

exit status: 0 ok, 1 failure, 2 usage error, 130 interrupted
"""


class InputError(Exception):
    """An input cannot be used (missing, unreadable, binary, empty): exit status 2."""


class InputUnavailable(SummarizerError):
    """An input URL could not be fetched (network, timeout, HTTP status): exit status 1."""


class _UsageError(Exception):
    """A bad option or combination of options: exit status 2."""


def read_input(
    arg: str,
    *,
    allow_private: bool = False,
    user_agent: str | None = None,
    timeout: float | None = None,
    allowed_hosts: Sequence[str] = (),
) -> str:
    """Return the text of one input argument: a file path, an http(s) URL, or ``-`` for stdin.

    Delegates to :func:`crawler.read_source`: HTML files and web pages give their main
    content as markdown, PDF files their text; other files are read as text. ``timeout``
    bounds a URL fetch (seconds; default the crawler's 30 s); ``allowed_hosts`` (host
    names or CIDRs) are exempt from the private-address check.

    Raises:
        InputError: the file is missing, unreadable, a directory, binary or empty, or
            the URL is invalid or holds no extractable text.
        InputUnavailable: the URL could not be fetched.
    """
    from crawler import CrawlerError, FetchError, InvalidURL, document_from_page, fetch, read_source

    options: dict[str, Any] = {"allow_private": allow_private, "user_agent": user_agent}
    if timeout is not None:
        options["timeout"] = timeout
    try:
        if allowed_hosts and re.match(r"(?i)https?://", arg):
            page = fetch(arg, allowed_hosts=tuple(allowed_hosts), **options)
            return document_from_page(page, output_format="markdown").text
        return read_source(arg, **options).text
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from None
    except IsADirectoryError:
        raise InputError(f"{arg} is a directory; pass the files inside it") from None
    except PermissionError:
        raise InputError(f"cannot read {arg}: permission denied") from None
    except OSError as exc:
        raise InputError(f"cannot read {arg}: {exc.strerror or exc}") from None
    except InvalidURL as exc:
        raise InputError(_cli_words(str(exc))) from None
    except FetchError as exc:
        message = _cli_words(str(exc))
        if arg not in message:
            message = f"{arg}: {message}"
        raise InputUnavailable(message) from exc
    except CrawlerError as exc:  # ExtractionError: empty, binary, scanned PDF...
        message = _cli_words(str(exc))
        if arg != "-" and arg not in message:
            message = f"{arg}: {message}"
        raise InputError(message) from None
    except ValueError as exc:  # a malformed --user-agent
        raise InputError(str(exc)) from None


# Python argument names in library messages, and the CLI options that set them.
_CLI_OPTIONS = {
    "target_tokens": "--target-tokens",
    "context_window": "--context-window",
    "max_tokens": "--max-tokens",
    "max_levels": "--max-levels",
    "timeout": "--timeout",
    "concurrency": "--concurrency",
}
_CLI_WORDS = (
    (re.compile(r"allow_private=True \(--allow-private\)|allow_private=True"), "--allow-private"),
    (re.compile(r"add the host to allowed_hosts"), "pass --allow-host HOST_OR_CIDR"),
    (re.compile(r"allowed_hosts"), "--allow-host"),
    *(
        rule
        for name, option in _CLI_OPTIONS.items()
        for rule in (
            (re.compile(rf"\b{name}=? \({option}\)"), option),  # "max_levels (--max-levels)"
            (re.compile(rf"\b{name}=(?=\d)"), option + " "),  # "max_levels=2"
            (re.compile(rf"\b{name}=?(?![\w-])"), option),
        )
    ),
)


def _cli_words(message: str) -> str:
    """Translate the Python argument names in a library message into CLI options."""
    for pattern, option in _CLI_WORDS:
        message = pattern.sub(option, message)
    return message


# Files a folder input contributes by default (the others need --include).
_FOLDER_SUFFIXES = frozenset({
    ".txt", ".text", ".md", ".markdown", ".rst", ".html", ".htm", ".xhtml", ".pdf",
    ".csv", ".json", ".org", ".adoc", ".tex",
})


def _matches(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    rel = path.relative_to(root).as_posix()
    return any(fnmatch.fnmatch(path.name, p) or fnmatch.fnmatch(rel, p) for p in patterns)


def _expand_folder(folder: Path, include: Sequence[str], exclude: Sequence[str]) -> list[str]:
    found: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel_parts = path.relative_to(folder).parts
        if not path.is_file() or any(part.startswith(".") for part in rel_parts):
            continue
        if include:
            if not _matches(path, folder, include):
                continue
        elif path.suffix.lower() not in _FOLDER_SUFFIXES:
            continue
        if exclude and _matches(path, folder, exclude):
            continue
        found.append(str(path))
    return found


def _read_url_list(path: str) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"-u {path}: no such file; pass a file of URLs, one a line") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"-u {path}: cannot read it ({exc})") from None
    urls = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not urls:
        raise InputError(f"-u {path} holds no URL; write one URL a line")
    return urls


def _expand_inputs(args: argparse.Namespace) -> list[str]:
    """The inputs to summarize, folders and globs expanded, URL lists read."""
    include: Sequence[str] = args.include or ()
    exclude: Sequence[str] = args.exclude or ()
    expanded: list[str] = []
    for arg in args.inputs:
        path = Path(arg)
        if arg != "-" and path.is_dir():
            files = _expand_folder(path, include, exclude)
            if not files:
                hint = "--include" if not include else "other --include/--exclude patterns"
                raise InputError(f"{arg} is a directory with no file to summarize; pass {hint}")
            expanded.extend(files)
        elif any(c in arg for c in "*?[") and not path.exists() and "://" not in arg:
            files = sorted(
                f for f in glob.glob(arg, recursive=True)
                if Path(f).is_file() and not (exclude and any(
                    fnmatch.fnmatch(Path(f).name, p) or fnmatch.fnmatch(f, p) for p in exclude))
            )
            if not files:
                raise InputError(f"no file matches {arg}; check the pattern")
            expanded.extend(files)
        else:
            expanded.append(arg)
    for url_list in args.url_list or ():
        expanded.extend(_read_url_list(url_list))
    if not expanded:
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("no input: pass a file path, or pipe text and use - for stdin")
        expanded = ["-"]
    if expanded.count("-") > 1:
        raise InputError("stdin (-) can be read only once")
    return expanded


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value!r}")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


def _version() -> str:
    from . import __version__

    return f"{PROG} (llm-digest) {__version__}"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``summarize`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Summarize text, markdown, HTML and PDF files, web pages or stdin, of any length: "
            "token-exact map-reduce with any OpenAI-compatible model, or offline extractive "
            "by default."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="PATH",
        help="text, markdown, HTML or PDF files, folders, globs, or http(s) URLs; - or none "
        "for stdin",
    )
    source = parser.add_argument_group("input")
    source.add_argument(
        "-u",
        "--url-list",
        action="append",
        metavar="FILE",
        help="a file of URLs to summarize, one a line (# comments); repeatable",
    )
    source.add_argument(
        "--include",
        action="append",
        metavar="GLOB",
        help="in folders, summarize only files matching GLOB (e.g. '*.md'); repeatable",
    )
    source.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="in folders and globs, skip files matching GLOB; repeatable",
    )
    source.add_argument(
        "--allow-private",
        action="store_true",
        help="allow URLs whose host is on a loopback, private or internal address",
    )
    source.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST_OR_CIDR",
        help="allow URLs on this host name (.example.com for a domain) or address range "
        "despite the private-address check; repeatable",
    )
    source.add_argument(
        "--user-agent",
        metavar="UA",
        help="user agent for URLs: a preset (chrome, firefox, safari, googlebot...) or a string",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "-b",
        "--backend",
        metavar="NAME",
        help="backend name (default: openai with --model/--base-url or OPENAI_API_KEY/"
        "OPENAI_BASE_URL set, else extractive)",
    )
    model.add_argument("-m", "--model", help="model name, e.g. gpt-4o-mini or llama3.1")
    model.add_argument(
        "--base-url",
        metavar="URL",
        help="OpenAI-compatible API root, e.g. http://localhost:11434/v1 (default: "
        "OPENAI_BASE_URL, else https://api.openai.com/v1)",
    )
    model.add_argument("--api-key", metavar="KEY", help="API key (default: OPENAI_API_KEY)")
    model.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="per-request timeout, for model calls and for fetching URL inputs",
    )
    model.add_argument(
        "--max-retries",
        type=_non_negative_int,
        metavar="N",
        help="retries of a failed request (429, 5xx, timeouts; default 4)",
    )
    model.add_argument(
        "--context-window",
        type=_positive_int,
        metavar="TOKENS",
        help="model context window (default: known table, server /models, else 8192)",
    )
    summary = parser.add_argument_group("summary")
    summary.add_argument(
        "-t",
        "--target-tokens",
        type=_positive_int,
        metavar="TOKENS",
        help="length of the summary in tokens (default 512)",
    )
    summary.add_argument(
        "--max-tokens",
        type=_positive_int,
        metavar="TOKENS",
        help="fit mode: print the input unchanged if it has at most TOKENS tokens, else a "
        "summary of at most TOKENS tokens",
    )
    summary.add_argument("-i", "--instruction", help="extra instruction (style, focus)")
    summary.add_argument("-l", "--language", help="language of the summary, e.g. French")
    summary.add_argument(
        "-c",
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="model calls in flight at once (default 8)",
    )
    summary.add_argument(
        "--max-levels",
        type=_positive_int,
        metavar="N",
        help="most map-reduce levels, the map level included (default 8)",
    )
    cache = parser.add_argument_group("response cache")
    cache.add_argument(
        "--cache",
        metavar="PATH",
        help="keep completed model calls in PATH, so a re-run or a resumed run is free "
        "(default: $XDG_CACHE_HOME/llm-digest/responses.sqlite3, for model servers only)",
    )
    cache.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the response cache"
    )
    cache.add_argument(
        "--cache-info",
        action="store_true",
        help="print the cache file, its entries and size, and exit",
    )
    cache.add_argument(
        "--clear-cache", action="store_true", help="delete every cached response and exit"
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--merge",
        action="store_true",
        help="summarize all inputs together as one text (default: one summary per input)",
    )
    output.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR",
        help="write one summary file per input into DIR (NAME.md, or NAME.json with --json)",
    )
    output.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object per input: {"source", "summary", "stats"} (JSON Lines)',
    )
    output.add_argument(
        "--estimate", action="store_true", help="print the plan (calls, levels) and make no call"
    )
    output.add_argument(
        "-q", "--quiet", action="store_true", help="no diagnostics on stderr except errors"
    )
    output.add_argument("-v", "--verbose", action="store_true", help="log requests on stderr")
    output.add_argument(
        "--traceback", action="store_true", help="show the full traceback of an error"
    )
    output.add_argument("--version", action="version", version=_version())
    return parser


def _make_backend(args: argparse.Namespace) -> Any:
    options: dict[str, Any] = {}
    flags = {"model": "--model", "base_url": "--base-url", "api_key": "--api-key"}
    flags.update(timeout="--timeout", max_retries="--max-retries")
    for key in flags:
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    # OPENAI_API_KEY or OPENAI_BASE_URL in the environment selects the OpenAI-compatible
    # backend, as --model or --base-url do; an explicit --backend still wins.
    from_env = os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
    name = args.backend or ("openai" if args.model or args.base_url or from_env else "extractive")
    try:
        try:
            return get_backend(name, **options)
        except TypeError:
            # --timeout also bounds fetching URL inputs, so a backend that makes no
            # request (the offline default) is built without it.
            if "timeout" not in options:
                raise
            options.pop("timeout")
            return get_backend(name, **options)
    except UnknownBackend as exc:
        raise _UsageError(
            f"unknown backend {name!r}; known: {', '.join(available_backends())}"
        ) from exc
    except TypeError as exc:
        if options and "does not accept" in str(exc):
            given = ", ".join(flags[k] for k in sorted(options))
            raise _UsageError(f"backend {name!r} does not accept {given}") from exc
        raise
    except ValueError as exc:  # a bad option value, e.g. --base-url or OPENAI_BASE_URL
        raise _UsageError(str(exc)) from exc


class _ProgressBar:
    """A one-line progress bar on a terminal; draws only for runs of more than one call."""

    WIDTH = 28

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.drawn = False
        self.finished = 0

    def __call__(self, event: ProgressEvent) -> None:
        if event.done:
            self.finished += 1
        if event.planned_calls <= 1:
            return
        # planned_calls is the worst case, so the bar may end short of full: it is cleared.
        share = min(1.0, self.finished / event.planned_calls)
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        kind = "map" if event.level == 1 else "combine"
        self.stream.write(
            f"\r{PROG}: [{bar}] level {event.level} ({kind}) {event.done}/{event.total}, "
            f"{event.calls} call(s) "
        )
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


class _ProgressLines:
    """Progress off a terminal (with -v): one line at the first event, then every few seconds."""

    INTERVAL = 5.0

    def __init__(self, stream: TextIO, name: str = "") -> None:
        self.stream = stream
        self.prefix = f"{name}: " if name else ""
        self.last: float | None = None
        self.finished = 0

    def __call__(self, event: ProgressEvent) -> None:
        if event.done:
            self.finished += 1
        now = time.monotonic()
        if self.last is not None and now - self.last < self.INTERVAL:
            return
        self.last = now
        kind = "map" if event.level == 1 else "combine"
        self.stream.write(
            f"{PROG}: {self.prefix}progress: level {event.level} ({kind}) "
            f"{event.done}/{event.total}, {self.finished} of at most {event.planned_calls} "
            "call(s) done\n"
        )
        self.stream.flush()

    def clear(self) -> None:
        pass


def _describe(backend: Any) -> str:
    name = str(getattr(backend, "name", type(backend).__name__))
    base = getattr(backend, "base_url", None)
    return f"{name} at {base}" if base else name


def _output_name(arg: str, taken: set[str], suffix: str) -> str:
    if arg == "-":
        stem = "stdin"
    elif "://" in arg:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", arg.split("://", 1)[1]).strip("-.") or "page"
    else:
        stem = Path(arg).stem or "input"
    name, n = stem + suffix, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}{suffix}"
    taken.add(name)
    return name


def _source_name(arg: str) -> str:
    return "<stdin>" if arg == "-" else arg


def _summarize_text(
    text: str, summarizer: Summarizer, args: argparse.Namespace, *, progress: bool = True
) -> SummaryResult:
    bar: _ProgressBar | _ProgressLines | None = None
    if not progress:
        pass  # inputs running side by side would garble one another's progress
    elif not args.quiet and sys.stderr.isatty():
        bar = _ProgressBar(sys.stderr)
    elif args.verbose:
        bar = _ProgressLines(sys.stderr)
    try:
        if args.max_tokens is not None:
            return _run_sync(lambda: summarizer.afit_result(text, args.max_tokens))
        return summarizer.run(text, on_progress=bar)
    finally:
        if bar is not None:
            bar.clear()


def _note(result: SummaryResult, backend: Any, args: argparse.Namespace) -> str:
    stats = result.stats
    if stats.calls == 0:
        return f"the input ({stats.input_tokens} tokens) fits in {args.max_tokens}; unchanged"
    note = (
        f"summary by {_describe(backend)}: {stats.calls} call(s), {stats.levels} "
        f"level(s), {stats.input_tokens} input tokens -> {stats.completion_tokens} "
        f"completion tokens, {stats.elapsed:.2f}s"
    )
    if stats.empty_outputs:
        note += f"; {stats.empty_outputs} call(s) returned an empty summary"
    return note


class _WindowGuess(logging.Handler):
    """Notices when the backend assumed a context window it could not learn."""

    _PATTERN = re.compile(r"context window of (.*) unknown: assuming (\d+) tokens")

    def __init__(self, where: str) -> None:
        super().__init__(logging.INFO)
        self.where = where
        self.message = ""
        self._logger = logging.getLogger("summarizer")
        self._level = self._logger.level

    def __enter__(self) -> _WindowGuess:
        self._logger.addHandler(self)
        if self._logger.getEffectiveLevel() > logging.INFO:
            self._logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def emit(self, record: logging.LogRecord) -> None:
        match = self._PATTERN.match(record.getMessage())
        if match:
            model, window = match.groups()
            self.message = (
                f"the context window is a guess: {window} tokens (model {model} is not in the "
                f"known table and {self.where}/models did not answer with its window); pass "
                "--context-window TOKENS for an exact plan"
            )


def _cache_option(args: argparse.Namespace) -> str | bool | None:
    if args.no_cache and args.cache:
        raise _UsageError("--cache and --no-cache contradict each other; pass one of them")
    return False if args.no_cache else args.cache


def _cache_command(args: argparse.Namespace) -> int:
    """--cache-info / --clear-cache: act on the cache file and exit."""
    option = _cache_option(args)
    if option is False:
        raise _UsageError(
            "--no-cache names no cache to show or clear; pass --cache PATH or neither"
        )
    cache = ResponseCache(option or None)
    if args.clear_cache:
        removed = cache.clear()
        print(f"{PROG}: removed {removed} cached response(s) from {cache.path}", file=sys.stderr)
    if args.cache_info:
        print(cache.info())
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.cache_info or args.clear_cache:
        return _cache_command(args)
    cache_option = _cache_option(args)
    inputs = _expand_inputs(args)
    backend = _make_backend(args)
    options = {
        key: getattr(args, key)
        for key in (
            "context_window",
            "concurrency",
            "target_tokens",
            "instruction",
            "language",
            "max_levels",
        )
        if getattr(args, key) is not None
    }
    try:
        summarizer = Summarizer(backend=backend, cache=cache_option, **options)
    except (ValueError, TypeError) as exc:
        raise _UsageError(_cli_words(str(exc))) from exc
    args.resumable = getattr(summarizer, "_response_cache", None) is not None

    def read(arg: str) -> str:
        return read_input(
            arg, allow_private=args.allow_private, user_agent=args.user_agent,
            timeout=args.timeout, allowed_hosts=args.allow_host,
        )

    if args.merge:
        texts = [read(arg) for arg in inputs]
        text = "\n\n".join(t.strip("\n") for t in texts)
        if not text.strip():
            where = "stdin" if inputs == ["-"] else ", ".join(inputs)
            raise InputError(f"the input is empty ({where}); nothing to summarize")
        jobs: list[tuple[str, str | None]] = [(" + ".join(map(_source_name, inputs)), text)]
    else:
        jobs = [(arg, None) for arg in inputs]

    out_dir: Path | None = None
    if args.output_dir is not None:
        out_dir = Path(args.output_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise _UsageError(f"-o {out_dir}: not a directory; pass a folder for the summaries")
        out_dir.mkdir(parents=True, exist_ok=True)
    several = len(jobs) > 1
    # Several inputs run at once, sharing the call limit: at most --concurrency model calls
    # in flight in all (each of W inputs in flight gets concurrency // W of them).
    pending: dict[int, Future[tuple[str, SummaryResult]]] = {}
    pool: ThreadPoolExecutor | None = None
    if several and not args.estimate:
        total = args.concurrency or DEFAULT_CONCURRENCY
        workers = min(len(jobs), total)
        shared = Summarizer(backend=backend, **{**options, "concurrency": total // workers})

        def work(arg: str) -> tuple[str, SummaryResult]:
            text = read(arg)
            if not text.strip():
                raise InputError(f"the input is empty ({arg}); nothing to summarize")
            return text, _summarize_text(text, shared, args, progress=False)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="summarize")
        pending = {i: pool.submit(work, arg) for i, (arg, _) in enumerate(jobs)}
    try:
        return _emit(args, jobs, pending, read, summarizer, backend, out_dir)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _emit(
    args: argparse.Namespace,
    jobs: list[tuple[str, str | None]],
    pending: dict[int, Future[tuple[str, SummaryResult]]],
    read: Callable[[str], str],
    summarizer: Summarizer,
    backend: Any,
    out_dir: Path | None,
) -> int:
    taken: set[str] = set()
    several = len(jobs) > 1
    failures: list[str] = []
    for index, (arg, text) in enumerate(jobs):
        name = arg if args.merge else _source_name(arg)
        try:
            if index in pending:
                text, result = pending[index].result()
            elif text is None:
                text = read(arg)
                if not text.strip():
                    raise InputError(f"the input is empty ({name}); nothing to summarize")
            if args.estimate:
                with _WindowGuess(str(getattr(backend, "base_url", "the server"))) as guess:
                    plan = summarizer.estimate(text, max_tokens=args.max_tokens)
                if guess.message and not args.quiet:
                    print(f"{PROG}: warning: {guess.message}", file=sys.stderr)
                record: dict[str, Any] = {"source": name, "plan": plan.to_dict()}
                body = json.dumps(record, ensure_ascii=False) if args.json else _cli_words(
                    str(plan)
                )
            else:
                if index not in pending:
                    result = _summarize_text(text, summarizer, args)
                record = {"source": name, **result.to_dict()}
                body = json.dumps(record, ensure_ascii=False) if args.json else result.summary
        except (InputError, SummarizerError) as exc:
            if not several:
                raise
            if args.traceback:
                traceback.print_exc()
            _fail(f"{name}: {exc}" if name not in str(exc) else str(exc))
            failures.append(name)
            continue
        if out_dir is not None:
            target = out_dir / _output_name(arg, taken, ".json" if args.json else ".md")
            target.write_text(body + "\n", encoding="utf-8")
            if not args.quiet:
                print(f"{PROG}: {name} -> {target}", file=sys.stderr)
        elif several and not args.json:
            if index:
                print()
            print(f"==> {name} <==")
            print(body)
        else:
            print(body)
        if not args.quiet and not args.estimate:
            prefix = f"{name}: " if several else ""
            print(f"{PROG}: {prefix}{_note(result, backend, args)}", file=sys.stderr)
    if failures:
        print(
            f"{PROG}: {len(failures)} of {len(jobs)} input(s) failed: {', '.join(failures)}",
            file=sys.stderr,
        )
        return 1
    return 0


_USAGE_ERRORS = (
    InputError,
    _UsageError,
    UnknownBackend,
    ContextWindowTooSmall,
    MissingCredentials,
)


class _WarningHandler(logging.Handler):
    """Shows the package's warnings on the current stderr, one line each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"{PROG}: warning: {record.getMessage()}", file=sys.stderr)
        except Exception:
            self.handleError(record)


def _fail(message: str) -> None:
    print(f"{PROG}: error: {_cli_words(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format=f"{PROG}: %(name)s: %(message)s")
    # Warnings of our own (an empty partial summary) are shown; third-party ones are not.
    warnings: logging.Handler | None = None
    if not args.verbose:  # with --quiet, a NullHandler keeps logging's last resort silent
        warnings = logging.NullHandler() if args.quiet else _WarningHandler()
    own = logging.getLogger("summarizer")
    if warnings is not None:
        own.addHandler(warnings)
    # Third-party records (pypdf's "EOF marker not found", trafilatura, htmldate) would
    # reach logging's last resort and print; without -v they go nowhere.
    quiet_root = logging.NullHandler() if not args.verbose else None
    if quiet_root is not None:
        logging.getLogger().addHandler(quiet_root)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head: not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except _USAGE_ERRORS as exc:
        if args.traceback:
            traceback.print_exc()
        _fail(str(exc))
        return 2
    except SummarizerError as exc:
        if args.traceback:
            traceback.print_exc()
        _fail(str(exc))
        if isinstance(exc, MapReduceError) and exc.partial:
            print(
                f"{PROG}: {len(exc.partial)} partial summaries had completed (use the Python "
                "API to get them: error.partial)",
                file=sys.stderr,
            )
        if isinstance(exc, ChunkFailed) and getattr(args, "resumable", False):
            print(
                f"{PROG}: to resume, run the same command again: the {len(exc.partial)} "
                "completed call(s) are cached and will not be made again",
                file=sys.stderr,
            )
        return 1
    except Exception as exc:  # a bug or an unforeseen failure: one line unless asked
        if args.traceback:
            traceback.print_exc()
        _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --traceback for details)")
        return 1
    finally:
        if warnings is not None:
            own.removeHandler(warnings)
        if quiet_root is not None:
            logging.getLogger().removeHandler(quiet_root)
