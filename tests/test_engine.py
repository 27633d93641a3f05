"""The map-reduce engine, driven by FakeBackend: budgets, termination, order, failures."""

from __future__ import annotations

import _thread
import asyncio
import math
import random
import threading
import time

import pytest
from conftest import (
    compress_model,
    doubling_model,
    echo_model,
    empty_model,
    failing_model,
    last_user,
    markers,
    sectioned_text,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarizer import (
    ChunkFailed,
    Completion,
    ContextLengthExceeded,
    ContextWindowTooSmall,
    EmptySummary,
    FakeBackend,
    Prompts,
    Summarizer,
    SummaryDidNotFit,
    Tokenizer,
    asummarize,
    summarize,
)
from summarizer._engine import DEFAULT_SAFETY_MARGIN, EXACT_SAFETY_MARGIN
from summarizer._prompts import count_message_tokens

TOK = Tokenizer.from_encoding("o200k_base")


def assert_every_request_fits(
    backend: FakeBackend, window: int, margin: float = EXACT_SAFETY_MARGIN
) -> None:
    for call in backend.calls:
        assert call.prompt_tokens + call.max_tokens <= window, call
        # and with the safety margin the engine budgets for (the fake backend's tokenizer
        # is the one it counts with, so by default the margin for exact tokenizers applies)
        assert math.ceil(call.prompt_tokens * (1 + margin)) + call.max_tokens <= window


# -- the basic contract ----------------------------------------------------------------------


def test_text_that_fits_takes_exactly_one_call() -> None:
    backend = FakeBackend(compress_model, context_window=4096)
    text = sectioned_text(3)
    result = Summarizer(backend=backend, target_tokens=200).run(text)
    assert len(backend.calls) == 1
    assert result.stats.calls == 1 and result.stats.levels == 1 and result.stats.chunks == 1
    assert result.summary == compress_model(backend.calls[0].messages, 200)
    assert backend.calls[0].max_tokens == 200
    assert last_user(backend.calls[0].messages) == text


def test_long_text_is_mapped_then_combined_in_order_and_every_request_fits() -> None:
    window = 1500
    # Random delays make calls finish out of order; the summary must keep input order.
    rng = random.Random(7)
    backend = FakeBackend(
        compress_model, context_window=window, delay=lambda _m: rng.random() * 0.01
    )
    text = sectioned_text(60)
    summarizer = Summarizer(backend=backend, target_tokens=400, concurrency=4)
    plan = summarizer.estimate(text)
    result = summarizer.run(text)
    assert markers(result.summary) == markers(text)
    assert plan.chunks >= 3 and not plan.single_call
    assert result.stats.chunks == plan.chunks
    assert result.stats.calls <= plan.calls
    assert result.stats.levels >= 2
    assert_every_request_fits(backend, window)
    # the last call is one combine over everything
    assert backend.calls[-1].messages[0]["content"].startswith("You summarize documents.")
    assert "partial summaries" in backend.calls[-1].messages[0]["content"]


def test_concurrency_bound_is_respected() -> None:
    backend = FakeBackend(echo_model, context_window=1024, delay=0.02)
    text = sectioned_text(40)
    result = Summarizer(backend=backend, concurrency=3, target_tokens=100).run(text)
    assert result.stats.chunks > 3
    assert backend.max_in_flight == 3


def test_concurrency_one_is_sequential() -> None:
    backend = FakeBackend(echo_model, context_window=1024, delay=0.001)
    Summarizer(backend=backend, concurrency=1, target_tokens=100).run(sectioned_text(20))
    assert backend.max_in_flight == 1


# -- termination for any model behaviour ---------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "enforce"),
    [
        (echo_model, True),
        (doubling_model, True),
        (doubling_model, False),  # a model that ignores max_tokens: the engine cuts it
        (lambda m, t: "word " * 5000, False),
    ],
    ids=["echo", "doubling", "doubling-ignores-cap", "verbose-ignores-cap"],
)
def test_terminates_within_the_plan_for_unhelpful_models(model, enforce) -> None:
    window = 1200
    backend = FakeBackend(model, context_window=window, enforce_max_tokens=enforce)
    summarizer = Summarizer(backend=backend, target_tokens=150)
    text = sectioned_text(80)
    plan = summarizer.estimate(text)
    result = summarizer.run(text)
    assert result.stats.calls == len(backend.calls) <= plan.max_calls
    assert result.stats.levels <= summarizer.max_levels
    assert TOK.count(result.summary) <= 150
    assert result.summary
    assert_every_request_fits(backend, window)
    if not enforce:
        assert result.stats.truncated_outputs > 0


def test_empty_model_raises_empty_summary_with_partials() -> None:
    backend = FakeBackend(empty_model, context_window=1200)
    with pytest.raises(EmptySummary, match="empty summary") as info:
        Summarizer(backend=backend, target_tokens=150).run(sectioned_text(40))
    chunks = [p for p in info.value.partial if p.level == 1]
    assert len(chunks) == len(backend.calls) > 1
    assert all(p.text == "" for p in chunks)


def test_single_empty_partial_is_counted_not_fatal() -> None:
    def model(messages, max_tokens):
        text = last_user(messages)
        return (
            ""
            if "MK003" in text and "partial" not in messages[0]["content"]
            else (compress_model(messages, max_tokens))
        )

    backend = FakeBackend(model, context_window=900)
    text = sectioned_text(30)
    result = Summarizer(backend=backend, target_tokens=300).run(text)
    assert result.stats.empty_outputs == 1
    assert "MK003" not in result.summary
    assert "MK020" in result.summary


def test_failing_model_raises_chunk_failed() -> None:
    backend = FakeBackend(failing_model, context_window=1200)
    with pytest.raises(ChunkFailed, match="model exploded") as info:
        Summarizer(backend=backend, target_tokens=150).run(sectioned_text(40))
    assert isinstance(info.value.cause, RuntimeError)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert info.value.level == 1


def test_failure_names_the_chunk_and_keeps_completed_partials() -> None:
    text = sectioned_text(40)

    def model(messages, max_tokens):
        if "MK025" in last_user(messages):
            raise TimeoutError("slow server")
        return compress_model(messages, max_tokens)

    backend = FakeBackend(model, context_window=1000, delay=lambda m: 0.0)
    with pytest.raises(ChunkFailed) as info:
        Summarizer(backend=backend, target_tokens=150, concurrency=1).run(text)
    error = info.value
    position = text.index("MK025")
    assert error.level == 1
    assert error.start <= position < error.end
    assert f"characters {error.start}-{error.end}" in str(error)
    assert f"chunk {error.index + 1} of {error.total} at level 1" in str(error)
    assert "TimeoutError: slow server" in str(error)
    # sequential: every chunk before the failing one completed and is kept, in order
    done = [p.index for p in error.partial]
    assert done[: error.index] == list(range(error.index))
    assert error.index not in done and done == sorted(done)
    assert all(p.level == 1 and p.text for p in error.partial)


def test_failure_in_a_combine_level_names_its_span() -> None:
    def model(messages, max_tokens):
        if "partial summaries" in messages[0]["content"]:
            raise ValueError("combine broke")
        return last_user(messages)  # echo: partials stay big so combine levels are needed

    backend = FakeBackend(model, context_window=800)
    with pytest.raises(ChunkFailed, match="combine group") as info:
        Summarizer(backend=backend, target_tokens=120).run(sectioned_text(60))
    assert info.value.level == 2
    assert info.value.end > info.value.start
    assert {p.level for p in info.value.partial} == {1}


def test_hard_maximum_depth_is_checked_before_any_call() -> None:
    backend = FakeBackend(echo_model, context_window=700)
    summarizer = Summarizer(backend=backend, target_tokens=100, max_levels=2)
    text = sectioned_text(150)
    assert not summarizer.estimate(text).within_max_levels
    with pytest.raises(SummaryDidNotFit, match="max_levels=2"):
        summarizer.run(text)
    assert backend.calls == []


def test_level_that_does_not_shrink_is_asked_again_with_a_tighter_cap() -> None:
    # A target close to the window forces tiny chunks that an echo model cannot shrink.
    window = 2048
    backend = FakeBackend(echo_model, context_window=window)
    summarizer = Summarizer(backend=backend, target_tokens=1300)
    text = "\n\n".join(f"Sentence number {i} is here, with MK{i:03d}." for i in range(60))
    plan = summarizer.estimate(text)
    assert plan.chunks == 2
    result = summarizer.run(text)
    assert result.stats.retried_outputs == 2
    caps = [c.max_tokens for c in backend.calls]
    assert caps[2] == caps[3] == caps[0] // 2  # the retries asked for half the cap
    assert result.stats.calls == 5 <= plan.max_calls
    assert_every_request_fits(backend, window)


def test_context_window_too_small_is_a_clear_error() -> None:
    with pytest.raises(ContextWindowTooSmall, match="context window of 150 tokens"):
        Summarizer(backend=FakeBackend(context_window=150)).run("Some text. " * 100)


@pytest.mark.parametrize("target", [1000, 5000], ids=["equal-window", "above-window"])
def test_target_tokens_beyond_the_window_is_a_clear_error(target: int) -> None:
    backend = FakeBackend(echo_model, context_window=1000)
    summarizer = Summarizer(backend=backend, target_tokens=target)
    with pytest.raises(ContextWindowTooSmall, match=r"target_tokens=\d+ does not fit .* <= \d+"):
        summarizer.estimate("Some text. " * 10)
    with pytest.raises(ContextWindowTooSmall, match="target_tokens"):
        summarizer.run("Some text. " * 10)
    assert backend.calls == []


# -- fit and estimate ---------------------------------------------------------------------------


def test_fit_returns_text_unchanged_when_it_fits() -> None:
    backend = FakeBackend(echo_model)
    text = "A short note.\n"
    assert Summarizer(backend=backend).fit(text, 100) is text
    assert backend.calls == []


def test_fit_summarizes_until_it_fits() -> None:
    backend = FakeBackend(echo_model, context_window=2000)
    text = sectioned_text(50)
    fitted = Summarizer(backend=backend).fit(text, 300)
    assert 0 < TOK.count(fitted) <= 300
    assert backend.calls[-1].max_tokens <= 300


def test_fit_to_more_tokens_than_the_window_still_summarizes() -> None:
    backend = FakeBackend(echo_model, context_window=1000)
    text = sectioned_text(50)
    assert TOK.count(text) > 5000
    fitted = Summarizer(backend=backend).fit(text, 5000)
    assert 0 < TOK.count(fitted) < 1000
    assert_every_request_fits(backend, 1000)


def test_estimate_makes_no_call_and_bounds_the_run() -> None:
    backend = FakeBackend(echo_model, context_window=1000)
    summarizer = Summarizer(backend=backend, target_tokens=100)
    text = sectioned_text(100)
    plan = summarizer.estimate(text)
    assert backend.calls == []
    assert plan.input_tokens == TOK.count(text)
    assert plan.context_window == 1000
    assert plan.levels >= 3 and plan.calls > plan.chunks
    assert "worst case" in plan.note and "assumes every output" in plan.note
    assert plan.to_dict()["chunks"] == plan.chunks
    assert "chunks:" in str(plan)
    result = summarizer.run(text)
    assert result.stats.calls <= plan.calls
    assert result.stats.levels <= plan.levels


def test_estimate_of_fit_mode() -> None:
    backend = FakeBackend(echo_model, context_window=1000)
    summarizer = Summarizer(backend=backend)
    short = summarizer.estimate("A short note.", max_tokens=50)
    assert short.calls == 0 and short.levels == 0 and "unchanged" in short.note
    assert "no call" in str(short)
    text = sectioned_text(100)
    plan = summarizer.estimate(text, max_tokens=60)
    assert plan.target_tokens == 60 and plan.calls > 1
    assert backend.calls == []
    result = asyncio.run(summarizer.afit_result(text, 60))
    assert 0 < result.stats.calls <= plan.calls
    assert TOK.count(text) > 3000
    assert summarizer.estimate(text, max_tokens=3000).target_tokens < 1000  # clamped
    with pytest.raises(ValueError, match="max_tokens"):
        summarizer.estimate(text, max_tokens=0)


def test_estimate_single_call() -> None:
    plan = Summarizer(backend=FakeBackend()).estimate("Short text.")
    assert plan.single_call and plan.calls == 1 and plan.levels == 1


# -- stats, progress, prompts -------------------------------------------------------------------


def test_stats_use_server_usage_when_reported_else_count() -> None:
    text = sectioned_text(30)
    reported = FakeBackend(echo_model, context_window=1000)
    counted = FakeBackend(echo_model, context_window=1000, report_usage=False)
    a = Summarizer(backend=reported, target_tokens=100).run(text).stats
    b = Summarizer(backend=counted, target_tokens=100).run(text).stats
    assert a.prompt_tokens == sum(c.prompt_tokens for c in reported.calls)
    assert (a.prompt_tokens, a.completion_tokens) == (b.prompt_tokens, b.completion_tokens)

    def usage_model(messages, max_tokens):
        return Completion("summary", prompt_tokens=1000, completion_tokens=7)

    stats = Summarizer(backend=FakeBackend(usage_model, report_usage=False)).run("Hi there.").stats
    assert (stats.prompt_tokens, stats.completion_tokens) == (1000, 7)
    assert stats.backend == "fake" and stats.model == "fake"
    data = Summarizer(backend=FakeBackend()).run("Hi there.").to_dict()
    assert set(data) == {"summary", "stats"} and data["stats"]["calls"] == 1


def test_progress_events_cover_every_call() -> None:
    events = []
    backend = FakeBackend(echo_model, context_window=1000)
    result = Summarizer(backend=backend, target_tokens=100).run(
        sectioned_text(40), on_progress=events.append
    )
    assert events[0].level == 1 and events[0].done == 0
    assert events[-1].done == events[-1].total and events[-1].calls == result.stats.calls
    assert {e.level for e in events} == set(range(1, result.stats.levels + 1))
    map_events = [e for e in events if e.level == 1]
    assert [e.done for e in map_events] == list(range(result.stats.chunks + 1))


def test_instructions_in_system_message_text_last_user_message() -> None:
    backend = FakeBackend(echo_model)
    Summarizer(backend=backend, instruction="Focus on risks.", language="French").run("Body.")
    (call,) = backend.calls
    system, user = call.messages
    assert system["role"] == "system" and user == {"role": "user", "content": "Body."}
    assert "Focus on risks." in system["content"] and "in French" in system["content"]
    assert "512 tokens" in system["content"]


def test_custom_prompts_are_used() -> None:
    prompts = Prompts(
        map_system="Map it in {target_words} words. {instruction}",
        map_user="TEXT:\n{text}",
        combine_system="Combine {parts} groups.",
        combine_user="PARTS:\n{text}",
    )
    backend = FakeBackend(lambda m, t: last_user(m)[-300:], context_window=800)
    Summarizer(backend=backend, prompts=prompts, instruction="Be terse.", target_tokens=100).run(
        sectioned_text(30)
    )
    assert backend.calls[0].messages[0]["content"] == "Map it in 75 words. Be terse."
    assert backend.calls[0].messages[1]["content"].startswith("TEXT:\n")
    assert backend.calls[-1].messages[1]["content"].startswith("PARTS:\n")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"map_user": "no placeholder"}, "must contain {text}"),
        ({"map_system": "{text}"}, "must not contain {text}"),
        ({"combine_system": "{oops}"}, "unknown placeholder"),
        ({"combine_user": "{text"}, "not a valid format string"),
    ],
    ids=["user-without-text", "system-with-text", "unknown", "broken"],
)
def test_bad_prompt_templates_are_rejected(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        Prompts(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"target_tokens": -1}, "target_tokens"),
        ({"context_window": 0}, "context_window"),
        ({"max_levels": 0}, "max_levels"),
        ({"safety_margin": 2.0}, "safety_margin"),
    ],
    ids=["concurrency", "target", "window", "levels", "margin"],
)
def test_bad_config_is_a_value_error(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        Summarizer(backend=FakeBackend(), **kwargs)


class _ModelOnlyBackend:
    """A backend that names its model but carries no tokenizer."""

    name = "model-only"
    context_window = 8192

    def __init__(self, model: str | None) -> None:
        self.model = model

    def complete(self, messages, *, max_tokens):  # pragma: no cover - never called
        raise AssertionError("no call expected")

    async def acomplete(self, messages, *, max_tokens):  # pragma: no cover - never called
        raise AssertionError("no call expected")


@pytest.mark.parametrize(
    ("options", "margin"),
    [
        ({"backend": FakeBackend()}, EXACT_SAFETY_MARGIN),
        ({"backend": "extractive"}, EXACT_SAFETY_MARGIN),
        ({"backend": _ModelOnlyBackend("gpt-4o-mini")}, EXACT_SAFETY_MARGIN),
        ({"backend": _ModelOnlyBackend("openai/gpt-4")}, EXACT_SAFETY_MARGIN),
        ({"backend": _ModelOnlyBackend("llama-3.1-8b-instruct")}, DEFAULT_SAFETY_MARGIN),
        ({"backend": _ModelOnlyBackend(None)}, DEFAULT_SAFETY_MARGIN),
        (
            {"backend": _ModelOnlyBackend("llama-3.1-8b-instruct"), "tokenizer": len},
            EXACT_SAFETY_MARGIN,
        ),
        ({"backend": _ModelOnlyBackend("gpt-4o"), "safety_margin": 0.2}, 0.2),
        ({"backend": _ModelOnlyBackend("mistral"), "safety_margin": 0}, 0),
    ],
    ids=[
        "fake",
        "extractive",
        "known-model",
        "prefixed-model",
        "unknown-model",
        "no-model",
        "own-tokenizer",
        "explicit",
        "explicit-zero",
    ],
)
def test_safety_margin_is_small_only_when_the_tokenizer_is_known(options, margin) -> None:
    assert Summarizer(**options).safety_margin == margin


def test_smaller_margin_packs_fuller_requests_that_still_fit() -> None:
    text = " ".join(sectioned_text(240).split())  # one paragraph: cuts fall near the budget
    largest, chunks = {}, {}
    for margin in (0.0, 0.05):
        backend = FakeBackend(compress_model, context_window=1500)
        result = Summarizer(backend=backend, target_tokens=200, safety_margin=margin).run(text)
        assert_every_request_fits(backend, 1500, margin)
        largest[margin] = max(c.prompt_tokens + c.max_tokens for c in backend.calls)
        chunks[margin] = result.stats.chunks
    assert largest[0.0] > largest[0.05] and largest[0.0] >= 0.98 * 1500
    assert chunks[0.0] < chunks[0.05]


def test_safety_margin_must_be_a_number() -> None:
    with pytest.raises(ValueError, match="safety_margin"):
        Summarizer(backend=FakeBackend(), safety_margin=True)  # type: ignore[arg-type]


def test_blank_text_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nothing to summarize"):
        Summarizer(backend=FakeBackend()).run("  \n ")
    with pytest.raises(TypeError, match="must be a str"):
        Summarizer(backend=FakeBackend()).run(b"bytes")  # type: ignore[arg-type]


def test_non_backend_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="backend must be"):
        Summarizer(backend=object())  # type: ignore[arg-type]


# -- sync/async API ---------------------------------------------------------------------------


def test_sync_api_works_inside_a_running_event_loop() -> None:
    async def main() -> str:
        # e.g. a Jupyter cell: sync call while a loop runs in this thread
        return Summarizer(backend=FakeBackend(compress_model)).run("Alpha. Beta.").summary

    assert asyncio.run(main()) == "Alpha."


def test_ctrl_c_stops_a_sync_run_inside_a_running_event_loop() -> None:
    backend = FakeBackend(echo_model, context_window=1024, delay=0.2)
    summarizer = Summarizer(backend=backend, concurrency=1)
    text = sectioned_text(60)
    assert summarizer.estimate(text).calls > 10  # 2 s or more if not interrupted

    async def cell() -> None:  # a Jupyter cell: no asyncio.run SIGINT handler
        threading.Timer(0.3, _thread.interrupt_main).start()
        summarizer.run(text)

    loop = asyncio.new_event_loop()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(cell())
    finally:
        loop.close()
    assert time.monotonic() - started < 1.5
    made = len(backend.calls)
    time.sleep(0.3)
    assert len(backend.calls) == made <= 3  # the run was cancelled, not left running


def test_summarize_and_asummarize_convenience() -> None:
    assert summarize("One. Two.", backend=FakeBackend(compress_model)) == "One."
    assert asyncio.run(asummarize("One. Two.", backend=FakeBackend(compress_model))) == "One."
    text = sectioned_text(5)
    assert summarize(text, backend=FakeBackend(), max_tokens=10_000) == text
    default = summarize(sectioned_text(8), target_tokens=60)  # the offline extractive default
    assert 0 < TOK.count(default) <= 60
    with pytest.raises(ValueError, match="configure the backend object"):
        summarize("x", backend=FakeBackend(), model="gpt-4o")


def test_lone_surrogates_in_text_and_replies_are_handled() -> None:
    text = "Hello \ud800 world. Another sentence here. " * 200
    backend = FakeBackend(echo_model, context_window=1024)  # echoes and cuts the surrogates
    result = Summarizer(backend=backend).run(text)
    assert result.stats.calls > 1 and "\ud800" in result.summary
    assert_every_request_fits(backend, 1024)


def test_tokenizer_from_counter_works_end_to_end() -> None:
    def words(text: str) -> int:
        return len(text.split())

    backend = FakeBackend(compress_model, context_window=900, tokenizer=words)
    text = sectioned_text(40)
    result = Summarizer(backend=backend, target_tokens=200).run(text)
    assert markers(result.summary) == markers(text)
    assert all(c.prompt_tokens + c.max_tokens <= 900 for c in backend.calls)


# -- FakeBackend itself --------------------------------------------------------------------------


def test_fake_backend_scripted_replies_and_exceptions() -> None:
    backend = FakeBackend(["first", ValueError("boom"), KeyError])
    assert backend.complete([{"role": "user", "content": "x"}], max_tokens=5).text == "first"
    with pytest.raises(ValueError, match="boom"):
        backend.complete([{"role": "user", "content": "x"}], max_tokens=5)
    with pytest.raises(KeyError):
        asyncio.run(backend.acomplete([{"role": "user", "content": "x"}], max_tokens=5))
    with pytest.raises(IndexError, match="ran out of scripted replies"):
        backend.complete([{"role": "user", "content": "x"}], max_tokens=5)
    assert len(backend.calls) == 4


def test_fake_backend_enforces_window_and_cap() -> None:
    backend = FakeBackend(["one two three four five six"], context_window=30)
    completion = backend.complete([{"role": "user", "content": "hi"}], max_tokens=3)
    assert completion.text == "one two three" and completion.finish_reason == "length"
    with pytest.raises(ContextLengthExceeded, match="exceeds the context window of 30"):
        backend.complete([{"role": "user", "content": "hi"}], max_tokens=25)
    assert backend.in_flight == 0
    assert count_message_tokens([{"role": "user", "content": "hi"}], TOK) == 1 + 4 + 3


# -- property: termination under the window for any input and model ------------------------------

MODELS = {
    "echo": echo_model,
    "doubling": doubling_model,
    "empty-some": lambda m, t: "" if len(last_user(m)) % 3 == 0 else last_user(m)[:500],
    "compress": compress_model,
    "junk": lambda m, t: "lorem ipsum " * 400,
}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    sections=st.integers(1, 120),
    sentences=st.integers(1, 20),
    window=st.integers(400, 6000),
    target=st.integers(20, 900),
    model=st.sampled_from(sorted(MODELS)),
    enforce=st.booleans(),
)
def test_property_terminates_and_every_request_fits(
    sections, sentences, window, target, model, enforce
) -> None:
    backend = FakeBackend(MODELS[model], context_window=window, enforce_max_tokens=enforce)
    summarizer = Summarizer(backend=backend, target_tokens=target)
    text = sectioned_text(sections, sentences)
    try:
        plan = summarizer.estimate(text)
        result = summarizer.run(text)
    except ContextWindowTooSmall:
        assert backend.calls == []
        return
    except (EmptySummary, SummaryDidNotFit):
        assert len(backend.calls) <= 2 * sections * sentences + 10
        return
    assert len(backend.calls) == result.stats.calls <= plan.max_calls
    assert TOK.count(result.summary) <= target
    assert_every_request_fits(backend, window)


def test_count_message_tokens_reuses_a_known_count_only_for_equal_content() -> None:
    text = sectioned_text(2)
    messages = Prompts().render("map", text, target_tokens=100)
    exact = count_message_tokens(messages, TOK)
    assert count_message_tokens(messages, TOK, known=(text, TOK.count(text))) == exact
    # a known count is trusted for equal content only: other contents are still counted
    assert count_message_tokens(messages, TOK, known=("something else", 10**6)) == exact
    assert count_message_tokens(messages, TOK, known=(text, 0)) < exact


def test_run_tokenizes_the_input_once_and_counts_each_map_request_without_it() -> None:
    seen: list[str] = []
    exact = Tokenizer.from_encoding("o200k_base")

    class Spy(Tokenizer):
        __slots__ = ()

        def count(self, text: str) -> int:
            seen.append(text)
            return super().count(text)

        def encode(self, text: str) -> list[int]:
            seen.append(text)
            return super().encode(text)

    spy = Spy("o200k_base", encoding=exact.encoding)
    text = sectioned_text(30)
    backend = FakeBackend(compress_model, context_window=1500)
    result = Summarizer(backend=backend, tokenizer=spy, target_tokens=200).run(text)
    assert result.stats.chunks > 2
    assert_every_request_fits(backend, 1500)
    # The whole text is tokenized once; a chunk is counted at most once (by the splitter,
    # when its ends are not sure token boundaries) and its map request reuses that count.
    assert seen.count(text) == 1
    big = [s for s in seen if len(s) > 2000]
    assert len(big) == len(set(big))
    assert sum(map(len, big)) <= 2 * len(text)
