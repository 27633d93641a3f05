"""The MCP server behind ``llm-digest mcp``: the ``llm_digest.tools`` tools over MCP.

Built on the official ``mcp`` SDK (2.x, ``MCPServer``), imported lazily so that the rest of
the package works without it; a missing SDK raises an ``ImportError`` naming
``pip install 'llm-digest[mcp]'``.

The tools, their JSON schemas, their annotations and their behaviour are those of
``llm_digest.tools`` (``TOOL_SPECS`` and ``acall_tool``): this module only carries them over
the protocol. A failing call comes back as an MCP tool error (``isError``) with the same
message as ``call_tool``; nothing a client sends can stop the server. Logs go to stderr only
(on stdio, stdout is the protocol).

Backend for ``summarize``: the ``backend`` given to :func:`build_server` (the CLI builds an
``OpenAIBackend`` when a model is configured) first; else, when the connected client offers
sampling, the client's own model through :class:`SamplingBackend`; else the offline default.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

import anyio

from summarizer import Backend, Completion, Message

from . import tools

if TYPE_CHECKING:  # pragma: no cover
    from mcp.server.mcpserver import MCPServer

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PAGE_TOKENS",
    "DEFAULT_SAMPLING_CONTEXT_WINDOW",
    "DEFAULT_SAMPLING_TIMEOUT",
    "SamplingBackend",
    "build_server",
    "run_server",
]

DEFAULT_HOST = "127.0.0.1"
#: get_url's page size when the caller gives no max_tokens: MCP clients refuse tool results
#: over 25,000 tokens, so a whole long page must never come back in one result.
DEFAULT_PAGE_TOKENS = 10_000
DEFAULT_SAMPLING_CONTEXT_WINDOW = 8192
#: Seconds one sampling request may take before the summary is made offline instead.
DEFAULT_SAMPLING_TIMEOUT = 120.0
SERVER_NAME = "llm-digest"

logger = logging.getLogger("llm_digest.mcp")

_INSTALL_HINT = "The MCP server needs the mcp SDK: pip install 'llm-digest[mcp]'"


def _import_mcp() -> Any:
    try:
        import mcp.types as mcp_types
        from mcp.server.mcpserver import MCPServer
    except ImportError as exc:  # pragma: no cover - the test extra installs mcp
        raise ImportError(_INSTALL_HINT) from exc
    return MCPServer, mcp_types


class SamplingBackend:
    """A summarizer ``Backend`` that asks the MCP client's own model (the sampling request).

    Every request is sent as one ``sampling/createMessage`` with ``maxTokens`` set to the
    engine's output cap; ``context_window`` (default 8192) tells the engine how large a
    request may be, so each one fits the client's model.
    """

    def __init__(
        self,
        session: Any,
        *,
        context_window: int | None = None,
        timeout: float = DEFAULT_SAMPLING_TIMEOUT,
    ) -> None:
        if context_window is not None and context_window <= 0:
            raise ValueError(f"context_window must be positive, got {context_window}")
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
        self._timeout = timeout
        self._session = session
        self.name = "mcp-sampling"
        self.context_window = context_window or DEFAULT_SAMPLING_CONTEXT_WINDOW

    def complete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        raise TypeError(
            "SamplingBackend is asynchronous only (the request goes through the MCP session): "
            "call acomplete, or summarize through acall_tool"
        )

    async def acomplete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        _, mcp_types = _import_mcp()
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
        sampling = [
            mcp_types.SamplingMessage(
                role="assistant" if m["role"] == "assistant" else "user",
                content=mcp_types.TextContent(type="text", text=m["content"]),
            )
            for m in messages
            if m["role"] != "system"
        ]
        with warnings.catch_warnings():
            # Sampling is deprecated from protocol 2026-07-28 on; on older sessions it is the
            # way to reach the client's model, and the warning is not the user's to act on.
            warnings.simplefilter("ignore")
            with anyio.fail_after(self._timeout):
                result = await self._session.create_message(
                    sampling, max_tokens=max_tokens, system_prompt=system
                )
        content = result.content
        text = content.text if isinstance(content, mcp_types.TextContent) else ""
        return Completion(text=text, finish_reason=result.stop_reason, model=result.model)


_SAMPLING_DEPRECATED_IN = "2026-07-28"


def _protocol_version(context: Any) -> str | None:
    try:
        version = context.protocol_version
    except Exception:  # noqa: BLE001 - no session: unknown
        return None
    return version if isinstance(version, str) else None


def _client_offers_sampling(context: Any) -> bool:
    try:
        capabilities = context.client_capabilities
    except Exception:  # noqa: BLE001 - no session (a direct call): no sampling
        return False
    return capabilities is not None and getattr(capabilities, "sampling", None) is not None


def build_server(
    *,
    backend: Backend | None = None,
    sampling: bool = True,
    context_window: int | None = None,
    sampling_timeout: float = DEFAULT_SAMPLING_TIMEOUT,
    **options: Any,
) -> MCPServer:
    """Return an ``MCPServer`` serving ``get_url``, ``summarize`` and ``crawl``.

    Args:
        backend: the summarizer backend; ``None``: the client's model through sampling when
            the client offers it (and ``sampling`` is true), else the offline default.
        sampling: whether to use the client's model when no backend is configured.
        context_window: the model's window in tokens (for sampling, default 8192).
        sampling_timeout: seconds one sampling request may take; past it (or when the client
            refuses) the summary is made offline and the result says so.
        options: the policy passed to ``llm_digest.tools.acall_tool`` (``allow_private``,
            ``allowed_hosts``, ``user_agent``, ``timeout``, ``respect_robots``).
    """
    base, mcp_types = _import_mcp()
    specs = {spec.name: spec for spec in tools.TOOL_SPECS}

    def mcp_tool(spec: Any) -> Any:
        hints = dict(spec.annotations or {})
        annotations = mcp_types.ToolAnnotations(
            read_only_hint=hints.get("readOnlyHint"),
            destructive_hint=hints.get(
                "destructiveHint", False if hints.get("readOnlyHint") else None
            ),
            idempotent_hint=hints.get("idempotentHint"),
            open_world_hint=hints.get("openWorldHint"),
        )
        description = spec.description
        if spec.name == "get_url":
            description += (
                f" Here max_tokens defaults to {DEFAULT_PAGE_TOKENS}, so a long page always "
                "comes in pages."
            )
        return mcp_types.Tool(
            name=spec.name,
            description=description,
            input_schema=spec.parameters,
            annotations=annotations,
        )

    def error(text: str) -> Any:
        return mcp_types.CallToolResult(
            content=[mcp_types.TextContent(type="text", text=text)], is_error=True
        )

    class DigestServer(base):  # type: ignore[misc, valid-type]
        async def list_tools(self) -> list[Any]:
            return [mcp_tool(spec) for spec in specs.values()]

        async def _call(self, name: str, arguments: Any, chosen: Any, window: Any) -> Any:
            try:
                return await tools.acall_tool(
                    name, arguments, backend=chosen, context_window=window, **options
                )
            except Exception:  # noqa: BLE001 - the server must outlive any bad call
                logger.exception("tool %r failed unexpectedly", name)
                return None

        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            chosen = backend
            window = context_window
            note = ""
            if name == "get_url" and isinstance(arguments, dict):
                if arguments.get("max_tokens") is None:
                    arguments = {**arguments, "max_tokens": DEFAULT_PAGE_TOKENS}
            if chosen is None and sampling and name == "summarize" and context is not None:
                if _client_offers_sampling(context):
                    version = _protocol_version(context)
                    if version is not None and version >= _SAMPLING_DEPRECATED_IN:
                        note = (
                            f"; the client's model was not used: protocol {version} has no "
                            "sampling request"
                        )
                    else:
                        chosen = SamplingBackend(
                            context.session,
                            context_window=context_window,
                            timeout=sampling_timeout,
                        )
                        window = chosen.context_window
            result = await self._call(name, arguments, chosen, window)
            if result is None:
                return error(f"The {name} tool failed unexpectedly; try again or report it.")
            if isinstance(chosen, SamplingBackend) and result.is_error:
                # The client refused or failed the sampling request: summarize offline.
                logger.warning("sampling failed (%s); summarizing offline", result.text)
                note = f"; the client's model failed ({result.text.rstrip('.')})"
                chosen = None
                result = await self._call(name, arguments, None, context_window)
                if result is None:
                    return error(f"The {name} tool failed unexpectedly; try again or report it.")
            text = result.text
            if name == "summarize" and not result.is_error:
                made_by = chosen.name if chosen is not None else "extractive (offline)"
                text += f"\n\n[Summarized by: {made_by}{note}]"
            return mcp_types.CallToolResult(
                content=[mcp_types.TextContent(type="text", text=text)],
                is_error=bool(result.is_error),
            )

    return DigestServer(
        SERVER_NAME,
        instructions=(
            "Read web pages (get_url, paged by tokens), summarize text or a page (summarize) "
            "and digest a small site (crawl)."
        ),
        log_level="WARNING",
    )


def run_server(
    server: MCPServer,
    *,
    http_port: int | None = None,
    host: str = DEFAULT_HOST,
) -> None:
    """Serve ``server`` on stdio, or on streamable HTTP at ``http://HOST:PORT/mcp``."""
    if http_port is None:
        server.run("stdio")
        return
    server.run("streamable-http", host=host, port=http_port)
