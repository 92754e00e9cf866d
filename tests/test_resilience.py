"""The resilience verdict, judged from request logs of well- and badly-behaved clients.

Arrival times are set by hand, so the waits are exact and the tests never sleep.
"""

from __future__ import annotations

from typing import Any

import pytest

from minidouble._fake import FakeGPT4oMini, ResilienceError
from tests.behaviour.helpers import chat_request, user


class Client:
    """Sends through the fake's handler at chosen moments, swallowing transport faults."""

    def __init__(self, fake: FakeGPT4oMini) -> None:
        self.fake = fake
        self.now = 100.0

    def send(self, body: dict[str, Any], *, after: float = 0.0) -> int:
        self.now += after
        try:
            status = self.fake.handle(chat_request(body)).status
        except (TimeoutError, ConnectionError):
            status = 0
        self.fake.requests[-1].received_at = self.now
        return status


@pytest.fixture
def fake() -> FakeGPT4oMini:
    return FakeGPT4oMini(allow_unused=True)


def test_a_patient_retrying_client_is_resilient(fake: FakeGPT4oMini) -> None:
    fake.fail(429, retry_after=0.2)
    fake.fail(503)
    fake.fail("timeout")
    client = Client(fake)
    assert client.send(user()) == 429
    assert client.send(user(), after=0.25) == 503
    assert client.send(user(), after=0.6) == 0
    assert client.send(user(), after=1.2) == 200
    report = fake.resilience()
    assert report.ok, str(report)
    text = str(report)
    assert "request #1 got a 429 and the client tried again (request #2, 250 ms later)" in text
    assert "request #2 waited 250 ms, honouring retry-after-ms: 200." in text
    assert "request #3 got a timeout and the client tried again" in text
    fake.assert_resilient()


def test_giving_up_at_once_fails(fake: FakeGPT4oMini) -> None:
    fake.fail(500)
    client = Client(fake)
    client.send(user())
    client.send(user("something else"), after=1)
    with pytest.raises(ResilienceError) as raised:
        fake.assert_resilient()
    message = str(raised.value)
    assert message.startswith("minidouble: resilience verdict on 2 request(s):")
    assert "[FAIL] request #1 got a 500 and the client gave up without a single retry" in message


def test_ignoring_retry_after_fails_with_the_numbers(fake: FakeGPT4oMini) -> None:
    fake.fail(429, retry_after=0.5)
    client = Client(fake)
    client.send(user())
    client.send(user(), after=0.1)
    text = str(fake.resilience())
    assert (
        "[FAIL] request #2 came 100 ms after request #1, whose answer asked to wait 500 ms "
        "(retry-after-ms: 500)." in text
    )


def test_hammering_without_backoff_fails(fake: FakeGPT4oMini) -> None:
    fake.fail(502)
    client = Client(fake)
    client.send(user())
    client.send(user(), after=0.002)
    report = fake.resilience()
    assert [f.check for f in report.failures()] == ["backoff"]
    assert "came only 2 ms after a 502; back off" in str(report)
    fake.assert_resilient(ignore=["backoff"])


def test_retrying_a_400_fails(fake: FakeGPT4oMini) -> None:
    client = Client(fake)
    bad = user(temperature=7)
    client.send(bad)
    client.send(bad, after=1)
    report = fake.resilience()
    assert "a 400 cannot succeed unchanged" in str(report)
    assert [f.check for f in report.failures()] == ["no_retry_client_errors"]


def test_a_cut_stream_must_be_asked_again(fake: FakeGPT4oMini) -> None:
    fake.fail("stream_cut")
    client = Client(fake)
    client.send(user(stream=True))
    assert [f.check for f in fake.resilience().failures()] == ["cut_stream"]
    client.send(user(stream=True), after=0.001)
    assert fake.resilience().ok


def test_retrying_insufficient_quota_is_a_note_not_a_failure(fake: FakeGPT4oMini) -> None:
    fake.fail(429, code="insufficient_quota", times=2)
    client = Client(fake)
    client.send(user())
    client.send(user(), after=1)
    client.send(user(), after=1)
    report = fake.resilience()
    assert report.ok
    assert "[note] request #1 got a 429 insufficient_quota (out of credit) and was retried" in (
        str(report)
    )


def test_nothing_to_judge_is_not_resilience(fake: FakeGPT4oMini) -> None:
    Client(fake).send(user())
    with pytest.raises(ResilienceError, match="there is nothing to judge"):
        fake.assert_resilient()


def test_unknown_checks_are_refused(fake: FakeGPT4oMini) -> None:
    with pytest.raises(ValueError, match=r"^minidouble: assert_resilient\(ignore=...\)"):
        fake.assert_resilient(ignore=["retries"])


def test_attempts_are_matched_by_body_across_interleaved_calls(fake: FakeGPT4oMini) -> None:
    fake.fail(503, times=2)
    client = Client(fake)
    client.send(user("first"))
    client.send(user("second"), after=0.1)
    client.send(user("first"), after=0.5)
    client.send(user("second"), after=0.5)
    assert fake.resilience().ok
