"""``POST /v1/responses`` through every transport: shapes, streaming, chaining, scripts, errors."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest

from minidouble._http import HttpRequest, HttpResponse
from minidouble._model._tokenizer import token_count
from minidouble._model._tokens import count_prompt_tokens
from minidouble._service._app import GPT4oMiniApp
from tests.test_tokens_responses import SF_INPUT, SF_OUTPUT, SF_WEATHER

from .conftest import Send
from .helpers import BASE, KEY_HEADERS, body_bytes, chat_request

PATH = "/v1/responses"
# The field order of a real gpt-4o-mini ``response`` object (recorded 2026-07).
RESPONSE_FIELDS = [
    "id", "object", "created_at", "status", "background", "billing", "completed_at", "error",
    "frequency_penalty", "incomplete_details", "instructions", "max_output_tokens",
    "max_tool_calls", "model", "moderation", "output", "parallel_tool_calls",
    "presence_penalty", "previous_response_id", "prompt_cache_key", "prompt_cache_retention",
    "reasoning", "safety_identifier", "service_tier", "store", "temperature", "text",
    "tool_choice", "tool_usage", "tools", "top_logprobs", "top_p", "truncation", "usage", "user",
    "metadata",
]  # fmt: skip
ID = re.compile(r"(resp|msg|fc)_[0-9a-f]{16}01[0-9a-f]{8}[0-9a-f]{24}")
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def post(send: Send, body: Any) -> HttpResponse:
    return send(chat_request(body, path=PATH))


def create(send: Send, **body: Any) -> dict[str, Any]:
    response = post(send, {"model": "gpt-4o-mini", **body})
    assert response.status == 200, body_bytes(response)
    document: dict[str, Any] = json.loads(body_bytes(response))
    return document


def typed_events(response: HttpResponse) -> list[tuple[str, dict[str, Any]]]:
    raw = body_bytes(response).decode()
    assert raw.endswith("\n\n") and "[DONE]" not in raw
    out = []
    for block in raw.split("\n\n")[:-1]:
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: "), block
        out.append((name_line[len("event: ") :], json.loads(data_line[len("data: ") :])))
    return out


def chat_count(messages: list[dict[str, Any]]) -> int:
    return count_prompt_tokens({"messages": messages})


# --- plain, instructions -------------------------------------------------------------------


def test_plain_input_answers_a_real_shaped_response(send: Send) -> None:
    response = post(send, {"model": "gpt-4o-mini", "input": "Say hello."})
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert response.header("x-ratelimit-limit-tokens") is not None
    raw = body_bytes(response)
    document = json.loads(raw)
    assert raw == json.dumps(document, indent=2, ensure_ascii=False).encode()  # no trailing \n
    assert list(document) == RESPONSE_FIELDS
    assert ID.fullmatch(document["id"]) and document["id"].startswith("resp_")
    assert document["object"] == "response"
    assert document["status"] == "completed"
    assert document["model"] == "gpt-4o-mini-2024-07-18"
    [message] = document["output"]
    assert list(message) == ["id", "type", "status", "content", "role"]
    assert ID.fullmatch(message["id"]) and message["id"].startswith("msg_")
    # Ids of one response share their shard and creation time, as real ones do.
    assert message["id"][4:30] == document["id"][5:31]
    [part] = message["content"]
    assert list(part) == ["type", "annotations", "logprobs", "text"]
    usage = document["usage"]
    assert usage["input_tokens"] == chat_count([{"role": "user", "content": "Say hello."}])
    # The reply's end token is billed too, as in every recorded text reply.
    assert usage["output_tokens"] == token_count(part["text"]) + 1
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_tokens_details"] == {"cache_write_tokens": 0, "cached_tokens": 0}


def test_instructions_count_as_a_leading_developer_message(send: Send) -> None:
    document = create(send, input="Hi", instructions="Answer in French.")
    expected = chat_count(
        [{"role": "developer", "content": "Answer in French."}, {"role": "user", "content": "Hi"}]
    )
    assert document["usage"]["input_tokens"] == expected
    assert document["instructions"] == "Answer in French."


def test_input_messages_and_parts_count_like_chat_messages(send: Send) -> None:
    items = [
        {"role": "system", "content": "Be terse."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "2+2?"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "4"}]},
        {"role": "user", "content": "And 3+3?"},
    ]
    document = create(send, input=items)
    expected = chat_count(
        [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "And 3+3?"},
        ]
    )
    assert document["usage"]["input_tokens"] == expected


def test_same_request_same_reply(send: Send) -> None:
    first = create(send, input="Tell me something.")
    second = create(send, input="Tell me something.")
    assert first["output"][0]["content"] == second["output"][0]["content"]
    assert first["id"] != second["id"]


def test_settings_are_echoed(send: Send) -> None:
    document = create(
        send,
        input="Hi",
        temperature=0,
        top_p=0.5,
        max_output_tokens=100,
        metadata={"suite": "ci"},
        store=False,
        user="u-1",
    )
    assert document["temperature"] == 0.0 and isinstance(document["temperature"], float)
    assert document["top_p"] == 0.5
    assert document["max_output_tokens"] == 100
    assert document["metadata"] == {"suite": "ci"}
    assert document["store"] is False
    assert document["user"] == "u-1"


# --- tools -----------------------------------------------------------------------------------


def test_required_tool_choice_answers_with_a_function_call(send: Send) -> None:
    document = create(send, input="Weather in Paris?", tools=[WEATHER], tool_choice="required")
    [call] = document["output"]
    assert list(call) == ["id", "type", "status", "arguments", "call_id", "name"]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert call["id"].startswith("fc_") and re.fullmatch(r"call_[A-Za-z0-9]{24}", call["call_id"])
    jsonschema.validate(json.loads(call["arguments"]), WEATHER["parameters"])
    assert document["tool_choice"] == "required"


def test_a_function_without_parameters_is_called_with_an_empty_object(send: Send) -> None:
    ping = {"type": "function", "name": "ping", "parameters": {}}
    for attempt in range(5):  # Responses has no seed: vary the input
        document = create(send, input=f"Ping {attempt}?", tools=[ping], tool_choice="required")
        calls = [item for item in document["output"] if item["type"] == "function_call"]
        assert [(call["name"], call["arguments"]) for call in calls] == [("ping", "{}")]


def test_a_required_call_of_the_only_tool_is_billed_as_a_named_one(
    send: Send, app: GPT4oMiniApp
) -> None:
    # openai-dotnet OutputTextMethodAsync (2026-01-07): 43 input tokens, and as output only
    # the forced call's arguments "{}" plus the call's end (no name, no call overhead).
    weather = {"type": "function", "name": "get_weather", "description": "gets the weather",
               "parameters": {}, "strict": False}  # fmt: skip
    question = [{"type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": "How's the weather?"}]}]  # fmt: skip
    app.reply(tool_calls=[{"name": "get_weather", "arguments": {}}])
    document = create(send, input=question, tools=[weather], tool_choice="required")
    assert document["output"][0]["arguments"] == "{}"
    assert document["usage"]["input_tokens"] == 43
    assert document["usage"]["output_tokens"] == 2
    assert document["tool_choice"] == "required"


def test_tool_without_strict_is_echoed_strict_when_its_schema_allows(send: Send) -> None:
    loose = {**WEATHER, "name": "loose", "parameters": {**PERSON, "required": ["name"]}}
    document = create(send, input="Hi", tools=[WEATHER, loose])
    strict, kept = document["tools"]
    assert list(strict) == ["type", "description", "name", "parameters", "strict"]
    assert strict["strict"] is True
    assert strict["parameters"] == {
        **WEATHER["parameters"],
        "additionalProperties": False,
        "required": ["city"],
    }
    # A schema that makes a property optional cannot be strict: echoed as sent, non-strict.
    assert kept["strict"] is False and kept["parameters"] == loose["parameters"]


def test_output_tokens_bill_the_replys_end_as_recorded(send: Send, app: GPT4oMiniApp) -> None:
    # Recorded 2026-02-18: {"location":"Tokyo"} to "weather" billed 14 output tokens; a text
    # answer with a callable tool bills 2 past its text, a cut answer nothing past its limit.
    weather = {**WEATHER, "name": "weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}}}  # fmt: skip
    app.reply(tool_calls=[{"name": "weather", "arguments": {"location": "Tokyo"}}])
    call = create(send, input="Weather in Tokyo?", tools=[weather])
    assert call["usage"]["output_tokens"] == 14
    app.reply("It is sunny.")
    text = create(send, input="Weather in Tokyo?", tools=[weather])
    assert text["usage"]["output_tokens"] == token_count("It is sunny.") + 2
    cut = create(send, input="A long story, please.", max_output_tokens=16)
    assert cut["status"] == "incomplete" and cut["usage"]["output_tokens"] == 16


def test_named_tool_choice_calls_that_tool(send: Send) -> None:
    other = {**WEATHER, "name": "get_time"}
    document = create(
        send,
        input="Hi",
        tools=[WEATHER, other],
        tool_choice={"type": "function", "name": "get_time"},
    )
    assert [item["name"] for item in document["output"]] == ["get_time"]


# A real request (dd-trace-js recording, 2026-06-22): three parallel calls and their outputs.
TRAVEL_TOOLS = [
    {
        "type": "function",
        "name": "getWeather",
        "description": "Get current temperature and sky conditions for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": 'City name, e.g. "Miami, FL"'}
            },
            "required": ["city"],
        },
    },
    {
        "type": "function",
        "name": "getActivities",
        "description": "Get recommended activities for a city given the current temperature",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "tempF": {"type": "number", "description": "Current temperature in Fahrenheit"},
            },
            "required": ["city", "tempF"],
        },
    },
]


def _travel_input() -> list[dict[str, Any]]:
    cities = {
        "call_ixQNyqgo2oPAgEQAuVryMbmT": ("New York, NY", 58, "overcast"),
        "call_CDYXdRnSrxsuaS0BZrRuPCr2": ("Miami, FL", 84, "sunny"),
        "call_I0LgBUxmcg5UiSCvolnL67k3": ("Seattle, WA", 52, "overcast"),
    }
    items: list[dict[str, Any]] = [
        {
            "role": "system",
            "content": "You are a travel assistant. Check weather for all cities before making "
            "a recommendation.",
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "input_text",
                    "text": "I want to visit New York, Miami, or Seattle this weekend for outdoor "
                    "activities. Check the weather in all three cities, then get activity "
                    "recommendations for the best destination.",
                }
            ],
        },
    ]
    for call_id, (city, _, _) in cities.items():
        arguments = json.dumps({"city": city}, separators=(",", ":"))
        items.append({"type": "function_call", "call_id": call_id, "name": "getWeather",
                      "arguments": arguments})  # fmt: skip
    for call_id, (city, temp, sky) in cities.items():
        output = {"city": city, "tempF": temp, "conditions": sky}
        items.append({"type": "function_call_output", "call_id": call_id,
                      "output": json.dumps(output, separators=(",", ":"))})  # fmt: skip
    return items


def test_tools_and_parallel_call_history_count_as_recorded(send: Send) -> None:
    document = create(send, input=_travel_input(), tools=TRAVEL_TOOLS, temperature=0,
                      store=False, tool_choice="auto")  # fmt: skip
    assert document["usage"]["input_tokens"] == 262


# --- structured output -----------------------------------------------------------------------


def test_json_schema_format_answers_schema_valid_json_in_schema_order(send: Send) -> None:
    fmt = {"type": "json_schema", "name": "person", "schema": PERSON, "strict": True}
    document = create(send, input="Invent a person.", text={"format": fmt})
    text = document["output"][0]["content"][0]["text"]
    value = json.loads(text)
    jsonschema.validate(value, PERSON)
    assert list(value) == ["name", "age"]
    assert document["text"]["format"] == {
        "type": "json_schema",
        "description": None,
        "name": "person",
        "schema": PERSON,
        "strict": True,
    }


def test_json_object_format_needs_json_in_the_input_not_the_instructions(send: Send) -> None:
    body = {
        "model": "gpt-4o-mini",
        "input": "List three colors.",
        "instructions": "Reply in JSON.",
        "text": {"format": {"type": "json_object"}},
    }
    refused = post(send, body)
    assert refused.status == 400
    error = json.loads(body_bytes(refused))["error"]
    assert error["param"] == "input" and error["code"] is None
    assert "'text.format' of type 'json_object'" in error["message"]
    answered = create(send, **{**body, "input": "List three colors as JSON."})
    json.loads(answered["output"][0]["content"][0]["text"])


# --- streaming -------------------------------------------------------------------------------

TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def test_stream_sends_typed_events_in_order(send: Send) -> None:
    response = post(send, {"model": "gpt-4o-mini", "input": "Say hello.", "stream": True})
    assert response.status == 200
    assert response.header("content-type") == "text/event-stream; charset=utf-8"
    events = typed_events(response)
    names = [name for name, _ in events]
    assert [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]] == TEXT_EVENTS
    for index, (name, data) in enumerate(events):
        assert data["type"] == name
        assert data["sequence_number"] == index
        keys = list(data)
        assert keys[0] == "type" and keys[1:] == sorted(keys[1:])
    created = events[0][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == []
    assert created["usage"] is None and created["service_tier"] == "auto"
    final = events[-1][1]["response"]
    assert list(final) == RESPONSE_FIELDS and final["id"] == created["id"]
    text = "".join(data["delta"] for name, data in events if name == "response.output_text.delta")
    assert text == final["output"][0]["content"][0]["text"]
    deltas = [data for name, data in events if name == "response.output_text.delta"]
    assert all(d["item_id"] == final["output"][0]["id"] and d["logprobs"] == [] for d in deltas)
    assert all("obfuscation" in d for d in deltas)
    # The same request not streamed says the same thing.
    plain = create(send, input="Say hello.")
    assert plain["output"][0]["content"][0]["text"] == text


def test_stream_obfuscation_can_be_turned_off(send: Send) -> None:
    body = {
        "model": "gpt-4o-mini",
        "input": "Hi",
        "stream": True,
        "stream_options": {"include_obfuscation": False},
    }
    events = typed_events(post(send, body))
    assert not any("obfuscation" in data for _, data in events)


def test_stream_function_call_arguments(send: Send) -> None:
    body = {"model": "gpt-4o-mini", "input": "Weather?", "tools": [WEATHER],
            "tool_choice": "required", "stream": True}  # fmt: skip
    events = typed_events(post(send, body))
    names = [name for name, _ in events]
    assert names[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert names[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = events[2][1]["item"]
    assert added["status"] == "in_progress" and added["arguments"] == ""
    deltas = "".join(d["delta"] for n, d in events if n == "response.function_call_arguments.delta")
    done = next(d for n, d in events if n == "response.function_call_arguments.done")
    final_call = events[-1][1]["response"]["output"][0]
    assert deltas == done["arguments"] == final_call["arguments"]
    assert done["item_id"] == added["id"] == final_call["id"]


# --- limits ----------------------------------------------------------------------------------


def test_max_output_tokens_cuts_the_answer_and_marks_it_incomplete(send: Send) -> None:
    document = create(send, input="Write a long story about a dragon.", max_output_tokens=16)
    assert document["status"] == "incomplete"
    assert document["incomplete_details"] == {"reason": "max_output_tokens"}
    assert document["output"][0]["status"] == "incomplete"
    assert document["usage"]["output_tokens"] <= 16
    events = typed_events(
        post(send, {"model": "gpt-4o-mini", "input": "Write a long story about a dragon.",
                    "max_output_tokens": 16, "stream": True})
    )  # fmt: skip
    assert events[-1][0] == "response.incomplete"


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"input": "x", "max_output_tokens": 15}, 400, "integer_below_min_value",
         "max_output_tokens"),
        ({"input": "word " * 128_000}, 400, "context_length_exceeded", "input"),
        ({"input": "x", "model": "gpt-5-imaginary"}, 400, "model_not_found", "model"),
        ({"messages": []}, 400, "unknown_parameter", "messages"),
        ({"input": "x", "temperature": 2.5}, 400, "decimal_above_max_value", "temperature"),
        ({"input": "x", "reasoning": {"effort": "low"}}, 400, "unsupported_parameter",
         "reasoning.effort"),
        ({"input": "x", "previous_response_id": "resp_nope"}, 400, "previous_response_not_found",
         "previous_response_id"),
    ],
)  # fmt: skip
def test_errors_are_the_real_ones(
    send: Send, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    response = post(send, {"model": "gpt-4o-mini", **body})
    assert response.status == status
    error = json.loads(body_bytes(response))["error"]
    assert list(error) == ["message", "type", "param", "code"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)


def test_context_exceeded_message_is_the_responses_one(send: Send) -> None:
    response = post(send, {"model": "gpt-4o-mini", "input": "word " * 128_000})
    assert json.loads(body_bytes(response))["error"]["message"] == (
        "Your input exceeds the context window of this model. Please adjust your input and try "
        "again."
    )


def test_missing_key_is_the_gateway_401(send: Send) -> None:
    response = send(chat_request({"model": "gpt-4o-mini", "input": "x"}, path=PATH, headers={}))
    assert response.status == 401


def test_malformed_json_is_refused_like_chat(send: Send) -> None:
    response = send(chat_request(None, raw=b"{not json", path=PATH))
    assert response.status == 400
    assert "could not parse the JSON body" in json.loads(body_bytes(response))["error"]["message"]


# --- previous_response_id --------------------------------------------------------------------


def test_previous_response_id_continues_the_stored_conversation(send: Send) -> None:
    first = create(send, input="My name is Alice.")
    answer = first["output"][0]["content"][0]["text"]
    second = create(send, input="What is my name?", previous_response_id=first["id"])
    expected = chat_count(
        [
            {"role": "user", "content": "My name is Alice."},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "What is my name?"},
        ]
    )
    assert second["usage"]["input_tokens"] == expected
    assert second["previous_response_id"] == first["id"]


def test_function_call_output_may_answer_a_call_of_the_previous_response(send: Send) -> None:
    first = create(send, input="Weather?", tools=[WEATHER], tool_choice="required")
    call_id = first["output"][0]["call_id"]
    reply = {"type": "function_call_output", "call_id": call_id, "output": "sunny"}
    second = create(send, input=[reply], tools=[WEATHER], previous_response_id=first["id"])
    assert second["output"][0]["type"] == "message"
    orphan = post(send, {"model": "gpt-4o-mini", "input": [reply], "tools": [WEATHER]})
    assert orphan.status == 400


def test_a_continued_call_counts_as_recorded(send: Send, app: GPT4oMiniApp) -> None:
    # openinference test_agent_with_tool_calls (2026-04-09): 73 input tokens, then 108 for the
    # call's output sent with previous_response_id (the stored call costs 3 more than written).
    app.reply(tool_calls=[{"name": "get_weather", "arguments": {"location": "San Francisco"}}])
    first = create(send, input=SF_INPUT, tools=[SF_WEATHER], tool_choice="auto")
    assert first["usage"]["input_tokens"] == 73
    reply = {**SF_OUTPUT, "call_id": first["output"][0]["call_id"]}
    second = create(send, input=[reply], tools=[SF_WEATHER], tool_choice="auto",
                    previous_response_id=first["id"])  # fmt: skip
    assert second["usage"]["input_tokens"] == 108


def test_unstored_responses_cannot_be_continued(send: Send) -> None:
    first = create(send, input="Hi", store=False)
    response = post(
        send, {"model": "gpt-4o-mini", "input": "Again", "previous_response_id": first["id"]}
    )
    assert response.status == 400
    assert json.loads(body_bytes(response))["error"]["code"] == "previous_response_not_found"


# --- scripting and faults --------------------------------------------------------------------


def test_scripted_text_and_tool_calls(send: Send, app: GPT4oMiniApp) -> None:
    app.reply("Bonjour!")
    app.reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    text = create(send, input="Hi")
    assert text["output"][0]["content"][0]["text"] == "Bonjour!"
    assert text["usage"]["output_tokens"] == token_count("Bonjour!") + 1
    call = create(send, input="Weather?", tools=[WEATHER])["output"][0]
    assert (call["name"], json.loads(call["arguments"])) == ("get_weather", {"city": "Paris"})
    assert app.unused_scripts() == []
    recorded = app.requests[-1]
    assert recorded.path == PATH
    assert recorded.prompt_tokens == recorded.completion["usage"]["input_tokens"]  # type: ignore[index]
    assert recorded.completion_tokens == recorded.completion["usage"]["output_tokens"]  # type: ignore[index]


def test_scripted_refusal(send: Send, app: GPT4oMiniApp) -> None:
    app.reply(refusal="I can't help with that.")
    [part] = create(send, input="Hi")["output"][0]["content"]
    assert part == {"type": "refusal", "refusal": "I can't help with that."}


def test_scripted_text_against_a_required_tool_is_the_tests_mistake(
    send: Send, app: GPT4oMiniApp
) -> None:
    app.reply("plain text")
    response = post(send, {"model": "gpt-4o-mini", "input": "x", "tools": [WEATHER],
                           "tool_choice": "required"})  # fmt: skip
    assert response.status >= 400
    assert app.script_errors and "minidouble:" in str(app.script_errors[0])


def test_scripted_failures_apply_to_responses_too(send: Send, app: GPT4oMiniApp) -> None:
    app.fail(429, times=1)
    assert post(send, {"model": "gpt-4o-mini", "input": "x"}).status == 429
    assert post(send, {"model": "gpt-4o-mini", "input": "x"}).status == 200


# --- Azure OpenAI ----------------------------------------------------------------------------

AZURE = "https://my-resource.openai.azure.com"
AZURE_HEADERS = {"api-key": "azure-key-123", "content-type": "application/json"}
AZURE_FIELDS = [
    "id", "object", "created_at", "status", "background", "content_filters", "error",
    "incomplete_details", "instructions", "max_output_tokens", "max_tool_calls", "model",
    "output", "parallel_tool_calls", "previous_response_id", "prompt_cache_key", "reasoning",
    "safety_identifier", "service_tier", "store", "temperature", "text", "tool_choice", "tools",
    "top_logprobs", "top_p", "truncation", "usage", "user", "metadata",
]  # fmt: skip


@pytest.mark.parametrize(
    "path", ["/openai/responses?api-version=2025-03-01-preview", "/openai/v1/responses"]
)
def test_azure_responses_name_the_deployment(send: Send, path: str) -> None:
    body = {"model": "my-mini-deployment", "input": "What is 4200 + 42?"}
    response = send(chat_request(body, path=path, base=AZURE, headers=AZURE_HEADERS))
    assert response.status == 200, body_bytes(response)
    assert response.header("apim-request-id") is not None
    document = json.loads(body_bytes(response))
    assert list(document) == AZURE_FIELDS
    assert document["model"] == "my-mini-deployment"
    assert document["usage"]["input_tokens"] == 16  # the recorded Azure count for this input
    assert document["usage"]["input_tokens_details"] == {"cached_tokens": 0}


def test_azure_responses_need_a_key_and_an_api_version(send: Send) -> None:
    body = {"model": "dep", "input": "Hi"}
    no_version = send(chat_request(body, path="/openai/responses", base=AZURE,
                                   headers=AZURE_HEADERS))  # fmt: skip
    assert no_version.status == 404
    no_key = send(chat_request(body, path="/openai/v1/responses", base=AZURE, headers={}))
    assert no_key.status == 401


def test_azure_responses_stream_pads_as_azure_chat_streams_do(send: Send) -> None:
    # One rule for every flavour (docs/azure.md): Azure pads its streams as api.openai.com
    # does (observed on gpt-4o-mini via Azure, 2026), and include_obfuscation=false turns it off.
    body = {"model": "dep", "input": "Hi", "stream": True}
    events = typed_events(
        send(chat_request(body, path="/openai/v1/responses", base=AZURE, headers=AZURE_HEADERS))
    )
    assert events[-1][0] == "response.completed"
    assert list(events[-1][1]["response"]) == AZURE_FIELDS
    deltas = [data for name, data in events if name == "response.output_text.delta"]
    assert deltas and all("obfuscation" in data for data in deltas)
    chat = {"model": "dep", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    chunks = send(
        chat_request(chat, path="/openai/v1/chat/completions", base=AZURE, headers=AZURE_HEADERS)
    )
    assert chunks.status == 200 and b'"obfuscation"' in body_bytes(chunks)
    off = {**body, "stream_options": {"include_obfuscation": False}}
    quiet = typed_events(
        send(chat_request(off, path="/openai/v1/responses", base=AZURE, headers=AZURE_HEADERS))
    )
    assert not any("obfuscation" in data for _, data in quiet)


# --- retrieve and delete ---------------------------------------------------------------------


def test_stored_responses_can_be_retrieved_and_deleted(send: Send) -> None:
    created = create(send, input="Hi")
    path = f"{PATH}/{created['id']}"
    fetched = send(HttpRequest("GET", BASE + path, dict(KEY_HEADERS)))
    assert fetched.status == 200
    assert json.loads(body_bytes(fetched)) == created
    deleted = send(HttpRequest("DELETE", BASE + path, dict(KEY_HEADERS)))
    assert json.loads(body_bytes(deleted)) == {
        "id": created["id"],
        "object": "response",
        "deleted": True,
    }
    gone = send(HttpRequest("GET", BASE + path, dict(KEY_HEADERS)))
    assert gone.status == 404
    error = json.loads(body_bytes(gone))["error"]
    assert error["message"] == f"Response with id '{created['id']}' not found."


def test_unstored_responses_cannot_be_retrieved(send: Send) -> None:
    created = create(send, input="Hi", store=False)
    fetched = send(HttpRequest("GET", f"{BASE}{PATH}/{created['id']}", dict(KEY_HEADERS)))
    assert fetched.status == 404


# --- logprobs --------------------------------------------------------------------------------


def test_logprobs_when_included(send: Send) -> None:
    body = {"input": "Hi", "include": ["message.output_text.logprobs"], "top_logprobs": 2}
    part = create(send, **body)["output"][0]["content"][0]
    entries = part["logprobs"]
    assert "".join(entry["token"] for entry in entries) == part["text"]
    for entry in entries:
        assert list(entry) == ["bytes", "logprob", "token", "top_logprobs"]
        assert bytes(entry["bytes"]).decode() == entry["token"]
        assert entry["logprob"] <= 0 and len(entry["top_logprobs"]) == 2
        assert all(list(top) == ["bytes", "logprob", "token"] for top in entry["top_logprobs"])
    events = typed_events(post(send, {"model": "gpt-4o-mini", "stream": True, **body}))
    streamed = [
        entry
        for name, data in events
        if name == "response.output_text.delta"
        for entry in data["logprobs"]
    ]
    assert [e["token"] for e in streamed] == [e["token"] for e in entries]


def test_logprobs_are_empty_unless_included(send: Send) -> None:
    assert create(send, input="Hi", top_logprobs=2)["output"][0]["content"][0]["logprobs"] == []
    response = post(send, {"model": "gpt-4o-mini", "input": "Hi", "include": ["everything"]})
    assert response.status == 400
    assert json.loads(body_bytes(response))["error"]["param"] == "include[0]"
