"""The real openai SDK against the fake: whichever generation is installed (CI runs both).

openai 3.x sends through httpx2, openai 1.x/2.x through httpx; each test runs in-process
(interception) and over the loopback socket. Responses are checked against the SDK's own
types: they validate (nothing missing, types right) and carry no field the SDK does not know,
except the few the real API sends beyond the SDK's types (listed below, with why).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from minidouble._fake import FakeGPT4oMini, FakeServer

openai = pytest.importorskip("openai")
from openai.types import Model  # noqa: E402
from openai.types.chat import ChatCompletion, ChatCompletionChunk  # noqa: E402

pytestmark = pytest.mark.sdk

KEY = "sk-minidouble-sdk-test"
HELLO = [{"role": "user", "content": "Hello!"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
# Real fields the SDK's types do not declare, so they land in model_extra as they do against
# the real service: the stream's random padding (on by default since 2025-08) and Azure's
# content-filter blocks.
REAL_EXTRAS = {"obfuscation"}
AZURE_EXTRAS = {"content_filter_results", "prompt_filter_results"}


def assert_exact(model: Any, allowed_extras: set[str] = REAL_EXTRAS, where: str = "") -> None:
    """No field the SDK's types do not know, anywhere in the object."""
    if isinstance(model, pydantic.BaseModel):
        unknown = set(model.model_extra or {}) - allowed_extras
        assert not unknown, f"{type(model).__name__}{where} has unknown fields {unknown}"
        for name in type(model).model_fields:
            assert_exact(getattr(model, name), allowed_extras, f"{where}.{name}")
    elif isinstance(model, list):
        for index, item in enumerate(model):
            assert_exact(item, allowed_extras, f"{where}[{index}]")


def assert_round_trip(model_type: type[pydantic.BaseModel], raw: dict[str, Any]) -> None:
    """The raw JSON validates as the SDK type (nothing missing) and serialises back unchanged."""
    parsed = model_type.model_validate(raw)
    assert_exact(parsed, REAL_EXTRAS | AZURE_EXTRAS)
    assert parsed.model_dump(mode="json", exclude_unset=True) == raw


@pytest.fixture(params=["in-process", "loopback"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake(mode: str) -> Iterator[FakeGPT4oMini]:
    fake = FakeGPT4oMini()
    if mode == "in-process":
        with fake:
            yield fake
    else:
        yield fake
        fake.check()


@pytest.fixture
def server(fake: FakeGPT4oMini, mode: str) -> Iterator[FakeServer | None]:
    if mode == "in-process":
        yield None
        return
    with fake.serve() as running:
        yield running


@pytest.fixture
def client(server: FakeServer | None) -> Iterator[Any]:
    base_url = server.base_url if server is not None else "https://api.openai.com/v1"
    with openai.OpenAI(api_key=KEY, base_url=base_url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def async_client(server: FakeServer | None) -> Any:
    base_url = server.base_url if server is not None else "https://api.openai.com/v1"
    return openai.AsyncOpenAI(api_key=KEY, base_url=base_url, max_retries=0)


def test_create_returns_an_exact_chat_completion(fake: FakeGPT4oMini, client: Any) -> None:
    fake.reply("Hi! How can I help?")
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)
    completion = raw.parse()
    assert isinstance(completion, ChatCompletion)
    assert completion.choices[0].message.content == "Hi! How can I help?"
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.usage is not None and completion.usage.prompt_tokens == 9
    assert raw.headers["x-request-id"].startswith("req_")
    assert_exact(completion)
    assert_round_trip(ChatCompletion, json.loads(raw.text))


def test_async_create(fake: FakeGPT4oMini, async_client: Any) -> None:
    fake.reply("async hello")

    async def call() -> Any:
        async with async_client:
            return await async_client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    completion = asyncio.run(call())
    assert completion.choices[0].message.content == "async hello"
    assert_exact(completion)


def test_streaming_text_with_usage(fake: FakeGPT4oMini, client: Any) -> None:
    fake.reply("Streaming works, one delta at a time.")
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    for chunk in chunks:
        assert isinstance(chunk, ChatCompletionChunk)
        assert_exact(chunk)
        assert_round_trip(ChatCompletionChunk, chunk.to_dict())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Streaming works, one delta at a time."
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 9
    assert len({c.id for c in chunks}) == 1


def test_async_streaming(fake: FakeGPT4oMini, async_client: Any) -> None:
    fake.reply("async stream")

    async def call() -> str:
        async with async_client:
            stream = await async_client.chat.completions.create(
                model="gpt-4o-mini", messages=HELLO, stream=True
            )
            parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
            return "".join(parts)

    assert asyncio.run(call()) == "async stream"


def test_the_streaming_helper_accumulates_the_final_completion(
    fake: FakeGPT4oMini, client: Any
) -> None:
    fake.reply("helper")
    with client.chat.completions.stream(model="gpt-4o-mini", messages=HELLO) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "helper"


def test_tool_calls_scripted_and_forced(fake: FakeGPT4oMini, client: Any) -> None:
    fake.reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}])
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, tools=[WEATHER_TOOL]
    )
    assert_exact(completion)
    (call,) = completion.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    assert call.id.startswith("call_")
    forced = client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, tools=[WEATHER_TOOL], tool_choice="required"
    )
    assert forced.choices[0].finish_reason == "tool_calls"
    arguments = json.loads(forced.choices[0].message.tool_calls[0].function.arguments)
    assert isinstance(arguments["city"], str)


def test_streamed_tool_calls_assemble_into_arguments(fake: FakeGPT4oMini, client: Any) -> None:
    fake.reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Reykjavík"}}])
    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=HELLO, tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert json.loads(call.function.arguments) == {"city": "Reykjavík"}
    assert final.choices[0].finish_reason == "tool_calls"


class Person(pydantic.BaseModel):
    name: str
    age: int


def _parse(client: Any) -> Any:
    completions = client.chat.completions
    # openai >= 1.92 has parse() on chat.completions; older ones under beta.
    return (
        completions.parse if hasattr(completions, "parse") else client.beta.chat.completions.parse
    )


def test_parse_with_a_pydantic_model(fake: FakeGPT4oMini, client: Any) -> None:
    fake.reply(json={"name": "Ada", "age": 36})
    completion = _parse(client)(model="gpt-4o-mini", messages=HELLO, response_format=Person)
    assert completion.choices[0].message.parsed == Person(name="Ada", age=36)
    generated = _parse(client)(model="gpt-4o-mini", messages=HELLO, response_format=Person)
    assert isinstance(generated.choices[0].message.parsed, Person)


def test_models_list_and_retrieve(fake: FakeGPT4oMini, client: Any) -> None:
    ids = [model.id for model in client.models.list()]
    assert "gpt-4o-mini" in ids
    model = client.models.retrieve("gpt-4o-mini")
    assert isinstance(model, Model)
    assert_exact(model)


def test_errors_raise_the_sdk_class_with_the_real_code(fake: FakeGPT4oMini, client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, temperature=3)
    assert bad.value.status_code == 400
    assert bad.value.code == "decimal_above_max_value"
    assert bad.value.param == "temperature"
    assert bad.value.request_id is not None and bad.value.request_id.startswith("req_")

    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o-mini-nope", messages=HELLO)
    assert missing.value.code == "model_not_found"

    fake.fail(429)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert limited.value.code == "rate_limit_exceeded"

    fake.fail(500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)


def test_a_wrong_key_is_an_authentication_error(mode: str) -> None:
    fake = FakeGPT4oMini(api_key="sk-the-right-key-0000")
    with fake if mode == "in-process" else fake.serve() as running:
        base_url = running.base_url if isinstance(running, FakeServer) else None
        with (
            openai.OpenAI(api_key="sk-the-wrong-key-1111", base_url=base_url) as sdk,
            pytest.raises(openai.AuthenticationError) as refused,
        ):
            sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert refused.value.code == "invalid_api_key"
    assert "sk-the-w*********1111" in refused.value.message


def test_the_sdk_retries_a_scripted_503_and_succeeds(fake: FakeGPT4oMini, server: Any) -> None:
    fake.fail(503, retry_after=0.01)
    base_url = server.base_url if server is not None else None
    with openai.OpenAI(api_key=KEY, base_url=base_url, max_retries=1) as sdk:
        completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert completion.choices[0].message.content
    assert [r.status for r in fake.requests] == [503, 200]


def test_azure_client(fake: FakeGPT4oMini, server: FakeServer | None) -> None:
    endpoint = server.url if server is not None else "https://myres.openai.azure.com"
    with openai.AzureOpenAI(
        azure_endpoint=endpoint, api_key="azure-key", api_version="2024-12-01-preview"
    ) as azure:
        raw = azure.chat.completions.with_raw_response.create(model="mini", messages=HELLO)
        completion = raw.parse()
        stream = azure.chat.completions.create(
            model="mini", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert_exact(completion, AZURE_EXTRAS)
    assert "prompt_filter_results" in (completion.model_extra or {})
    assert_round_trip(ChatCompletion, json.loads(raw.text))
    recorded = fake.requests[0]
    assert recorded.path == "/openai/deployments/mini/chat/completions"
    assert recorded.headers["api-key"] == "azure-key"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None
