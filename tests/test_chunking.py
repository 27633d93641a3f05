"""Tests for summarizer._chunking.split_text."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from summarizer._chunking import MIN_FILL, MIN_WIDE_FILL, Chunk, _piece_boundary, split_text
from summarizer._tokens import Tokenizer, get_tokenizer

O200K = get_tokenizer("o200k_base")
CL100K = get_tokenizer("cl100k_base")

WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there one all we their river mountain library "
    "summary token budget chapter careful quickly although"
).split()


def prose(paragraphs: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(2, 7)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(5, 25))]
            sentences.append(" ".join(words).capitalize() + rng.choice(".....!?"))
        out.append(" ".join(sentences))
    return "\n\n".join(out)


def assert_valid(text: str, budget: int, tokenizer: Tokenizer, chunks: list[Chunk]) -> None:
    assert "".join(c.text for c in chunks) == text
    position = 0
    for chunk in chunks:
        assert chunk.start == position
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text  # no empty chunks
        assert chunk.tokens == tokenizer.count(chunk.text)
        assert chunk.tokens <= budget
        if "\ufffd" not in text:
            assert "\ufffd" not in chunk.text
        position = chunk.end
    assert position == len(text)


def split_or_too_small(text: str, budget: int, tokenizer: Tokenizer) -> list[Chunk] | None:
    """Split, accepting the one documented refusal: a character larger than the budget."""
    try:
        return split_text(text, budget, tokenizer=tokenizer)
    except ValueError as exc:
        assert "too small" in str(exc)
        assert any(tokenizer.count(ch) > budget for ch in text)
        return None


TEXT = st.lists(
    st.one_of(
        st.characters(exclude_categories=("Cs",)),  # any code point but surrogates
        st.sampled_from(
            [" ", "  ", "\n", "\n\n", "\r\n", "\t", ". ", "! ", "? ", "。", "！", "？", "；", "…"]
            + ["日", "本", "語", "中", "文", "한", "국", "🙂", "🦜", "🧑‍🚀", "🇯🇵", "e\u0301"]
            + ["<|endoftext|>", "a", "b", "word", "Word", "1", "42", "{", "}", "=", "  def"]
        ),
    ),
    max_size=200,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, budget=st.integers(1, 300))
def test_properties_with_encoding(text: str, budget: int) -> None:
    chunks = split_or_too_small(text, budget, O200K)
    if chunks is not None:
        assert_valid(text, budget, O200K, chunks)
        if text:
            assert chunks
        if text and O200K.count(text) <= budget:
            assert len(chunks) == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, budget=st.integers(1, 300))
def test_properties_with_counter(text: str, budget: int) -> None:
    counter = Tokenizer.from_counter(CL100K.count, name="cl100k-as-counter")
    chunks = split_or_too_small(text, budget, counter)
    if chunks is not None:
        assert_valid(text, budget, counter, chunks)


@settings(max_examples=30, deadline=None)
@given(text=TEXT, budget=st.integers(1, 50))
def test_properties_with_nonmonotonic_counter(text: str, budget: int) -> None:
    # Words count 1, spaces 0: many prefixes share a count and extending can lower it.
    words = Tokenizer.from_counter(lambda s: len(s.split()), name="words")
    chunks = split_text(text, budget, tokenizer=words)
    assert_valid(text, budget, words, chunks)


def test_lone_surrogates_are_handled() -> None:
    text = "abc \ud800 def. " * 40
    chunks = split_text(text, 7)
    assert_valid(text, 7, O200K, chunks)


def test_empty_text() -> None:
    assert split_text("", 10) == []
    assert split_text("", 10, tokenizer=len) == []


@pytest.mark.parametrize("budget", [0, -3])
def test_budget_below_one(budget: int) -> None:
    with pytest.raises(ValueError, match="budget must be at least 1"):
        split_text("some text", budget)


def test_budget_must_be_int() -> None:
    with pytest.raises(TypeError, match="budget must be an int"):
        split_text("some text", 10.5)  # type: ignore[arg-type]


def test_budget_smaller_than_one_character() -> None:
    with pytest.raises(ValueError, match=r"budget=2 is too small.*'🦜'.*at least 3"):
        split_text("ok 🦜", 2)
    assert [c.text for c in split_text("🦜🦜", 3)] == ["🦜", "🦜"]


def test_budget_one_on_ascii() -> None:
    text = "Hello, world. This is fine."
    chunks = split_text(text, 1)
    assert_valid(text, 1, O200K, chunks)
    assert len(chunks) == O200K.count(text)


@pytest.mark.parametrize("budget", [20, 100, 500, 2000])
@pytest.mark.parametrize("tokenizer", [O200K, CL100K], ids=["o200k", "cl100k"])
def test_fill_on_prose(budget: int, tokenizer: Tokenizer) -> None:
    text = prose(300)
    chunks = split_text(text, budget, tokenizer=tokenizer)
    assert_valid(text, budget, tokenizer, chunks)
    assert len(chunks) > 3
    assert min(c.tokens for c in chunks[:-1]) >= MIN_FILL * budget


def test_fill_with_counter_tokenizer() -> None:
    text = prose(60)
    counter = Tokenizer.from_counter(O200K.count)
    chunks = split_text(text, 200, tokenizer=counter)
    assert_valid(text, 200, counter, chunks)
    assert min(c.tokens for c in chunks[:-1]) >= MIN_FILL * 200


def test_prefers_paragraph_then_sentence_boundaries() -> None:
    text = prose(200)
    for budget, paragraph_share in ((300, 0.25), (1000, 0.6)):
        endings = [c.text for c in split_text(text, budget)[:-1]]
        # The fill window (the last 8% of the budget) nearly always holds a sentence end
        # and, for larger budgets, often a paragraph end, which then wins.
        at_sentence = sum(e.endswith(("\n\n", ".", "!", "?")) for e in endings)
        at_paragraph = sum(e.endswith("\n\n") for e in endings)
        assert at_sentence >= 0.9 * len(endings)
        assert at_paragraph >= paragraph_share * len(endings)
        assert all(not e.endswith(" ") for e in endings)  # whitespace cuts go before blanks


def test_cjk_cuts_at_sentence_ends() -> None:
    sentences = ["今日は晴れです。", "私は図書館で本を読みました！", "明日は雨が降るでしょうか？"]
    text = "".join(sentences[i % 3] * (1 + i % 2) for i in range(120))
    chunks = split_text(text, 200)
    assert_valid(text, 200, O200K, chunks)
    assert len(chunks) > 3
    # The fill window (the last 8% of the budget) always holds a sentence end here.
    assert all(c.text.endswith(("。", "！", "？")) for c in chunks[:-1])
    assert min(c.tokens for c in chunks[:-1]) >= MIN_FILL * 200


@pytest.mark.parametrize("counter", [False, True], ids=["encoding", "counter"])
def test_cjk_long_sentences_still_cut_at_sentence_ends(counter: bool) -> None:
    # Sentences of 20-40 tokens and no whitespace: the last 8% of a 256-token budget often
    # holds no sentence end, and a sentence end within MIN_WIDE_FILL beats a cut mid-sentence.
    rng = random.Random(3)
    chars = [chr(0x4E00 + i) for i in range(0, 2100, 7)]  # 300 common-block ideographs
    sentences = [
        "".join(rng.choice(chars) for _ in range(rng.randint(12, 20))) + rng.choice("。！？")
        for _ in range(400)
    ]
    text = "".join(sentences)
    tokenizer = Tokenizer.from_counter(O200K.count) if counter else O200K
    if counter:
        text = text[: len(text) // 8]
    chunks = split_text(text, 256, tokenizer=tokenizer)
    assert_valid(text, 256, tokenizer, chunks)
    assert len(chunks) > 3
    assert all(c.text.endswith(("。", "！", "？")) for c in chunks[:-1])
    assert min(c.tokens for c in chunks[:-1]) >= MIN_WIDE_FILL * 256


def test_cjk_without_any_punctuation() -> None:
    text = "漢字仮名交じり文" * 500
    chunks = split_text(text, 50)
    assert_valid(text, 50, O200K, chunks)
    assert min(c.tokens for c in chunks[:-1]) >= MIN_FILL * 50


def test_code_cuts_at_line_ends() -> None:
    lines = [
        f"    value_{i} = compute(value_{i - 1}, factor={i % 7})  # step {i}" for i in range(1, 400)
    ]
    text = "def pipeline(value_0):\n" + "\n".join(lines) + "\n    return value_399\n"
    chunks = split_text(text, 500)
    assert_valid(text, 500, O200K, chunks)
    assert len(chunks) > 3
    assert all(c.text.endswith("\n") for c in chunks)
    assert all(c.text.startswith("    ") for c in chunks[1:])  # indentation stays put


def test_emoji_and_combining_marks_never_split() -> None:
    text = "🧑‍🚀🦜 e\u0301\u0301 🇯🇵 " * 50
    for budget in (3, 4, 7, 30):
        chunks = split_text(text, budget)
        assert_valid(text, budget, O200K, chunks)
        for chunk in chunks:
            chunk.text.encode("utf-8")  # whole code points only


def test_special_token_text_is_ordinary() -> None:
    text = "<|endoftext|> " * 100
    chunks = split_text(text, 10)
    assert_valid(text, 10, O200K, chunks)


def test_accepts_names_and_callables() -> None:
    text = prose(5)
    assert split_text(text, 50, tokenizer="gpt-4") == split_text(text, 50, tokenizer=CL100K)
    by_chars = split_text(text, 50, tokenizer=len)
    assert all(c.tokens <= 50 for c in by_chars)
    assert "".join(c.text for c in by_chars) == text


def test_ten_megabyte_single_line_is_fast() -> None:
    rng = random.Random(3)
    text = " ".join(rng.choice(WORDS) for _ in range(2_300_000)) + "."
    assert "\n" not in text
    assert len(text) > 10_000_000
    started = time.perf_counter()
    chunks = split_text(text, 1000)
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"took {elapsed:.1f}s"
    assert "".join(c.text for c in chunks) == text
    assert max(c.tokens for c in chunks) <= 1000
    assert min(c.tokens for c in chunks[:-1]) >= MIN_FILL * 1000


BOUNDARY_TEXT = st.lists(  # few symbols, so that rare neighbours meet often
    st.sampled_from(
        [" ", "  ", "\t", "\n", "\n\n", "\r", "\r\n", "\u00a0", "\u2028", "\x1c", "\x85"]
        + [".", "!", "?", ",", ";", ":", ")", "]", '"', "'", "’", "」", "。", "！", "…", "/", "//"]
        + ["a", "b", "Word", "WORD", "s", "t", "ll", "'s", "'t", "é", "e\u0301", "\u0301"]
        + ["1", "42", "12345", "日", "本", "한", "🙂", "{", "=", "-", "_", "<|endoftext|>"]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=BOUNDARY_TEXT)
@example(text=".\n/x")  # [\r\n/]* runs past a line break
@example(text="a\n \nb")  # \s*[\r\n]+ runs past spaces to the next line break
@example(text="a\n\n \n b c")
@example(text="x\n  \u00a0y")  # a non-ASCII blank after the spaces
@example(text="今日。明日。")  # [^\r\n\p{L}\p{N}]?\p{L}+ joins 。 and the next letters
@example(text="it's. It 's ok\n12345 x")
@pytest.mark.parametrize("tokenizer", [O200K, CL100K], ids=["o200k", "cl100k"])
def test_piece_boundaries_split_the_tokens_exactly(tokenizer: Tokenizer, text: str) -> None:
    # The splitter trusts a chunk's share of the whole text's tokens when both its ends are
    # sure piece boundaries: check that claim by encoding every such slice.
    data = text.encode("utf-8")
    whole = tokenizer.encode(text)
    sure = [p for p in range(len(data) + 1) if _piece_boundary(data, p)]
    assert sure[0] == 0 and sure[-1] == len(data)
    for i, start in enumerate(sure):
        for end in sure[i + 1 :]:
            piece = data[start:end].decode("utf-8")
            prefix = tokenizer.count(data[:start].decode("utf-8"))
            assert tokenizer.encode(piece) == whole[prefix : prefix + len(tokenizer.encode(piece))]
            assert prefix + tokenizer.count(piece) + tokenizer.count(
                data[end:].decode("utf-8")
            ) == (len(whole))


def test_a_megabyte_run_of_spaces_splits_without_panicking() -> None:
    # raw tiktoken raises pyo3's PanicException (a BaseException) on this run
    text = "Intro words here. " + " " * 1_100_000 + "tail words."
    tok = get_tokenizer("o200k_base")
    chunks = split_text(text, 4000, tokenizer=tok)
    assert "".join(c.text for c in chunks) == text
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(c.tokens == tok.count(c.text) <= 4000 for c in chunks)


@pytest.mark.parametrize("unit", [".", "?!", ".'"])
def test_long_punctuation_runs_split_in_linear_time(unit: str) -> None:
    # before: 0.4 MB of dots took 57 s at this budget (the sentence-end search rescanned
    # the run from every position of every window)
    text = "Start. " + unit * (400_000 // len(unit)) + " end. More."
    tok = get_tokenizer("o200k_base")
    began = time.monotonic()
    chunks = split_text(text, 4000, tokenizer=tok)
    assert time.monotonic() - began < 8
    assert "".join(c.text for c in chunks) == text
    assert all(c.tokens == tok.count(c.text) <= 4000 for c in chunks)
