"""Simulated latency: instant unless asked; the realistic plan; pacing without real waits.

No test here measures time: the planned waits are checked, and sleeping is intercepted.
``benchmarks/bench_latency.py`` measures the realised pace against the 202 tokens/s anchor.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from minidouble._model._profile import GPT4O_MINI
from minidouble._service._app import GPT4oMiniApp
from minidouble._service._clock import Clock
from minidouble._service._latency import LatencyModel, PacedStream
from tests.behaviour.helpers import as_json, chat_request, user


class Waits(list[float]):
    """Every wait the pacing asks for, on a virtual clock that only the waits move."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.clock = Clock(now=lambda: self.now, sleep=self._sleep, async_sleep=self._async_sleep)

    def _sleep(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    async def _async_sleep(self, seconds: float) -> None:
        self._sleep(seconds)


@pytest.fixture
def sleeps() -> Waits:
    """The fake's injected clock: pacing is checked without real waits."""
    return Waits()


def test_instant_by_default() -> None:
    app = GPT4oMiniApp()
    assert app.latency is None
    response = app.handle(chat_request(user()))
    assert response.stream is None
    assert not isinstance(app.handle(chat_request(user(stream=True))).stream, PacedStream)


def test_realistic_plan_uses_the_profiles_numbers() -> None:
    model = LatencyModel.from_options("realistic", 1, GPT4O_MINI)
    assert model == LatencyModel(0.35, 202.0)
    assert model is not None
    assert model.delays(1, 202) == [pytest.approx(1.35)]
    assert model.delays(5, 202) == [0.35, *[pytest.approx(0.25)] * 4]
    assert model.delays(0, 10) == []


def test_speedup_divides_every_wait() -> None:
    model = LatencyModel.from_options("realistic", 10, GPT4O_MINI)
    assert model is not None
    assert model.time_to_first_token == pytest.approx(0.035)
    assert model.tokens_per_second == pytest.approx(2020.0)


@pytest.mark.parametrize(
    ("latency", "speedup"),
    [("slow", 1), ("realistic", 0), ("realistic", "fast"), (3, 1), ("realistic", "10")],
)
def test_bad_latency_options(latency: Any, speedup: Any) -> None:
    with pytest.raises(ValueError, match=r"^minidouble: latency"):
        GPT4oMiniApp(latency=latency, latency_speedup=speedup)


def test_a_non_streamed_answer_waits_for_the_whole_completion(sleeps: Waits) -> None:
    app = GPT4oMiniApp(latency="realistic", clock=sleeps.clock)
    response = app.handle(chat_request(user()))
    assert isinstance(response.stream, PacedStream)
    assert sleeps == []  # nothing waits until the body is read
    body = b"".join(response.stream)
    tokens = app.requests[0].completion_tokens or 0
    assert sleeps == [pytest.approx(0.35 + tokens / 202)]
    assert b"chat.completion" in body
    assert response.header("content-length") is None


def test_a_stream_is_paced_event_by_event(sleeps: Waits) -> None:
    app = GPT4oMiniApp(latency="realistic", latency_speedup=2, clock=sleeps.clock)
    response = app.handle(chat_request(user(stream=True)))
    assert response.stream is not None
    chunks = list(response.stream)
    tokens = app.requests[0].completion_tokens or 0
    assert len(sleeps) == len(chunks)
    assert sleeps[0] == pytest.approx(0.35 / 2)
    assert sum(sleeps[1:]) == pytest.approx(tokens / 404)
    assert chunks[-1] == b"data: [DONE]\n\n"


def test_async_readers_await_instead_of_blocking(sleeps: Waits) -> None:
    app = GPT4oMiniApp(latency="realistic", clock=sleeps.clock)
    response = app.handle(chat_request(user(stream=True)))

    async def read() -> list[bytes]:
        assert isinstance(response.stream, PacedStream)
        return [chunk async for chunk in response.stream]

    chunks = asyncio.run(read())
    assert len(sleeps) == len(chunks) and sleeps[0] == pytest.approx(0.35)


def test_errors_are_not_delayed(sleeps: Waits) -> None:
    app = GPT4oMiniApp(latency="realistic", clock=sleeps.clock)
    app.fail(503)
    assert app.handle(chat_request(user())).stream is None
    assert app.handle(chat_request(user(temperature=5))).stream is None


def test_a_cut_stream_still_cuts_when_paced(sleeps: Waits) -> None:
    app = GPT4oMiniApp(latency="realistic", clock=sleeps.clock)
    app.fail("stream_cut", after_chunks=2)
    response = app.handle(chat_request(user(stream=True)))
    assert response.stream is not None
    received = []
    with pytest.raises(ConnectionError):
        for chunk in response.stream:
            received.append(chunk)
    assert len(received) == 2


def test_the_answer_is_the_same_with_or_without_latency(sleeps: Waits) -> None:
    plain = as_json(GPT4oMiniApp().handle(chat_request(user("Hi"))))
    paced = as_json(
        GPT4oMiniApp(latency="realistic", clock=sleeps.clock).handle(chat_request(user("Hi")))
    )
    assert paced["choices"] == plain["choices"] and paced["usage"] == plain["usage"]
