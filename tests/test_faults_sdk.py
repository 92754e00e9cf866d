"""The real openai SDK (2.x on httpx, 3.x on httpx2) against injected faults.

Retries on 429 and 5xx succeed after the configured failures, ``retry-after`` is honoured
(the waits are measured between the attempts' arrivals), rate-limit headers parse, a cut
stream raises in the client, and the resilience verdict reads the SDK's behaviour right.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

import pytest

from minidouble._fake import FakeGPT4oMini, FakeServer, ResilienceError

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.sdk

MESSAGES = [{"role": "user", "content": "Say hello."}]
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


def chat(client: Any, **extra: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **extra)


def gaps(fake: FakeGPT4oMini) -> list[float]:
    times = [r.received_at for r in fake.requests]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def retry_counts(fake: FakeGPT4oMini) -> list[str | None]:
    return [r.headers.get("x-stainless-retry-count") for r in fake.requests]


# --- retries --------------------------------------------------------------------------------


def test_429s_are_retried_until_the_call_succeeds(
    gpt4o_mini: FakeGPT4oMini, openai_client: Any
) -> None:
    gpt4o_mini.fail(429, times=2, retry_after=0.01)
    gpt4o_mini.reply("Hello at last")
    assert chat(openai_client).choices[0].message.content == "Hello at last"
    assert [r.status for r in gpt4o_mini.requests] == [429, 429, 200]
    assert retry_counts(gpt4o_mini) == ["0", "1", "2"]
    gpt4o_mini.assert_resilient()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_are_retried_until_the_call_succeeds(
    gpt4o_mini: FakeGPT4oMini, openai_client: Any, status: int
) -> None:
    gpt4o_mini.fail(status, times=2, retry_after=0.01)
    assert chat(openai_client).choices[0].message.content
    assert [r.status for r in gpt4o_mini.requests] == [status, status, 200]
    gpt4o_mini.assert_resilient()


def test_more_failures_than_retries_reach_the_caller(
    gpt4o_mini: FakeGPT4oMini, openai_client: Any
) -> None:
    gpt4o_mini.fail(503, times=3, retry_after=0.01)
    with pytest.raises(openai.InternalServerError) as raised:
        chat(openai_client)
    assert raised.value.status_code == 503
    assert "currently overloaded" in raised.value.message
    assert len(gpt4o_mini.requests) == 3  # the SDK's default: two retries


def test_retry_after_ms_is_honoured_measured(gpt4o_mini: FakeGPT4oMini, openai_client: Any) -> None:
    gpt4o_mini.fail(429, times=2, retry_after=0.15)
    chat(openai_client)
    assert all(gap >= 0.15 for gap in gaps(gpt4o_mini)), gaps(gpt4o_mini)
    report = gpt4o_mini.resilience()
    assert report.ok
    assert "honouring retry-after-ms: 150" in str(report)


def test_timeouts_and_resets_are_retried(gpt4o_mini: FakeGPT4oMini, openai_client: Any) -> None:
    gpt4o_mini.fail("timeout")
    gpt4o_mini.fail("connection_reset")
    assert chat(openai_client).choices[0].message.content
    assert [r.fault for r in gpt4o_mini.requests] == ["timeout", "connection_reset", None]
    gpt4o_mini.assert_resilient()


def test_a_timeout_without_retries_is_the_sdks_timeout_error(
    gpt4o_mini: FakeGPT4oMini, openai_client: Any
) -> None:
    gpt4o_mini.fail("timeout")
    with pytest.raises(openai.APITimeoutError):
        chat(openai_client.with_options(max_retries=0))
    gpt4o_mini.fail("connection_reset")
    with pytest.raises(openai.APIConnectionError) as raised:
        chat(openai_client.with_options(max_retries=0))
    assert not isinstance(raised.value, openai.APITimeoutError)


def test_400s_are_not_retried(gpt4o_mini: FakeGPT4oMini, openai_client: Any) -> None:
    gpt4o_mini.fail(400)
    with pytest.raises(openai.BadRequestError):
        chat(openai_client)
    assert len(gpt4o_mini.requests) == 1
    gpt4o_mini.assert_resilient()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, "AuthenticationError"),
        (403, "PermissionDeniedError"),
        (404, "NotFoundError"),
        (409, "ConflictError"),
    ],
)
def test_each_status_is_the_sdks_exception(
    gpt4o_mini: FakeGPT4oMini, openai_client: Any, status: int, error: str
) -> None:
    gpt4o_mini.fail(status, times=3, retry_after=0.01)
    with pytest.raises(getattr(openai, error)) as raised:
        chat(openai_client.with_options(max_retries=0))
    assert raised.value.status_code == status
    assert raised.value.request_id.startswith("req_")
    gpt4o_mini.reset()


def test_insufficient_quota_is_a_rate_limit_error_with_its_code(
    gpt4o_mini: FakeGPT4oMini, openai_client: Any
) -> None:
    gpt4o_mini.fail(429, code="insufficient_quota")
    with pytest.raises(openai.RateLimitError) as raised:
        chat(openai_client.with_options(max_retries=0))
    assert raised.value.code == "insufficient_quota"
    assert raised.value.type == "insufficient_quota"


# --- rate limits ----------------------------------------------------------------------------


def test_rate_limit_headers_parse(gpt4o_mini: FakeGPT4oMini, openai_client: Any) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=50
    )
    headers = raw.headers
    assert int(headers["x-ratelimit-limit-requests"]) == 500
    assert int(headers["x-ratelimit-limit-tokens"]) == 200_000
    assert int(headers["x-ratelimit-remaining-requests"]) == 499
    # "Say hello." is 10 characters: 3 tokens, 2 for the message, 50 reserved.
    assert int(headers["x-ratelimit-remaining-tokens"]) == 200_000 - 55
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        assert GO_DURATION.match(headers[name]), headers[name]
    assert raw.parse().choices[0].message.content


@pytest.mark.gpt4o_mini(tokens_per_minute=100)
def test_enforced_limits_raise_the_real_rate_limit_error(
    gpt4o_mini: FakeGPT4oMini, openai_client: Any
) -> None:
    client = openai_client.with_options(max_retries=0)
    chat(client, max_tokens=60)
    with pytest.raises(openai.RateLimitError) as raised:
        chat(client, max_tokens=60)
    error = raised.value
    assert error.code == "rate_limit_exceeded" and error.type == "tokens"
    assert "on tokens per min (TPM): Limit 100, Used 65, Requested 65." in error.message
    headers = error.response.headers
    assert int(headers["retry-after-ms"]) > 0
    assert int(headers["retry-after"]) >= int(headers["retry-after-ms"]) / 1000
    assert int(headers["x-ratelimit-remaining-tokens"]) < 65


# --- streams --------------------------------------------------------------------------------


def test_a_cut_stream_raises_in_the_client(gpt4o_mini: FakeGPT4oMini, openai_client: Any) -> None:
    gpt4o_mini.fail("stream_cut", after_chunks=2)
    received = []
    with pytest.raises(Exception) as raised:
        for chunk in chat(openai_client, stream=True):
            received.append(chunk)
    assert isinstance(raised.value, openai.APIConnectionError) or (
        "incomplete chunked read" in str(raised.value)
    )
    assert len(received) <= 2
    # The SDK does not retry a broken stream; the verdict says so.
    report = gpt4o_mini.resilience()
    assert not report.ok
    assert "never asked again" in str(report)
    with pytest.raises(ResilienceError, match="never asked again"):
        gpt4o_mini.assert_resilient()
    gpt4o_mini.assert_resilient(ignore=["cut_stream"])


def test_an_error_event_raises_api_error(gpt4o_mini: FakeGPT4oMini, openai_client: Any) -> None:
    gpt4o_mini.fail("stream_error")
    with pytest.raises(openai.APIError, match="The model produced invalid content"):
        for _ in chat(openai_client, stream=True):
            pass


def test_a_retrying_caller_recovers_from_a_cut_stream(
    gpt4o_mini: FakeGPT4oMini, openai_client: Any
) -> None:
    gpt4o_mini.fail("stream_cut")

    def complete_with_one_retry() -> str:
        for _attempt in range(2):
            try:
                return "".join(
                    c.choices[0].delta.content or ""
                    for c in chat(openai_client, stream=True)
                    if c.choices
                )
            except (openai.APIError, Exception):
                continue
        raise AssertionError("no attempt succeeded")

    assert complete_with_one_retry()
    gpt4o_mini.assert_resilient()


# --- Azure ----------------------------------------------------------------------------------


def test_azure_content_filter_through_the_azure_client(gpt4o_mini: FakeGPT4oMini) -> None:
    client = openai.AzureOpenAI(
        api_key="k",
        api_version="2024-12-01-preview",
        azure_endpoint="https://res.openai.azure.com",
        max_retries=0,
    )
    gpt4o_mini.fail("filtered_prompt", category="jailbreak")
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="mini", messages=MESSAGES)
    assert raised.value.code == "content_filter" and raised.value.param == "prompt"
    inner = raised.value.body["innererror"]["content_filter_result"]
    assert inner["jailbreak"] == {"filtered": True, "detected": True}
    gpt4o_mini.fail("filtered_completion", category="violence", severity="high")
    reply = client.chat.completions.create(model="mini", messages=MESSAGES)
    assert reply.choices[0].finish_reason == "content_filter"
    extra = reply.choices[0].model_extra or {}
    assert extra["content_filter_results"]["violence"] == {"filtered": True, "severity": "high"}


# --- loopback and async ---------------------------------------------------------------------


def test_retries_over_a_real_socket(gpt4o_mini_server: FakeServer) -> None:
    gpt4o_mini_server.fail(429, retry_after=0.05)
    gpt4o_mini_server.fail("connection_reset")
    gpt4o_mini_server.fail(500, retry_after=0.01)
    client = openai.OpenAI(api_key="sk-test", base_url=gpt4o_mini_server.base_url, max_retries=3)
    try:
        assert chat(client).choices[0].message.content
    finally:
        client.close()
    fake = gpt4o_mini_server.fake
    assert [r.status for r in fake.requests] == [429, 0, 500, 200]
    assert gaps(fake)[0] >= 0.05
    gpt4o_mini_server.assert_resilient()


def test_timeout_over_a_real_socket_is_the_sdks_timeout(gpt4o_mini_server: FakeServer) -> None:
    gpt4o_mini_server.fail("timeout", stall=10)
    client = openai.OpenAI(
        api_key="sk-test", base_url=gpt4o_mini_server.base_url, max_retries=0, timeout=0.3
    )
    try:
        with pytest.raises(openai.APITimeoutError):
            chat(client)
    finally:
        client.close()


def test_async_client_retries(gpt4o_mini: FakeGPT4oMini, async_openai_client: Any) -> None:
    gpt4o_mini.fail(503, retry_after=0.01)
    gpt4o_mini.fail("timeout")

    async def main() -> str:
        reply = await async_openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
        return str(reply.choices[0].message.content)

    assert asyncio.run(main())
    assert [r.status for r in gpt4o_mini.requests] == [503, 0, 200]
