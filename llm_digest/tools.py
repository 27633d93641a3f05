"""Function-calling tools for LLM agents: ``get_url``, ``summarize`` and ``crawl``.

One spec (:data:`TOOL_SPECS`) rendered for each API, and one dispatcher::

    from llm_digest.tools import call_tool, openai_tools

    response = client.chat.completions.create(model=..., messages=messages, tools=openai_tools())
    for call in response.choices[0].message.tool_calls or ():
        result = call_tool(call.function.name, call.function.arguments)
        messages.append({"role": "tool", "tool_call_id": call.id, "content": result.text})

:func:`call_tool` never raises for anything the model did or the web did: an unknown
tool, bad JSON, a wrong argument, a blocked address, a failed fetch or model call all
come back as a :class:`ToolResult` with ``is_error=True`` and one sentence the model can
act on. Only the caller's own mistakes (an unknown option) raise ``TypeError``.
The options carry the policy the caller sets and the model cannot change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crawler import (
    BlockedAddress,
    ConnectError,
    ContentTooLarge,
    CrawlerError,
    DisallowedByRobots,
    ExtractionError,
    FetchTimeout,
    HTTPStatusError,
    InvalidURL,
    TooManyRedirects,
    UnsupportedContentType,
    acrawl,
    aget_url,
    crawl,
    get_url,
)
from summarizer import (
    Backend,
    BackendError,
    ContextWindowTooSmall,
    RateLimited,
    Summarizer,
    SummarizerError,
)

__all__ = [
    "CRAWL_DIGEST_TOKENS",
    "DEFAULT_CRAWL_PAGES",
    "MAX_CRAWL_PAGES",
    "MAX_PAGE_TOKENS",
    "MAX_TARGET_TOKENS",
    "TOOL_SPECS",
    "ToolResult",
    "ToolSpec",
    "acall_tool",
    "anthropic_tools",
    "call_tool",
    "openai_tools",
    "responses_tools",
]

logger = logging.getLogger(__name__)

#: Pages crawled when the model does not say.
DEFAULT_CRAWL_PAGES = 10
#: Most pages one ``crawl`` call may visit, whatever the model asks.
MAX_CRAWL_PAGES = 50
#: Token length of the digest of each crawled page.
CRAWL_DIGEST_TOKENS = 80
#: Most tokens the model may ask of ``summarize``.
MAX_TARGET_TOKENS = 4000
#: Largest ``max_tokens`` page the model may ask of ``get_url``.
MAX_PAGE_TOKENS = 100_000


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """What a tool call gives back to the model.

    ``text`` is the content of the tool message; ``is_error`` says the call failed and
    ``text`` is then one sentence telling the model what went wrong and what to do.
    """

    text: str
    is_error: bool = False


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """A tool's name, model-facing description, JSON Schema and MCP annotations."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    annotations: Mapping[str, bool]


def _nullable(kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], "description": description, **extra}


def _object(properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_GET_URL = ToolSpec(
    name="get_url",
    description=(
        "Fetch a web page (HTML, PDF or plain text) and return its main content as "
        "Markdown, after header lines TITLE:, AUTHOR:, PUBLISHED: and URL: (unknown ones "
        "are left out). Navigation, ads and boilerplate are removed. With max_tokens, a "
        "long page is split into pages of at most that many tokens; each page but the last "
        "ends with a line such as '[Page 1 of 3. Call get_url with page=2 for more.]' - "
        "call again with the same url and max_tokens and the next page number to read on. "
        "On error the result is one sentence saying what failed; fix the argument it names "
        "or try another URL, do not retry the same call unchanged."
    ),
    parameters=_object(
        {
            "url": {"type": "string", "description": "The http or https URL to read."},
            "user_agent": _nullable(
                "string",
                "Browser to present as: 'chrome', 'firefox', 'safari', 'edge', or null for "
                "the default. Only change it when a site refuses the default.",
            ),
            "max_tokens": _nullable(
                "integer",
                "Most tokens per page of the result, for example 4000; null returns the "
                "whole text at once.",
                minimum=1,
                maximum=MAX_PAGE_TOKENS,
            ),
            "page": _nullable(
                "integer",
                "Which page to return, counting from 1 (needs max_tokens); null means 1.",
                minimum=1,
            ),
        }
    ),
    annotations={"readOnlyHint": True, "openWorldHint": True, "idempotentHint": True},
)

_SUMMARIZE = ToolSpec(
    name="summarize",
    description=(
        "Summarize a long text, or the main content of a web page, of any length: it is "
        "split into chunks that fit the model, summarized, and the summaries combined. "
        "Pass either text or url (not both). Returns the summary only. On error the result "
        "is one sentence saying what failed and how to fix the call."
    ),
    parameters=_object(
        {
            "text": _nullable("string", "The text to summarize, or null when url is given."),
            "url": _nullable(
                "string",
                "An http or https URL whose page to summarize, or null when text is given.",
            ),
            "instruction": _nullable(
                "string",
                "What the summary should focus on or how it should read, for example "
                "'list the key decisions'; null for a general summary.",
            ),
            "language": _nullable(
                "string", "Language of the summary, for example 'English'; null for the text's."
            ),
            "target_tokens": _nullable(
                "integer",
                "About how long the summary should be, in tokens; null for the default.",
                minimum=16,
                maximum=MAX_TARGET_TOKENS,
            ),
        }
    ),
    annotations={"readOnlyHint": True, "openWorldHint": True, "idempotentHint": False},
)

_CRAWL = ToolSpec(
    name="crawl",
    description=(
        "Crawl a web site breadth-first from a start URL, following links, and return one "
        "entry per page visited: its title, its URL and a short digest of its content (or "
        "why it failed). Use it to find which pages of a site matter, then read them with "
        f"get_url. Visits at most max_pages pages (at most {MAX_CRAWL_PAGES}). On error the "
        "result is one sentence saying what failed."
    ),
    parameters=_object(
        {
            "url": {"type": "string", "description": "The http or https URL to start from."},
            "max_pages": _nullable(
                "integer",
                f"Most pages to visit, 1 to {MAX_CRAWL_PAGES}; null for {DEFAULT_CRAWL_PAGES}.",
                minimum=1,
                maximum=MAX_CRAWL_PAGES,
            ),
            "same_site": _nullable(
                "boolean",
                "Only follow links on the start URL's site (true, the default) or also "
                "links to other sites (false).",
            ),
        }
    ),
    annotations={"readOnlyHint": True, "openWorldHint": True, "idempotentHint": False},
)

#: Every tool, in the order they are offered to models.
TOOL_SPECS: tuple[ToolSpec, ...] = (_GET_URL, _SUMMARIZE, _CRAWL)
_BY_NAME = {spec.name: spec for spec in TOOL_SPECS}


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def openai_tools() -> list[dict[str, Any]]:
    """The tools for OpenAI Chat Completions (``tools=``), strict mode on."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": _copy(spec.parameters),
                "strict": True,
            },
        }
        for spec in TOOL_SPECS
    ]


def responses_tools() -> list[dict[str, Any]]:
    """The tools for the OpenAI Responses API (``tools=``), strict mode on."""
    return [
        {
            "type": "function",
            "name": spec.name,
            "description": spec.description,
            "parameters": _copy(spec.parameters),
            "strict": True,
        }
        for spec in TOOL_SPECS
    ]


def anthropic_tools() -> list[dict[str, Any]]:
    """The tools for the Anthropic Messages API (``tools=``)."""
    return [
        {"name": spec.name, "description": spec.description, "input_schema": _copy(spec.parameters)}
        for spec in TOOL_SPECS
    ]


# -- options ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Options:
    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()
    user_agent: str | None = None
    timeout: float | None = None
    respect_robots: bool = False
    backend: Backend | None = None
    context_window: int | None = None


_OPTION_NAMES = frozenset(_Options.__dataclass_fields__)


def _options(options: dict[str, Any]) -> _Options:
    unknown = sorted(set(options) - _OPTION_NAMES)
    if unknown:
        raise TypeError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"call_tool accepts {', '.join(sorted(_OPTION_NAMES))}"
        )
    hosts = options.get("allowed_hosts", ())
    if isinstance(hosts, str):
        raise TypeError("allowed_hosts must be a list of host names or CIDRs, not a string")
    for flag in ("allow_private", "respect_robots"):
        if not isinstance(options.get(flag, False), bool):
            raise TypeError(f"{flag} must be True or False, not {options[flag]!r}")
    timeout = options.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise TypeError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    backend = options.get("backend")
    if backend is not None and not isinstance(backend, Backend):
        raise TypeError(
            f"backend must be a summarizer Backend (e.g. summarizer.OpenAIBackend) or None, "
            f"not {type(backend).__name__}"
        )
    return _Options(**{**options, "allowed_hosts": tuple(hosts)})


def _fetch_options(opts: _Options) -> dict[str, Any]:
    out: dict[str, Any] = {
        "allow_private": opts.allow_private,
        "allowed_hosts": opts.allowed_hosts,
        "respect_robots": opts.respect_robots,
    }
    if opts.timeout is not None:
        out["timeout"] = opts.timeout
    return out


# -- arguments ----------------------------------------------------------------------


class _BadCall(Exception):
    """A mistake of the model's: the message is what it is told."""


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
}


def _parse(spec: ToolSpec, arguments: Any) -> dict[str, Any]:
    if arguments is None or arguments == "":
        arguments = {}
    if isinstance(arguments, str | bytes):
        try:
            arguments = json.loads(arguments)
        except ValueError as exc:
            raise _BadCall(
                f"The arguments of {spec.name} are not valid JSON ({exc.msg} at position "
                f"{exc.pos}); send one JSON object such as {_example(spec)}."
            ) from None
    if not isinstance(arguments, Mapping):
        raise _BadCall(
            f"The arguments of {spec.name} must be a JSON object such as {_example(spec)}, "
            f"not {type(arguments).__name__}."
        )
    properties = spec.parameters["properties"]
    unknown = sorted(set(arguments) - set(properties))
    if unknown:
        raise _BadCall(
            f"{spec.name} has no argument {', '.join(map(repr, unknown))}; its arguments are "
            f"{', '.join(properties)}."
        )
    values: dict[str, Any] = {}
    for name, schema in properties.items():
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        value = arguments.get(name)
        if value is None:
            if "null" not in kinds:
                raise _BadCall(f"{spec.name} needs the argument {name!r} ({schema['description']})")
            values[name] = None
            continue
        kind = next(k for k in kinds if k != "null")
        ok = isinstance(value, _JSON_TYPES[kind]) and (
            kind == "boolean" or not isinstance(value, bool)
        )
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            value, ok = int(value), True
        if not ok:
            raise _BadCall(
                f"The argument {name!r} of {spec.name} must be {_a(kind)}, not {_json_name(value)}."
            )
        if kind == "integer":
            low, high = schema.get("minimum"), schema.get("maximum")
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"at least {low}" if high is None else f"between {low} and {high}"
                raise _BadCall(
                    f"The argument {name!r} of {spec.name} must be {bounds}, not {value}."
                )
        if kind == "string" and not value.strip():
            raise _BadCall(f"The argument {name!r} of {spec.name} is empty; pass a value or null.")
        values[name] = value
    return values


def _a(kind: str) -> str:
    return {"string": "a string", "integer": "an integer", "boolean": "true or false"}[kind]


def _json_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _example(spec: ToolSpec) -> str:
    return json.dumps(
        {
            "get_url": {"url": "https://example.com/"},
            "summarize": {"text": "..."},
            "crawl": {"url": "https://example.com/"},
        }[spec.name]
    )


# -- errors -------------------------------------------------------------------------


def _explain(exc: BaseException, url: str | None = None) -> str:
    """One sentence for the model; never the internal address, never a traceback."""
    where = f" {url}" if url else ""
    if isinstance(exc, BlockedAddress):
        return (
            "The URL points to a private or internal network address, which this "
            "tool may not reach; use a public URL."
        )
    if isinstance(exc, InvalidURL):
        return f"The URL{where} is not a valid http or https URL; pass a full URL such as https://example.com/page."
    if isinstance(exc, DisallowedByRobots):
        return f"The site's robots.txt does not allow fetching{where}; try another source."
    if isinstance(exc, FetchTimeout):
        return f"Fetching{where} timed out; try again later or use another URL."
    if isinstance(exc, ConnectError):
        return (
            f"Could not connect to the server of{where or ' the URL'}; "
            "check the URL or try another one."
        )
    if isinstance(exc, TooManyRedirects):
        return (
            f"The URL{where} redirects too many times; "
            "try the final address directly or another URL."
        )
    if isinstance(exc, HTTPStatusError):
        status = getattr(exc, "status_code", None)
        code = f" HTTP {status}" if status else " an HTTP error"
        hint = (
            "the page does not exist; check the URL"
            if status in (404, 410)
            else (
                "the site refused the request; try user_agent='chrome' or another URL"
                if status in (401, 403, 429)
                else "try again later or use another URL"
            )
        )
        return f"The server answered{code} for{where or ' the URL'}: {hint}."
    if isinstance(exc, ContentTooLarge):
        return f"The content at{where or ' the URL'} is too large to read; use a more specific URL."
    if isinstance(exc, UnsupportedContentType):
        return (
            f"The content at{where or ' the URL'} is not a web page, PDF or text "
            "this tool can read; try another URL."
        )
    if isinstance(exc, ExtractionError):
        return f"No readable text was found at{where or ' the URL'}; try another URL."
    if isinstance(exc, CrawlerError):
        return f"Fetching{where or ' the URL'} failed; check the URL or try another one."
    if isinstance(exc, RateLimited):
        return "The summarizing model is rate limited; wait a minute and call again."
    if isinstance(exc, ContextWindowTooSmall):
        return (
            "The summarizing model's context window is too small for this request; "
            "ask for a smaller target_tokens."
        )
    if isinstance(exc, BackendError):
        return "The summarizing model failed to answer; try again later."
    if isinstance(exc, SummarizerError):
        return "Summarizing failed; try a shorter text or a smaller target_tokens."
    return "The tool failed unexpectedly; try again or use another tool."


def _safe_url(url: str | None) -> str | None:
    """The URL as the model gave it, cut to a sane length, on one line."""
    if not url:
        return None
    clean = " ".join(url.split())
    return clean if len(clean) <= 200 else clean[:199] + "…"


# -- the tools ----------------------------------------------------------------------


def _get_url_kwargs(args: dict[str, Any], opts: _Options) -> dict[str, Any]:
    page = args["page"] or 1
    if page > 1 and args["max_tokens"] is None:
        raise _BadCall(
            f"page={page} needs max_tokens: pass the same max_tokens as the call that "
            "returned page 1 (for example 4000)."
        )
    return {
        "user_agent": args["user_agent"] or opts.user_agent,
        "max_tokens": args["max_tokens"],
        "page": page,
        **_fetch_options(opts),
    }


def _summarizer(args: dict[str, Any], opts: _Options, target: int | None = None) -> Summarizer:
    options: dict[str, Any] = {
        "instruction": args.get("instruction"),
        "language": args.get("language"),
    }
    if opts.backend is not None:
        options["backend"] = opts.backend
    if opts.context_window is not None:
        options["context_window"] = opts.context_window
    tokens = target or args.get("target_tokens")
    if tokens is not None:
        options["target_tokens"] = tokens
    return Summarizer(**options)


def _check_summarize(args: dict[str, Any]) -> None:
    if (args["text"] is None) == (args["url"] is None):
        raise _BadCall(
            "summarize needs exactly one of text or url: pass the text to summarize, or a "
            "URL whose page to summarize, and null for the other."
        )


def _page_text(rendered: str) -> str:
    """The text of a :func:`crawler.get_url` result without its header lines."""
    head, _, body = rendered.partition("\n\n")
    return body if body else head


def _crawl_kwargs(args: dict[str, Any], opts: _Options) -> dict[str, Any]:
    kwargs = _fetch_options(opts)
    kwargs.update(
        respect_robots=True,
        max_pages=args["max_pages"] or DEFAULT_CRAWL_PAGES,
        same_site=True if args["same_site"] is None else args["same_site"],
    )
    if opts.user_agent is not None:
        kwargs["user_agent"] = opts.user_agent
    return kwargs


def _crawl_entry(number: int, result: Any, digest: str | None) -> str:
    if not result.ok:
        return f"{number}. {result.url}\n   Error: {_explain(result.error)}"
    document = result.document
    title = " ".join((document.title or "(untitled)").split())
    body = " ".join((digest or "").split())
    return f"{number}. {title}\n   URL: {result.final_url}\n   {body}".rstrip()


def _crawl_text(entries: list[str], start: str) -> str:
    if not entries:
        return f"No page could be crawled from {start}."
    return (
        f"Crawled {len(entries)} page{'s' if len(entries) > 1 else ''} from {start}:\n\n"
        + "\n\n".join(entries)
    )


def _crawl_result(entries: list[str], failures: list[BaseException], start: str) -> ToolResult:
    if entries and len(failures) == len(entries):
        # Nothing could be read: say why, as for get_url, so the model can fix the call.
        return ToolResult(text=_explain(failures[0], start or None), is_error=True)
    return ToolResult(text=_crawl_text(entries, start))


def _digest_summarizer() -> Summarizer:
    # Digests are short and many: always the fast offline extractive summarizer.
    return Summarizer(target_tokens=CRAWL_DIGEST_TOKENS)


def _prepare(name: Any, arguments: Any) -> tuple[ToolSpec, dict[str, Any]]:
    if not isinstance(name, str) or name not in _BY_NAME:
        raise _BadCall(f"There is no tool named {name!r}; the tools are {', '.join(_BY_NAME)}.")
    spec = _BY_NAME[name]
    return spec, _parse(spec, arguments)


def call_tool(name: str, arguments: Mapping[str, Any] | str | None, **options: Any) -> ToolResult:
    """Run one tool call a model asked for and return what to send back to it.

    Args:
        name: The tool's name (``"get_url"``, ``"summarize"``, ``"crawl"``).
        arguments: The call's arguments, as a dict or as the JSON string the model sent.
        **options: The caller's policy, which the model cannot change:
            ``allow_private`` (reach loopback/private/metadata addresses; default False),
            ``allowed_hosts`` (host names or CIDRs exempt from that check),
            ``user_agent`` (default preset or string when the model gives none),
            ``timeout`` (seconds per fetch), ``respect_robots`` (obey robots.txt for
            ``get_url``/``summarize``; ``crawl`` always does),
            ``backend`` (a :class:`summarizer.Backend` for ``summarize``; default: the
            offline extractive one), ``context_window`` (that backend's window, tokens).

    Returns:
        A :class:`ToolResult`; ``is_error`` is True, with one sentence the model can act
        on, for every failure of the model's call or of the web.

    Raises:
        TypeError: An unknown or mistyped option (the caller's mistake, not the model's).
    """
    opts = _options(options)
    url: str | None = None
    try:
        spec, args = _prepare(name, arguments)
        url = _safe_url(args.get("url"))
        if spec.name == "get_url":
            return ToolResult(text=get_url(args["url"], **_get_url_kwargs(args, opts)))
        if spec.name == "summarize":
            _check_summarize(args)
            text = args["text"]
            if text is None:
                text = _page_text(
                    get_url(
                        args["url"],
                        **_get_url_kwargs(
                            args | {"page": None, "max_tokens": None, "user_agent": None}, opts
                        ),
                    )
                )
            return ToolResult(text=_summarizer(args, opts).run(text).summary)
        digester = _digest_summarizer()
        failures: list[BaseException] = []
        entries = []
        for number, result in enumerate(crawl(args["url"], **_crawl_kwargs(args, opts)), start=1):
            digest = digester.run(result.document.text).summary if result.ok else None
            entries.append(_crawl_entry(number, result, digest))
            if not result.ok:
                failures.append(result.error)
        return _crawl_result(entries, failures, url or "")
    except _BadCall as exc:
        return ToolResult(text=str(exc), is_error=True)
    except ValueError as exc:
        return ToolResult(text=_value_error(exc), is_error=True)
    except Exception as exc:  # noqa: BLE001 - everything else is told to the model
        logger.info("tool %s failed: %r", name, exc)
        return ToolResult(text=_explain(exc, url), is_error=True)


async def acall_tool(
    name: str, arguments: Mapping[str, Any] | str | None, **options: Any
) -> ToolResult:
    """Async :func:`call_tool` (same arguments, options and results)."""
    opts = _options(options)
    url: str | None = None
    try:
        spec, args = _prepare(name, arguments)
        url = _safe_url(args.get("url"))
        if spec.name == "get_url":
            return ToolResult(text=await aget_url(args["url"], **_get_url_kwargs(args, opts)))
        if spec.name == "summarize":
            _check_summarize(args)
            text = args["text"]
            if text is None:
                text = _page_text(
                    await aget_url(
                        args["url"],
                        **_get_url_kwargs(
                            args | {"page": None, "max_tokens": None, "user_agent": None}, opts
                        ),
                    )
                )
            return ToolResult(text=(await _summarizer(args, opts).arun(text)).summary)
        digester = _digest_summarizer()
        failures: list[BaseException] = []
        entries = []
        number = 0
        async for result in acrawl(args["url"], **_crawl_kwargs(args, opts)):
            number += 1
            digest = (await digester.arun(result.document.text)).summary if result.ok else None
            entries.append(_crawl_entry(number, result, digest))
            if not result.ok:
                failures.append(result.error)
        return _crawl_result(entries, failures, url or "")
    except _BadCall as exc:
        return ToolResult(text=str(exc), is_error=True)
    except ValueError as exc:
        return ToolResult(text=_value_error(exc), is_error=True)
    except Exception as exc:  # noqa: BLE001 - everything else is told to the model
        logger.info("tool %s failed: %r", name, exc)
        return ToolResult(text=_explain(exc, url), is_error=True)


def _value_error(exc: ValueError) -> str:
    """Paging and text errors from the libraries already name the fix; keep them one line."""
    message = " ".join(str(exc).split())
    return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")
