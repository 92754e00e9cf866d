"""``client.responses`` of the real openai SDK against the fake (3.x on httpx2, 2.x on httpx).

The SDK's own types parse every response and event; its exceptions carry the real status,
``code`` and ``param``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")
from pydantic import BaseModel  # noqa: E402

pytestmark = pytest.mark.sdk

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


@pytest.fixture(params=["in_process", "loopback"])
def fake(request: pytest.FixtureRequest) -> Any:
    """The test's fake, reached in-process or over the loopback server."""
    name = "gpt4o_mini" if request.param == "in_process" else "gpt4o_mini_server"
    return request.getfixturevalue(name)


@pytest.fixture
def client(fake: Any) -> Iterator[Any]:
    base_url = getattr(fake, "base_url", None)  # only the loopback handle has one
    with openai.OpenAI(api_key="sk-test", base_url=base_url, max_retries=0) as c:
        yield c


def test_plain(client: Any) -> None:
    response = client.responses.create(model="gpt-4o-mini", input="Say hello.")
    assert isinstance(response, openai.types.responses.Response)
    assert response.status == "completed"
    assert response.output_text
    assert response.usage.input_tokens == 10
    assert response.usage.total_tokens == 10 + response.usage.output_tokens
    assert response.model == "gpt-4o-mini-2024-07-18"


def test_with_instructions(client: Any) -> None:
    plain = client.responses.create(model="gpt-4o-mini", input="Hi")
    instructed = client.responses.create(
        model="gpt-4o-mini", input="Hi", instructions="You are terse."
    )
    # A developer message: 3 tokens of wrapper, 1 for the role, 4 for the text.
    assert instructed.usage.input_tokens == plain.usage.input_tokens + 8
    assert instructed.instructions == "You are terse."


def test_with_function_tools_and_the_answer(client: Any, fake: Any) -> None:
    first = client.responses.create(
        model="gpt-4o-mini", input="Weather in Paris?", tools=[WEATHER], tool_choice="required"
    )
    [call] = first.output
    assert isinstance(call, openai.types.responses.ResponseFunctionToolCall)
    assert call.name == "get_weather" and set(json.loads(call.arguments)) == {"city"}
    fake.reply("It is sunny in Paris.")
    second = client.responses.create(
        model="gpt-4o-mini",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
    )
    assert second.output_text == "It is sunny in Paris."
    assert second.usage.input_tokens > first.usage.input_tokens


class City(BaseModel):
    name: str
    population: int


def test_with_text_format_json_schema(client: Any) -> None:
    fmt = {
        "type": "json_schema",
        "name": "city",
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
            "required": ["name", "population"],
            "additionalProperties": False,
        },
        "strict": True,
    }
    response = client.responses.create(
        model="gpt-4o-mini", input="Biggest city?", text={"format": fmt}
    )
    City.model_validate_json(response.output_text)
    parsed = client.responses.parse(model="gpt-4o-mini", input="Biggest city?", text_format=City)
    assert isinstance(parsed.output_parsed, City)


def test_streamed(client: Any) -> None:
    stream = client.responses.create(model="gpt-4o-mini", input="Say hello.", stream=True)
    events = list(stream)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == events[-1].response.output_text
    with client.responses.stream(model="gpt-4o-mini", input="Weather?", tools=[WEATHER],
                                 tool_choice="required") as managed:  # fmt: skip
        final = managed.get_final_response()
    assert final.output[0].type == "function_call"


def test_max_output_tokens_below_minimum_is_refused_as_real(client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="gpt-4o-mini", input="A long story", max_output_tokens=5)
    assert raised.value.status_code == 400
    assert raised.value.code == "integer_below_min_value"
    assert raised.value.param == "max_output_tokens"
    assert raised.value.body["message"] == (
        "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but "
        "got 5 instead."
    )


def test_context_exceeded_on_input_is_refused_as_real(client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="gpt-4o-mini", input="word " * 130_000)
    assert raised.value.code == "context_length_exceeded"
    assert raised.value.param == "input"


async def _async_answer(client: Any) -> str:
    response = await client.responses.create(model="gpt-4o-mini", input="Hi")
    stream = await client.responses.create(model="gpt-4o-mini", input="Hi", stream=True)
    streamed = [event async for event in stream]
    assert streamed[-1].response.output_text == response.output_text
    return str(response.output_text)


def test_async_client(async_openai_client: Any) -> None:
    import asyncio

    assert asyncio.run(_async_answer(async_openai_client))


def test_requests_log_counts_responses_tokens(openai_client: Any, gpt4o_mini: Any) -> None:
    response = openai_client.responses.create(model="gpt-4o-mini", input="Hi")
    [recorded] = gpt4o_mini.requests
    assert recorded.path == "/v1/responses"
    assert recorded.prompt_tokens == response.usage.input_tokens
    assert recorded.completion_tokens == response.usage.output_tokens


def test_retrieve_and_delete(client: Any) -> None:
    created = client.responses.create(model="gpt-4o-mini", input="Hi")
    assert client.responses.retrieve(created.id).output_text == created.output_text
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_logprobs_parse(client: Any) -> None:
    response = client.responses.create(
        model="gpt-4o-mini",
        input="Hi",
        include=["message.output_text.logprobs"],
        top_logprobs=2,
    )
    part = response.output[0].content[0]
    assert "".join(lp.token for lp in part.logprobs) == part.text
    assert all(len(lp.top_logprobs) == 2 for lp in part.logprobs)


def test_stream_cut_reaches_the_sdk(client: Any, fake: Any) -> None:
    fake.fail("stream_cut", after_chunks=3)
    received = []
    with pytest.raises(Exception) as raised:
        for event in client.responses.create(model="gpt-4o-mini", input="Hi", stream=True):
            received.append(event)
    # openai 3.x wraps the broken read; 2.x lets httpx's RemoteProtocolError through.
    assert isinstance(raised.value, openai.APIConnectionError) or (
        "incomplete chunked read" in str(raised.value)
    )
    assert len(received) == 3


def test_stream_error_is_the_typed_error_event(client: Any, fake: Any) -> None:
    # The Responses API reports a mid-stream failure as an `error` event the SDK yields.
    fake.fail("stream_error", after_chunks=3)
    events = list(client.responses.create(model="gpt-4o-mini", input="Hi", stream=True))
    assert [e.type for e in events[:3]] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]
    assert events[-1].type == "error" and events[-1].sequence_number == 3
    assert not any(e.type == "response.completed" for e in events)


def test_rate_limit_fault_is_the_real_429(client: Any, fake: Any) -> None:
    fake.fail(429)
    with pytest.raises(openai.RateLimitError) as raised:
        client.responses.create(model="gpt-4o-mini", input="Hi")
    assert raised.value.code == "rate_limit_exceeded"
