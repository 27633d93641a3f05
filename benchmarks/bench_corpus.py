"""Corpus benchmark: documents per second and model calls per document.

Run: ``python benchmarks/bench_corpus.py [--docs 1000] [--delay 0.5]``

A JSON Lines corpus of ``--docs`` distinct prose documents (about 1.5 KB each) is digested by
``llm_digest.corpus.digest`` against ``latency_server.py`` (a separate process, every call
``--delay`` seconds) with 1, 2, 4 and 8 document workers and a global limit of 8 model
calls in flight; the baseline is a plain asyncio loop over ``Summarizer.arun`` (8 documents
at a time, no global limit). The server's own counters give calls and peak concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common  # noqa: E402
from bench_mapreduce import Server  # noqa: E402

from llm_digest.corpus import digest  # noqa: E402
from summarizer import OpenAIBackend, Summarizer  # noqa: E402


def _corpus(folder: Path, docs: int) -> tuple[Path, list[str]]:
    base = _common.prose_text(1500)
    texts = [f"Document {i} of the corpus. {base}" for i in range(docs)]
    path = folder / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n"
                            for i, t in enumerate(texts)), encoding="utf-8")
    return path, texts


async def _plain_loop(base_url: str, texts: list[str], parallel: int) -> None:
    backend = OpenAIBackend(base_url=base_url, model="m", api_key="k")
    summarizer = Summarizer(backend=backend, cache=False)  # the corpus run has no cache either
    gate = asyncio.Semaphore(parallel)

    async def one(text: str) -> None:
        async with gate:
            await summarizer.arun(text)

    await asyncio.gather(*(one(t) for t in texts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    _common.ensure_offline_tiktoken()
    server = Server.start()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source, texts = _corpus(Path(tmp), args.docs)
            for workers in args.workers:
                server.reset(base_delay=args.delay, per_token_delay=0.0)
                out = Path(tmp) / f"out{workers}.jsonl"
                backend = OpenAIBackend(base_url=server.url + "/v1", model="m", api_key="k")
                started = time.perf_counter()
                report = digest(source, out, backend=backend, workers=workers,
                                concurrency=args.concurrency, cache=False)
                wall = time.perf_counter() - started
                stats = server.stats()
                rows.append([f"corpus, {workers} workers, limit {args.concurrency}",
                             report.done, report.failed, _common.fmt_num(wall, 1),
                             _common.fmt_num(report.done / wall, 2),
                             _common.fmt_num(stats["calls"] / args.docs, 2),
                             stats.get("peak_concurrency", stats.get("max_in_flight", ""))])
            server.reset(base_delay=args.delay, per_token_delay=0.0)
            started = time.perf_counter()
            asyncio.run(_plain_loop(server.url + "/v1", texts, args.concurrency))
            wall = time.perf_counter() - started
            stats = server.stats()
            rows.append([f"plain asyncio loop over Summarizer.arun, {args.concurrency} docs",
                         args.docs, 0, _common.fmt_num(wall, 1),
                         _common.fmt_num(args.docs / wall, 2),
                         _common.fmt_num(stats["calls"] / args.docs, 2),
                         stats.get("peak_concurrency", stats.get("max_in_flight", ""))])
    finally:
        server.stop()
    print(f"{args.docs} documents, {args.delay}s per call\n")
    print(_common.md_table(["system", "done", "failed", "wall s", "docs/s", "calls/doc",
                            "peak in flight"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
