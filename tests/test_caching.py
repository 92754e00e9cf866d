"""Prompt caching: what the cache reports for a prompt, given what came before and when."""

from __future__ import annotations

from typing import Any

import pytest

from minidouble._model._profile import GPT4O_MINI
from minidouble._model._tokens import count_prompt_tokens
from minidouble._service._caching import PromptCache, chat_sequence

# A system prompt long enough to be cached on its own (about 2,000 tokens).
LONG_SYSTEM = " ".join(f"Rule {n}: answer politely and cite section {n}." for n in range(200))


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _body(*questions: str, system: str = LONG_SYSTEM, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}]
    for question in questions:
        messages.append({"role": "user", "content": question})
    return {"model": "gpt-4o-mini", "messages": messages, **extra}


def _serve(cache: PromptCache, body: dict[str, Any], **options: Any) -> tuple[int, int]:
    tokens = count_prompt_tokens(body)
    return tokens, cache.cached_tokens(tokens, lambda: chat_sequence(body), **options)


def test_a_repeated_long_prompt_is_cached_in_128_token_steps_never_whole() -> None:
    cache = PromptCache(ManualClock())
    body = _body("What is rule 7?")
    tokens, first = _serve(cache, body)
    assert tokens >= 1024
    assert first == 0
    _, second = _serve(cache, body)
    assert second >= 1024
    assert second % 128 == 0
    assert second < tokens  # at least the last token is read anew
    assert second == 128 * ((tokens - 1) // 128)


def test_a_shared_prefix_is_cached_up_to_the_last_whole_block_before_the_difference() -> None:
    cache = PromptCache(ManualClock())
    tokens, _ = _serve(cache, _body("What is rule 7?"))
    _, cached = _serve(cache, _body("A different question, about rule 9?"))
    assert 1024 <= cached < tokens
    assert cached % 128 == 0
    # Everything up to the system message's end is shared; the question is not.
    system_only = count_prompt_tokens(_body())
    assert system_only - 128 < cached <= system_only


def test_a_conversation_reuses_its_earlier_turns() -> None:
    cache = PromptCache(ManualClock())
    first = _body("What is rule 7?")
    tokens, _ = _serve(cache, first)
    follow_up = dict(first)
    follow_up["messages"] = [
        *first["messages"],
        {"role": "assistant", "content": "Rule 7 says to answer politely."},
        {"role": "user", "content": "And rule 8?"},
    ]
    _, cached = _serve(cache, follow_up)
    assert cached == 128 * (tokens // 128)


def test_the_reply_priming_that_ends_a_prompt_is_not_cached_with_it() -> None:
    # A prompt whose last 128-token block is completed only by the reply's priming: the
    # follow-up shares the whole prompt but reuses one block less (docs/caching.md).
    question = next(
        question
        for question in (f"Why? {'x ' * n}" for n in range(128))
        if count_prompt_tokens(_body(question)) % 128 < 3
    )
    cache = PromptCache(ManualClock())
    first = _body(question)
    tokens, _ = _serve(cache, first)
    follow_up = dict(first)
    follow_up["messages"] = [
        *first["messages"],
        {"role": "assistant", "content": "Because rule 7 says so."},
        {"role": "user", "content": "And rule 8?"},
    ]
    assert _serve(cache, follow_up)[1] == 128 * (tokens // 128) - 128
    assert _serve(cache, first)[1] == 128 * (tokens // 128) - 128


def test_a_short_prompt_is_never_cached_and_costs_no_sequence() -> None:
    cache = PromptCache(ManualClock())
    body = _body("hi", system="Be brief.")

    def refuse() -> Any:
        raise AssertionError("a short prompt must not be tokenized for the cache")

    tokens = count_prompt_tokens(body)
    assert tokens < 1024
    for _ in range(3):
        assert cache.cached_tokens(tokens, refuse) == 0


def test_an_entry_expires_after_its_idle_time_and_a_use_keeps_it_alive() -> None:
    clock = ManualClock()
    cache = PromptCache(clock)
    body = _body("What is rule 7?")
    _serve(cache, body)
    idle = GPT4O_MINI.caching.idle_seconds
    clock.now += idle - 1
    assert _serve(cache, body)[1] > 0  # used again: alive for another idle period
    clock.now += idle - 1
    assert _serve(cache, body)[1] > 0
    clock.now += idle + 1
    assert _serve(cache, body)[1] == 0  # expired; this request cached it again
    assert _serve(cache, body)[1] > 0


def test_an_entry_never_outlives_its_maximum_age_however_often_used() -> None:
    clock = ManualClock()
    cache = PromptCache(clock)
    body = _body("What is rule 7?")
    _serve(cache, body)
    rules = GPT4O_MINI.caching
    step = rules.idle_seconds / 2
    while clock.now + step < 1_000.0 + rules.max_age_seconds:
        clock.now += step
        assert _serve(cache, body)[1] > 0
    clock.now = 1_000.0 + rules.max_age_seconds + 1
    assert _serve(cache, body)[1] == 0


def test_extended_retention_keeps_a_prefix_for_a_day() -> None:
    clock = ManualClock()
    cache = PromptCache(clock)
    body = _body("What is rule 7?")
    _serve(cache, body, extended=True)
    clock.now += 3 * 3600
    assert _serve(cache, body)[1] > 0


def test_prompt_cache_key_keeps_prefixes_apart() -> None:
    cache = PromptCache(ManualClock())
    body = _body("What is rule 7?")
    _serve(cache, body, key="tenant-a")
    assert _serve(cache, body, key="tenant-b")[1] == 0
    assert _serve(cache, body)[1] == 0
    assert _serve(cache, body, key="tenant-a")[1] > 0


def test_tools_are_part_of_the_prefix() -> None:
    cache = PromptCache(ManualClock())
    tool = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    plain = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": LONG_SYSTEM}]}
    _serve(cache, plain)
    # Without a system message the tools come first: a new tool changes the whole prefix.
    assert _serve(cache, {**plain, "tools": [tool]})[1] == 0
    # With one, they are written after its text, which stays shared.
    _serve(cache, _body("What is rule 7?"))
    tokens, cached = _serve(cache, _body("What is rule 7?", tools=[tool]))
    assert 1024 <= cached <= count_prompt_tokens(_body()) < tokens


def test_caching_off_reports_nothing() -> None:
    cache = PromptCache(ManualClock(), enabled=False)
    body = _body("What is rule 7?")
    _serve(cache, body)
    assert _serve(cache, body)[1] == 0


@pytest.mark.parametrize("cached", [0, 1024, 2048])
def test_cached_tokens_are_billed_at_the_cached_price(cached: int) -> None:
    prices = GPT4O_MINI.prices
    full = prices.cost(4096, 0)
    assert (
        prices.cost(4096, 0, cached)
        == full - cached * (prices.input_per_million - prices.cached_input_per_million) / 1_000_000
    )
