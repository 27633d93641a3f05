"""summarize: a summary of a text of any length, with the model chosen in Dify."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._common import (
    DEFAULT_CONTEXT_WINDOW,
    DEFAULT_TARGET_TOKENS,
    DigestToolError,
    model_backend,
    optional_text,
    positive_int,
)

from summarizer import Summarizer, SummarizerError


def run_summary(session: Any, params: dict[str, Any], text: str) -> tuple[str, dict[str, Any]]:
    """Summarize ``text`` with the tool parameters; return the summary and its stats."""
    context_window = positive_int(params, "context_window", DEFAULT_CONTEXT_WINDOW)
    target = positive_int(params, "target_tokens", DEFAULT_TARGET_TOKENS)
    assert context_window is not None and target is not None
    backend = model_backend(session, params.get("model"), context_window=context_window)
    try:
        engine = Summarizer(
            backend=backend,
            context_window=context_window,
            target_tokens=target,
            instruction=optional_text(params, "instruction"),
            language=optional_text(params, "language"),
        )
        result = engine.run(text)
    except (SummarizerError, ValueError) as exc:
        raise DigestToolError(f"summarize failed: {exc}") from exc
    return result.summary, result.stats.to_dict()


class SummarizeTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage]:
        text = tool_parameters.get("text")
        if not isinstance(text, str) or not text.strip():
            raise DigestToolError("text is required: pass the text to summarize")
        summary, stats = run_summary(self.session, tool_parameters, text)
        yield self.create_text_message(summary)
        yield self.create_json_message({"summary": summary, "stats": stats})
