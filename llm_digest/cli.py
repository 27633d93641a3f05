"""The ``llm-digest`` command: ``llm-digest mcp`` runs the MCP server.

Diagnostics go to stderr (on stdio, stdout is the protocol); exit 0 ok, 1 failure,
2 usage error; no traceback unless ``--traceback``.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any

_EXAMPLES = """\
examples:
  llm-digest mcp                          # stdio, for Claude Desktop, Cursor, VS Code
  llm-digest mcp --http 8765              # streamable HTTP at http://127.0.0.1:8765/mcp
  llm-digest mcp --model gpt-4o-mini      # summarize with OpenAI (OPENAI_API_KEY)
  llm-digest mcp --allow-host intranet.example --allow-host 10.0.0.0/8
"""


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {port}")
    return port


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number > 0 or number != number or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {value}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {number}")
    return number


def _host_or_cidr(value: str) -> str:
    text = value.strip()
    if not text or any(c.isspace() for c in text) or "/" in text and not _is_cidr(text):
        raise argparse.ArgumentTypeError(
            f"not a host name or CIDR: {value!r} (e.g. intranet.example or 10.0.0.0/8)"
        )
    return text


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-digest",
        description="Agent tools built on summarizer and crawler.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    mcp = commands.add_parser(
        "mcp",
        help="run the MCP server (tools get_url, summarize, crawl)",
        description=(
            "Run the MCP server with the tools get_url, summarize and crawl. Internal "
            "addresses are blocked unless --allow-private or --allow-host says otherwise."
        ),
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mcp.add_argument(
        "--http",
        type=_port,
        metavar="PORT",
        help="serve streamable HTTP on PORT (at /mcp) instead of stdio",
    )
    mcp.add_argument(
        "--host",
        default=None,
        help="address to bind with --http (default 127.0.0.1; 0.0.0.0 exposes it)",
    )
    mcp.add_argument(
        "--allow-private",
        action="store_true",
        help="allow loopback, private and link-local addresses (blocked by default)",
    )
    mcp.add_argument(
        "--allow-host",
        action="append",
        default=[],
        type=_host_or_cidr,
        metavar="HOST_OR_CIDR",
        help="allow this internal host or network (repeatable)",
    )
    mcp.add_argument("--user-agent", help="default User-Agent (a preset name or a string)")
    mcp.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="deadline for each fetch, in seconds",
    )
    mcp.add_argument(
        "--respect-robots", action="store_true", help="obey robots.txt (off by default)"
    )
    mcp.add_argument("--base-url", help="OpenAI-compatible API root for summarize")
    mcp.add_argument("--model", help="model for summarize (default: client's model or offline)")
    mcp.add_argument(
        "--api-key", default=None, help="API key (default: the OPENAI_API_KEY environment variable)"
    )
    mcp.add_argument(
        "--context-window",
        type=_positive_int,
        metavar="TOKENS",
        help="the summarizing model's window in tokens (default 8192 for the client's model)",
    )
    mcp.add_argument(
        "--no-sampling",
        action="store_true",
        help="never summarize with the client's model (sampling); use the offline default",
    )
    mcp.add_argument("--traceback", action="store_true", help="show tracebacks on errors")
    _add_corpus(commands)
    return parser


def _add_corpus(commands: Any) -> None:
    corpus = commands.add_parser(
        "corpus",
        help="summarize a folder, glob, URL list, JSON Lines, CSV or Parquet into JSON Lines",
        description=(
            "Summarize every input of a corpus into one JSON Lines row each (errors are rows "
            "too). Re-running with the same -o skips inputs already written. Exit 0 when all "
            "rows succeeded, 1 when some are errors, 2 for bad usage."
        ),
    )
    corpus.add_argument(
        "input", help="a folder, a glob, a .txt file of URLs, or a .jsonl, .csv or .parquet table"
    )
    corpus.add_argument("-o", "--output", required=True, help="the JSON Lines output file")
    corpus.add_argument(
        "--concurrency", type=_positive_int, default=8,
        help="model calls in flight for the whole run (default 8)",
    )
    corpus.add_argument(
        "--workers", type=_positive_int, default=16, help="documents in progress (default 16)"
    )
    corpus.add_argument("--engine", choices=["local"], default="local", help="only local for now")
    corpus.add_argument("--base-url", help="OpenAI-compatible API root")
    corpus.add_argument("--model", help="model name (default: offline extractive)")
    corpus.add_argument("--api-key", default=None, help="API key (default: OPENAI_API_KEY)")
    corpus.add_argument("--context-window", type=_positive_int, metavar="TOKENS")
    corpus.add_argument("-i", "--instruction", help="what the summaries should focus on")
    corpus.add_argument("-l", "--language", help="language of the summaries")
    corpus.add_argument("--allow-private", action="store_true",
                        help="allow loopback, private and link-local addresses")
    corpus.add_argument("--allow-host", action="append", default=[], type=_host_or_cidr,
                        metavar="HOST_OR_CIDR", help="allow this internal host or network")
    corpus.add_argument("--user-agent", help="User-Agent for fetches (a preset name or a string)")
    corpus.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                        help="deadline for each URL fetch")
    corpus.add_argument("--respect-robots", action="store_true", help="obey robots.txt")
    corpus.add_argument("--no-cache", action="store_true",
                        help="do not reuse or store finished model calls (response cache)")
    corpus.add_argument("--text-column", help="column holding the text (default text/content)")
    corpus.add_argument("--url-column", help="column holding a URL (default url/link)")
    corpus.add_argument("--id-column", help="column holding the row id (default id)")
    corpus.add_argument("--traceback", action="store_true", help="show tracebacks on errors")


def _run_corpus(args: argparse.Namespace) -> int:
    from .corpus import CorpusInputError, digest, print_report

    try:
        report = digest(
            args.input,
            args.output,
            engine=args.engine,
            concurrency=args.concurrency,
            workers=args.workers,
            backend=_backend(args),
            instruction=args.instruction,
            language=args.language,
            context_window=args.context_window,
            text_column=args.text_column,
            url_column=args.url_column,
            id_column=args.id_column,
            allow_private=args.allow_private,
            allowed_hosts=tuple(args.allow_host),
            user_agent=args.user_agent,
            timeout=args.timeout,
            respect_robots=args.respect_robots,
            cache=False if args.no_cache else None,
            progress=sys.stderr,
        )
    except CorpusInputError as exc:
        raise _UsageError(str(exc)) from None
    print_report(report)
    return 1 if report.failed else 0


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llm-digest")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "unknown"


def _backend(args: argparse.Namespace) -> Any:
    """An OpenAIBackend when a model is configured by flags or the environment, else None."""
    api_key = args.api_key or os.environ.get("OPENAI_API_KEY")
    base_url = args.base_url or os.environ.get("OPENAI_BASE_URL")
    if not (args.model or base_url or api_key):
        return None
    from summarizer import OpenAIBackend

    return OpenAIBackend(
        model=args.model, base_url=base_url, api_key=api_key, context_window=args.context_window
    )


def _run_mcp(args: argparse.Namespace) -> int:
    from .mcp_server import DEFAULT_HOST, build_server, run_server

    if args.host is not None and args.http is None:
        raise _UsageError("--host needs --http PORT (stdio has no address to bind)")
    backend = _backend(args)
    options: dict[str, Any] = {
        "allow_private": args.allow_private,
        "allowed_hosts": tuple(args.allow_host),
        "respect_robots": args.respect_robots,
    }
    if args.user_agent is not None:
        options["user_agent"] = args.user_agent
    if args.timeout is not None:
        options["timeout"] = args.timeout
    server = build_server(
        backend=backend,
        sampling=not args.no_sampling,
        context_window=args.context_window,
        **options,
    )
    if args.http is not None:
        _check_port(args.host or DEFAULT_HOST, args.http)
    name = backend.name if backend is not None else "client model (sampling) or extractive"
    where = "stdio" if args.http is None else f"http://{args.host or DEFAULT_HOST}:{args.http}/mcp"
    print(f"llm-digest mcp: serving on {where}; summarize backend: {name}", file=sys.stderr)
    try:
        run_server(server, http_port=args.http, host=args.host or DEFAULT_HOST)
    except SystemExit as exc:  # uvicorn exits with its own codes when it cannot serve
        return 0 if exc.code in (None, 0) else 1
    return 0


def _check_port(host: str, port: int) -> None:
    """Fail with one clear line, before starting, when ``host:port`` cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise OSError(
                f"cannot listen on {host}:{port}: {exc.strerror}; pick another --http PORT"
            ) from None


class _UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("llm-digest: error: a command is required (try: llm-digest mcp)", file=sys.stderr)
        return 2
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="llm-digest: %(name)s: %(message)s"
    )
    try:
        return _run_corpus(args) if args.command == "corpus" else _run_mcp(args)
    except _UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"llm-digest: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, no traceback, unless asked
        if args.traceback:
            raise
        print(f"llm-digest: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
