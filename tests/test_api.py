"""The public surface of ``summarizer``: exported names, error tree, backend registry."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

import summarizer
from summarizer import errors

EXPECTED = {
    "Backend",
    "BackendConnectionError",
    "BackendError",
    "BackendHTTPError",
    "BackendResponseError",
    "BackendTimeout",
    "CacheInfo",
    "CallableBackend",
    "Chunk",
    "ChunkFailed",
    "Completion",
    "ContextLengthExceeded",
    "ContextWindowTooSmall",
    "DuplicateBackend",
    "EmptySummary",
    "ExtractiveBackend",
    "FakeBackend",
    "LoopThread",
    "MapReduceError",
    "Message",
    "MissingCredentials",
    "OpenAIBackend",
    "PartialSummary",
    "Plan",
    "ProgressEvent",
    "Prompts",
    "RateLimited",
    "ResponseCache",
    "RetryPolicy",
    "Summarizer",
    "SummarizerError",
    "SummaryDidNotFit",
    "SummaryResult",
    "SummaryStats",
    "Tokenizer",
    "UnknownBackend",
    "__version__",
    "asummarize",
    "available_backends",
    "complete_sync",
    "get_backend",
    "get_tokenizer",
    "parse_retry_after",
    "run_sync",
    "split_text",
    "summarize",
}


def test_exported_names() -> None:
    assert set(summarizer.__all__) == EXPECTED
    assert summarizer.__all__ == sorted(summarizer.__all__)
    for name in summarizer.__all__:
        assert getattr(summarizer, name) is not None
    assert summarizer.__version__.count(".") >= 2


def test_errors_module_exports_the_tree() -> None:
    assert set(errors.__all__) <= EXPECTED
    for name in errors.__all__:
        assert getattr(summarizer, name) is getattr(errors, name)
        assert issubclass(getattr(errors, name), errors.SummarizerError)
        assert name in errors.__doc__  # the tree is drawn in the docstring


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (errors.BackendError, errors.SummarizerError),
        (errors.BackendTimeout, errors.BackendError),
        (errors.BackendConnectionError, errors.BackendError),
        (errors.BackendHTTPError, errors.BackendError),
        (errors.RateLimited, errors.BackendHTTPError),
        (errors.ContextLengthExceeded, errors.BackendHTTPError),
        (errors.BackendResponseError, errors.BackendError),
        (errors.MissingCredentials, errors.BackendError),
        (errors.UnknownBackend, errors.SummarizerError),
        (errors.UnknownBackend, LookupError),
        (errors.ContextWindowTooSmall, errors.SummarizerError),
        (errors.DuplicateBackend, errors.SummarizerError),
        (errors.ChunkFailed, errors.MapReduceError),
        (errors.SummaryDidNotFit, errors.MapReduceError),
        (errors.EmptySummary, errors.MapReduceError),
        (errors.MapReduceError, errors.SummarizerError),
    ],
)
def test_error_tree(child: type, parent: type) -> None:
    assert issubclass(child, parent)


def test_builtin_backends_are_registered_like_third_party_ones() -> None:
    assert {"openai", "extractive", "fake"} <= set(summarizer.available_backends())
    fake = summarizer.get_backend("fake", context_window=1234)
    assert isinstance(fake, summarizer.FakeBackend) and fake.context_window == 1234
    assert isinstance(summarizer.get_backend("extractive"), summarizer.ExtractiveBackend)
    local = summarizer.get_backend(
        "openai", base_url="http://127.0.0.1:9/v1", model="m", context_window=1000
    )
    assert isinstance(local, summarizer.OpenAIBackend)
    for backend in (fake, local, summarizer.ExtractiveBackend()):
        assert isinstance(backend, summarizer.Backend)


def test_unknown_backend_lists_known_names() -> None:
    with pytest.raises(summarizer.UnknownBackend, match="known backends: .*extractive, fake"):
        summarizer.get_backend("nope")
    with pytest.raises(TypeError, match="does not accept the option"):
        summarizer.get_backend("extractive", api_key="k")


def test_third_party_backend_via_entry_point(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "echo_backend.py").write_text(
        textwrap.dedent(
            """
            from summarizer import Completion

            class EchoBackend:
                name = "echo"
                context_window = 4096

                def __init__(self, prefix=""):
                    self.prefix = prefix

                def complete(self, messages, *, max_tokens):
                    return Completion(self.prefix + messages[-1]["content"])

                async def acomplete(self, messages, *, max_tokens):
                    return self.complete(messages, max_tokens=max_tokens)
            """
        )
    )
    dist = tmp_path / "echo_backend-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[summarizer.backends]\necho = echo_backend:EchoBackend\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    try:
        assert "echo" in summarizer.available_backends()
        result = summarizer.summarize("Hello there.", backend="echo")
        assert result == "Hello there."
        backend = summarizer.get_backend("echo", prefix=">> ")
        assert summarizer.Summarizer(backend=backend).run("Hi.").summary == ">> Hi."
    finally:
        sys.modules.pop("echo_backend", None)


def test_summarizer_is_a_frozen_keyword_only_config() -> None:
    config = summarizer.Summarizer(backend="fake", concurrency=2)
    assert isinstance(config.backend, summarizer.FakeBackend)
    assert isinstance(config.tokenizer, summarizer.Tokenizer)
    with pytest.raises(AttributeError):
        config.concurrency = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        summarizer.Summarizer("fake")  # type: ignore[misc]


def test_default_backend_is_offline_extractive_unless_a_model_is_given(monkeypatch) -> None:
    from summarizer._engine import _build

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert _build({}).backend.name == "extractive"
    built = _build({"base_url": "http://127.0.0.1:9/v1", "model": "m"})
    assert isinstance(built.backend, summarizer.OpenAIBackend)
    with pytest.raises(summarizer.MissingCredentials):
        _build({"model": "gpt-4o-mini"})
