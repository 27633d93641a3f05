"""Tests for summarizer._extractive: the offline, model-free backend."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer._backend import Backend, Completion, Message
from summarizer._extractive import (
    DEFAULT_CONTEXT_WINDOW,
    ExtractiveBackend,
    extract_sentences,
    summarize_extractive,
)
from summarizer._tokens import Tokenizer, get_tokenizer

TOK = get_tokenizer()
LIGHTHOUSES = (Path(__file__).parent.parent / "examples" / "lighthouses.md").read_text("utf-8")

BEES = (
    "Honey bees live in colonies ruled by a single queen bee. "
    "The queen bee lays all the eggs of the colony, up to two thousand a day. "
    "Worker bees are sterile females that feed the queen, build comb and collect nectar. "
    "My neighbour repainted his garage door a pale shade of green last autumn. "
    "Worker bees turn nectar into honey and store the honey in wax comb. "
    "Drones are male bees whose only task is to mate with a queen from another colony. "
    "Paris hosted an exhibition of antique typewriters in 1987. "
    "When the colony grows too large, the old queen leaves with a swarm of worker bees."
)
ASIDES = ("garage door", "typewriters")


def messages(text: str, system: str = "Summarize the text.") -> list[Message]:
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def in_order(summary_sentences: list[str], source: str) -> bool:
    positions = [source.find(s) for s in summary_sentences]
    return all(p >= 0 for p in positions) and positions == sorted(positions)


def test_is_a_backend() -> None:
    backend = ExtractiveBackend()
    assert isinstance(backend, Backend)
    assert backend.name == "extractive"
    assert backend.context_window == DEFAULT_CONTEXT_WINDOW >= 1_000_000
    assert "o200k_base" in repr(backend)


@pytest.mark.parametrize("cap", [1, 5, 20, 60, 150, 400, 5000])
def test_output_within_cap(cap: int) -> None:
    completion = ExtractiveBackend().complete(messages(LIGHTHOUSES), max_tokens=cap)
    assert isinstance(completion, Completion)
    assert TOK.count(completion.text) <= cap
    assert completion.completion_tokens == TOK.count(completion.text)
    assert completion.prompt_tokens is not None
    assert completion.prompt_tokens > TOK.count(LIGHTHOUSES)
    assert completion.text  # a cap of even one token yields something
    assert completion.finish_reason == "stop"


def test_shrinks_text_even_when_the_cap_allows_all() -> None:
    summary = ExtractiveBackend().complete(messages(LIGHTHOUSES), max_tokens=100_000).text
    assert TOK.count(summary) <= 0.5 * TOK.count(LIGHTHOUSES)
    full = ExtractiveBackend(max_ratio=None).complete(messages(LIGHTHOUSES), max_tokens=100_000)
    assert TOK.count(full.text) > 0.8 * TOK.count(LIGHTHOUSES)  # markup dropped, prose kept


def test_keeps_original_order() -> None:
    sentences = extract_sentences(LIGHTHOUSES)
    for cap in (80, 200, 400):
        summary = summarize_extractive(LIGHTHOUSES, cap)
        picked = [s for s in sentences if s in summary]
        assert len(picked) >= 2
        assert in_order(picked, LIGHTHOUSES)
        # Every sentence of the summary is a sentence of the source, verbatim.
        rebuilt = [p for part in summary.split("\n\n") for p in extract_sentences(part)]
        assert all(s in sentences for s in rebuilt)


def test_picks_the_central_sentences() -> None:
    summary = summarize_extractive(BEES, 60, max_ratio=None)
    assert "queen" in summary
    assert not any(aside in summary for aside in ASIDES)
    assert TOK.count(summary) <= 60
    wide = summarize_extractive(BEES, 1000, max_ratio=None)
    assert not any(aside in wide for aside in ASIDES)  # asides never fill spare room
    assert "swarm" in wide


def test_leading_sentence_wins_ties() -> None:
    text = "Cats purr. Cats purr. Cats purr."
    assert summarize_extractive(text, 4, max_ratio=None) == "Cats purr."


def test_cjk_input() -> None:
    chinese = (
        "北京是中国的首都，也是政治和文化中心。北京有很多历史悠久的名胜古迹。"
        "今天天气很好。北京的烤鸭非常有名，很多游客来北京吃烤鸭。"
    )
    summary = summarize_extractive(chinese, 30, max_ratio=None)
    assert summary.startswith("北京是中国的首都")
    assert "今天天气很好" not in summary
    assert TOK.count(summary) <= 30
    assert " " not in summary  # CJK sentences join without spaces
    japanese = (
        "東京は日本の首都です。東京には多くの人が住んでいます。"
        "東京タワーは東京の有名な観光地です。猫が好きです。東京の電車はとても便利です。"
    )
    summary = summarize_extractive(japanese, 30, max_ratio=None)
    assert "東京" in summary and "猫" not in summary
    assert in_order(extract_sentences(summary), japanese)


def test_cjk_sentence_splitting() -> None:
    assert extract_sentences("一つ目です。二つ目！三つ目？四つ目；最後") == [
        "一つ目です。",
        "二つ目！",
        "三つ目？",
        "四つ目；",
        "最後",
    ]


def test_markdown_noise_is_dropped() -> None:
    text = (
        "# Title of the page\n\n"
        "Intro with a [link](https://example.com/x) and **bold** and `code`.\n\n"
        "![diagram](img.png)\n\n"
        "```python\nprint('never summarized')\n```\n\n"
        "---\n\n"
        "| name | value |\n|------|-------|\n| alpha | 1 |\n\n"
        "- first item without a period\n"
        "- second item\n\n"
        "> A quoted sentence. Dr. Smith met J. R. Tolkien at 3 p.m. on Monday.\n"
        "<div>Trailing html</div>"
    )
    assert extract_sentences(text) == [
        "Intro with a link and bold and code.",
        "name; value",
        "alpha; 1",
        "first item without a period",
        "second item",
        "A quoted sentence.",
        "Dr. Smith met J. R. Tolkien at 3 p.m. on Monday.",
        "Trailing html",
    ]


def test_hard_wrapped_lines_are_joined() -> None:
    text = (
        "This paragraph was wrapped at a fixed width by an editor, so\n"
        "its sentences continue on the next line. A second sentence\n"
        "follows here.\n"
        "Short title\n"
        "Next line."
    )
    assert extract_sentences(text) == [
        "This paragraph was wrapped at a fixed width by an editor, so its sentences continue "
        "on the next line.",
        "A second sentence follows here.",
        "Short title",
        "Next line.",
    ]


def test_sentence_longer_than_cap_is_truncated_on_tokens() -> None:
    text = "Tokens " + "and budgets " * 200 + "end."
    summary = summarize_extractive(text, 7)
    assert TOK.count(summary) <= 7
    assert text.startswith(summary)
    emoji = "🦜" * 50
    cut = summarize_extractive(emoji, 8)
    assert cut == "🦜🦜" and "\ufffd" not in cut


def test_empty_and_blank_input() -> None:
    backend = ExtractiveBackend()
    for text in ("", "   \n\n  "):
        completion = backend.complete(messages(text), max_tokens=50)
        assert completion.text == ""
        assert completion.completion_tokens == 0


def test_markup_only_input_falls_back_to_its_lines() -> None:
    code = "```python\ndef total(items):\n    return sum(items)\n```"
    summary = summarize_extractive(code, 50)
    assert summary and "total" in summary
    assert TOK.count(summary) <= 50


def test_headings_only() -> None:
    assert summarize_extractive("# Alpha report\n\n## Beta section", 50) != ""


def test_uses_last_user_message_only() -> None:
    chat: list[Message] = [
        {"role": "system", "content": "Lighthouses are irrelevant here."},
        {"role": "user", "content": "Lighthouse keepers trimmed wicks every night."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": BEES},
    ]
    summary = ExtractiveBackend().complete(chat, max_tokens=40).text
    assert "bee" in summary and "Lighthouse" not in summary


def test_errors() -> None:
    backend = ExtractiveBackend()
    with pytest.raises(ValueError, match="needs a user message"):
        backend.complete([{"role": "system", "content": "hi"}], max_tokens=10)
    with pytest.raises(ValueError, match="max_tokens must be a positive int"):
        backend.complete(messages("text"), max_tokens=0)
    with pytest.raises(ValueError, match="max_ratio"):
        ExtractiveBackend(max_ratio=0)
    with pytest.raises(TypeError, match="must be a str"):
        backend.complete([{"role": "user", "content": None}], max_tokens=5)  # type: ignore[typeddict-item]


def test_async_matches_sync() -> None:
    backend = ExtractiveBackend()
    sync = backend.complete(messages(LIGHTHOUSES), max_tokens=120)
    result = asyncio.run(backend.acomplete(messages(LIGHTHOUSES), max_tokens=120))
    assert result == sync


def test_deterministic_and_tokenizer_aware() -> None:
    a = ExtractiveBackend().complete(messages(LIGHTHOUSES), max_tokens=150)
    b = ExtractiveBackend().complete(messages(LIGHTHOUSES), max_tokens=150)
    assert a == b
    words = Tokenizer.from_counter(lambda s: len(s.split()), name="words")
    capped = ExtractiveBackend(tokenizer=words).complete(messages(LIGHTHOUSES), max_tokens=40)
    assert len(capped.text.split()) <= 40
    assert ExtractiveBackend(tokenizer="cl100k_base").tokenizer.name == "cl100k_base"


def test_fast_on_100k_tokens() -> None:
    rng = random.Random(5)
    paragraphs = LIGHTHOUSES.split("\n\n")
    text = "\n\n".join(rng.choice(paragraphs) for _ in range(1800))
    assert TOK.count(text) > 100_000
    started = time.perf_counter()
    summary = summarize_extractive(text, 2000)
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"took {elapsed:.1f}s"
    assert 0 < TOK.count(summary) <= 2000


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=400), cap=st.integers(1, 80))
def test_never_over_cap(text: str, cap: int) -> None:
    summary = summarize_extractive(text, cap, max_ratio=None)
    assert TOK.count(summary) <= cap


def test_selection_stays_near_linear_when_every_sentence_shares_terms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A six-word vocabulary: every pick makes every other score stale, which once made the
    # lazy greedy selection re-score all sentences per pick (quadratic for long summaries).
    import summarizer._extractive as extractive

    rng = random.Random(7)
    words = "alpha beta gamma delta epsilon zeta".split()
    text = " ".join(
        " ".join(rng.choice(words) for _ in range(10)).capitalize() + "." for _ in range(400)
    )
    sentences = len(extractive.extract_sentences(text))
    scored = 0
    real_ratio = extractive._ratio

    def counting_ratio(*args: object, **kwargs: object) -> float:
        nonlocal scored
        scored += 1
        return real_ratio(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(extractive, "_ratio", counting_ratio)
    summary = extractive.summarize_extractive(text, 100_000, max_ratio=None)
    assert len(extractive.extract_sentences(summary)) > sentences // 2
    assert scored <= 20 * sentences, (scored, sentences)


# -- structure, pages, references, pathological markup -------------------------------------


def test_sectioned_document_keeps_its_outline_and_covers_every_section() -> None:
    summary = summarize_extractive(LIGHTHOUSES, 600)
    headings = [line for line in LIGHTHOUSES.splitlines() if line.startswith("## ")]
    assert len(headings) == 6
    positions = [summary.find(h) for h in headings]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert summary.startswith("# Keeping the Light")
    sections = summary.split("\n## ")[1:]
    assert len(sections) == 6 and all("\n\n" in s.strip() for s in sections)  # text under each
    assert TOK.count(summary) <= 600


def test_a_sentence_leaning_on_the_one_before_comes_with_it_or_not_at_all() -> None:
    text = (
        "Cats sleep most of the day in warm places. "
        "The garden shed was painted blue by the previous owner. "
        "However, cats hunt at dusk and dawn when mice are active, and cats patrol. "
        "Cats hunt mice and cats hunt birds near the shed. "
        "Dogs bark at the mailman."
    )
    for cap in (15, 25, 40, 80):
        summary = summarize_extractive(text, cap, max_ratio=None)
        if "However, cats hunt" in summary:
            assert "garden shed was painted" in summary
        for line in summary.split("\n\n"):
            assert not line.startswith("However") or "shed was painted" in summary


PAGED = "\n\n--- Page {n} ---\n\n".join(
    f"ACME Corp Annual Report 2025 - Confidential\n\n{body}\n\nPage {n} of 3"
    for n, body in [
        (1, "Revenue grew to twelve million dollars thanks to the lantern business."),
        (2, "The lantern factory in Brest doubled its output of brass lanterns."),
        (3, "Lantern exports to Norway and Chile opened two new lantern markets."),
    ]
).replace("{n}", "2", 1).replace("{n}", "3", 1)


def test_pdf_pages_drop_running_headers_and_markers_and_all_contribute() -> None:
    assert "--- Page 2 ---" in PAGED and "--- Page 3 ---" in PAGED
    summary = summarize_extractive(PAGED, 200, max_ratio=None)
    assert "Page" not in summary and "ACME" not in summary and "---" not in summary
    for needle in ("twelve million", "Brest", "Norway"):
        assert needle in summary
    assert not any("Page" in s or "ACME" in s for s in extract_sentences(PAGED))


@pytest.mark.parametrize("unit", ["<http:", "![", "[x](", "<a", "[^"])
def test_runs_of_markup_openers_are_linear(unit: str) -> None:
    def seconds(n: int) -> float:
        start = time.perf_counter()
        summarize_extractive(unit * n, 50)
        return time.perf_counter() - start

    seconds(100)  # the tokenizer loads once
    small, large = seconds(4_000), seconds(32_000)  # quadratic before: 64x the time for 8x
    assert large < 3.5 and large < 24 * max(small, 0.05)


def test_heading_with_a_run_of_hashes_is_linear() -> None:
    def seconds(n: int) -> float:
        start = time.perf_counter()
        summarize_extractive("# a" + "#" * n + "b", 50)
        return time.perf_counter() - start

    small, large = seconds(20_000), seconds(160_000)  # quadratic before: over a minute
    assert large < 3 and large < 24 * max(small, 0.05)
    assert summarize_extractive("## Closing hashes ##", 20) == "Closing hashes"


def test_instruction_or_language_it_cannot_follow_warns_naming_the_way_out() -> None:
    from summarizer import Summarizer

    with pytest.warns(UserWarning, match=r"cannot follow.*--model.*--base-url"):
        Summarizer(instruction="Focus on fuel", language="French")
    with pytest.warns(UserWarning, match="language 'French'"):
        Summarizer(backend=ExtractiveBackend(), language="French")
    Summarizer()  # nothing asked: no warning (warnings are errors here)


NOTES = (Path(__file__).parent.parent / "examples" / "meeting-notes.md").read_text("utf-8")


def test_notes_keep_their_decisions_owners_and_dates() -> None:
    summary = ExtractiveBackend().complete(messages(NOTES), max_tokens=400).text
    for needle in (
        "Decided: the lens room closes",
        "Agreed to start guided tours",
        "Chloe to get three quotes for the roof repair by 20 March.",
        "Dev owns the tour booking page; due 15 April.",
        "Ana will write",
    ):
        assert needle in summary
    assert summary.index("## Decisions") < summary.index("## Actions")
    assert TOK.count(summary) < TOK.count(NOTES)


EXAMPLES = Path(__file__).parent.parent / "examples"


def test_csv_gets_a_description_of_its_shape() -> None:
    text = (EXAMPLES / "harbours.csv").read_text("utf-8")
    summary = ExtractiveBackend().complete(messages(text), max_tokens=300).text
    assert summary.startswith(
        "A CSV table of 5 rows and 5 columns: harbour, country, lights, depth_m, opened."
    )
    assert "- depth_m: numbers from 7.8 to 18" in summary
    assert "- row 1: Brest, France, 4, 12.5, 1631" in summary
    short = summarize_extractive(text, 25)
    assert TOK.count(short) <= 25 and short.startswith("A CSV table of 5 rows")


def test_json_and_json_lines_get_a_description_of_their_shape() -> None:
    text = (EXAMPLES / "lights.json").read_text("utf-8")
    summary = summarize_extractive(text, 300)
    assert summary.startswith("A JSON array of 4 items.\nItems are objects with keys: name,")
    assert "- height_m: numbers from 35 to 68" in summary and "}" in summary.splitlines()[-1]
    lines = '{"id": 1, "ok": true}\n{"id": 2, "ok": false}\n'
    assert summarize_extractive(lines, 100).startswith("A JSON Lines array of 2 items.")
    obj = summarize_extractive('{"name": "Fastnet", "lamps": [1, 2, 3]}', 100)
    assert obj.splitlines() == [
        "A JSON object with 2 keys: name, lamps.",
        "- name: Fastnet",
        "- lamps: a list of 3 items, e.g. 1",
    ]


def test_prose_with_commas_is_not_taken_for_csv() -> None:
    text = "Cats sleep, a lot.\nDogs bark, often loudly and long.\nBirds sing at dawn."
    assert not summarize_extractive(text, 100).startswith("A CSV")
