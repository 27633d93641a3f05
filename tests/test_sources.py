"""Tests for crawler._sources.read_source and the inputs of the ``summarize`` CLI."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from _pdfs import make_pdf

from crawler._extract import PDF_PAGE_MARKER
from crawler._sources import Source, read_source
from crawler.errors import (
    BlockedAddress,
    ExtractionError,
    HTTPStatusError,
    InvalidURL,
    UnsupportedContentType,
)

PUBLIC_IP = "93.184.216.34"

PAGE_HTML = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    "<title>Lighthouse keepers | Coast Weekly</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/shop'>Shop</a></nav><article><h1>Lighthouse keepers</h1>"
    + "".join(
        f"<p>Paragraph {i}: lighthouse keepers trimmed the wicks every night, logged the "
        "weather, and rowed supplies across the harbour when storms cut the island off.</p>"
        for i in range(5)
    )
    + "</article><footer>Copyright Coast Weekly</footer></body></html>"
)


def write(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("name", ["page.html", "page.htm", "PAGE.HTML", "page.xhtml"])
def test_html_file_gives_main_content_as_markdown(tmp_path: Path, name: str) -> None:
    source = read_source(write(tmp_path, name, PAGE_HTML))
    assert source.kind == "html"
    assert source.title is not None and "Lighthouse keepers" in source.title
    assert "# Lighthouse keepers" in source.text
    assert "rowed supplies across the harbour" in source.text
    assert "Shop" not in source.text
    assert source.origin.endswith(name)


def test_pdf_file_gives_text_per_page(tmp_path: Path) -> None:
    pdf = make_pdf(["Keepers logged the weather", "Supplies came by boat"], title="Logbook")
    source = read_source(write(tmp_path, "log.pdf", pdf))
    assert source == Source(
        text="Keepers logged the weather" + PDF_PAGE_MARKER.format(number=2)
        + "Supplies came by boat",
        origin=str(tmp_path / "log.pdf"),
        kind="pdf",
        title="Logbook",
    )


def test_pdf_without_extension_is_sniffed(tmp_path: Path) -> None:
    source = read_source(write(tmp_path, "download", make_pdf(["Sniffed PDF"])))
    assert (source.kind, source.text) == ("pdf", "Sniffed PDF")


def test_html_without_extension_is_sniffed(tmp_path: Path) -> None:
    source = read_source(write(tmp_path, "saved-page", PAGE_HTML))
    assert source.kind == "html"
    assert "<p>" not in source.text


@pytest.mark.parametrize("name", ["notes.txt", "data.json", "notes"])
def test_text_files_are_returned_as_they_are(tmp_path: Path, name: str) -> None:
    content = '\ufeff{"keep": "<b>markup</b> as is"}\r\nsecond line\r\n'
    source = read_source(write(tmp_path, name, content))
    assert source == Source(
        text='{"keep": "<b>markup</b> as is"}\nsecond line', origin=str(tmp_path / name),
        kind="text", title=None,
    )


def test_text_file_holding_a_page_stays_text(tmp_path: Path) -> None:
    assert read_source(write(tmp_path, "page-source.txt", PAGE_HTML)).text == PAGE_HTML


def test_markdown_file(tmp_path: Path) -> None:
    source = read_source(write(tmp_path, "README.md", "# Harbour guide\n\nBoats *moor* here.\n"))
    assert source == Source(text="# Harbour guide\n\nBoats *moor* here.",
                            origin=str(tmp_path / "README.md"), kind="markdown",
                            title="Harbour guide")


def test_non_utf8_text_file_is_decoded(tmp_path: Path) -> None:
    text = "Le gardien du phare notait la météo chaque soir à côté de la lampe."
    assert read_source(write(tmp_path, "fr.txt", text.encode("cp1252"))).text == text


@pytest.mark.parametrize(
    ("name", "data", "named"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        ("archive.txt", b"PK\x03\x04\x14\x00\x00\x00" + bytes(30), "application/zip"),
        ("blob", bytes(range(256)), "application/octet-stream"),
    ],
)
def test_binary_files_are_unsupported(tmp_path: Path, name: str, data: bytes, named: str) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(UnsupportedContentType, match=f"Cannot read {path}: .*{named}") as info:
        read_source(path)
    assert "HTML or PDF file" in str(info.value)


@pytest.mark.parametrize("name", ["empty.txt", "blank.md", "empty.html"])
def test_empty_files_are_extraction_errors_naming_the_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, " \n\n ")
    with pytest.raises(ExtractionError, match=f"Cannot read {path}: .*no text"):
        read_source(path)


def test_scanned_pdf_file_needs_ocr(tmp_path: Path) -> None:
    path = write(tmp_path, "scan.pdf", make_pdf([""]))
    with pytest.raises(ExtractionError, match="scan.pdf: .*no text layer"):
        read_source(path)


def test_missing_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="No such file: .*nope.txt; pass a text") as info:
        read_source(missing)
    assert "https://" not in str(info.value)


def test_missing_file_that_looks_like_a_host_hints_at_a_url() -> None:
    with pytest.raises(FileNotFoundError, match=r"pass a URL: https://example\.com/news"):
        read_source("example.com/news")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a directory"):
        read_source(str(tmp_path))


def test_file_url(tmp_path: Path) -> None:
    path = tmp_path / "with space.md"
    path.write_text("# T\n\nbody")
    assert read_source(path.as_uri()).text == "# T\n\nbody"


@pytest.mark.parametrize("arg", ["ftp://example.org/file.txt", "gopher://x/", "file://host/x"])
def test_other_url_schemes_are_invalid(arg: str) -> None:
    with pytest.raises(InvalidURL, match="http\\(s\\) URL"):
        read_source(arg)


def test_arg_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="arg must be a str"):
        read_source(Path("x"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- stdin


@pytest.mark.parametrize(
    ("data", "kind", "expected"),
    [
        (b"plain words from a pipe\n", "text", "plain words from a pipe"),
        (PAGE_HTML.encode(), "html", "rowed supplies across the harbour"),
        (make_pdf(["piped pdf"]), "pdf", "piped pdf"),
    ],
    ids=["text", "html", "pdf"],
)
def test_stdin_is_sniffed(data: bytes, kind: str, expected: str) -> None:
    source = read_source("-", stdin=io.BytesIO(data))
    assert source.kind == kind
    assert source.origin == "<stdin>"
    assert expected in source.text


def test_empty_stdin() -> None:
    with pytest.raises(ExtractionError, match="Cannot read <stdin>: .*no text"):
        read_source("-", stdin=io.BytesIO(b""))


# --------------------------------------------------------------------------- URLs


def public(host: str) -> list[str]:
    return [PUBLIC_IP]


def site(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/old":
        return httpx.Response(301, headers={"location": "/article"})
    if path == "/article":
        return httpx.Response(200, headers={"content-type": "text/html; charset=utf-8"},
                              content=PAGE_HTML.encode())
    if path == "/paper.pdf":
        return httpx.Response(200, headers={"content-type": "application/pdf"},
                              content=make_pdf(["Remote paper text"], title="Paper"))
    if path == "/ua":
        agent = request.headers.get("user-agent", "")
        return httpx.Response(200, headers={"content-type": "text/plain"}, content=agent.encode())
    if path == "/logo.png":
        return httpx.Response(200, headers={"content-type": "image/png"}, content=b"\x89PNG")
    return httpx.Response(404, content=b"not here")


TRANSPORT = httpx.MockTransport(site)


def test_url_gives_markdown_and_final_url() -> None:
    source = read_source("https://example.org/old", transport=TRANSPORT, resolver=public)
    assert source.kind == "url"
    assert source.origin == "https://example.org/article"
    assert source.title is not None and "Lighthouse keepers" in source.title
    assert "# Lighthouse keepers" in source.text
    assert "Shop" not in source.text


def test_url_to_a_pdf() -> None:
    source = read_source("https://example.org/paper.pdf", transport=TRANSPORT, resolver=public)
    assert (source.kind, source.text, source.title) == ("url", "Remote paper text", "Paper")


def test_url_user_agent_is_sent() -> None:
    source = read_source("https://example.org/ua", user_agent="digest-test/1.0",
                         transport=TRANSPORT, resolver=public)
    assert source.text == "digest-test/1.0"


def test_url_http_error() -> None:
    with pytest.raises(HTTPStatusError, match="404"):
        read_source("https://example.org/missing", transport=TRANSPORT, resolver=public)


def test_url_unsupported_type() -> None:
    with pytest.raises(UnsupportedContentType, match="image/png"):
        read_source("https://example.org/logo.png", transport=TRANSPORT, resolver=public)


def test_url_to_a_private_address_is_blocked_unless_allowed() -> None:
    def private(host: str) -> list[str]:
        return ["10.1.2.3"]

    with pytest.raises(BlockedAddress, match="allow_private"):
        read_source("https://intranet.example/article", transport=TRANSPORT, resolver=private)
    source = read_source("https://intranet.example/article", transport=TRANSPORT,
                         resolver=private, allow_private=True)
    assert "rowed supplies" in source.text


# --------------------------------------------------------------------------- summarize CLI

LONG_HTML = (
    "<!DOCTYPE html><html lang='en'><head><title>Saltmarsh restoration</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/donate'>Donate now</a></nav><article>"
    "<h1>Saltmarsh restoration</h1>"
    + "".join(
        f"<p>{sentence}</p>"
        for sentence in [
            "Volunteers replanted cordgrass along the eroded saltmarsh edge this spring.",
            "The saltmarsh traps sediment on every tide and slowly builds new ground.",
            "Wading birds returned to the restored saltmarsh within two seasons.",
            "Engineers breached the old sea wall so that tides could flood the fields again.",
            "Monitoring plots show the cordgrass spreading a metre each year.",
            "The project will double the area of saltmarsh on the estuary by 2030.",
        ]
        * 3
    )
    + "</article><footer>Copyright Estuary Trust</footer></body></html>"
)


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[str, bytes]] = {
        "/marsh.html": ("text/html; charset=utf-8", LONG_HTML.encode()),
        "/marsh.pdf": ("application/pdf", make_pdf(
            ["Cordgrass planting on the saltmarsh edge", "Saltmarsh birds came back"])),
    }

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        content_type, body = self.routes.get(self.path, ("text/plain", b""))
        self.send_response(200 if self.path in self.routes else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from summarizer.cli import main

    code = main(["--quiet", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_summarize_html_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "-t", "60", write(tmp_path, "marsh.html", LONG_HTML))
    assert (code, err) == (0, "")
    assert "saltmarsh" in out.lower()
    assert "<p>" not in out and "Donate" not in out
    assert len(out) < len(LONG_HTML) / 3


def test_summarize_pdf_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pdf = make_pdf(["Cordgrass planting on the saltmarsh edge", "Saltmarsh birds came back"])
    code, out, err = run_cli(capsys, write(tmp_path, "marsh.pdf", pdf))
    assert (code, err) == (0, "")
    assert "Cordgrass" in out or "Saltmarsh" in out


def test_summarize_url_needs_allow_private_for_localhost(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "-t", "60", f"{server}/marsh.html")
    assert code == 1 and out == ""
    assert "non-public address" in err and "--allow-private" in err
    code, out, err = run_cli(capsys, "-t", "60", "--allow-private", "--user-agent", "firefox",
                             f"{server}/marsh.html")
    assert (code, err) == (0, "")
    assert "saltmarsh" in out.lower() and "Donate" not in out


def test_summarize_pdf_url(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--allow-private", f"{server}/marsh.pdf")
    assert code == 0
    assert "saltmarsh" in out.lower()


def test_summarize_url_http_error_exits_1(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "--allow-private", f"{server}/missing")
    assert (code, out) == (1, "")
    assert "404" in err


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        ("scan.pdf", make_pdf([""]), "no text layer"),
        ("empty.html", b"", "no text"),
    ],
)
def test_summarize_unusable_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, message: str
) -> None:
    code, out, err = run_cli(capsys, write(tmp_path, name, data))
    assert (code, out) == (2, "")
    assert err.startswith("summarize: error: ") and message in err


def test_summarize_other_scheme_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "ftp://example.org/notes.txt")
    assert code == 2 and "ftp:// URLs are not supported" in err


def test_summarize_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "no-such-file.md")
    assert code == 2 and "No such file: no-such-file.md" in err
