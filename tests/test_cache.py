"""The response cache: re-runs are free, failed runs resume, the file survives abuse."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from summarizer import ChunkFailed, Completion, Message, OpenAIBackend, ResponseCache, Summarizer

KEY = "sk-secret-do-not-store-0123456789"


def document(paragraphs: int = 40) -> str:
    return "\n\n".join(
        f"Paragraph MK{i:03d} opens here. " + "It goes on about harbours and lights. " * 12
        for i in range(paragraphs)
    )


class CountingBackend:
    """A model that compresses its input, counts calls and in-flight calls, and can fail."""

    name = "counting"
    context_window = 1024

    def __init__(self, *, fail_on: str | None = None, delay: float = 0.0) -> None:
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail_on = fail_on
        self.delay = delay

    async def acomplete(self, messages: list[Message], *, max_tokens: int) -> Completion:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            text = messages[-1]["content"]
            if self.fail_on and self.fail_on in text:
                raise RuntimeError("model exploded")
            words = [w for w in text.split() if w.startswith("MK")] or text.split()[:3]
            return Completion(text=" ".join(words[:20]))
        finally:
            self.in_flight -= 1


def test_second_identical_run_makes_no_call_and_gives_the_same_summary(
    openai_server, tmp_path: Path
) -> None:
    server = openai_server(context_window=1024)
    backend = OpenAIBackend(base_url=server.base_url, model=server.model, api_key=KEY)
    path = tmp_path / "responses.sqlite3"
    first = Summarizer(backend=backend, cache=path).run(document())
    made = len(server.chat_requests)
    assert made > 1 and first.stats.calls == made and first.stats.cached_calls == 0

    again = Summarizer(backend=backend, cache=path).run(document())
    assert len(server.chat_requests) == made  # zero new requests
    assert again.summary == first.summary
    assert again.stats.calls == 0 and again.stats.cached_calls == made
    assert again.stats.prompt_tokens == first.stats.prompt_tokens
    assert ResponseCache(path).info().entries == made

    # The key file never holds the API key, in any of its files.
    for file in tmp_path.iterdir():
        assert KEY.encode() not in file.read_bytes()


def test_a_different_option_or_model_is_a_different_key(openai_server, tmp_path: Path) -> None:
    server = openai_server(context_window=1024)
    path = tmp_path / "c.sqlite3"
    text = document(3)
    base = {"base_url": server.base_url, "model": server.model, "api_key": KEY}
    Summarizer(backend=OpenAIBackend(**base), cache=path).run(text)
    made = len(server.chat_requests)
    Summarizer(backend=OpenAIBackend(**base, temperature=0.5), cache=path).run(text)
    assert len(server.chat_requests) == 2 * made
    Summarizer(backend=OpenAIBackend(**base, extra_body={"seed": 1}), cache=path).run(text)
    assert len(server.chat_requests) == 3 * made
    Summarizer(backend=OpenAIBackend(**base), cache=path, target_tokens=100).run(text)
    assert len(server.chat_requests) > 3 * made
    # Another key does not change the answer: served from the cache.
    other_key = {**base, "api_key": "sk-another"}
    before = len(server.chat_requests)
    Summarizer(backend=OpenAIBackend(**other_key), cache=path).run(text)
    assert len(server.chat_requests) == before


def test_a_failed_run_resumes_with_only_the_missing_calls(openai_server, tmp_path: Path) -> None:
    server = openai_server(context_window=1024, fail_when_contains="MK025", fail_status=400)
    backend = OpenAIBackend(
        base_url=server.base_url, model=server.model, api_key=KEY, max_retries=0
    )
    path = tmp_path / "c.sqlite3"
    with pytest.raises(ChunkFailed) as failed:
        Summarizer(backend=backend, cache=path, concurrency=1).run(document())
    done = len(failed.value.partial)
    assert done >= 1
    first_requests = len(server.chat_requests)

    server.config.fail_when_contains = None
    result = Summarizer(backend=backend, cache=path, concurrency=1).run(document())
    assert result.stats.cached_calls == done
    # Only the calls that never finished were made again.
    assert len(server.chat_requests) - first_requests == result.stats.calls
    full = Summarizer(backend=backend, cache=tmp_path / "fresh.sqlite3").run(document())
    assert full.summary == result.summary
    assert full.stats.calls == result.stats.calls + result.stats.cached_calls


def test_offline_backends_are_not_cached_by_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    Summarizer(backend="extractive").run(document(5))
    Summarizer(backend="fake", cache=True).run(document(5))
    assert not (tmp_path / "llm-digest").exists()


def test_default_file_is_under_xdg_cache_home(openai_server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    server = openai_server()
    backend = OpenAIBackend(base_url=server.base_url, model=server.model, api_key=KEY)
    Summarizer(backend=backend).run("A short text. MK001 is here.")
    Summarizer(backend=backend, cache=False).run("A short text. MK001 is here.")
    Summarizer(backend=backend).run("A short text. MK001 is here.")
    assert len(server.chat_requests) == 2
    assert (tmp_path / "llm-digest" / "responses.sqlite3").is_file()


def test_eight_calls_in_flight_share_one_cache(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    backend = CountingBackend(delay=0.02)
    first = Summarizer(backend=backend, cache=path, concurrency=8).run(document(60))
    assert backend.max_in_flight == 8
    calls = backend.calls
    again = Summarizer(backend=backend, cache=path, concurrency=8).run(document(60))
    assert backend.calls == calls and again.summary == first.summary
    assert again.stats.cached_calls == first.stats.calls


def test_two_processes_write_one_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    script = textwrap.dedent(
        f"""
        import sys
        from summarizer import Completion
        from summarizer import ResponseCache
        cache = ResponseCache({str(path)!r})
        for i in range(300):
            cache.put(f"{{sys.argv[1]}}-{{i}}", Completion(text=f"answer {{i}}"))
            assert cache.get(f"{{sys.argv[1]}}-{{i}}").text == f"answer {{i}}"
        """
    )
    procs = [subprocess.Popen([sys.executable, "-W", "error", "-c", script, tag]) for tag in "ab"]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    cache = ResponseCache(path)
    assert cache.info().entries == 600
    assert cache.get("b-299") == Completion(text="answer 299")


def test_a_corrupt_file_is_set_aside_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database, a crash left it " * 100)
    cache = ResponseCache(path)
    with pytest.warns(RuntimeWarning, match="moved to .*corrupt"):
        assert cache.get("k") is None
    cache.put("k", Completion(text="ok"))
    assert cache.get("k") == Completion(text="ok")
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")


def test_a_run_on_a_corrupt_file_still_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"\0garbage" * 500)
    backend = CountingBackend()
    with pytest.warns(RuntimeWarning, match="not a readable database"):
        result = Summarizer(backend=backend, cache=path).run(document(5))
    assert result.stats.calls == backend.calls > 0


def test_info_and_clear(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "sub" / "c.sqlite3")
    assert cache.info().entries == 0 and cache.clear() == 0
    cache.put("a", Completion(text="x", prompt_tokens=3, completion_tokens=1, model="m"))
    cache.put("b", Completion(text="y"))
    info = cache.info()
    assert info.entries == 2 and info.size_bytes > 0 and "entries: 2" in str(info)
    assert cache.get("a") == Completion(text="x", prompt_tokens=3, completion_tokens=1, model="m")
    assert cache.clear() == 2 and cache.get("a") is None


def test_bad_cache_option_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cache must be a path, a ResponseCache"):
        Summarizer(backend=CountingBackend(), cache=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is a directory"):
        ResponseCache(tmp_path)


def test_overhead_per_call_is_small(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite3")
    started = time.perf_counter()
    for i in range(200):
        cache.put(f"k{i}", Completion(text="a summary " * 50))
        assert cache.get(f"k{i}") is not None
    assert (time.perf_counter() - started) / 200 < 0.05
    with sqlite3.connect(cache.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unwritable_cache_warns_and_the_run_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    backend = CountingBackend()
    with pytest.warns(RuntimeWarning, match="cannot be used"):
        result = Summarizer(backend=backend, cache=blocker / "c.sqlite3").run(document(5))
    assert result.stats.calls == backend.calls > 0 and result.stats.cached_calls == 0


def test_cli_rerun_is_free_and_failure_says_how_to_resume(
    openai_server, tmp_path: Path, capsys
) -> None:
    from summarizer import cli

    server = openai_server(context_window=1024, fail_when_contains="MK025", fail_status=400)
    doc = tmp_path / "doc.md"
    doc.write_text(document(), encoding="utf-8")
    cache = tmp_path / "cli.sqlite3"
    args = [str(doc), "--base-url", server.base_url, "--model", server.model]
    args += ["--api-key", KEY, "--max-retries", "0", "--cache", str(cache), "--concurrency", "1"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "to resume, run the same command again" in err and "are cached" in err

    server.config.fail_when_contains = None
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    made = len(server.chat_requests)
    assert cli.main(args) == 0
    assert capsys.readouterr().out == first and len(server.chat_requests) == made

    assert cli.main(["--cache-info", "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    assert str(cache) in out and "entries: " in out and "entries: 0" not in out
    assert cli.main(["--clear-cache", "--cache", str(cache)]) == 0
    assert "removed" in capsys.readouterr().err
    assert ResponseCache(cache).info().entries == 0

    assert cli.main([*args, "--no-cache"]) == 2
    assert "contradict" in capsys.readouterr().err
    args.remove("--cache")
    args.remove(str(cache))
    before = len(server.chat_requests)
    assert cli.main([*args, "--no-cache"]) == 0
    once = len(server.chat_requests) - before
    assert cli.main([*args, "--no-cache"]) == 0
    assert once > 1 and len(server.chat_requests) == before + 2 * once
