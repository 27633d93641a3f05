"""Benchmark main-content extraction against human ground truth.

Data (never copied into the repository; the script skips with a message when absent):

* ``zyte-aeb``: Zyte article extraction benchmark, 181 news/blog articles. Metric: 4-shingle
  precision/recall averaged over pages, F1 of the averages.
* ``wcxb-dev``: WCXB development split (stratified subset), 7 page types. Metric: word-bag
  F1 per page, averaged over pages, per page type and overall. Credit: "WCXB: Web Content
  Extraction Benchmark" (CC-BY-4.0).

Systems: ``ours`` (``crawler._html.extract_html`` in markdown, as ``get_url`` uses it),
``baseline`` (what ``ours`` was before issue 5: trafilatura markdown, comments off),
``trafilatura`` (defaults), ``trafilatura-precision`` (favor_precision), ``readability``
(readability-lxml, only if importable) and ``bs4`` (BeautifulSoup ``get_text``, a floor).

Usage::

    python benchmarks/bench_extraction.py                 # everything, writes results_extraction.md
    python benchmarks/bench_extraction.py --limit 5       # smoke run, nothing written
    python benchmarks/bench_extraction.py --systems ours,trafilatura --json out.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _scoring import (  # noqa: E402
    Scores,
    markdown_to_text,
    shingle_prf,
    summarize,
    word_bag_prf,
    zyte_official_counts,
    zyte_official_summary,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
RESULTS_FILE = Path(__file__).resolve().parent / "results_extraction.md"
ALL_SYSTEMS = ("ours", "baseline", "trafilatura", "trafilatura-precision", "readability", "bs4")
DEFAULT_WORKERS = 2
WCXB_TYPES = ("article", "forum", "product", "collection", "listing", "documentation", "service")


# --------------------------------------------------------------------------- systems


def _ours(html: bytes, url: str | None) -> str:
    from crawler._html import extract_html
    from crawler.errors import ExtractionError

    try:
        return extract_html(html, url=url, output_format="markdown").text
    except ExtractionError:
        return ""


def _baseline(html: bytes, url: str | None) -> str:
    import trafilatura

    return (
        trafilatura.extract(
            html, url=url, output_format="markdown", include_links=True, include_comments=False
        )
        or ""
    )


def _trafilatura(html: bytes, url: str | None) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


def _trafilatura_precision(html: bytes, url: str | None) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url, favor_precision=True) or ""


def _readability(html: bytes, url: str | None) -> str:
    import lxml.html
    from readability import Document  # type: ignore[import-not-found]

    summary = Document(html, url=url).summary(html_partial=True)
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


def _bs4(html: bytes, url: str | None) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "lxml").get_text(" ")


SYSTEMS: dict[str, Callable[[bytes, str | None], str]] = {
    "ours": _ours,
    "baseline": _baseline,
    "trafilatura": _trafilatura,
    "trafilatura-precision": _trafilatura_precision,
    "readability": _readability,
    "bs4": _bs4,
}


def _available(names: Sequence[str]) -> list[str]:
    kept = []
    for name in names:
        if name == "readability":
            try:
                import readability  # type: ignore[import-not-found]  # noqa: F401
            except ImportError:
                print(
                    "skipping readability: readability-lxml is not installed "
                    "(pip install readability-lxml, in the benchmark venv)",
                    file=sys.stderr,
                )
                continue
        kept.append(name)
    return kept


# --------------------------------------------------------------------------- data

Task = tuple[str, str, str, str | None, str, str]  # dataset, id, page type, url, path, reference


def load_zyte(root: Path, limit: int | None) -> list[Task]:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    tasks: list[Task] = []
    for page_id in sorted(truth):
        record = truth[page_id]
        path = root / "html" / f"{page_id}.html.gz"
        if path.exists():
            tasks.append(
                ("zyte", page_id, "article", record.get("url"), str(path), record["articleBody"])
            )
    return tasks[:limit] if limit else tasks


def load_wcxb(root: Path, limit: int | None) -> list[Task]:
    meta = json.loads((root / "metadata.json").read_text(encoding="utf-8"))["files"]
    with gzip.open(root / "ground-truth.json.gz", "rt", encoding="utf-8") as fh:
        truth = json.load(fh)
    per_type: dict[str, int] = defaultdict(int)
    tasks: list[Task] = []
    skipped: list[str] = []
    for page_id in sorted(meta):
        page_type = meta[page_id]["page_type"]
        record = truth.get(page_id)
        path = root / "html" / f"{page_id}.html.gz"
        if record is None or not path.exists():
            continue
        reference = record.get("ground_truth", {}).get("main_content")
        if reference is None:
            skipped.append(page_id)
            continue
        if limit and per_type[page_type] >= limit:
            continue
        per_type[page_type] += 1
        tasks.append(("wcxb", page_id, page_type, record.get("url"), str(path), reference))
    if skipped:
        print(f"wcxb: skipped {len(skipped)} page(s) without a main_content reference: "
              f"{', '.join(skipped)}", file=sys.stderr)
    return tasks


# --------------------------------------------------------------------------- running


def _run_task(args: tuple[Task, tuple[str, ...]]) -> dict:
    (dataset, page_id, page_type, url, path, reference), systems = args
    html = gzip.open(path).read()
    out: dict = {"dataset": dataset, "id": page_id, "type": page_type, "systems": {},
                 "empty_reference": not reference.split()}
    for name in systems:
        start = time.perf_counter()
        try:
            text = SYSTEMS[name](html, url)
            error = None
        except Exception as exc:  # a peer crashing on one page scores zero on it
            text, error = "", f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - start
        plain = markdown_to_text(text)
        extra: dict = {"error": error} if error else {}
        if dataset == "zyte":
            precision, recall = shingle_prf(plain, reference)
            extra["official"] = zyte_official_counts(plain, reference)
        else:
            precision, recall = word_bag_prf(plain, reference)
        out["systems"][name] = {"p": precision, "r": recall, "s": elapsed, **extra}
    return out


_WARM_UP = (
    b"<html><head><title>Warm up</title></head><body><article><h1>Warm up</h1>"
    + b"<p>Imports and caches load on the first call, which is not what we time.</p>" * 20
    + b"</article></body></html>"
)


def _warm_up(systems: tuple[str, ...]) -> None:
    for name in systems:
        try:
            SYSTEMS[name](_WARM_UP, "https://example.org/warm-up")
        except Exception:  # the real run reports errors page by page
            pass


def run(tasks: list[Task], systems: Sequence[str], workers: int) -> list[dict]:
    jobs = [(task, tuple(systems)) for task in tasks]
    if workers <= 1:
        _warm_up(tuple(systems))
        return [_run_task(job) for job in jobs]
    with multiprocessing.Pool(workers, initializer=_warm_up, initargs=(tuple(systems),)) as pool:
        return list(pool.imap_unordered(_run_task, jobs, chunksize=4))


# --------------------------------------------------------------------------- report


def _scores(rows: list[dict], system: str) -> Scores:
    return summarize((row["systems"][system]["p"], row["systems"][system]["r"]) for row in rows)


def _ms(rows: list[dict], system: str) -> float:
    return 1000 * sum(row["systems"][system]["s"] for row in rows) / max(1, len(rows))


def report(results: list[dict], systems: Sequence[str]) -> str:
    lines = ["## Main-content extraction", ""]
    wcxb = [row for row in results if row["dataset"] == "wcxb"]
    zyte = [row for row in results if row["dataset"] == "zyte"]
    if wcxb:
        types = [t for t in WCXB_TYPES if any(row["type"] == t for row in wcxb)]
        by_type = {t: [row for row in wcxb if row["type"] == t] for t in types}
        counts = ", ".join(f"{t} {len(by_type[t])}" for t in types)
        lines += [
            f"WCXB dev split ({len(wcxb)} pages: {counts}). Word-bag F1 per page, averaged; "
            "P and R are averaged page precision and recall. Credit: WCXB: Web Content "
            "Extraction Benchmark (CC-BY-4.0).",
            "",
            "| system | " + " | ".join(types) + " | **overall** | P | R | ms/page |",
            "|---" * (len(types) + 5) + "|",
        ]
        for system in systems:
            per = [f"{_scores(by_type[t], system).mean_f1:.3f}" for t in types]
            total = _scores(wcxb, system)
            lines.append(
                f"| {system} | " + " | ".join(per) + f" | **{total.mean_f1:.3f}** | "
                f"{total.precision:.3f} | {total.recall:.3f} | {_ms(wcxb, system):.1f} |"
            )
        if "ours" in systems and "baseline" in systems:
            delta = [
                _scores(by_type[t], "ours").mean_f1 - _scores(by_type[t], "baseline").mean_f1
                for t in types
            ]
            overall = _scores(wcxb, "ours").mean_f1 - _scores(wcxb, "baseline").mean_f1
            lines.append(
                "| *after - before* | "
                + " | ".join(f"{d:+.3f}" for d in delta)
                + f" | **{overall:+.3f}** | | | |"
            )
        lines.append("")
    if zyte:
        lines += [
            f"Zyte article extraction benchmark ({len(zyte)} pages). F1, P, R: sets of "
            "lower-cased whitespace-token 4-shingles, precision and recall averaged over "
            "pages, F1 of the averages. The authors' evaluate.py counts case-sensitive "
            "\\w+ 4-shingles as a multiset and leaves pages with no prediction out of "
            "the precision average.",
            "",
            "| system | F1 | P | R | F1 (authors' evaluate.py) | ms/page |",
            "|---|---|---|---|---|---|",
        ]
        for system in systems:
            s = _scores(zyte, system)
            official = zyte_official_summary(
                row["systems"][system]["official"] for row in zyte
            )
            lines.append(
                f"| {system} | {s.f1:.3f} | {s.precision:.3f} | {s.recall:.3f} | "
                f"{official:.3f} | {_ms(zyte, system):.1f} |"
            )
        lines.append("")
    errors = sum(1 for row in results for v in row["systems"].values() if "error" in v)
    if errors:
        lines += [f"{errors} page runs raised an error and scored zero.", ""]
    lines += [
        "*before* = `baseline` (trafilatura markdown, comments off), *after* = `ours`. "
        "Timings are wall-clock per page, including parsing, with "
        f"{DEFAULT_WORKERS} worker processes on a shared machine.",
        "",
    ]
    lines += _goals(wcxb, zyte, systems)
    return "\n".join(lines)


# Goals of issue 5, checked against the figures of this run.
GOAL_OVERALL, GOAL_PER_TYPE, GOAL_ZYTE, GOAL_TIME_RATIO = 0.88, 0.80, 0.965, 2.0


def _goals(wcxb: list[dict], zyte: list[dict], systems: Sequence[str]) -> list[str]:
    if "ours" not in systems or not wcxb or not zyte:
        return []
    overall = _scores(wcxb, "ours").mean_f1
    types = [t for t in WCXB_TYPES if any(row["type"] == t for row in wcxb)]
    below = [
        f"{t} {_scores([r for r in wcxb if r['type'] == t], 'ours').mean_f1:.3f}"
        for t in types
        if _scores([r for r in wcxb if r["type"] == t], "ours").mean_f1 < GOAL_PER_TYPE
    ]
    zyte_f1 = _scores(zyte, "ours").f1
    zyte_official = zyte_official_summary(row["systems"]["ours"]["official"] for row in zyte)
    lines = [
        "Goals (issue 5) against this run:",
        "",
        f"- WCXB overall >= {GOAL_OVERALL}: {overall:.3f} "
        f"({'met' if overall >= GOAL_OVERALL else 'not met'}).",
        f"- every page type >= {GOAL_PER_TYPE}: "
        + (f"below: {', '.join(below)}." if below else "met."),
        f"- Zyte >= {GOAL_ZYTE}: {zyte_f1:.3f} ({'met' if zyte_f1 >= GOAL_ZYTE else 'not met'}); "
        f"authors' evaluate.py {zyte_official:.3f} "
        f"({'met' if zyte_official >= GOAL_ZYTE else 'not met'}).",
    ]
    empty = [row for row in wcxb if row.get("empty_reference")]
    if empty:
        by_type = ", ".join(
            f"{t} {sum(1 for row in empty if row['type'] == t)}"
            for t in types if any(row["type"] == t for row in empty)
        )
        rest = _scores([row for row in wcxb if not row.get("empty_reference")], "ours")
        lines.append(
            f"- {len(empty)} WCXB page(s) have an empty reference ({by_type}): any text "
            f"scores 0 there, and `ours` always returns text when the page has some. "
            f"Without them `ours` scores {rest.mean_f1:.3f} overall."
        )
    if "trafilatura" in systems:
        rows = wcxb + zyte
        ratio = _ms(rows, "ours") / max(1e-9, _ms(rows, "trafilatura"))
        by_set = ", ".join(
            f"{name} {_ms(part, 'ours') / max(1e-9, _ms(part, 'trafilatura')):.2f}x"
            for name, part in (("WCXB", wcxb), ("Zyte", zyte))
        )
        lines.append(
            f"- time <= {GOAL_TIME_RATIO:g}x trafilatura defaults: {ratio:.2f}x over all "
            f"pages ({by_set}) ({'met' if ratio <= GOAL_TIME_RATIO else 'not met'})."
        )
    lines.append("")
    lines += [
        "What `ours` does (see `crawler/_html.py`): the page is parsed once with libxml2's "
        "huge-tree option (deeper than 256 elements is kept); trafilatura reads a copy "
        "without cookie/consent banners; on pages declaring themselves articles, "
        "the balanced text is cut to the span of trafilatura's precision-mode text (lines "
        "of 5+ words inside the span that precision mode dropped stay, unless mostly link "
        "text) when that keeps at least half of the words; a structural extractor "
        "(`crawler/_html_dom.py`: boilerplate by landmarks, ARIA roles, hidden and "
        "boilerplate classes; the container holding most "
        "non-link text; runs of repeated link cards dropped unless they hold most of the "
        "text, links inside a sentence kept; repeated controls and quoted sentences "
        "dropped) gives a second candidate, replaced by a listing reading (item titles of "
        "4+ words count as text, cards kept) when it holds under half of that reading's "
        "words; page type from JSON-LD/microdata/og:type/URL (`crawler/_html_signals.py`) "
        "decides how much shorter trafilatura's text may be before the structural "
        "candidate replaces it (never on articles, forum 1.0, product 0.3, others 0.7; a "
        "declared product whose structural text is 100+ words, 80% in sentences, is a "
        "review, and a declared article whose text is under 40% and structural text "
        "under 50% sentences is a list: both count as undeclared); "
        "off articles the structural candidate also wins when it holds under 20% of "
        "trafilatura's words (the two read different parts of the page) and, off products, "
        "when it holds >= 90% of them and at most twice as many; off articles a paragraph "
        "of 12+ words repeating an earlier one is dropped; on product pages a JSON-LD "
        "`Product.description` missing from the text is appended.",
        "",
        "Scoring: every system's output goes through the same `markdown_to_text` "
        "(`benchmarks/_scoring.py`): link targets and image markup dropped, markup "
        "characters and markdown backslash escapes (`\\[` -> `[`) made plain. Without the "
        "escape rule a markdown writer loses whitespace-token shingles that a plain-text "
        "writer keeps. The data README's trafilatura figures on Zyte (0.960 default, 0.964 "
        "favor_precision) are the authors' evaluate.py on trafilatura's plain-text output "
        "as the authors' runner calls it (`include_comments=False`); measured here that "
        "way they are 0.960 and 0.964 again. In the table, `trafilatura` keeps "
        "trafilatura's real default (comments on) and `baseline` is its markdown with "
        "comments off.",
        "",
        "Tried on the dev split and not kept: trafilatura `favor_recall` (0.801 overall) and "
        "`include_comments` (0.818) as candidates; putting back every structural block "
        "between trafilatura's first and last kept block (products 0.62 -> 0.58); treating "
        "pages describing three or more articles/products in JSON-LD as listings (0.851 -> "
        "0.849); dropping link-dense blocks (neutral); precision mode alone on articles "
        "(WCXB 0.851 -> 0.842-0.847); precision mode with trafilatura's `fast` setting "
        "(cheaper, Zyte -0.002); removing ARIA dialogs before trafilatura (products "
        "-0.009); removing customer-review sections (class/id `review`, `ratings`) on "
        "product pages (products 0.635 -> 0.641 but 0.853 -> 0.852 overall: WCXB keeps "
        "reviews and testimonials on some product pages and drops them on others); the "
        "listing reading on every non-forum, non-product page instead of only when the "
        "other collapses (Zyte 0.961 -> 0.959); letting the structural candidate replace "
        "trafilatura on articles when trafilatura keeps under 10-40% of its words (Zyte "
        "mean F1 0.956 -> 0.921-0.951); other product and listing switch ratios (0.2-0.7, "
        "at best equal); a logistic-regression block classifier over the whole page "
        "(features: share of the block's words in trafilatura's text, inside the main or "
        "listing container, link density, length, sentence end, position, repetition, "
        "block kind, page type), cross-validated by domain: 0.82 overall, and even "
        "keeping exactly the blocks the reference holds caps that segmentation at 0.863. "
        "Choosing per page the better of trafilatura and the structural candidate with "
        "hindsight would reach 0.892 overall but only 0.71 / 0.75 / 0.78 on product / "
        "collection / listing: those types need candidates that do not exist yet (content "
        "that only JavaScript state holds, reviews kept or not by page), not a better choice. "
        "Tried in session 3, not kept: a learned page-level choice between the current "
        "result and the structural candidate (logistic regression, decision trees of depth "
        "3-5, gradient boosting over 19 page features, cross-validated by domain: 0.851-0.861 "
        "against the hand rule's 0.860); forum switch ratios 0.5-0.9 instead of 1.0 (-0.0002); "
        "the superset rule on articles (structural text holding 90-95% of trafilatura's words "
        "and up to 1.1-2x as many: Zyte -0.003 to -0.015); dropping runs of three or more "
        "priced sibling cards on product pages (+0.0007, one page; marketplace pages worse); "
        "appending description fields of JSON framework state (`__NEXT_DATA__`) on product "
        "pages (-0.0003: they hold other products' descriptions too); the structural text on "
        "articles when trafilatura keeps under 3-20% of its words (one page on either side of "
        "any threshold); stripping screen-reader-only text (`sr-only`, `visually-hidden`) "
        "from trafilatura's copy (-0.0006; every hidden element: -0.007); not counting "
        "FAQPage Question/Answer nodes as a thread (-0.0002) or a lone Comment type on an "
        "article (-0.001); a recall pass on articles whose structural text is 1.2-2x longer "
        "(at best +0.0007 for a third trafilatura run).",
        "",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> str:
    """Run the benchmark and return its markdown section ("" when the data is absent)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None,
                        help="at most N pages per dataset (per page type for WCXB); smoke run")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS),
                        help=f"comma-separated, from {', '.join(ALL_SYSTEMS)}")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="folder holding zyte-aeb/ and wcxb-dev/ (default ../shared/data)")
    parser.add_argument("--datasets", default="wcxb,zyte", help="comma-separated: wcxb, zyte")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--json", type=Path, default=None, help="write per-page scores here")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="re-render the report from a --json file instead of running")
    parser.add_argument("--no-write", action="store_true",
                        help=f"do not write {RESULTS_FILE.name} (implied by --limit)")
    args = parser.parse_args(argv)

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    systems = _available(systems)
    datasets = {d.strip() for d in args.datasets.split(",") if d.strip()}

    if args.from_json:
        results = json.loads(args.from_json.read_text(encoding="utf-8"))
        ran = [s for s in systems if all(s in row["systems"] for row in results)]
        section = report(results, ran)
        print(section)
        if not args.no_write:
            RESULTS_FILE.write_text(section, encoding="utf-8")
        return section

    tasks: list[Task] = []
    for name, loader in (("wcxb", load_wcxb), ("zyte", load_zyte)):
        folder = args.data_dir / ("wcxb-dev" if name == "wcxb" else "zyte-aeb")
        if name not in datasets:
            continue
        if not folder.is_dir():
            print(f"skipping {name}: {folder} not found (pass --data-dir)", file=sys.stderr)
            continue
        tasks += loader(folder, args.limit)
    if not tasks:
        print("no benchmark data found: nothing to run", file=sys.stderr)
        return ""

    start = time.perf_counter()
    results = run(tasks, systems, args.workers)
    print(f"{len(tasks)} pages x {len(systems)} systems in {time.perf_counter() - start:.0f} s",
          file=sys.stderr)
    results.sort(key=lambda row: (row["dataset"], row["id"]))
    section = report(results, systems)
    print(section)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not args.limit and not args.no_write and datasets >= {"wcxb", "zyte"}:
        RESULTS_FILE.write_text(section, encoding="utf-8")
    return section


if __name__ == "__main__":
    main()
