"""The corpus pipeline end to end: files, rows and URLs against the fake OpenAI server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import sectioned_text
from page_server import PageServer

from llm_digest.cli import main
from llm_digest.corpus import CorpusInputError, digest
from summarizer import OpenAIBackend


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _mixed_corpus(tmp_path: Path, pages: PageServer) -> Path:
    """40 text rows, 6 page URLs, a 404, a blocked address and an empty row: 49 inputs."""
    lines = [{"id": f"doc{i}", "text": sectioned_text(2 + i % 3, seed=i)} for i in range(40)]
    lines += [{"id": f"page{i}", "url": pages.url(f"/article.html?n={i}")} for i in range(6)]
    lines.append({"id": "missing", "url": pages.url("/status/404")})
    lines.append({"id": "blocked", "url": "http://10.255.255.1/secret"})
    lines.append({"id": "empty", "text": ""})
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_mixed_corpus_one_row_per_input_and_global_call_limit(
    tmp_path: Path, pages: PageServer, openai_server
) -> None:
    server = openai_server(context_window=1024, latency=0.02)
    backend = OpenAIBackend(base_url=server.base_url, model=server.model, api_key="k")
    source = _mixed_corpus(tmp_path, pages)
    out = tmp_path / "out.jsonl"

    report = digest(source, out, backend=backend, concurrency=3, workers=16,
                    allowed_hosts=["127.0.0.1"], timeout=5.0, cache=False)

    rows = _rows(out)
    assert sorted(row["id"] for row in rows) == sorted(
        [f"doc{i}" for i in range(40)] + [f"page{i}" for i in range(6)]
        + ["missing", "blocked", "empty"]
    )
    by_id = {row["id"]: row for row in rows}
    assert by_id["missing"]["error"]["type"] == "HTTPStatusError"
    assert by_id["blocked"]["error"]["type"] == "BlockedAddress"
    assert "summary" not in by_id["blocked"]
    assert by_id["empty"]["error"] == {
        "type": "ValueError", "message": "nothing to summarize: the text is empty or blank"
    }
    assert by_id["page0"]["title"] and by_id["page0"]["summary"]
    assert all(by_id[f"doc{i}"]["stats"]["calls"] >= 1 for i in range(40))
    assert report.done == 46 and report.failed == 3 and report.skipped == 0
    assert report.calls == len([r for r in server.requests if "chat" in r.path]) > 46
    assert 1 < server.max_in_flight <= 3
    saved = json.loads(Path(str(out) + ".report.json").read_text(encoding="utf-8"))
    assert saved["done"] == 46 and saved["calls"] == report.calls


def test_rerun_skips_finished_rows(tmp_path: Path, openai_server) -> None:
    server = openai_server(context_window=2048)
    backend = OpenAIBackend(base_url=server.base_url, model=server.model, api_key="k")
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"d{i}.md").write_text(sectioned_text(2, seed=i), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    digest(docs, out, backend=backend, cache=False)
    # Simulate a killed run: drop two rows and cut the last line in half.
    lines = out.read_text(encoding="utf-8").splitlines()
    kept = lines[:3]
    out.write_text("\n".join(kept) + "\n" + lines[3][:10], encoding="utf-8")
    before = len(server.requests)

    report = digest(docs, out, backend=backend, cache=False)

    assert report.skipped == 3 and report.done == 3
    ids = [json.loads(line)["id"] for line in kept]
    new_calls = [r for r in server.requests[before:] if "chat" in r.path]
    assert len(new_calls) == report.calls
    rows = [r for r in _parse_lines(out) if r]
    assert sorted(r["id"] for r in rows) == sorted(f"d{i}.md" for i in range(6))
    assert all(i in {r["id"] for r in rows} for i in ids)


def _parse_lines(out: Path) -> list[dict]:
    result = []
    for line in out.read_text(encoding="utf-8").splitlines():
        try:
            result.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return result


def test_url_list_and_csv_inputs(tmp_path: Path, pages: PageServer) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# pages\n{pages.url('/article.html')}\nhttp://10.0.0.1/\n", encoding="utf-8")
    out = tmp_path / "u.jsonl"
    report = digest(urls, out, allowed_hosts=["127.0.0.1"])
    assert (report.done, report.failed) == (1, 1)
    table = tmp_path / "t.csv"
    table.write_text("key,body\na,First sentence here. More words.\nb,Another one.\n",
                     encoding="utf-8")
    out2 = tmp_path / "t.jsonl"
    report = digest(table, out2, text_column="body", id_column="key")
    assert report.done == 2 and {r["id"] for r in _rows(out2)} == {"a", "b"}


def test_bad_inputs_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusInputError, match="does not exist"):
        digest(tmp_path / "nope", tmp_path / "o.jsonl")
    table = tmp_path / "t.jsonl"
    table.write_text('{"x": 1}\n', encoding="utf-8")
    with pytest.raises(CorpusInputError, match="--text-column"):
        digest(table, tmp_path / "o.jsonl")
    with pytest.raises(CorpusInputError, match="not a column"):
        digest(table, tmp_path / "o.jsonl", text_column="body")
    with pytest.raises(ValueError, match="concurrency"):
        digest(table, tmp_path / "o.jsonl", concurrency=0)


def test_cli_exit_codes(tmp_path: Path, pages: PageServer, openai_server, capsys) -> None:
    server = openai_server(context_window=2048)
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "One sentence. Two."}\n{"text": "Three. Four."}\n',
                    encoding="utf-8")
    flags = ["--base-url", server.base_url, "--model", server.model, "--api-key", "k"]
    assert main(["corpus", str(good), "-o", str(tmp_path / "a.jsonl"), *flags]) == 0
    assert "2 done, 0 failed" in capsys.readouterr().err
    mixed = tmp_path / "mixed.txt"
    mixed.write_text(f"{pages.url('/article.html')}\n{pages.url('/status/404')}\n",
                     encoding="utf-8")
    code = main(["corpus", str(mixed), "-o", str(tmp_path / "b.jsonl"), "--allow-private",
                 "--concurrency", "2", *flags])
    assert code == 1
    assert len(_rows(tmp_path / "b.jsonl")) == 2
    with pytest.raises(SystemExit) as exited:  # argparse: no -o
        main(["corpus", str(good)])
    assert exited.value.code == 2
    assert main(["corpus", str(tmp_path / "nope"), "-o", str(tmp_path / "c.jsonl")]) == 2


def test_parquet_without_pyarrow_names_the_install(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("pyarrow") is not None:
        pytest.skip("pyarrow is installed: this checks the error when it is not")
    table = tmp_path / "t.parquet"
    table.write_bytes(b"PAR1")
    with pytest.raises(ImportError, match="pip install pyarrow"):
        digest(table, tmp_path / "o.jsonl")


def test_response_cache_makes_a_fresh_rerun_free(tmp_path: Path, openai_server) -> None:
    server = openai_server(context_window=2048)
    backend = OpenAIBackend(base_url=server.base_url, model=server.model, api_key="k")
    table = tmp_path / "t.jsonl"
    table.write_text('{"text": "Alpha one. Beta."}\n{"text": "Gamma two. Delta."}\n',
                     encoding="utf-8")
    cache = tmp_path / "cache.sqlite3"
    digest(table, tmp_path / "a.jsonl", backend=backend, cache=cache)
    before = len(server.requests)
    digest(table, tmp_path / "b.jsonl", backend=backend, cache=cache)
    assert len(server.requests) == before
    rows = _rows(tmp_path / "b.jsonl")
    assert [r["stats"]["cached_calls"] for r in rows] == [1, 1]
    digest(table, tmp_path / "c.jsonl", backend=backend, cache=False)
    assert len(server.requests) > before
