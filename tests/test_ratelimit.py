"""The rate limiter: Go-duration formats, the pre-tokenisation estimate, both buckets, 429s."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minidouble import GPT4O_MINI
from minidouble._service._app import GPT4oMiniApp
from minidouble._service._faults import rate_limit_error
from minidouble._service._ratelimit import (
    RateLimiter,
    Rejection,
    _text_chars,
    estimate_tokens,
    go_duration,
)
from tests.behaviour.helpers import as_json, chat_request, user


class ManualClock:
    """A clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-1, "0s"),
        (0.0004, "1ms"),
        (0.002, "2ms"),
        (0.12, "120ms"),
        (0.999, "999ms"),
        (1, "1s"),
        (8.64, "8.64s"),
        (45.1755, "45.175s"),
        (51.174, "51.174s"),
        (60, "1m0s"),
        (360, "6m0s"),
        (90.5, "1m30.5s"),
        (3600, "1h0m0s"),
        (3723.25, "1h2m3.25s"),
    ],
)
def test_go_duration_matches_the_recorded_header_formats(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_estimate_is_characters_over_four_plus_per_message() -> None:
    # The recorded probe: one 720,000-character message without max_tokens was charged 180,002.
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 720_000}]}
    assert estimate_tokens(body) == 180_002


def test_estimate_reserves_the_requested_output_times_n() -> None:
    base = user("Hello!")  # 6 characters: 2 + 2 per message
    assert estimate_tokens(base) == 4
    assert estimate_tokens({**base, "max_tokens": 100}) == 104
    assert estimate_tokens({**base, "max_completion_tokens": 50, "n": 3}) == 154
    system = {"role": "system", "content": "Be brief."}
    assert estimate_tokens({**base, "messages": [system, *base["messages"]]}) == 4 + 3 + 2


def test_estimate_never_fails_on_bodies_validation_would_refuse() -> None:
    for body in (None, [], "text", {"messages": "nope"}, {"messages": [1, None, {"x": [2]}]}):
        assert estimate_tokens(body) >= 0


def test_the_recorded_tpm_refusal_is_reproduced_exactly() -> None:
    """Limit 200000, Used 170583, Requested 180002 -> 45.175s, retry-after 46 / 45175 ms."""
    clock = ManualClock()
    limiter = RateLimiter(
        requests_per_minute=500, tokens_per_minute=200_000, enforce=True, clock=clock
    )
    assert limiter.admit(200_000 - 29_417) is None  # leaves 29,417 tokens
    rejection = limiter.admit(180_002)
    assert rejection == Rejection("tokens", 200_000, 170_583, 180_002, pytest.approx(45.1755))
    fault = rate_limit_error(rejection)
    assert fault.error is not None
    assert fault.error.body["error"] == {
        "message": "Rate limit reached for gpt-4o-mini in organization org-minidouble on tokens "
        "per min (TPM): Limit 200000, Used 170583, Requested 180002. Please try again in "
        "45.175s. Visit https://platform.openai.com/account/rate-limits to learn more.",
        "type": "tokens",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert dict(fault.headers) == {"retry-after": "46", "retry-after-ms": "45175"}
    clock.advance(45.176)
    assert limiter.admit(180_002) is None


def test_requests_bucket_refills_one_request_per_interval() -> None:
    clock = ManualClock()
    limiter = RateLimiter(requests_per_minute=3, tokens_per_minute=1_000, enforce=True, clock=clock)
    for _ in range(3):
        assert limiter.admit(1) is None
    rejection = limiter.admit(1)
    assert rejection is not None and rejection.kind == "requests"
    assert (rejection.limit, rejection.used, rejection.requested) == (3, 3, 1)
    assert rejection.retry_after == pytest.approx(20.0)
    assert "on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s." in (
        str(rate_limit_error(rejection).error)
    )
    clock.advance(19.9)
    assert limiter.admit(1) is not None
    clock.advance(0.1)
    assert limiter.admit(1) is None


def test_a_request_above_the_whole_tpm_is_too_large_and_never_retried() -> None:
    limiter = RateLimiter(
        requests_per_minute=500, tokens_per_minute=30_000, enforce=True, clock=ManualClock()
    )
    rejection = limiter.admit(31_538)
    assert rejection is not None and rejection.kind == "too_large"
    fault = rate_limit_error(rejection)
    assert fault.error is not None
    error = fault.error.body["error"]
    assert error["message"] == (
        "Request too large for gpt-4o-mini in organization org-minidouble on tokens per min "
        "(TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced in "
        "order to run successfully. Visit https://platform.openai.com/account/rate-limits to "
        "learn more."
    )
    assert (error["type"], error["code"]) == ("tokens", "rate_limit_exceeded")
    assert fault.headers == []


def test_headers_report_remaining_and_time_to_full() -> None:
    clock = ManualClock()
    limiter = RateLimiter(
        requests_per_minute=500, tokens_per_minute=200_000, enforce=False, clock=clock
    )
    assert limiter.admit(4) is None
    assert limiter.headers() == {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-limit-tokens": "200000",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-remaining-tokens": "199996",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-reset-tokens": "1ms",
    }
    clock.advance(1)
    assert limiter.headers()["x-ratelimit-reset-requests"] == "0s"


def test_a_charge_answers_with_the_headers_right_after_it() -> None:
    clock = ManualClock()
    limiter = RateLimiter(requests_per_minute=2, tokens_per_minute=100, enforce=True, clock=clock)
    charged = limiter.charge(40)
    assert charged == limiter.headers()
    assert isinstance(charged, dict)
    assert charged["x-ratelimit-remaining-tokens"] == "60"
    assert isinstance(limiter.charge(70), Rejection)  # 60 left: refused, nothing charged
    assert limiter.headers()["x-ratelimit-remaining-tokens"] == "60"


def test_without_enforcement_nothing_is_refused_but_spending_shows() -> None:
    limiter = RateLimiter(
        requests_per_minute=2, tokens_per_minute=10, enforce=False, clock=ManualClock()
    )
    for _ in range(5):
        assert limiter.admit(100) is None
    assert limiter.headers()["x-ratelimit-remaining-requests"] == "0"
    assert limiter.headers()["x-ratelimit-remaining-tokens"] == "0"


# --- through the app ----------------------------------------------------------------------


def _limited(**options: Any) -> tuple[GPT4oMiniApp, ManualClock]:
    clock = ManualClock()
    return GPT4oMiniApp(clock=clock, **options), clock


def test_app_enforces_tokens_per_minute_with_the_real_429() -> None:
    app, clock = _limited(tokens_per_minute=1_000)
    first = app.handle(chat_request(user("Hello!", max_tokens=600)))
    assert first.status == 200
    assert first.header("x-ratelimit-remaining-tokens") == "396"
    assert first.header("x-ratelimit-limit-tokens") == "1000"
    refused = app.handle(chat_request(user("Hello!", max_tokens=600)))
    assert refused.status == 429
    error = as_json(refused)["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "tokens"
    assert "Limit 1000, Used 604, Requested 604. Please try again in 12.48s." in error["message"]
    assert refused.header("retry-after") == "13"
    assert refused.header("retry-after-ms") == "12480"
    assert refused.header("x-ratelimit-remaining-tokens") == "396"
    assert refused.header("x-ratelimit-reset-tokens") == "36.24s"
    # Gateway style: 4-space indent and a trailing newline.
    assert refused.body.endswith(b"\n}\n")
    assert app.requests[-1].status == 429 and app.requests[-1].scripted is None
    clock.advance(12.48)
    assert app.handle(chat_request(user("Hello!", max_tokens=600))).status == 200


def test_app_enforces_requests_per_minute() -> None:
    app, clock = _limited(requests_per_minute=2)
    assert [app.handle(chat_request(user())).status for _ in range(3)] == [200, 200, 429]
    assert (
        "on requests per min (RPM): Limit 2, Used 2, Requested 1. Please try again in 30s."
        in (as_json(app.handle(chat_request(user())))["error"]["message"])
    )
    clock.advance(30)
    assert app.handle(chat_request(user())).status == 200


def test_refused_bodies_still_charge_the_limiter() -> None:
    """The limiter runs before validation: a 400 spends its estimate (recorded probe)."""
    app, _ = _limited(tokens_per_minute=200_000)
    text = " x" * 360_000  # 720,000 characters, 360,000 tokens
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    too_long = app.handle(chat_request(body))
    assert too_long.status == 400
    assert as_json(too_long)["error"]["code"] == "context_length_exceeded"
    assert too_long.header("x-ratelimit-remaining-tokens") == str(200_000 - 180_002)
    again = app.handle(chat_request(body))
    assert again.status == 429
    assert "Used 180002, Requested 180002." in as_json(again)["error"]["message"]


def test_request_too_large_through_the_app() -> None:
    app, _ = _limited(tokens_per_minute=1_000)
    refused = app.handle(chat_request(user("Hi", max_tokens=2_000)))
    assert refused.status == 429
    assert as_json(refused)["error"]["message"].startswith("Request too large for gpt-4o-mini")
    assert refused.header("retry-after") is None


def test_every_answer_behind_the_limiter_carries_the_headers() -> None:
    app, _ = _limited()
    answered = app.handle(chat_request(user()))
    invalid = app.handle(chat_request(user(temperature=5)))
    streamed = app.handle(chat_request(user(stream=True)))
    for response in (answered, invalid, streamed):
        assert response.header("x-ratelimit-remaining-requests") is not None
        assert response.header("x-ratelimit-reset-tokens") is not None
    assert [r.header("x-ratelimit-remaining-requests") for r in (answered, invalid, streamed)] == [
        "499",
        "498",
        "497",
    ]


def test_rate_limit_options_are_checked() -> None:
    # Strings from a command line are parsed where they enter (_options), not here.
    for bad in (0, -5, "many", 2.5, True, "5000"):
        with pytest.raises(ValueError, match=r"^minidouble: requests_per_minute="):
            GPT4oMiniApp(requests_per_minute=bad)
    assert GPT4oMiniApp(tokens_per_minute=5000).limiter.tokens_per_minute == 5000


def test_scripted_429_reports_a_consistent_bucket() -> None:
    app, _ = _limited()
    app.fail(429, retry_after=2.5)
    refused = app.handle(chat_request(user("Hello!", max_tokens=100)))
    error = json.loads(refused.body)["error"]
    assert "Requested 104. Please try again in 2.5s." in error["message"]
    used = int(error["message"].split("Used ")[1].split(",")[0])
    assert refused.header("x-ratelimit-remaining-tokens") == str(200_000 - used)
    assert (refused.header("retry-after"), refused.header("retry-after-ms")) == ("3", "2500")


@given(
    items=st.lists(
        st.dictionaries(
            st.sampled_from(["role", "type", "content", "name"]),
            st.text(max_size=5) | st.none() | st.lists(st.text(max_size=3), max_size=2),
            max_size=3,
        )
        | st.text(max_size=5),
        max_size=4,
    )
)
@example(items=[{"content": "abc", "name": "bob"}])
@example(items=[{"type": "text", "content": "abcde"}, {"content": "abcde", "role": None}])
def test_the_estimate_of_a_role_and_content_message_is_its_walk(items: list[Any]) -> None:
    # {"role", "content"} messages skip the general walk: it must give what the walk gives.
    rules = GPT4O_MINI.rate_limits
    walked = sum(
        -(-_text_chars(item) // rules.estimate_chars_per_token) + rules.estimate_tokens_per_message
        for item in items
    )
    assert estimate_tokens({"messages": items}) == walked
