"""LiteLLM and DSPy in-process against FakeGPT4oMini: sync, async (aiohttp) and streaming.

LiteLLM's async path runs on aiohttp; before the aiohttp interception it went past the fake
to the real network. DSPy is answered in-process on both its engines: LiteLLM, and its
default lm15, which speaks HTTP over its own sockets and is answered at its transports
(tests/test_transports_lm15.py has the rest).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

from minidouble import FakeGPT4oMini
from minidouble._transports import _aiohttp

# LiteLLM fetches its price list from the network at import unless told to use its own copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")

KEY = "sk-test-0123456789abcdefghijklmnop"
MESSAGES = [{"role": "user", "content": "Say hi"}]


@pytest.fixture
def via_aiohttp(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts requests that arrived through the aiohttp interception."""
    sent: list[int] = []
    original = _aiohttp.HandlerTransport.write

    def write(transport: Any, data: Any) -> None:
        if bytes(data[:5]) in (b"POST ", b"GET /"):
            sent.append(len(data))
        original(transport, data)

    monkeypatch.setattr(_aiohttp.HandlerTransport, "write", write)
    yield sent


def test_litellm_completion_sync() -> None:
    with FakeGPT4oMini() as fake:
        fake.reply("Hello from the fake")
        response = litellm.completion(model="gpt-4o-mini", messages=MESSAGES, api_key=KEY)
    assert response.choices[0].message.content == "Hello from the fake"
    assert response.usage.prompt_tokens == fake.requests[0].prompt_tokens == 9


def test_litellm_acompletion_runs_through_aiohttp(via_aiohttp: list[int]) -> None:
    async def ask() -> Any:
        return await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, api_key=KEY)

    with FakeGPT4oMini() as fake:
        fake.reply("Hello, async")
        response = asyncio.run(ask())
    assert response.choices[0].message.content == "Hello, async"
    assert len(via_aiohttp) == 1 and len(fake.requests) == 1


def test_litellm_async_streaming(via_aiohttp: list[int]) -> None:
    async def stream() -> tuple[list[str], list[str | None]]:
        chunks = await litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, api_key=KEY, stream=True
        )
        texts: list[str] = []
        reasons: list[str | None] = []
        async for chunk in chunks:
            texts.append(chunk.choices[0].delta.content or "")
            reasons.append(chunk.choices[0].finish_reason)
        return texts, reasons

    with FakeGPT4oMini() as fake:
        fake.reply("One two three four five")
        texts, reasons = asyncio.run(stream())
    assert "".join(texts) == "One two three four five"
    assert len([t for t in texts if t]) > 1  # arrived in pieces, not as one answer
    assert "stop" in reasons
    assert fake.requests[0].body["stream"] is True and len(via_aiohttp) == 1


def test_litellm_sync_streaming() -> None:
    with FakeGPT4oMini() as fake:
        fake.reply("Streamed in sync")
        chunks = litellm.completion(
            model="gpt-4o-mini", messages=MESSAGES, api_key=KEY, stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == "Streamed in sync"


def test_litellm_async_api_error_is_openais(via_aiohttp: list[int]) -> None:
    async def ask() -> Any:
        return await litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, api_key=KEY, max_tokens=10**6, num_retries=0
        )

    with FakeGPT4oMini(), pytest.raises(litellm.BadRequestError) as raised:
        asyncio.run(ask())
    assert "max_tokens is too large" in str(raised.value)


def test_litellm_async_scripted_failure_is_retried_by_the_sdk(via_aiohttp: list[int]) -> None:
    async def ask() -> Any:
        return await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, api_key=KEY)

    with FakeGPT4oMini() as fake:
        fake.fail(503, retry_after=0.01)
        fake.reply("after the outage")
        response = asyncio.run(ask())
    assert response.choices[0].message.content == "after the outage"
    assert [r.status for r in fake.requests] == [503, 200]


# --- DSPy ------------------------------------------------------------------------------------

ANSWER = "[[ ## answer ## ]]\n{}\n\n[[ ## completed ## ]]"


def test_dspy_on_litellm_sync_and_async() -> None:
    dspy = pytest.importorskip("dspy")
    with FakeGPT4oMini() as fake:
        lm = dspy.LM("openai/gpt-4o-mini", api_key=KEY, cache=False, engine="litellm")
        qa = dspy.Predict("question -> answer")
        fake.reply(ANSWER.format("Paris"))
        fake.reply(ANSWER.format("Rome"))
        with dspy.context(lm=lm):
            assert qa(question="Capital of France?").answer == "Paris"
            assert asyncio.run(qa.acall(question="Capital of Italy?")).answer == "Rome"
    assert "Capital of France?" in fake.requests[0].body["messages"][-1]["content"]


def test_dspys_default_engine_is_answered_in_process() -> None:
    dspy = pytest.importorskip("dspy")
    pytest.importorskip("dspy._vendor.lm15.transports")  # lm15 is the default since DSPy 3.4
    lm = dspy.LM("openai/gpt-4o-mini", api_key=KEY, cache=False, num_retries=0)
    qa = dspy.Predict("question -> answer")
    with FakeGPT4oMini() as fake, dspy.context(lm=lm):
        fake.reply(ANSWER.format("Paris"))
        assert qa(question="Capital of France?").answer == "Paris"
    assert fake.requests[0].headers["user-agent"] == "lm15/stdlib"  # lm15, not LiteLLM


def test_lm15s_own_sockets_below_its_transport_still_meet_the_guard() -> None:
    # Only the transport's stream is answered; lm15's connection code, reached below it (as a
    # transport of one's own built on it would), is refused instead of reaching the real API.
    pytest.importorskip("dspy._vendor.lm15.transports")
    from dspy._vendor.lm15.transports import ConnectError, StdlibTransport, _url

    parsed = _url.parse_url("https://api.openai.com/v1/chat/completions")
    with FakeGPT4oMini(), StdlibTransport() as transport, pytest.raises(ConnectError) as raised:
        transport._open(parsed, proxy=None, origin=parsed.origin(), connect_timeout=5)
    assert "minidouble: refused a connection to api.openai.com" in str(raised.value)
