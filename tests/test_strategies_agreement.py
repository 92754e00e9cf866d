"""Agreement: the strategies and the rest of minidouble judge the same requests the same way.

Every valid request passes the validator, every invalid one fails with exactly the declared
param and code, every generated argument validates against its schema with ``jsonschema``
(and with the fake's own checker), and every near-limit prompt counts exactly as promised.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidouble.strategies as mds
from minidouble import GPT4O_MINI, FakeGPT4oMini, OpenAIError, count_prompt_tokens, validate_request
from minidouble._engine._schema_values import first_violation
from minidouble._model._tokenizer import encoding, token_count
from minidouble._strategies._limits import CHEAP_UNIT, FILLER_UNITS

CHAT_URL = "https://api.openai.com/v1/chat/completions"
AUTH = {"Authorization": "Bearer sk-test"}
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


@pytest.fixture(autouse=True, scope="module")
def _loaded_tokenizer() -> None:
    # Building o200k takes about a second once per process; keep it out of the first example.
    encoding()


def _schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    return [error.message for error in validator.iter_errors(value)]


@settings(max_examples=150, deadline=None)
@given(mds.chat_requests())
def test_every_chat_request_passes_the_validator(body: dict[str, Any]) -> None:
    validate_request(body)
    json.dumps(body, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(mds.chat_requests(within_limits=False))
def test_requests_beyond_limits_fail_only_on_a_limit(body: dict[str, Any]) -> None:
    try:
        validate_request(body)
    except OpenAIError as error:
        assert (error.param, error.code) in {
            ("messages", "context_length_exceeded"),
            ("max_tokens", None),
            ("max_completion_tokens", None),
            ("tools", "array_above_max_length"),
            ("response_format", None),
            (f"messages[{len(body['messages']) - 1}].content", "string_above_max_length"),
        }


@settings(max_examples=60, deadline=None)
@given(mds.conversations())
def test_every_conversation_is_a_valid_history(history: list[dict[str, Any]]) -> None:
    validate_request({"model": "gpt-4o-mini", "messages": history})
    pending: list[str] = []
    for message in history:
        if message["role"] == "tool":
            assert message["tool_call_id"] in pending
            pending.remove(message["tool_call_id"])
        else:
            assert pending == [], "a tool call was left unanswered"
            pending = [call["id"] for call in message.get("tool_calls", [])]
    assert pending == []


@pytest.mark.parametrize("kind", mds.INVALID_KINDS)
def test_every_invalid_request_fails_with_its_param_and_code(kind: str) -> None:
    @settings(max_examples=25, deadline=None)
    @given(mds.invalid_requests(kinds=[kind]))
    def check(case: mds.InvalidRequest) -> None:
        assert case.kind == kind
        with pytest.raises(OpenAIError) as caught:
            validate_request(case.body)
        got = (caught.value.status, caught.value.param, caught.value.code)
        assert got == (case.status, case.param, case.code), (case.detail, caught.value.message)

    check()


@pytest.mark.parametrize("strict", [True, False])
def test_generated_arguments_validate_against_their_schema(strict: bool) -> None:
    @settings(max_examples=120, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        schema = data.draw(mds.tool_schemas(strict=strict), label="schema")
        jsonschema.Draft202012Validator.check_schema(schema)
        value = data.draw(mds.from_tool_schema(schema), label="value")
        assert _schema_errors(value, schema) == []
        assert first_violation(value, schema) is None

    check()


@settings(max_examples=40, deadline=None)
@given(mds.tools(), st.data())
def test_tool_call_arguments_are_json_valid_for_the_called_tool(
    tool_list: list[dict[str, Any]], data: st.DataObject
) -> None:
    calls = data.draw(mds.tool_calls(tool_list))
    by_name = {tool["function"]["name"]: tool["function"] for tool in tool_list}
    assert len({call["id"] for call in calls}) == len(calls)
    for call in calls:
        arguments = json.loads(call["function"]["arguments"])
        schema = by_name[call["function"]["name"]].get("parameters") or {"type": "object"}
        assert _schema_errors(arguments, schema) == []


@settings(max_examples=30, deadline=None)
@given(mds.chat_requests(tools=mds.tools(strict=False)))
def test_non_strict_tools_are_accepted_too(body: dict[str, Any]) -> None:
    validate_request(body)


@settings(max_examples=40, deadline=None)
@given(mds.near_limit_requests())
def test_near_limit_prompts_count_exactly_limit_plus_offset(case: mds.NearLimitRequest) -> None:
    assert count_prompt_tokens(case.body) == GPT4O_MINI.context_window + case.offset
    assert case.value == count_prompt_tokens(case.body)


@pytest.mark.parametrize("limit", mds.LIMITS)
def test_near_limit_requests_are_judged_by_their_side(limit: str) -> None:
    @settings(max_examples=15, deadline=None)
    @given(mds.near_limit_requests(limit=limit))  # type: ignore[arg-type]
    def check(case: mds.NearLimitRequest) -> None:
        body = case.body
        if limit == "context_with_completion":
            cap = body.get("max_tokens") or body["max_completion_tokens"]
            assert count_prompt_tokens(body) + cap == case.value
        assert case.value == case.limit_value + case.offset
        if case.within_limit:
            validate_request(body)
            return
        with pytest.raises(OpenAIError) as caught:
            validate_request(body)
        assert (caught.value.param, caught.value.code) == (case.expected_param, case.expected_code)

    check()


@pytest.mark.parametrize("unit", FILLER_UNITS)
def test_filler_costs_exactly_one_token_per_repeat_up_to_the_window(unit: str) -> None:
    window = GPT4O_MINI.context_window
    for repeats in (0, 1, 2, 3, 17, 1_000, window - 1, window, window + 8):
        assert token_count(unit * repeats) == repeats


def test_the_longest_content_allowed_stays_inside_the_context() -> None:
    length = GPT4O_MINI.max_string_length
    content = (CHEAP_UNIT * (length // len(CHEAP_UNIT) + 1))[:length]
    validate_request({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]})


@pytest.mark.sdk
@settings(max_examples=30, deadline=None)
@given(mds.chat_completions(tools=[{"type": "function", "function": {"name": "f"}}]))
def test_completions_parse_with_the_openai_sdk(completion: dict[str, Any]) -> None:
    from openai.types.chat import ChatCompletion

    parsed = ChatCompletion.model_validate(completion)
    assert parsed.model_dump(mode="json", exclude_unset=True) == completion


@pytest.mark.sdk
@settings(max_examples=40, deadline=None)
@given(mds.chat_completion_chunks(tools=[{"type": "function", "function": {"name": "f"}}]))
def test_streams_accumulate_in_the_openai_sdk_to_their_completion(
    stream: mds.CompletionStream,
) -> None:
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    state: ChatCompletionStreamState[object] = ChatCompletionStreamState()
    for chunk in stream.chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    # The snapshot, not get_final_completion(), which raises on finish_reason "length".
    final = state.current_completion_snapshot
    expected = stream.completion["choices"][0]
    got = final.choices[0]
    assert got.finish_reason == expected["finish_reason"]
    assert got.message.content == expected["message"]["content"]
    assert got.message.refusal == expected["message"]["refusal"]
    calls = [
        {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
        for c in got.message.tool_calls or []
    ]
    assert calls == [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in expected["message"].get("tool_calls", [])
    ]
    if "usage" in stream.chunks[0]:
        assert final.usage is not None
        assert final.usage.model_dump(mode="json", exclude_unset=True) == stream.completion["usage"]
    wire = stream.sse().decode()
    assert wire.endswith("data: [DONE]\n\n")
    assert wire.count("data: ") == len(stream.chunks) + 1


# --- one shape: the strategies' replies against what the fake serves ----------------------

_F_TOOLS = [{"type": "function", "function": {"name": "f"}}]


def _shape(value: Any) -> Any:
    """Keys in order and kinds of values: what two replies share when only values differ."""
    if isinstance(value, dict):
        return tuple((key, _shape(item)) for key, item in value.items())
    if isinstance(value, list):
        return ("list", tuple(dict.fromkeys(_shape(item) for item in value)))
    return type(value).__name__


def _collapsed(shapes: list[Any]) -> list[Any]:
    # How many fragments a text streams in is a value (drawn here, tokens there), not a shape.
    return [shape for i, shape in enumerate(shapes) if i == 0 or shapes[i - 1] != shape]


def _script_like(fake: FakeGPT4oMini, message: dict[str, Any]) -> None:
    if message.get("tool_calls"):
        calls = message["tool_calls"]
        fake.reply(
            tool_calls=[
                {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                for c in calls
            ]
        )
    elif message["refusal"] is not None:
        fake.reply(refusal=message["refusal"])
    else:
        fake.reply(message["content"])


def test_drawn_completions_have_the_shape_the_fake_serves() -> None:
    @settings(max_examples=40, deadline=None)
    @given(mds.chat_completions(tools=_F_TOOLS))
    def check(completion: dict[str, Any]) -> None:
        _script_like(fake, completion["choices"][0]["message"])
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        served = httpx.post(CHAT_URL, json={**body, "tools": _F_TOOLS}, headers=AUTH).json()
        assert _shape(completion) == _shape(served)

    with FakeGPT4oMini() as fake:
        check()


def test_drawn_streams_have_the_chunk_shapes_the_fake_serves() -> None:
    @settings(max_examples=40, deadline=None)
    @given(mds.chat_completion_chunks(tools=_F_TOOLS))
    def check(stream: mds.CompletionStream) -> None:
        _script_like(fake, stream.completion["choices"][0]["message"])
        options = {
            "include_usage": "usage" in stream.chunks[0],
            "include_obfuscation": "obfuscation" in stream.chunks[0],
        }
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": _F_TOOLS,
            "stream": True,
            "stream_options": options,
        }
        wire = httpx.post(CHAT_URL, json=body, headers=AUTH).content
        events = wire.decode().split("\n\n")
        assert events[-2:] == ["data: [DONE]", ""]
        served = [json.loads(event.removeprefix("data: ")) for event in events[:-2]]
        assert _collapsed([_shape(c) for c in stream.chunks]) == _collapsed(
            [_shape(c) for c in served]
        )
        assert stream.sse().endswith(b"data: [DONE]\n\n")
        assert stream.sse().decode().split("\n\n")[:-2] == [
            "data: " + json.dumps(c, separators=(",", ":"), ensure_ascii=False)
            for c in stream.chunks
        ]

    with FakeGPT4oMini() as fake:
        check()
