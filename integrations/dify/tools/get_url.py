"""get_url: a web page as clean LLM-ready text, optionally with a summary."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._common import DigestToolError, optional_text, positive_int
from tools.summarize import run_summary

from crawler import CrawlerError, get_url
from summarizer import SummarizerError

#: user_agent select values sent as they are (crawler presets); "custom" reads
#: custom_user_agent instead.
PRESETS = ("default", "chrome", "firefox", "safari", "edge", "mobile", "iphone", "googlebot")


def _user_agent(params: dict[str, Any]) -> str | None:
    choice = optional_text(params, "user_agent") or "default"
    if choice == "custom":
        custom = optional_text(params, "custom_user_agent")
        if custom is None:
            raise DigestToolError(
                "user_agent is 'custom' but custom_user_agent is empty: type the User-Agent "
                "string to send, or pick a preset"
            )
        return custom
    if choice not in PRESETS:
        raise DigestToolError(
            f"unknown user_agent {choice!r}: pick one of {', '.join(PRESETS)} or 'custom'"
        )
    return None if choice == "default" else choice


class GetUrlTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage]:
        url = optional_text(tool_parameters, "url")
        if url is None:
            raise DigestToolError("url is required: pass the http(s) address of the page")
        max_tokens = positive_int(tool_parameters, "max_tokens", None)
        page = positive_int(tool_parameters, "page", 1)
        assert page is not None
        try:
            text = get_url(url, _user_agent(tool_parameters), max_tokens=max_tokens, page=page)
        except (CrawlerError, SummarizerError, ValueError) as exc:
            raise DigestToolError(f"get_url failed for {url}: {exc}") from exc
        yield self.create_text_message(text)
        info: dict[str, Any] = {"url": url, "page": page, "characters": len(text)}
        if tool_parameters.get("generate_summary"):
            summary, stats = run_summary(self.session, tool_parameters, text)
            yield self.create_text_message(summary)
            info["summary"] = summary
            info["stats"] = stats
        yield self.create_json_message(info)
