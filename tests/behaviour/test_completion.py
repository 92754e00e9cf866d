"""The non-streamed ``chat.completion``: shape, and every parameter honoured (reference §7)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import jsonschema
import pytest

from minidouble._model._tokenizer import encoding

from .conftest import Send
from .helpers import as_json, chat_request, events, user

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string"}},
            "required": ["zone"],
        },
    },
}


def complete(send: Send, body: dict[str, Any]) -> dict[str, Any]:
    response = send(chat_request(body))
    assert response.status == 200, response.body
    document: dict[str, Any] = as_json(response)
    return document


def tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))


def test_shape_and_key_order(send: Send) -> None:
    response = send(chat_request(user()))
    document = as_json(response)
    assert list(document) == [
        "id", "object", "created", "model", "choices", "usage", "service_tier",
        "system_fingerprint",
    ]  # fmt: skip
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", document["id"])
    assert document["object"] == "chat.completion"
    assert isinstance(document["created"], int)
    assert document["model"] == "gpt-4o-mini-2024-07-18"
    assert document["service_tier"] == "default"
    assert re.fullmatch(r"fp_[0-9a-f]{10}", document["system_fingerprint"])
    choice = document["choices"][0]
    assert list(choice) == ["index", "message", "logprobs", "finish_reason"]
    assert list(choice["message"]) == ["role", "content", "refusal", "annotations"]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["refusal"] is None
    assert choice["message"]["annotations"] == []
    assert choice["logprobs"] is None
    assert choice["finish_reason"] == "stop"
    usage = document["usage"]
    assert list(usage) == [
        "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
        "completion_tokens_details",
    ]  # fmt: skip
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    assert list(usage["completion_tokens_details"]) == [
        "reasoning_tokens", "audio_tokens", "accepted_prediction_tokens",
        "rejected_prediction_tokens",
    ]  # fmt: skip
    # Byte for byte: 2-space indent, raw UTF-8, trailing newline.
    assert response.body == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def test_usage_counts_real_tokens(send: Send) -> None:
    document = complete(send, user("Hello!"))
    usage = document["usage"]
    assert usage["prompt_tokens"] == 9  # the recorded count for a lone "Hello!"
    assert usage["completion_tokens"] == tokens(document["choices"][0]["message"]["content"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_default_reply_is_deterministic_and_seeded(send: Send) -> None:
    first = complete(send, user("What is a test double?"))
    again = complete(send, user("What is a test double?"))
    assert first["choices"][0]["message"] == again["choices"][0]["message"]
    assert first["id"] != again["id"]
    seeded = {
        complete(send, user("What is a test double?", seed=seed))["choices"][0]["message"][
            "content"
        ]
        for seed in range(8)
    }
    assert len(seeded) > 1
    same_seed = [
        complete(send, user("Other prompt", seed=7))["choices"][0]["message"]["content"]
        for _ in range(2)
    ]
    assert same_seed[0] == same_seed[1]


@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("limit", [1, 3, 7])
def test_max_tokens_cuts_exactly(send: Send, key: str, limit: int) -> None:
    full = complete(send, user("Explain."))["choices"][0]["message"]["content"]
    assert tokens(full) > limit
    document = complete(send, user("Explain.", **{key: limit}))
    choice = document["choices"][0]
    assert choice["finish_reason"] == "length"
    assert document["usage"]["completion_tokens"] == limit
    content = choice["message"]["content"]
    assert full.startswith(content)
    assert tokens(content) == limit


def test_max_tokens_above_reply_length_stops_naturally(send: Send) -> None:
    document = complete(send, user("Explain.", max_tokens=500))
    assert document["choices"][0]["finish_reason"] == "stop"
    assert document["usage"]["completion_tokens"] < 500


def test_stop_cuts_before_the_stop_text(send: Send) -> None:
    full = complete(send, user("Explain."))["choices"][0]["message"]["content"]
    words = full.split(" ")
    stop_word = " " + words[2]
    document = complete(send, user("Explain.", stop=stop_word))
    content = document["choices"][0]["message"]["content"]
    assert content == full[: full.index(stop_word)]
    assert document["choices"][0]["finish_reason"] == "stop"
    assert document["usage"]["completion_tokens"] == tokens(content)
    earliest = complete(send, user("Explain.", stop=["zzz-never", words[3], words[1]]))
    assert earliest["choices"][0]["message"]["content"] == full[: full.index(words[1])]


def test_n_gives_indexed_choices_and_summed_usage(send: Send) -> None:
    document = complete(send, user("Name a colour.", n=3))
    choices = document["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    total = sum(tokens(c["message"]["content"]) for c in choices)
    assert document["usage"]["completion_tokens"] == total
    single = complete(send, user("Name a colour."))
    assert choices[0]["message"] == single["choices"][0]["message"]


@pytest.mark.parametrize("top", [0, 1, 5, 20])
def test_logprobs_are_well_formed(send: Send, top: int) -> None:
    document = complete(send, user("Hi", logprobs=True, top_logprobs=top))
    choice = document["choices"][0]
    content = choice["message"]["content"]
    block = choice["logprobs"]
    assert list(block) == ["content", "refusal"]
    assert block["refusal"] is None
    entries = block["content"]
    assert len(entries) == document["usage"]["completion_tokens"]
    assert "".join(e["token"] for e in entries) == content
    assert b"".join(bytes(e["bytes"]) for e in entries) == content.encode()
    for entry in entries:
        assert list(entry) == ["token", "logprob", "bytes", "top_logprobs"]
        assert entry["logprob"] <= 0
        assert len(entry["top_logprobs"]) == top
        alternatives = entry["top_logprobs"]
        assert [a["logprob"] for a in alternatives] == sorted(
            (a["logprob"] for a in alternatives), reverse=True
        )
        assert sum(math.exp(a["logprob"]) for a in alternatives) <= 1.0 + 1e-9
        assert len({a["token"] for a in alternatives}) == len(alternatives)
        for alternative in alternatives:
            assert bytes(alternative["bytes"]) == alternative["token"].encode()
        if top:
            assert entry["token"] in {a["token"] for a in alternatives}


def test_logprobs_without_flag_stay_null(send: Send) -> None:
    assert complete(send, user("Hi", logprobs=False))["choices"][0]["logprobs"] is None


def test_logprobs_name_split_characters_by_their_bytes(app: Any, send: Send) -> None:
    app.reply("日本語のテキスト🙂")
    document = complete(send, user("Hi", logprobs=True))
    entries = document["choices"][0]["logprobs"]["content"]
    assert b"".join(bytes(e["bytes"]) for e in entries) == "日本語のテキスト🙂".encode()
    for entry in entries:
        raw = bytes(entry["bytes"])
        try:
            assert entry["token"] == raw.decode()
        except UnicodeDecodeError:
            assert entry["token"].startswith("bytes:\\x")


def test_required_tool_choice_calls_a_tool(send: Send) -> None:
    document = complete(send, user("Weather?", tools=[WEATHER, TIME], tool_choice="required"))
    choice = document["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert list(message) == ["role", "content", "tool_calls", "refusal", "annotations"]
    assert message["content"] is None
    call = message["tool_calls"][0]
    assert list(call) == ["id", "type", "function"]
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["id"])
    assert call["type"] == "function"
    assert call["function"]["name"] in {"get_weather", "get_time"}
    arguments = json.loads(call["function"]["arguments"])
    offered = {t["function"]["name"]: t["function"]["parameters"] for t in [WEATHER, TIME]}
    jsonschema.validate(arguments, offered[call["function"]["name"]])


@pytest.mark.parametrize("parameters", [{}, {"type": "object", "properties": {}}])
def test_a_function_without_parameters_is_called_with_an_empty_object(
    send: Send, parameters: dict[str, Any]
) -> None:
    # The real model calls `parameters: {}` functions with "{}" (a 2026 recording); the
    # arguments are a JSON object whatever the schema says.
    ping = {"type": "function", "function": {"name": "ping", "parameters": parameters}}
    for seed in range(5):
        document = complete(send, user("Ping?", tools=[ping], tool_choice="required", seed=seed))
        call = document["choices"][0]["message"]["tool_calls"][0]
        assert call["function"] == {"name": "ping", "arguments": "{}"}


def test_named_tool_choice_forces_that_tool(send: Send) -> None:
    body = user(
        "Time?",
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    document = complete(send, body)
    choice = document["choices"][0]
    # A forced call finishes with "stop" (156 of 157 recorded named-choice calls).
    assert choice["finish_reason"] == "stop"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    arguments = call["function"]["arguments"]
    assert list(json.loads(arguments)) == ["city", "unit"]  # schema order
    # Forced calls cost only their arguments.
    assert document["usage"]["completion_tokens"] == tokens(arguments)


def test_tool_call_tokens_include_the_per_call_overhead(send: Send) -> None:
    document = complete(send, user("Weather?", tools=[WEATHER], tool_choice="required"))
    (call,) = document["choices"][0]["message"]["tool_calls"]
    expected = tokens(call["function"]["arguments"]) + tokens("get_weather") + 7
    assert document["usage"]["completion_tokens"] == expected


def test_auto_and_none_answer_with_text(send: Send) -> None:
    for choice in ("auto", "none"):
        document = complete(send, user("Hi", tools=[WEATHER], tool_choice=choice))
        message = document["choices"][0]["message"]
        assert isinstance(message["content"], str)
        assert "tool_calls" not in message


def test_json_object_reply_is_a_json_object(send: Send) -> None:
    document = complete(send, user("Answer in JSON.", response_format={"type": "json_object"}))
    assert isinstance(json.loads(document["choices"][0]["message"]["content"]), dict)


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0, "maximum": 130},
            "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "nickname": {"type": ["string", "null"]},
            "when": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
        },
        "required": ["name", "age", "score", "tags", "kind", "nickname", "when", "id", "code"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}},
        "required": ["root"],
        "additionalProperties": False,
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer", "multipleOf": 5},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                    "shape": {
                        "anyOf": [
                            {
                                "type": "object",
                                "properties": {"radius": {"type": "number"}},
                                "required": ["radius"],
                                "additionalProperties": False,
                            },
                            {"type": "null"},
                        ]
                    },
                },
                "required": ["value", "children", "shape"],
                "additionalProperties": False,
            }
        },
    },
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=["flat", "recursive"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_json_schema_reply_is_valid_and_ordered(
    send: Send, schema: dict[str, Any], seed: int
) -> None:
    body = user(
        "Fill it in.",
        seed=seed,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "strict": True, "schema": schema},
        },
    )
    document = complete(send, body)
    value = json.loads(document["choices"][0]["message"]["content"])
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    assert list(value) == list(schema["properties"])


def test_legacy_functions(send: Send) -> None:
    functions = [WEATHER["function"]]
    forced = complete(send, user("Weather?", functions=functions,
                                 function_call={"name": "get_weather"}))  # fmt: skip
    choice = forced["choices"][0]
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert list(message) == ["role", "content", "function_call", "refusal", "annotations"]
    assert message["function_call"]["name"] == "get_weather"
    json.loads(message["function_call"]["arguments"])
    plain = complete(send, user("Weather?", functions=functions))
    assert "function_call" not in plain["choices"][0]["message"]


def test_tool_call_cut_by_max_tokens_is_length(send: Send) -> None:
    body = user("Weather?", tools=[WEATHER], tool_choice="required", max_tokens=3)
    document = complete(send, body)
    choice = document["choices"][0]
    assert choice["finish_reason"] == "length"
    assert document["usage"]["completion_tokens"] == 3


def test_no_room_left_in_the_context_limits_the_reply() -> None:
    from minidouble._engine._replies import Intent, render, request_rng

    body = user("Hi")
    choice = render(
        Intent(text="one two three four five six"), body, prompt_tokens=127_997,
        rng=request_rng(body),
    )  # fmt: skip
    assert choice.completion_tokens == 3
    assert choice.finish_reason == "length"
    assert choice.content == "one two three"


def test_unsatisfiable_schema_still_gets_an_answer(send: Send) -> None:
    schema = {"type": "object", "properties": {"x": {"$ref": "https://example.com/s.json"}}}
    tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
    response = send(chat_request(user("Hi", tools=[tool], tool_choice="required")))
    assert response.status == 200
    (call,) = as_json(response)["choices"][0]["message"]["tool_calls"]
    assert call["function"]["arguments"] == "{}"


def test_predicted_outputs_count_accepted_and_rejected_tokens(app: Any, send: Send) -> None:
    code = "def add(a, b):\n    return a + b\n"
    prediction = {"type": "content", "content": code}
    same = complete(send, user("Rename nothing.", prediction=prediction))
    assert same["choices"][0]["message"]["content"] == code
    details = same["usage"]["completion_tokens_details"]
    assert details["accepted_prediction_tokens"] == tokens(code)
    assert details["rejected_prediction_tokens"] == 0
    assert same["usage"]["completion_tokens"] == tokens(code)

    edited = "def add(a, b):\n    return a - b\n"
    app.reply(edited)
    changed = complete(send, user("Subtract.", prediction=prediction))
    details = changed["usage"]["completion_tokens_details"]
    assert 0 < details["accepted_prediction_tokens"] < tokens(code)
    assert (
        details["rejected_prediction_tokens"]
        == tokens(code) - details["accepted_prediction_tokens"]
    )
    # Rejected prediction tokens are billed as completion tokens.
    assert changed["usage"]["completion_tokens"] == (
        tokens(edited) + details["rejected_prediction_tokens"]
    )


@pytest.mark.parametrize(
    ("asked", "served"), [(None, "default"), ("auto", "default"), ("default", "default"),
                          ("priority", "priority")]
)  # fmt: skip
def test_service_tier_echoes_the_tier_used(send: Send, asked: str | None, served: str) -> None:
    extra = {} if asked is None else {"service_tier": asked}
    assert complete(send, user("Hi", **extra))["service_tier"] == served
    chunks = events(send(chat_request(user("Hi", stream=True, **extra))))
    assert {c["service_tier"] for c in chunks[:-1]} == {served}
