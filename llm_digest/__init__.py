"""Agent tools and pipelines built on ``summarizer`` and ``crawler``.

>>> from llm_digest import call_tool, openai_tools
>>> call_tool("get_url", '{"url": "https://example.com/", "max_tokens": 4000}')

The tool names load :mod:`llm_digest.tools` (and with it both libraries) on first use,
so ``import llm_digest`` itself stays cheap for the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tools import (
        TOOL_SPECS,
        ToolResult,
        ToolSpec,
        acall_tool,
        anthropic_tools,
        call_tool,
        openai_tools,
        responses_tools,
    )

__all__ = [
    "TOOL_SPECS",
    "ToolResult",
    "ToolSpec",
    "acall_tool",
    "anthropic_tools",
    "call_tool",
    "openai_tools",
    "responses_tools",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import tools

        return getattr(tools, name)
    raise AttributeError(f"module 'llm_digest' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
