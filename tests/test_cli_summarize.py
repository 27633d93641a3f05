"""The ``summarize`` command: in-process for options and errors, and end to end as a
subprocess against a local OpenAI-compatible server (tests/openai_server.py)."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import markers, sectioned_text
from openai_server import compress

import summarizer
from summarizer import ProgressEvent, cli

ENV = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}


def run_cli(
    *args: str, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "summarizer", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=ENV,
    )


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(sectioned_text(12), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def set_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


# -- in-process: inputs, options, exit codes ---------------------------------------------


def test_file_summary_offline_by_default(doc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(doc), "--target-tokens", "60"]) == 0
    out, err = capsys.readouterr()
    assert (
        out.strip()
        and out.strip() in doc.read_text()
        or out.strip().split(".")[0] in (doc.read_text())
    )
    assert "summary by extractive" in err
    assert "\r" not in err  # no progress bar when stderr is not a terminal


def test_stdin_dash_and_json(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    set_stdin(monkeypatch, sectioned_text(3).encode())
    assert cli.main(["-", "--json", "--backend", "fake"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert set(data) == {"source", "summary", "stats"} and data["source"] == "<stdin>"
    assert data["stats"]["backend"] == "fake" and data["stats"]["calls"] == 1
    assert markers(data["summary"]) == markers(sectioned_text(3))
    assert "summary by fake" in err


def test_merge_joins_several_files_in_order(tmp_path: Path, capsys) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.md"
    first.write_text("Section MK001 first.", encoding="utf-8")
    second.write_bytes("Section MK002 second, caf\xe9.".encode("latin-1"))
    assert cli.main([str(first), str(second), "--merge", "--backend", "fake", "-q"]) == 0
    out, err = capsys.readouterr()
    assert markers(out) == ["MK001", "MK002"] and "café" in out
    assert err == ""


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: str(p / "missing.txt"), "(?i)no such file"),
        (lambda p: str(p), "is a directory with no file to summarize; pass --include"),
        (lambda p: (p / "empty.txt").write_text("  \n") and str(p / "empty.txt"), "empty"),
        (lambda p: (p / "b.bin").write_bytes(b"\x00\x01PDF") and str(p / "b.bin"), "not text"),
    ],
    ids=["missing", "directory", "empty", "binary"],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path: Path, capsys, setup, message) -> None:
    assert cli.main([setup(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert re.search(message, err) and err.startswith("summarize: error: ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "0"], "positive integer"),
        (["--target-tokens", "x"], "positive integer"),
        (["--backend", "nope"], "unknown backend 'nope'; known: extractive, fake, openai"),
        (["--backend", "extractive", "--api-key", "k"], "does not accept --api-key"),
        (["--model", "gpt-4o"], "No API key: pass --api-key or set OPENAI_API_KEY"),
        (["--context-window", "100", "--backend", "fake"], "too small"),
        (["--max-retries", "-1", "--model", "m", "--base-url", "http://x.test/v1"], ">= 0"),
        (["--base-url", "localhost:8000/v1"], "must start with http:// or https://"),
        (["--base-url", "http://[::1/v1"], "not a valid URL"),
        (["--base-url", "http://", "--model", "m"], "no host name"),
        (["--backend", "fake", "--target-tokens", "9000"], "use --target-tokens <="),
    ],
    ids=[
        "concurrency",
        "target",
        "unknown-backend",
        "option",
        "no-key",
        "window",
        "retries",
        "base-url-scheme",
        "base-url-invalid",
        "base-url-no-host",
        "target-over-window",
    ],
)
def test_usage_errors_exit_2(doc: Path, capsys, args, message) -> None:
    assert cli.main([str(doc), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_input_on_a_terminal_is_a_usage_error(monkeypatch, capsys) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Tty())
    assert cli.main([]) == 2
    assert "no input" in capsys.readouterr().err


def test_version_and_help(capsys) -> None:
    assert cli.main(["--version"]) == 0
    assert summarizer.__version__ in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in (
        "--model",
        "--base-url",
        "--api-key",
        "--backend",
        "--context-window",
        "--concurrency",
        "--instruction",
        "--language",
        "--target-tokens",
        "--max-tokens",
        "--json",
        "--estimate",
        "--traceback",
        "examples:",
    ):
        assert flag in out


def test_fit_mode_prints_input_unchanged_when_it_fits(doc: Path, capsys) -> None:
    assert cli.main([str(doc), "--max-tokens", "100000", "--backend", "fake"]) == 0
    out, err = capsys.readouterr()
    assert out == doc.read_text() + "\n"
    assert "unchanged" in err


def test_estimate_in_fit_mode_plans_the_fit(doc: Path, capsys) -> None:
    args = [str(doc), "--estimate", "--backend", "fake"]
    assert cli.main([*args, "--max-tokens", "100000"]) == 0
    assert "plan:            no call" in capsys.readouterr().out
    assert cli.main([*args, "--max-tokens", "50", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert plan["target_tokens"] == 50 and plan["calls"] >= 1


def test_max_levels_option(tmp_path: Path, capsys) -> None:
    path = tmp_path / "long.md"
    path.write_text(sectioned_text(60), encoding="utf-8")
    args = [str(path), "--backend", "fake", "--context-window", "600"]
    assert cli.main([*args, "--estimate", "--max-levels", "2"]) == 0
    assert "warning:         more than --max-levels 2 levels" in capsys.readouterr().out
    assert cli.main([*args, "--max-levels", "2"]) == 1
    err = capsys.readouterr().err
    assert "more than --max-levels 2: raise --max-levels," in err and "max_levels" not in err
    assert cli.main([*args, "--max-levels", "6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stats"]["levels"] > 2
    assert cli.main([*args, "--max-levels", "0"]) == 2


def test_ctrl_c_exits_130_cleanly(doc: Path, monkeypatch, capsys) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(summarizer.Summarizer, "run", interrupted)
    assert cli.main([str(doc)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


def test_unexpected_error_is_one_line_unless_traceback(doc: Path, monkeypatch, capsys) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(summarizer.Summarizer, "run", broken)
    assert cli.main([str(doc)]) == 1
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: kaboom" in err and "Traceback" not in err
    assert cli.main([str(doc), "--traceback"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_progress_bar_draws_only_for_multi_call_runs() -> None:
    stream = io.StringIO()
    bar = cli._ProgressBar(stream)
    bar(ProgressEvent(level=1, done=0, total=1, calls=0, planned_calls=1))
    assert stream.getvalue() == ""
    bar(ProgressEvent(level=1, done=2, total=4, calls=2, planned_calls=5))
    assert stream.getvalue().startswith("\rsummarize: [") and "2/4" in stream.getvalue()
    bar.clear()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_read_input_is_the_one_input_seam(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes("\ufeffHello".encode())
    assert cli.read_input(str(path)) == "Hello"
    with pytest.raises(cli.InputError, match="(?i)no such file"):
        cli.read_input(str(tmp_path / "nope"))


# -- end to end: subprocess against a real local OpenAI-compatible server ----------------


def test_end_to_end_against_local_server(openai_server, tmp_path: Path) -> None:
    server = openai_server(context_window=1024, latency=0.05, model="local-llm")
    text = sectioned_text(60)
    path = tmp_path / "long.md"
    path.write_text(text, encoding="utf-8")
    proc = run_cli(
        str(path),
        "--base-url", server.base_url,
        "--model", "local-llm",
        "--target-tokens", "400",
        "--concurrency", "4",
        "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(proc.stdout)
    # the window came from GET /v1/models (max_model_len), no --context-window given
    assert data["stats"]["context_window"] == 1024
    assert server.violations == []  # every request fit the declared window
    chat = server.chat_requests
    assert all(r.prompt_tokens + r.max_tokens <= 1024 for r in chat)
    assert data["stats"]["calls"] == len(chat) > 3
    assert server.max_in_flight > 1  # map calls ran concurrently
    assert server.max_in_flight <= 4
    assert markers(data["summary"]) == markers(text)  # every part, in order
    assert data["stats"]["prompt_tokens"] == sum(r.prompt_tokens for r in chat)  # server usage
    assert data["stats"]["model"] == "local-llm"
    assert f"summary by openai:local-llm at {server.base_url}" in proc.stderr.decode()


def test_empty_partial_summary_is_reported_on_stderr(
    openai_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def reply(text: str) -> str:  # the model says nothing about the part holding MK005
        return "" if "MK005" in text else compress(text, r"\bMK\d{3}\b")

    server = openai_server(context_window=1024, reply=reply)
    path = tmp_path / "long.md"
    path.write_text(sectioned_text(30), encoding="utf-8")
    args = [str(path), "--base-url", server.base_url, "--model", server.model]
    assert cli.main(args) == 0
    out, err = capsys.readouterr()
    assert "MK005" not in out and "MK029" in out  # the rest is summarized
    assert re.search(r"warning: level 1 request \d+/\d+ \(characters \d+-\d+ of the input\) "
                     r"returned an empty summary", err)  # fmt: skip
    assert "; 1 call(s) returned an empty summary" in err
    assert cli.main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_end_to_end_estimate_makes_no_call(openai_server, doc: Path) -> None:
    server = openai_server(context_window=600)
    proc = run_cli(str(doc), "--base-url", server.base_url, "--model", "fake-model", "--estimate")
    assert proc.returncode == 0, proc.stderr.decode()
    assert "context window:  600" in proc.stdout.decode()
    assert "calls:" in proc.stdout.decode()
    assert server.chat_requests == []


def test_end_to_end_retry_then_success(openai_server, doc: Path) -> None:
    server = openai_server(fail_requests={1: 503}, retry_after="0")
    proc = run_cli(str(doc), "--base-url", server.base_url, "--model", "fake-model")
    assert proc.returncode == 0, proc.stderr.decode()
    assert [r.status for r in server.chat_requests] == [503, 200]
    assert markers(proc.stdout.decode()) == markers(doc.read_text())


def test_end_to_end_failure_names_the_chunk(openai_server, tmp_path: Path) -> None:
    server = openai_server(context_window=1024, fail_when_contains="MK031", retry_after="0")
    path = tmp_path / "long.md"
    text = sectioned_text(60)
    path.write_text(text, encoding="utf-8")
    proc = run_cli(
        str(path), "--base-url", server.base_url, "--model", "fake-model", "--max-retries", "1"
    )
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert "at level 1 (characters " in err and "failed: BackendHTTPError" in err
    assert "500" in err and "Traceback" not in err
    start, end = map(int, err.split("(characters ")[1].split(" ")[0].split("-"))
    assert start <= text.index("MK031") < end
    failing = [r for r in server.chat_requests if r.status == 500]
    assert len(failing) == 2  # tried, retried once, then gave up


def test_end_to_end_sigint_exits_130(openai_server, doc: Path) -> None:
    server = openai_server(latency=5.0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "summarizer", str(doc), "--base-url", server.base_url,
         "--model", "fake-model"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not server.chat_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err.decode()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()


def test_console_script_is_installed(doc: Path) -> None:
    script = Path(sys.executable).parent / "summarize"
    proc = subprocess.run(
        [str(script), str(doc), "--backend", "fake", "-q"], capture_output=True, timeout=60, env=ENV
    )
    assert proc.returncode == 0, proc.stderr.decode()
    # the default fake backend echoes its input, cut at the 512-token target
    assert proc.stdout.decode().startswith("Section MK000 opens here.")


# -- one summary per input, folders, URL lists, output files -----------------------------


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "a.md", tmp_path / "b.txt"
    first.write_text("Section MK001 first.", encoding="utf-8")
    second.write_text("Section MK002 second.", encoding="utf-8")
    return first, second


def test_several_inputs_get_one_summary_each_headed_by_name(two_files, capsys) -> None:
    first, second = two_files
    assert cli.main([str(first), str(second), "--backend", "fake"]) == 0
    out, err = capsys.readouterr()
    head_a, head_b = out.index(f"==> {first} <=="), out.index(f"==> {second} <==")
    assert head_a < out.index("MK001") < head_b < out.index("MK002")
    assert f"{first}: summary by fake" in err and f"{second}: summary by fake" in err


def test_json_lines_one_object_per_input_naming_its_source(two_files, capsys) -> None:
    first, second = two_files
    assert cli.main([str(first), str(second), "--json", "--backend", "fake", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["source"] for r in records] == [str(first), str(second)]
    assert markers(records[0]["summary"]) == ["MK001"]
    assert markers(records[1]["summary"]) == ["MK002"]


def test_output_dir_writes_one_file_per_input(two_files, tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "out"
    first, second = two_files
    assert cli.main([str(first), str(second), "-o", str(out_dir), "--backend", "fake"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.md", "b.md"]
    assert markers((out_dir / "a.md").read_text()) == ["MK001"]
    assert markers((out_dir / "b.md").read_text()) == ["MK002"]
    assert f"{first} -> {out_dir / 'a.md'}" in err


def test_folder_input_with_include_and_exclude(tmp_path: Path, capsys) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "one.md").write_text("MK001 one.", encoding="utf-8")
    (docs / "sub" / "two.md").write_text("MK002 two.", encoding="utf-8")
    (docs / "skip.txt").write_text("MK003 skip.", encoding="utf-8")
    (docs / "image.png").write_bytes(b"\x89PNG\x00")
    (docs / ".hidden.md").write_text("MK004 hidden.", encoding="utf-8")
    assert cli.main([str(docs), "--json", "--backend", "fake", "-q"]) == 0
    found = [json.loads(line)["source"] for line in capsys.readouterr().out.splitlines()]
    assert [Path(s).name for s in found] == ["one.md", "skip.txt", "two.md"]
    assert cli.main([str(docs), "--include", "*.md", "--exclude", "sub/*", "--json",
                     "--backend", "fake", "-q"]) == 0
    found = [json.loads(line)["source"] for line in capsys.readouterr().out.splitlines()]
    assert [Path(s).name for s in found] == ["one.md"]
    assert cli.main([str(tmp_path / "docs" / "*.txt"), "--backend", "fake", "-q"]) == 0
    assert markers(capsys.readouterr().out) == ["MK003"]


def test_one_failing_input_does_not_stop_the_others(two_files, tmp_path: Path, capsys) -> None:
    first, second = two_files
    missing = tmp_path / "missing.md"
    assert cli.main([str(first), str(missing), str(second), "--backend", "fake"]) == 1
    out, err = capsys.readouterr()
    assert markers(out) == ["MK001", "MK002"]
    assert re.search(rf"summarize: error: .*{re.escape(str(missing))}", err)
    assert f"1 of 3 input(s) failed: {missing}" in err


class _Pages(ThreadingHTTPServer):
    daemon_threads = True


def _page_server(delay: float = 0.0) -> _Pages:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            body = (
                f"<html><head><title>T</title></head><body><article><h1>Page</h1>"
                f"<p>The page at {self.path} says MK00{self.path[-1]} in a full sentence "
                "that is long enough to count as the main content of this page.</p>"
                "</article></body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = _Pages(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_url_list_file(tmp_path: Path, capsys) -> None:
    server = _page_server()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        urls = tmp_path / "urls.txt"
        urls.write_text(f"# pages\n{base}/p1\n\n{base}/p2\n", encoding="utf-8")
        assert cli.main(["-u", str(urls), "--allow-private", "--json", "--backend", "fake",
                         "-q"]) == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["source"] for r in records] == [f"{base}/p1", f"{base}/p2"]
        assert markers(records[0]["summary"]) == ["MK001"]
    finally:
        server.shutdown()
        server.server_close()
    empty = tmp_path / "none.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    assert cli.main(["-u", str(empty)]) == 2
    assert "holds no URL" in capsys.readouterr().err


def test_timeout_covers_fetching_urls(capsys) -> None:
    server = _page_server(delay=4.0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/p1"
        started = time.monotonic()
        assert cli.main([url, "--allow-private", "--timeout", "0.5"]) == 1
        assert time.monotonic() - started < 3.0
        err = capsys.readouterr().err
        assert url in err and "timeout=" not in err
    finally:
        server.shutdown()
        server.server_close()


def test_openai_env_selects_the_openai_backend(doc: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert cli.main([str(doc), "--estimate", "--context-window", "8192"]) == 0
    assert "openai" in capsys.readouterr().out.lower()
    # an explicit option still wins
    assert cli.main([str(doc), "--estimate", "--backend", "extractive"]) == 0
    assert "openai" not in capsys.readouterr().out.lower()


def test_third_party_warnings_are_not_printed(tmp_path: Path) -> None:
    from _pdfs import make_pdf

    data = make_pdf(["Page one has a sentence about lighthouses and keepers at night."])
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: data.rindex(b"%%EOF")] + b"%%EO\n")  # pypdf warns: EOF marker
    done = run_cli(str(path), timeout=30)
    assert done.returncode == 0 and b"lighthouses" in done.stdout
    assert b"EOF marker" not in done.stderr
    assert done.stderr.decode().startswith("summarize: summary by extractive")


def test_allow_host_admits_one_loopback_host(capsys) -> None:
    server = _page_server()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/p1"
        assert cli.main([url, "--backend", "fake", "-q"]) == 1
        err = capsys.readouterr().err
        assert url in err and "--allow-host" in err and "allowed_hosts" not in err
        assert "allow_private=True" not in err
        assert cli.main([url, "--allow-host", "127.0.0.0/8", "--backend", "fake", "-q"]) == 0
        assert markers(capsys.readouterr().out) == ["MK001"]
    finally:
        server.shutdown()
        server.server_close()


def test_estimate_against_an_unreachable_server_says_the_window_is_a_guess(
    doc: Path, capsys
) -> None:
    base = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    assert cli.main([str(doc), "--estimate", "--base-url", base, "--model", "my-model"]) == 0
    out, err = capsys.readouterr()
    assert "context window:  8192" in out
    assert "warning: the context window is a guess: 8192 tokens" in err
    assert "my-model" in err and f"{base}/models" in err and "--context-window" in err
    assert cli.main([str(doc), "--estimate", "--base-url", base, "--model", "my-model",
                     "--context-window", "4096"]) == 0
    assert "guess" not in capsys.readouterr().err


def test_verbose_progress_off_a_terminal_is_throttled(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "long.md"
    path.write_text(sectioned_text(60), encoding="utf-8")
    args = [str(path), "--backend", "fake", "--context-window", "600"]
    assert cli.main(args) == 0
    assert "progress:" not in capsys.readouterr().err  # only with -v
    assert cli.main([*args, "-v"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "progress:" in line]
    assert len(lines) == 1 and "level 1 (map) 0/16" in lines[0]  # a fast run: the first only
    monkeypatch.setattr(cli._ProgressLines, "INTERVAL", 0.0)  # every event once due
    assert cli.main([*args, "-v"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "progress:" in line]
    assert len(lines) > 16 and "call(s) done" in lines[-1] and "\r" not in "".join(lines)


def test_several_inputs_run_concurrently_within_the_call_limit(
    openai_server, tmp_path: Path
) -> None:
    server = openai_server(context_window=4096, latency=0.3, model="local-llm")
    paths = []
    for n in range(6):
        path = tmp_path / f"doc{n}.md"
        path.write_text(f"Section MK00{n} opens here. It says one thing.", encoding="utf-8")
        paths.append(str(path))
    proc = run_cli(*paths, "--base-url", server.base_url, "--model", "local-llm",
                   "--concurrency", "2", "--json", "-q")
    assert proc.returncode == 0, proc.stderr.decode()
    records = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["source"] for r in records] == paths  # printed in input order
    assert len(server.chat_requests) == 6
    assert server.max_in_flight == 2  # two inputs at once, never more than --concurrency
