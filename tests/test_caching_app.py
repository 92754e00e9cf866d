"""Prompt caching through the fake, as the openai SDK sees it: chat, streams, Responses, costs."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from minidouble._fake import FakeGPT4oMini
from minidouble._model._profile import GPT4O_MINI

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.sdk

LONG = " ".join(f"Rule {n}: answer politely and cite section {n}." for n in range(200))
MESSAGES = [{"role": "system", "content": LONG}, {"role": "user", "content": "Rule 7?"}]


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeGPT4oMini]:
    with FakeGPT4oMini(clock=clock) as fake:
        yield fake


@pytest.fixture
def client(fake: FakeGPT4oMini) -> Any:
    return openai.OpenAI(api_key="sk-caching-test", max_retries=0)


def _cached(client: Any, **extra: Any) -> tuple[int, int]:
    usage = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **extra).usage
    return usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens


def test_a_repeated_long_prompt_reports_cached_tokens(client: Any) -> None:
    prompt, first = _cached(client)
    assert prompt >= 1024 and first == 0
    _, second = _cached(client)
    assert second == 128 * ((prompt - 1) // 128)


def test_a_short_prompt_is_never_cached(client: Any) -> None:
    for _ in range(2):
        usage = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        ).usage
        assert usage.prompt_tokens_details.cached_tokens == 0


def test_the_cache_expires_on_the_fakes_clock(client: Any, clock: ManualClock) -> None:
    _cached(client)
    clock.now += GPT4O_MINI.caching.idle_seconds + 1
    assert _cached(client)[1] == 0
    assert _cached(client)[1] > 0


def test_the_streamed_usage_chunk_carries_cached_tokens(client: Any) -> None:
    prompt, _ = _cached(client)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = list(stream)[-1].usage
    assert usage.prompt_tokens_details.cached_tokens == 128 * ((prompt - 1) // 128)


def test_responses_report_cached_tokens_streamed_or_not(client: Any) -> None:
    first = client.responses.create(model="gpt-4o-mini", instructions=LONG, input="Rule 7?")
    assert first.usage.input_tokens_details.cached_tokens == 0
    second = client.responses.create(model="gpt-4o-mini", instructions=LONG, input="Rule 7?")
    expected = 128 * ((second.usage.input_tokens - 1) // 128)
    assert second.usage.input_tokens_details.cached_tokens == expected
    events = list(
        client.responses.create(
            model="gpt-4o-mini", instructions=LONG, input="Rule 7?", stream=True
        )
    )
    completed = [event for event in events if event.type == "response.completed"]
    assert completed[0].response.usage.input_tokens_details.cached_tokens == expected


def test_prompt_cache_key_keeps_tenants_apart(client: Any) -> None:
    _cached(client, prompt_cache_key="tenant-a")
    assert _cached(client, prompt_cache_key="tenant-b")[1] == 0
    assert _cached(client, prompt_cache_key="tenant-a")[1] > 0


def test_cached_tokens_are_billed_at_the_cached_price(fake: FakeGPT4oMini, client: Any) -> None:
    prompt, _ = _cached(client)
    _, cached = _cached(client)
    usage = fake.usage()
    assert usage.cached_tokens == cached > 0
    prices = GPT4O_MINI.prices
    expected = (
        (2 * prompt - cached) * prices.input_per_million
        + cached * prices.cached_input_per_million
        + usage.completion_tokens * prices.output_per_million
    ) / Decimal(1_000_000)
    assert usage.cost() == expected
    assert f"({cached:,} cached)" in usage.describe()


def test_reset_forgets_cached_prompts(fake: FakeGPT4oMini, client: Any) -> None:
    _cached(client)
    fake.reset()
    assert _cached(client)[1] == 0


def test_caching_off_reports_nothing(clock: ManualClock) -> None:
    with FakeGPT4oMini(clock=clock, prompt_caching=False) as fake:
        client = openai.OpenAI(api_key="sk-caching-test", max_retries=0)
        _cached(client)
        assert _cached(client)[1] == 0
        assert fake.usage().cached_tokens == 0


def test_a_bad_switch_is_refused_with_the_cure() -> None:
    with pytest.raises(
        ValueError,
        match=r"minidouble: FakeGPT4oMini\(prompt_caching=...\): expected True or False"
        r".*got 'maybe'",
    ):
        FakeGPT4oMini(prompt_caching="maybe")
