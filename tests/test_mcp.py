"""The MCP server (``llm-digest mcp``) through the SDK client: in-process, stdio, HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import mcp.types as mt
import pytest
from mcp import Client, StdioServerParameters
from page_server import ARTICLE_TITLE, PageServer

from llm_digest import cli, tools
from llm_digest.mcp_server import DEFAULT_PAGE_TOKENS, build_server
from summarizer import FakeBackend

SCRIPT = str(Path(sys.executable).with_name("llm-digest"))


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with PageServer() as srv:
        yield srv


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    async def bounded() -> Any:
        with anyio.fail_after(30):
            return await fn()

    return anyio.run(bounded)


def text_of(result: mt.CallToolResult) -> str:
    assert len(result.content) == 1
    content = result.content[0]
    assert isinstance(content, mt.TextContent)
    return content.text


def long_page(words: int) -> str:
    body = "".join(
        f"<p>Paragraph {i} tells of limpet{i} and crab{i} beside pool{i} at dawn.</p>"
        for i in range(words // 10)
    )
    return f"<html><head><title>Long</title></head><body><article>{body}</article></body></html>"


def test_tools_listed_with_the_specs_schemas_and_annotations() -> None:
    async def go() -> list[mt.Tool]:
        async with Client(build_server()) as client:
            return (await client.list_tools()).tools

    listed = {tool.name: tool for tool in run(go)}
    assert set(listed) == {"get_url", "summarize", "crawl"}
    for spec in tools.TOOL_SPECS:
        tool = listed[spec.name]
        assert tool.input_schema == spec.parameters
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.open_world_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.annotations.idempotent_hint is (spec.name == "get_url")


def test_get_url_returns_the_page_as_text(pages: PageServer) -> None:
    async def go() -> mt.CallToolResult:
        async with Client(build_server(allow_private=True)) as client:
            return await client.call_tool("get_url", {"url": pages.url("/article.html")})

    result = run(go)
    assert result.is_error is False
    text = text_of(result)
    assert text.startswith(f"TITLE: {ARTICLE_TITLE}")
    assert "Anemones" in text and "{" not in text  # the page, not a JSON copy of it


def test_get_url_pages_a_long_page_by_default(pages: PageServer) -> None:
    pages.add("/long.html", long_page(40_000))

    async def go() -> tuple[str, str]:
        async with Client(build_server(allow_private=True)) as client:
            first = await client.call_tool("get_url", {"url": pages.url("/long.html")})
            second = await client.call_tool(
                "get_url",
                {"url": pages.url("/long.html"), "max_tokens": DEFAULT_PAGE_TOKENS, "page": 2},
            )
            return text_of(first), text_of(second)

    first, second = run(go)
    assert "Call get_url with page=2" in first
    assert "Paragraph 0 " in first and "Paragraph 0 " not in second
    # well under the 25,000-token results MCP clients refuse (a token is > 2 characters)
    assert len(first) < 2 * 25_000 and len(second) < 2 * 25_000


def test_summarize_says_which_backend_made_it() -> None:
    async def go() -> mt.CallToolResult:
        async with Client(build_server()) as client:
            return await client.call_tool(
                "summarize", {"text": "Tide pools hold anemones. Crabs hide under rocks. " * 50}
            )

    result = run(go)
    assert result.is_error is False
    assert text_of(result).endswith("[Summarized by: extractive (offline)]")


def test_crawl_lists_the_pages(pages: PageServer) -> None:
    async def go() -> mt.CallToolResult:
        async with Client(build_server(allow_private=True)) as client:
            return await client.call_tool(
                "crawl", {"url": pages.url("/article.html"), "max_pages": 1}
            )

    result = run(go)
    assert result.is_error is False
    assert ARTICLE_TITLE in text_of(result)


def test_failures_are_tool_errors_with_call_tools_message_and_the_server_lives_on(
    pages: PageServer,
) -> None:
    url = pages.url("/article.html")

    async def go() -> list[mt.CallToolResult]:
        async with Client(build_server()) as client:  # loopback blocked by default
            return [
                await client.call_tool("get_url", {"url": url}),
                await client.call_tool("no_such_tool", {}),
                await client.call_tool("get_url", {"url": 5}),
                await client.call_tool("summarize", {"text": "Still alive. " * 20}),
            ]

    blocked, unknown, mistyped, after = run(go)
    for result, (name, arguments) in zip(
        (blocked, unknown, mistyped),
        (("get_url", {"url": url}), ("no_such_tool", {}), ("get_url", {"url": 5})),
        strict=True,
    ):
        assert result.is_error is True
        expected = tools.call_tool(name, arguments)
        assert expected.is_error
        assert text_of(result) == expected.text
    assert after.is_error is False


def _sampling_client(
    calls: list[mt.CreateMessageRequestParams], reply: Callable[[], Any]
) -> Callable[..., Awaitable[Any]]:
    async def callback(_ctx: Any, params: mt.CreateMessageRequestParams) -> Any:
        calls.append(params)
        return reply()

    return callback


def _answer() -> mt.CreateMessageResult:
    return mt.CreateMessageResult(
        role="assistant",
        content=mt.TextContent(type="text", text="Pools hold crabs."),
        model="client-model",
    )


def _request_chars(params: mt.CreateMessageRequestParams) -> int:
    texts = [m.content.text for m in params.messages if isinstance(m.content, mt.TextContent)]
    return sum(map(len, texts)) + len(params.system_prompt or "")


def test_summarize_uses_the_clients_model_through_sampling_within_the_window() -> None:
    calls: list[mt.CreateMessageRequestParams] = []
    text = " ".join(f"Pool{i} holds crab{i} and limpet{i}." for i in range(6000))

    async def go() -> mt.CallToolResult:
        callback = _sampling_client(calls, _answer)
        async with Client(build_server(), sampling_callback=callback, mode="legacy") as client:
            return await client.call_tool("summarize", {"text": text})

    result = run(go)
    assert result.is_error is False
    assert text_of(result).endswith("[Summarized by: mcp-sampling]")
    assert len(calls) > 2  # map-reduce: several requests for a text far over 8192 tokens
    for params in calls:
        assert 0 < params.max_tokens < 8192
        # prompt plus output within the 8192-token window (a token is at least 1 character)
        assert _request_chars(params) < 4 * (8192 - params.max_tokens)
        assert any(isinstance(m.content, mt.TextContent) for m in params.messages)


def test_sampling_context_window_flag_sets_the_request_size() -> None:
    small: list[mt.CreateMessageRequestParams] = []
    text = " ".join(f"Pool{i} holds crab{i} and limpet{i}." for i in range(3000))

    async def go() -> None:
        callback = _sampling_client(small, _answer)
        server = build_server(context_window=2048)
        async with Client(server, sampling_callback=callback, mode="legacy") as client:
            await client.call_tool("summarize", {"text": text})

    run(go)
    assert small and all(p.max_tokens < 2048 for p in small)
    assert all(_request_chars(p) < 4 * 2048 for p in small)


def test_a_configured_backend_comes_before_the_clients_model() -> None:
    calls: list[mt.CreateMessageRequestParams] = []
    model = FakeBackend(["Configured summary."], name="configured-model")

    async def go() -> mt.CallToolResult:
        callback = _sampling_client(calls, _answer)
        server = build_server(backend=model)
        async with Client(server, sampling_callback=callback, mode="legacy") as client:
            return await client.call_tool("summarize", {"text": "Crabs hide under rocks. " * 40})

    result = run(go)
    assert calls == []
    assert text_of(result) == "Configured summary.\n\n[Summarized by: configured-model]"


def test_a_failing_client_model_falls_back_offline_and_says_so() -> None:
    calls: list[mt.CreateMessageRequestParams] = []

    async def go() -> mt.CallToolResult:
        callback = _sampling_client(
            calls, lambda: mt.ErrorData(code=-1, message="User rejected sampling request")
        )
        async with Client(build_server(), sampling_callback=callback, mode="legacy") as client:
            return await client.call_tool("summarize", {"text": "Crabs hide under rocks. " * 40})

    result = run(go)
    assert calls
    assert result.is_error is False
    assert "[Summarized by: extractive (offline); the client's model failed" in text_of(result)


def test_a_client_that_never_answers_sampling_does_not_hang_the_tool() -> None:
    calls: list[mt.CreateMessageRequestParams] = []

    async def never(_ctx: Any, params: mt.CreateMessageRequestParams) -> Any:
        calls.append(params)
        await anyio.sleep(3600)

    async def go() -> tuple[float, mt.CallToolResult]:
        server = build_server(sampling_timeout=0.5)
        async with Client(server, sampling_callback=never, mode="legacy") as client:
            start = time.monotonic()
            result = await client.call_tool("summarize", {"text": "Crabs hide. " * 40})
            return time.monotonic() - start, result

    elapsed, result = run(go)
    assert len(calls) == 1
    assert elapsed < 5
    assert result.is_error is False
    assert "[Summarized by: extractive (offline); the client's model failed" in text_of(result)


def test_modern_protocol_without_sampling_falls_back_and_says_so() -> None:
    calls: list[mt.CreateMessageRequestParams] = []

    async def go() -> tuple[str, mt.CallToolResult]:
        callback = _sampling_client(calls, _answer)
        async with Client(build_server(), sampling_callback=callback) as client:
            result = await client.call_tool("summarize", {"text": "Crabs hide. " * 40})
            return client.protocol_version, result

    version, result = run(go)
    assert version >= "2026-07-28"
    assert calls == []
    assert result.is_error is False
    assert f"protocol {version} has no sampling request" in text_of(result)


def test_stdio_server_subprocess(pages: PageServer) -> None:
    params = StdioServerParameters(
        command=SCRIPT, args=["mcp", "--allow-private"], env=dict(os.environ)
    )

    async def go() -> tuple[list[str], mt.CallToolResult]:
        async with Client(params) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            return names, await client.call_tool("get_url", {"url": pages.url("/article.html")})

    names, result = run(go)
    assert sorted(names) == ["crawl", "get_url", "summarize"]
    assert result.is_error is False
    assert text_of(result).startswith(f"TITLE: {ARTICLE_TITLE}")


def test_stdio_server_summarizes_with_the_configured_model(openai_server: Any) -> None:
    model = openai_server(api_key="sk-test")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["OPENAI_API_KEY"] = "sk-test"  # --api-key defaults to the environment
    params = StdioServerParameters(
        command=SCRIPT,
        args=["mcp", "--base-url", model.base_url, "--model", model.model],
        env=env,
    )
    calls: list[mt.CreateMessageRequestParams] = []

    async def go() -> mt.CallToolResult:
        callback = _sampling_client(calls, _answer)
        async with Client(params, sampling_callback=callback, mode="legacy") as client:
            return await client.call_tool("summarize", {"text": "Crabs hide under rocks. " * 40})

    result = run(go)
    assert result.is_error is False, text_of(result)
    assert calls == []
    assert model.chat_requests
    last = text_of(result).rsplit("\n", 1)[-1]
    assert last.startswith("[Summarized by: ") and model.model in last


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_streamable_http_server_subprocess_on_loopback(pages: PageServer) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [SCRIPT, "mcp", "--http", str(port), "--allow-private"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the HTTP server did not start"
                time.sleep(0.1)

        async def go() -> mt.CallToolResult:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                return await client.call_tool("get_url", {"url": pages.url("/article.html")})

        result = run(go)
        assert result.is_error is False
        assert ARTICLE_TITLE in text_of(result)
    finally:
        proc.terminate()
        out, _err = proc.communicate(timeout=10)
    assert out == b""  # nothing on stdout: logs go to stderr


def test_http_port_in_use_fails_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = cli.main(["mcp", "--http", str(port)])
    assert code == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "pick another --http PORT" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "a command is required"),
        (["mcp", "--http", "notaport"], "not a port number"),
        (["mcp", "--http", "70000"], "port must be 1-65535"),
        (["mcp", "--timeout", "-1"], "positive number"),
        (["mcp", "--context-window", "0"], "must be positive"),
        (["mcp", "--allow-host", "10.0.0.0/99"], "not a host name or CIDR"),
        (["mcp", "--host", "0.0.0.0"], "--host needs --http"),
    ],
)
def test_cli_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
    assert "Traceback" not in captured.err
