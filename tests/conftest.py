"""Shared fixtures: fake model behaviours and a local OpenAI-compatible server."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openai_server import FakeOpenAIServer, compress

from summarizer import Message

# The response cache never goes into the real home cache, not even from a CLI subprocess
# (they inherit this environment); each test also gets a fresh one (fixture below).
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="llm-digest-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)

MARKER = re.compile(r"\bMK\d{3}\b")


def last_user(messages: list[Message]) -> str:
    """The text the engine asked to summarize."""
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def echo_model(messages: list[Message], max_tokens: int) -> str:
    """Returns its input unchanged."""
    return last_user(messages)


def doubling_model(messages: list[Message], max_tokens: int) -> str:
    """Returns its input twice: grows instead of shrinking."""
    text = last_user(messages)
    return f"{text}\n\n{text}"


def empty_model(messages: list[Message], max_tokens: int) -> str:
    """Returns nothing."""
    return ""


def failing_model(messages: list[Message], max_tokens: int) -> str:
    """Always raises."""
    raise RuntimeError("model exploded")


def compress_model(messages: list[Message], max_tokens: int) -> str:
    """First sentence of each paragraph plus marker words: keeps every MKnnn marker."""
    return compress(last_user(messages), r"\bMK\d{3}\b")


def sectioned_text(sections: int, sentences: int = 12, seed: int = 0) -> str:
    """Paragraphs each led by a unique marker word MK000, MK001, ... in order."""
    words = "alpha beta gamma delta river stone cloud paper engine garden window signal".split()
    paragraphs = []
    for i in range(sections):
        body = " ".join(
            f"The {words[(i + j + seed) % 12]} {words[(i * 7 + j) % 12]} moved {j} times."
            for j in range(sentences)
        )
        paragraphs.append(f"Section MK{i:03d} opens here. {body}")
    return "\n\n".join(paragraphs)


def markers(text: str) -> list[str]:
    """Marker words of a text, in order."""
    return MARKER.findall(text)


@pytest.fixture(autouse=True)
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """No test writes the response cache into the real home cache directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))


@pytest.fixture
def openai_server() -> Iterator[Callable[..., FakeOpenAIServer]]:
    """Factory: ``openai_server(**options)`` starts a FakeOpenAIServer, stopped after the test."""
    started: list[FakeOpenAIServer] = []

    def start(**options: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
