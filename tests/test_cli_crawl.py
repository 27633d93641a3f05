"""Tests for the ``crawl`` command: outputs, files, exit codes (in-process and subprocesses)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from site_server import Site

from crawler.cli import main, safe_filename
from summarizer._tokens import get_tokenizer

ARTICLE = (
    "<html><head><title>Lighthouse Keeping</title><meta name='author' content='Grace Beam'>"
    "</head><body><article><h1>Lighthouse Keeping</h1>{body}{links}</article></body></html>"
)
PARAGRAPH = (
    "<p>On night {n} the keeper trims the wick at dusk, winds the clockwork that turns the "
    "lens, and writes the weather into the log every four hours until the sun rises.</p>"
)


def _article(paragraphs: int = 3, links: tuple[str, ...] = ()) -> str:
    anchors = "".join(f'<p><a href="{href}">{href}</a></p>' for href in links)
    body = "".join(PARAGRAPH.format(n=n) for n in range(paragraphs))
    return ARTICLE.format(body=body, links=anchors)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as server:
        server.add("/", _article(links=("/one", "/two", "/missing")))
        server.add("/one", _article(2, links=("/two",)))
        server.add("/two", _article(2))
        server.add("/long", _article(80))
        server.add("/robots.txt", "User-agent: *\nDisallow:\n", content_type="text/plain")
        yield server


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_one_page_prints_llm_ready_text(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([site.url("/"), "--allow-private"], capsys)
    assert code == 0 and err == ""
    assert out.startswith("TITLE: Lighthouse Keeping\nAUTHOR: Grace Beam\nURL: ")
    assert "PUBLISHED" not in out and "None" not in out
    assert "the keeper trims the wick" in out


def test_json_and_html_formats(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([site.url("/"), "--allow-private", "--format", "json"], capsys)
    assert code == 0
    record = json.loads(out)
    assert record["url"] == record["final_url"] == site.url("/")
    assert record["title"] == "Lighthouse Keeping" and record["author"] == "Grace Beam"
    assert record["date"] is None and "keeper trims" in record["text"]
    code, out, _ = run([site.url("/"), "--allow-private", "-f", "html"], capsys)
    assert code == 0 and out.startswith("<html><head><title>Lighthouse Keeping")


def test_paging_flags(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [site.url("/long"), "--allow-private", "--max-tokens", "300", "--page", "2"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert get_tokenizer(None).count(out.rstrip("\n")) <= 300
    assert "Run again with --page 3 for more.]" in out
    code, _, err = run([*argv[:-1], "500"], capsys)
    assert code == 2 and "crawl: error: --page 500 is out of range" in err
    assert "at --max-tokens 300 " in err and "pass --page 1.." in err and "page=" not in err


def test_user_agent_flag(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run([site.url("/two"), "--allow-private", "-u", "CliBot/3.1"], capsys)
    assert code == 0 and site.requests[-1].headers["User-Agent"] == "CliBot/3.1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-pages", "0"], "--max-pages must be >= 1"),
        (["--page", "2"], "--page needs --max-tokens"),
        (["--max-tokens", "100", "--format", "json"], "--max-tokens applies to one page"),
        (["--max-tokens", "100", "--max-pages", "3"], "--max-tokens applies to one page"),
        (["--timeout", "0"], "--timeout must be > 0"),
        (["--format", "pdf"], "invalid choice"),
        (["--respect-robots", "--ignore-robots"], "not allowed with"),
        (["--bogus"], "unrecognized arguments"),
    ],
    ids=["max-pages", "page", "tokens-json", "tokens-crawl", "timeout", "format", "robots", "flag"],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["https://example.org/", *argv], capsys)
    assert code == 2 and out == ""
    assert message in err and "usage: crawl" in err


def test_failures_exit_1_with_one_line(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([site.url("/missing"), "--allow-private"], capsys)
    assert code == 1 and out == ""
    assert err.startswith("crawl: error: ") and "404" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    code, _, err = run([site.url("/")], capsys)  # loopback without --allow-private
    assert code == 1 and "--allow-private" in err and err.count("\n") == 1
    code, _, err = run(["ftp://example.org/x"], capsys)
    assert code == 1 and "ftp" in err and err.count("\n") == 1
    code, _, err = run([site.url("/missing"), "--allow-private", "--traceback"], capsys)
    assert code == 1 and "Traceback (most recent call last)" in err


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("crawl ")
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "--max-pages" in out and "examples:" in out


def test_stdin_document(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _article(2).encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run(["-"], capsys)
    assert code == 0 and out.startswith("TITLE: Lighthouse Keeping\nAUTHOR: Grace Beam\n\n")


def test_crawl_prints_json_lines(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [site.url("/"), "--allow-private", "--max-pages", "10", "--delay", "0"]
    code, out, err = run([*argv, "--concurrency", "1"], capsys)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    by_url = {record["url"]: record for record in records}
    assert records[0]["url"] == site.url("/") and len(records) == 4
    assert set(by_url) == {site.url(p) for p in ("/", "/one", "/two", "/missing")}
    assert records[0]["title"] == "Lighthouse Keeping" and "keeper trims" in records[0]["text"]
    missing = by_url[site.url("/missing")]
    assert missing["error_type"] == "HTTPStatusError" and "text" not in missing
    assert missing["referrer"] == site.url("/")
    assert f"crawl: warning: {site.url('/missing')}" in err
    assert "3 page(s) read, 1 failed" in err


def test_crawl_writes_files_and_index(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "site"
    argv = [site.url("/"), "--allow-private", "-n", "10", "--delay", "0", "-o", str(out_dir)]
    code, out, err = run([*argv, "--exclude", "/missing"], capsys)
    assert code == 0 and out == ""
    index = [json.loads(line) for line in (out_dir / "index.jsonl").read_text().splitlines()]
    assert {record["url"] for record in index} == {site.url(p) for p in ("/", "/one", "/two")}
    for record in index:
        text = (out_dir / record["file"]).read_text(encoding="utf-8")
        assert text.startswith("TITLE: Lighthouse Keeping\n")
        assert record["file"].endswith(".md") and "/" not in record["file"]
    assert f"into {out_dir}" in err


def test_html_format_keeps_bodies_raw(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Site() as site:
        site.add("/", _article(links=("/report.pdf",)))
        site.add("/report.pdf", b"%PDF-1.4 truncated", content_type="application/pdf")
        argv = [site.url("/"), "--allow-private", "-n", "5", "--delay", "0", "-f", "html"]
        code, _, err = run([*argv, "-o", str(tmp_path)], capsys)
        assert code == 0 and "EOF marker" not in err  # pypdf's own logging stays quiet
        files = sorted(p.name for p in tmp_path.iterdir())
        assert [Path(f).suffix for f in files] == [".html", ".pdf", ".jsonl"]
        pdf = next(tmp_path.glob("*.pdf"))
        assert pdf.read_bytes() == b"%PDF-1.4 truncated"
        code, out, err = run([site.url("/report.pdf"), "--allow-private", "-f", "html"], capsys)
        assert code == 1 and out == "" and "not HTML or text" in err


def test_unwritable_output_dir_exits_1_before_crawling(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    before = len(site.requests)
    code, out, err = run([site.url("/"), "--allow-private", "-o", str(blocker / "sub")], capsys)
    assert code == 1 and out == ""
    assert err.startswith("crawl: error: cannot write into --output-dir ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert len(site.requests) == before


def test_crawl_all_pages_failed_exits_1(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [site.url("/missing"), "--allow-private", "-n", "5", "--no-sitemap"]
    code, out, err = run(argv, capsys)
    assert code == 1
    assert json.loads(out)["error_type"] == "HTTPStatusError"
    assert "crawl: error: no page could be read" in err


def test_safe_filename() -> None:
    name = safe_filename("https://example.org/a/../../etc/passwd?x=<1>", ".md")
    assert "/" not in name and not name.startswith(".") and name.endswith(".md")
    assert safe_filename("https://example.org/a", ".md") != safe_filename(
        "https://example.org/A", ".md"
    )
    long = safe_filename("https://example.org/" + "x" * 500, ".txt")
    assert len(long) < 110


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return env


def test_subprocess_run(site: Site) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", site.url("/one"), "--allow-private", "-f", "text"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("TITLE: Lighthouse Keeping\n") and proc.stderr == ""
    failed = subprocess.run(
        [sys.executable, "-m", "crawler", "https://127.0.0.1:1/"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert failed.returncode == 1 and failed.stderr.startswith("crawl: error: ")
    assert "Traceback" not in failed.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_exits_130() -> None:
    with Site() as slow:
        slow.add("/", _article(links=tuple(f"/s{i}" for i in range(10))))
        for i in range(10):
            slow.add(f"/s{i}", _article(1), delay=30.0)  # daemon handler threads: no wait at exit
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", slow.url("/"), "--allow-private", "-n", "20",
             "--delay", "0", "--no-sitemap"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the start page is out; the slow pages are in flight
        deadline = time.monotonic() + 30
        while not any(p.startswith("/s") for p in slow.paths()) and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        # did not wait for the 30 s pages (the margin absorbs a loaded CI machine)
        assert time.monotonic() - started < 15
    assert proc.returncode == 130, err
    assert "crawl: interrupted" in err and "Traceback" not in err
    assert json.loads(first)["url"] == slow.url("/") and out == ""


def test_allow_host_admits_one_loopback_host(site: Site, capsys) -> None:
    code, _, err = run([site.url("/")], capsys)
    assert code == 1 and "--allow-host" in err
    assert "allowed_hosts" not in err and "allow_private=True" not in err
    code, out, err = run([site.url("/"), "--allow-host", "127.0.0.1"], capsys)
    assert code == 0 and "the keeper trims the wick" in out
    code, out, err = run([site.url("/"), "--allow-host", "10.0.0.0/8"], capsys)
    assert code == 1 and out == ""


def test_local_file_and_folder_read_as_summarize_reads_them(tmp_path: Path, capsys) -> None:
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "article1.html").write_text(_article(2), encoding="utf-8")
    (site_dir / "notes.md").write_text("# Notes\n\nMK001 decided.\n", encoding="utf-8")
    code, out, err = run([str(site_dir / "article1.html")], capsys)
    assert code == 0 and err == ""
    assert out.startswith("TITLE: Lighthouse Keeping") and "the keeper trims the wick" in out
    assert "only http and https" not in out
    code, out, err = run([str(site_dir / "article1.html"), "-f", "json"], capsys)
    record = json.loads(out)
    assert record["kind"] == "html" and record["url"] == str(site_dir / "article1.html")
    code, out, err = run([str(site_dir)], capsys)
    assert code == 0 and "2 file(s) read, 0 failed" in err
    records = [json.loads(line) for line in out.splitlines()]
    assert [Path(r["url"]).name for r in records] == ["article1.html", "notes.md"]
    assert "MK001 decided." in records[1]["text"]
    code, out, err = run([str(site_dir / "article1.html"), "-f", "html"], capsys)
    assert code == 2 and "use markdown, text or json" in err
