"""Tests for llm_digest.tools: strict schemas, call_tool/acall_tool, errors, an agent loop."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from openai_server import FakeOpenAIServer
from site_server import Site

from llm_digest.tools import (
    TOOL_SPECS,
    ToolResult,
    acall_tool,
    anthropic_tools,
    call_tool,
    openai_tools,
    responses_tools,
)
from summarizer import FakeBackend

ARTICLE = """<!DOCTYPE html><html lang="en"><head><title>Harbour Tides Explained</title>
</head><body><nav><a href="/">Home</a></nav><article><h1>Harbour Tides Explained</h1>
{paragraphs}
</article></body></html>"""

INDEX = """<html><head><title>Tide Index</title></head><body><article><h1>Tide Index</h1>
<p>This index lists the harbour pages. Each page explains one part of the tides in detail
so that sailors can plan their departures around the deepest water of the day.</p>
<p><a href="/article">Tides</a> <a href="/second">Second</a></p></article></body></html>"""


def _paragraphs(count: int) -> str:
    return "\n".join(
        f"<p>Paragraph {i}: the tide at the harbour rises twice a day, pulled by the moon, "
        f"and the harbour master publishes table number {i} a year in advance so that "
        "fishing boats can plan their departures around the deepest water.</p>"
        for i in range(count)
    )


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as server:
        server.add("/", INDEX)
        server.add("/article", ARTICLE.format(paragraphs=_paragraphs(3)))
        server.add("/second", ARTICLE.format(paragraphs=_paragraphs(4)))
        server.add("/long", ARTICLE.format(paragraphs=_paragraphs(60)))
        server.add("/robots.txt", "User-agent: *\nDisallow: /secret\n", content_type="text/plain")
        server.add("/gone", "gone", status=410, content_type="text/plain")
        server.add("/secret", ARTICLE.format(paragraphs=_paragraphs(2)))
        server.add("/slow", ARTICLE.format(paragraphs=_paragraphs(2)), delay=3.0)
        yield server


LOCAL = {"allow_private": True}


# -- schemas --------------------------------------------------------------------------


def _walk_strict(schema: dict[str, Any], where: str) -> None:
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    assert "description" in schema or where == "root", where
    if "object" in kinds:
        assert schema["additionalProperties"] is False, where
        assert sorted(schema["required"]) == sorted(schema["properties"]), where
        for name, sub in schema["properties"].items():
            _walk_strict(sub, f"{where}.{name}")
    if "array" in kinds:
        _walk_strict(schema["items"], f"{where}[]")


def test_every_schema_passes_openai_strict_rules() -> None:
    assert [spec.name for spec in TOOL_SPECS] == ["get_url", "summarize", "crawl"]
    for spec in TOOL_SPECS:
        _walk_strict(dict(spec.parameters), "root")
        assert spec.parameters["type"] == "object"
        assert len(spec.description) > 100
        assert spec.annotations["readOnlyHint"] is True
        assert spec.annotations["openWorldHint"] is True
        assert spec.annotations["idempotentHint"] is (spec.name == "get_url")
    # Optional arguments are nullable; the URL of get_url and crawl is not.
    get_url = TOOL_SPECS[0].parameters["properties"]
    assert get_url["url"]["type"] == "string"
    assert get_url["page"]["type"] == ["integer", "null"]
    assert "page=" in TOOL_SPECS[0].description


def test_tool_list_shapes() -> None:
    chat = openai_tools()
    assert [t["type"] for t in chat] == ["function"] * 3
    assert chat[0]["function"]["name"] == "get_url"
    assert chat[0]["function"]["strict"] is True
    assert chat[0]["function"]["parameters"] == TOOL_SPECS[0].parameters
    responses = responses_tools()
    assert responses[1] == {
        "type": "function",
        "name": "summarize",
        "description": TOOL_SPECS[1].description,
        "parameters": TOOL_SPECS[1].parameters,
        "strict": True,
    }
    anthropic = anthropic_tools()
    assert set(anthropic[2]) == {"name", "description", "input_schema"}
    assert anthropic[2]["input_schema"] == TOOL_SPECS[2].parameters
    # Callers may mutate what they get without changing the specs.
    chat[0]["function"]["parameters"]["properties"].clear()
    assert openai_tools()[0]["function"]["parameters"]["properties"]


# -- get_url ---------------------------------------------------------------------------


def test_get_url_reads_a_page(site: Site) -> None:
    result = call_tool("get_url", {"url": site.url("/article")}, **LOCAL)
    assert result == ToolResult(text=result.text, is_error=False)
    assert result.text.startswith("TITLE: Harbour Tides Explained\n")
    assert "Paragraph 2" in result.text


def test_get_url_pages_a_long_page_from_json_arguments(site: Site) -> None:
    first = call_tool("get_url", json.dumps({"url": site.url("/long"), "max_tokens": 300}), **LOCAL)
    assert not first.is_error
    total = int(re.search(r"\[Page 1 of (\d+)\. Call get_url with page=2", first.text).group(1))
    assert total > 2
    second = call_tool(
        "get_url",
        f'{{"url": "{site.url("/long")}", "max_tokens": 300, "page": 2, "user_agent": null}}',
        **LOCAL,
    )
    assert "[Page 2 of" in second.text and second.text != first.text
    past = call_tool("get_url", {"url": site.url("/long"), "max_tokens": 300, "page": 999}, **LOCAL)
    assert past.is_error and f"1..{total}" in past.text


def test_page_without_max_tokens_is_an_error_naming_the_fix(site: Site) -> None:
    result = call_tool("get_url", {"url": site.url("/long"), "page": 2}, **LOCAL)
    assert result.is_error and "max_tokens" in result.text


def test_user_agent_option_is_the_default_and_the_model_can_override(site: Site) -> None:
    call_tool("get_url", {"url": site.url("/article")}, user_agent="ToolBot/1.0", **LOCAL)
    assert site.requests[-1].headers["User-Agent"] == "ToolBot/1.0"
    call_tool("get_url", {"url": site.url("/article"), "user_agent": "Other/2"}, **LOCAL)
    assert site.requests[-1].headers["User-Agent"] == "Other/2"


def test_blocked_address_without_allow_private_does_not_leak_it(site: Site) -> None:
    before = len(site.requests)
    result = call_tool("get_url", {"url": site.url("/article")})
    assert result.is_error
    assert "private or internal network address" in result.text
    assert "127.0.0.1" not in result.text and str(site.port) not in result.text
    assert len(site.requests) == before
    via_summarize = call_tool("summarize", {"url": site.url("/article")})
    assert via_summarize.is_error and "127.0.0.1" not in via_summarize.text


def test_allowed_hosts_option_lets_one_host_through(site: Site) -> None:
    result = call_tool("get_url", {"url": site.url("/article")}, allowed_hosts=["127.0.0.1"])
    assert not result.is_error


def test_http_error_is_one_sentence(site: Site) -> None:
    result = call_tool("get_url", {"url": site.url("/gone")}, **LOCAL)
    assert result.is_error and "HTTP 410" in result.text
    assert "Traceback" not in result.text and "\n" not in result.text


def test_respect_robots_and_timeout_options(site: Site) -> None:
    assert not call_tool("get_url", {"url": site.url("/secret")}, **LOCAL).is_error
    refused = call_tool("get_url", {"url": site.url("/secret")}, respect_robots=True, **LOCAL)
    assert refused.is_error and "robots.txt does not allow" in refused.text
    slow = call_tool("get_url", {"url": site.url("/slow")}, timeout=0.3, **LOCAL)
    assert slow.is_error and "timed out" in slow.text


def test_crawl_of_a_blocked_start_is_an_error(site: Site) -> None:
    result = call_tool("crawl", {"url": site.url("/")})
    assert result.is_error and "private or internal network address" in result.text
    assert "127.0.0.1" not in result.text
    gone = call_tool("crawl", {"url": site.url("/gone")}, **LOCAL)
    assert gone.is_error and "HTTP 410" in gone.text


# -- bad calls -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("nope", {}, "There is no tool named 'nope'; the tools are get_url, summarize, crawl."),
        ("get_url", "{not json", "not valid JSON"),
        ("get_url", "[1, 2]", "must be a JSON object"),
        ("get_url", {}, "needs the argument 'url'"),
        ("get_url", {"url": 5}, "'url' of get_url must be a string, not the number 5"),
        ("get_url", {"url": "https://x.example/", "max_tokens": "4000"}, "must be an integer"),
        ("get_url", {"url": "https://x.example/", "max_tokens": True}, "must be an integer"),
        ("get_url", {"url": "https://x.example/", "page": 0}, "must be at least 1"),
        ("get_url", {"url": "https://x.example/", "pages": 2}, "has no argument 'pages'"),
        ("crawl", {"url": "https://x.example/", "max_pages": 500}, "between 1 and 50"),
        ("crawl", {"url": "https://x.example/", "same_site": "yes"}, "must be true or false"),
        ("summarize", {"text": None, "url": None}, "exactly one of text or url"),
        ("summarize", {"text": "a", "url": "https://x.example/"}, "exactly one of text or url"),
        ("get_url", {"url": "ftp://x.example/file"}, "not a valid http or https URL"),
    ],
)
def test_bad_calls_are_errors_for_the_model(name: str, arguments: Any, expected: str) -> None:
    result = call_tool(name, arguments)
    assert result.is_error
    assert expected in result.text
    assert "Traceback" not in result.text


def test_unknown_or_mistyped_option_raises_type_error() -> None:
    with pytest.raises(TypeError, match="unknown option model"):
        call_tool("get_url", {"url": "https://x.example/"}, model="gpt")
    with pytest.raises(TypeError, match="allowed_hosts must be a list"):
        call_tool("get_url", {"url": "https://x.example/"}, allowed_hosts="x.example")
    with pytest.raises(TypeError, match="backend must be a summarizer Backend"):
        call_tool("summarize", {"text": "hello"}, backend="openai")
    with pytest.raises(TypeError, match="unknown option"):
        asyncio.run(acall_tool("get_url", {"url": "https://x.example/"}, retries=3))


# -- summarize and crawl -------------------------------------------------------------


def test_summarize_text_offline_and_with_a_backend() -> None:
    text = " ".join(f"Sentence number {i} tells about tides and boats." for i in range(40))
    offline = call_tool("summarize", {"text": text, "target_tokens": 40})
    assert not offline.is_error and 0 < len(offline.text) < len(text)
    seen: list[str] = []

    def model(messages: list[Any], max_tokens: int) -> str:
        seen.append(messages[-1]["content"])
        return "A short summary."

    result = call_tool(
        "summarize",
        {"text": text, "instruction": "Focus on boats.", "language": "French"},
        backend=FakeBackend(model),
        context_window=4096,
    )
    assert result == ToolResult(text="A short summary.", is_error=False)
    assert seen


def test_summarize_url(site: Site) -> None:
    result = call_tool("summarize", {"url": site.url("/long"), "target_tokens": 60}, **LOCAL)
    assert not result.is_error and "TITLE:" not in result.text and "tide" in result.text


def test_model_failure_is_an_error_sentence() -> None:
    def broken(messages: list[Any], max_tokens: int) -> str:
        raise RuntimeError("secret internals")

    result = call_tool("summarize", {"text": "Hello there. " * 50}, backend=FakeBackend(broken))
    assert result.is_error and "secret internals" not in result.text


def test_crawl_lists_titles_urls_and_digests(site: Site) -> None:
    result = call_tool("crawl", {"url": site.url("/"), "max_pages": 3}, **LOCAL)
    assert not result.is_error, result.text
    assert result.text.startswith("Crawled 3 pages from")
    assert "1. Tide Index" in result.text
    assert f"URL: {site.url('/article')}" in result.text
    assert "Harbour Tides Explained" in result.text
    one = call_tool("crawl", {"url": site.url("/"), "max_pages": 1}, **LOCAL)
    assert one.text.startswith("Crawled 1 page from") and "/article" not in one.text


def test_acall_tool_matches_call_tool(site: Site) -> None:
    args = {"url": site.url("/long"), "max_tokens": 300, "page": 2}
    assert asyncio.run(acall_tool("get_url", args, **LOCAL)) == call_tool("get_url", args, **LOCAL)
    crawled = asyncio.run(acall_tool("crawl", {"url": site.url("/"), "max_pages": 2}, **LOCAL))
    assert crawled.text.startswith("Crawled 2 pages")
    summary = asyncio.run(acall_tool("summarize", {"text": "One. Two. Three."}))
    assert not summary.is_error
    blocked = asyncio.run(acall_tool("get_url", {"url": site.url("/")}))
    assert blocked.is_error and "127.0.0.1" not in blocked.text


# -- a scripted agent loop -----------------------------------------------------------


def _call(number: int, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"call_{number}",
        "type": "function",
        "function": {"name": "get_url", "arguments": json.dumps(arguments)},
    }


def test_agent_loop_reads_two_pages_then_answers(
    site: Site, openai_server: Callable[..., FakeOpenAIServer]
) -> None:
    url = site.url("/long")
    server = openai_server(
        context_window=100_000,
        script=[
            {"tool_calls": [_call(1, {"url": url, "max_tokens": 400, "page": None})]},
            {"tool_calls": [_call(2, {"url": url, "max_tokens": 400, "page": 2})]},
            {"content": "The tide rises twice a day."},
        ],
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"Read {url}"}]
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        for _ in range(5):
            body = {
                "model": server.model,
                "messages": messages,
                "tools": openai_tools(),
                "max_tokens": 500,
            }
            reply = client.post("/chat/completions", json=body).json()["choices"][0]
            message = reply["message"]
            messages.append(message)
            if reply["finish_reason"] != "tool_calls":
                break
            for tool_call in message["tool_calls"]:
                function = tool_call["function"]
                result = call_tool(function["name"], function["arguments"], **LOCAL)
                messages.append(
                    {"role": "tool", "tool_call_id": tool_call["id"], "content": result.text}
                )
    assert messages[-1]["content"] == "The tide rises twice a day."
    tool_messages = [m["content"] for m in messages if m["role"] == "tool"]
    assert len(tool_messages) == 2
    assert "[Page 1 of" in tool_messages[0] and "page=2" in tool_messages[0]
    assert "[Page 2 of" in tool_messages[1]
    requests = server.chat_requests
    assert len(requests) == 3
    assert requests[0].body["tools"][0]["function"]["name"] == "get_url"
    assert requests[2].body["messages"][-1]["content"] == tool_messages[1]


def test_package_exports_the_tool_api() -> None:
    import llm_digest
    from llm_digest import tools

    for name in llm_digest.__all__:
        assert getattr(llm_digest, name) is getattr(tools, name)
    assert set(llm_digest.__all__) <= set(dir(llm_digest))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        llm_digest.nope  # noqa: B018 - the attribute access is the test
