"""The backend registry and the async-first Backend protocol, through the public API."""

from __future__ import annotations

import asyncio
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import summarizer
from summarizer import Completion, Message

ONE_METHOD = """
from summarizer import Completion

class {cls}:
    name = "{name}"
    context_window = 4096

    def __init__(self, prefix=""):
        self.prefix = prefix

    async def acomplete(self, messages, *, max_tokens):
        return Completion(self.prefix + messages[-1]["content"])
"""


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Install a fake distribution with one backend module and its entry points."""
    modules: list[str] = []

    def _install(dist_name: str, module: str, entries: dict[str, str]) -> None:
        root = tmp_path / dist_name
        root.mkdir()
        (root / f"{module}.py").write_text(
            "\n".join(
                textwrap.dedent(ONE_METHOD.format(cls=value.split(":")[1], name=key))
                for key, value in entries.items()
            )
        )
        dist = root / f"{dist_name.replace('-', '_')}-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.0\n")
        lines = "".join(f"{k} = {v}\n" for k, v in entries.items())
        (dist / "entry_points.txt").write_text(f"[summarizer.backends]\n{lines}")
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        modules.append(module)

    yield _install
    for module in modules:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


def test_builtins_are_registered_in_code_without_installed_entry_points() -> None:
    from importlib.metadata import entry_points

    from summarizer._registry import BUILTIN_BACKENDS, ENTRY_POINT_GROUP

    names = {ep.name for ep in BUILTIN_BACKENDS}
    assert names == {"extractive", "fake", "openai"}
    assert not names & {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert names <= set(summarizer.available_backends())
    assert isinstance(summarizer.get_backend("fake"), summarizer.FakeBackend)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(summarizer.UnknownBackend, match="known backends: extractive, fake, openai"):
        summarizer.get_backend("nope")
    with pytest.raises(TypeError, match="must be str"):
        summarizer.get_backend(None)  # type: ignore[arg-type]


def test_third_party_named_like_a_builtin_is_an_error_naming_both(install) -> None:
    install("shadow-backend", "shadow_backend", {"fake": "shadow_backend:Shadow"})
    with pytest.raises(summarizer.DuplicateBackend) as caught:
        summarizer.get_backend("fake")
    message = str(caught.value)
    assert "built-in summarizer._fake:FakeBackend" in message
    assert "shadow-backend 1.0: shadow_backend:Shadow" in message
    assert caught.value.name == "fake" and len(caught.value.sources) == 2
    # Other names still work; the contested one is listed once.
    assert summarizer.available_backends().count("fake") == 1
    assert isinstance(summarizer.get_backend("extractive"), summarizer.ExtractiveBackend)


def test_two_distributions_claiming_one_name(install) -> None:
    install("echo-one", "echo_one", {"echo": "echo_one:EchoOne"})
    install("echo-two", "echo_two", {"echo": "echo_two:EchoTwo"})
    with pytest.raises(summarizer.DuplicateBackend) as caught:
        summarizer.get_backend("echo")
    assert "echo_one:EchoOne" in str(caught.value) and "echo_two:EchoTwo" in str(caught.value)


def test_the_same_factory_registered_again_is_one_backend(install) -> None:
    install("stale-copy", "stale_copy", {"fake": "summarizer._fake:FakeBackend"})
    assert isinstance(summarizer.get_backend("fake"), summarizer.FakeBackend)


def test_a_one_method_plugin_runs_sync_and_async(install) -> None:
    install("echo-backend", "echo_backend", {"echo": "echo_backend:Echo"})
    backend = summarizer.get_backend("echo", prefix=">> ")
    assert not hasattr(backend, "complete")
    assert isinstance(backend, summarizer.Backend)
    assert summarizer.Summarizer(backend=backend).run("Hi.").summary == ">> Hi."
    assert summarizer.summarize("Hello there.", backend="echo") == "Hello there."
    result = asyncio.run(summarizer.asummarize("Async.", backend="echo"))
    assert result == "Async."


class _AsyncOnly:
    name = "async-only"
    context_window = None

    async def acomplete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        return Completion(f"{messages[-1]['content']}:{max_tokens}")


def test_complete_sync_is_derived_from_acomplete() -> None:
    chat: list[Message] = [{"role": "user", "content": "hi"}]
    assert summarizer.complete_sync(_AsyncOnly(), chat, max_tokens=7).text == "hi:7"
    # A backend with its own complete() is called directly.
    fake = summarizer.FakeBackend()
    assert summarizer.complete_sync(fake, chat, max_tokens=7) == fake.complete(chat, max_tokens=7)


def test_complete_sync_works_inside_a_running_loop_and_refuses_non_backends() -> None:
    chat: list[Message] = [{"role": "user", "content": "hi"}]

    async def inside() -> str:
        return summarizer.complete_sync(_AsyncOnly(), chat, max_tokens=3).text

    assert asyncio.run(inside()) == "hi:3"
    with pytest.raises(TypeError, match="no acomplete"):
        summarizer.complete_sync(object(), chat, max_tokens=3)  # type: ignore[arg-type]


def test_summarizer_rejects_an_object_without_acomplete() -> None:
    class SyncOnly:
        name = "sync"
        context_window = None

        def complete(self, messages: list[Message], *, max_tokens: int) -> Completion:
            return Completion("x")

    with pytest.raises(TypeError, match="acomplete"):
        summarizer.Summarizer(backend=SyncOnly()).run("Hi.")  # type: ignore[arg-type]
