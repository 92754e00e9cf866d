"""fake.reply / fake.fail / fake.requests / unused_scripts (DESIGN.md "Scripting the fake")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minidouble._model._tokenizer import encoding
from minidouble._service._app import GPT4oMiniApp

from .conftest import Send
from .helpers import as_json, chat_request, events, user
from .test_completion import TIME, WEATHER

SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "person",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"],
            "additionalProperties": False,
        },
    },
}


def message(send: Send, body: dict[str, Any]) -> dict[str, Any]:
    response = send(chat_request(body))
    assert response.status == 200, response.body
    result: dict[str, Any] = as_json(response)["choices"][0]["message"]
    return result


def test_replies_are_served_first_in_first_out(app: GPT4oMiniApp, send: Send) -> None:
    app.reply("first")
    app.reply("second")
    assert message(send, user())["content"] == "first"
    assert message(send, user())["content"] == "second"
    default = message(send, user())["content"]
    assert default not in ("first", "second")
    assert app.unused_scripts() == []


def test_scripted_text_counts_real_tokens(app: GPT4oMiniApp, send: Send) -> None:
    app.reply("Bonjour, le monde !")
    document = as_json(send(chat_request(user())))
    expected = len(encoding().encode_ordinary("Bonjour, le monde !"))
    assert document["usage"]["completion_tokens"] == expected


def test_scripted_text_still_obeys_max_tokens_and_stop(app: GPT4oMiniApp, send: Send) -> None:
    app.reply("one two three four five")
    document = as_json(send(chat_request(user(max_tokens=2))))
    assert document["choices"][0]["message"]["content"] == "one two"
    assert document["choices"][0]["finish_reason"] == "length"
    app.reply("one two three four five")
    assert message(send, user(stop=" three"))["content"] == "one two"


def test_scripted_tool_calls(app: GPT4oMiniApp, send: Send) -> None:
    app.reply(
        tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}]
    )
    document = as_json(send(chat_request(user("Weather?", tools=[WEATHER, TIME]))))
    choice = document["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Oslo","unit":"celsius"}',
    }


def test_scripted_arguments_as_a_string_are_sent_verbatim(app: GPT4oMiniApp, send: Send) -> None:
    app.reply(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Oslo"'}])
    (call,) = message(send, user("Weather?", tools=[WEATHER]))["tool_calls"]
    assert call["function"]["arguments"] == '{"city": "Oslo"'


def test_scripted_json_is_checked_and_sent(app: GPT4oMiniApp, send: Send) -> None:
    app.reply(json={"name": "Ada", "age": 36})
    content = message(send, user("Who?", response_format=SCHEMA_FORMAT))["content"]
    assert content == '{"name":"Ada","age":36}'


def test_refusal(app: GPT4oMiniApp, send: Send) -> None:
    app.reply(refusal="I can't help with that.")
    result = message(send, user("Who?", response_format=SCHEMA_FORMAT))
    assert result["content"] is None
    assert result["refusal"] == "I can't help with that."


MISTAKES = [
    ({"tool_calls": [{"name": "get_weather", "arguments": {}}]}, user("Hi"), "offered no tools"),
    (
        {"tool_calls": [{"name": "launch", "arguments": {}}]},
        user("Hi", tools=[WEATHER]),
        "offered only ['get_weather']",
    ),
    (
        {"tool_calls": [{"name": "get_time", "arguments": {"zone": "x"}}]},
        user("Hi", tools=[WEATHER, TIME], tool_choice="none"),
        "tool_choice='none'",
    ),
    (
        {"tool_calls": [{"name": "get_time", "arguments": {"zone": "x"}}]},
        user(
            "Hi",
            tools=[WEATHER, TIME],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
        "forces exactly one call to 'get_weather'",
    ),
    (
        {
            "tool_calls": [
                {"name": "get_time", "arguments": {"zone": "x"}},
                {"name": "get_time", "arguments": {"zone": "y"}},
            ]
        },
        user("Hi", tools=[TIME], parallel_tool_calls=False),
        "parallel_tool_calls=false",
    ),
    (
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
        user("Hi", tools=[WEATHER]),
        "missing the required property 'unit'",
    ),
    ({"text": "plain words"}, user("Hi", tools=[WEATHER], tool_choice="required"), "demands"),
    ({"json": {"name": "Ada"}}, user("Hi", response_format=SCHEMA_FORMAT), "'age'"),
    ({"json": {"name": "Ada", "age": 1}}, user("Hi"), "no JSON response_format"),
    ({"text": "not json"}, user("Hi", response_format=SCHEMA_FORMAT), "is not JSON"),
    (
        {"text": "[1, 2]"},
        user("Reply in JSON.", response_format={"type": "json_object"}),
        "always yields a JSON object",
    ),
    (
        {"json": [1, 2]},
        user("Reply in JSON.", response_format={"type": "json_object"}),
        "always yields a JSON object",
    ),
]


@pytest.mark.parametrize(("script", "body", "expected"), MISTAKES)
def test_script_mismatch_is_reported_as_the_tests_mistake(
    app: GPT4oMiniApp, send: Send, script: dict[str, Any], body: dict[str, Any], expected: str
) -> None:
    if "text" in script:
        app.reply(script["text"])
    else:
        app.reply(**script)
    response = send(chat_request(body))
    assert response.status == 400
    assert response.header("x-should-retry") == "false"
    error = as_json(response)["error"]
    assert error["type"] == "minidouble_script_error"
    assert error["message"].startswith("minidouble: ")
    assert expected in error["message"]
    (mistake,) = app.script_errors
    assert str(mistake) == error["message"]


def test_non_strict_tools_accept_off_schema_arguments(app: GPT4oMiniApp, send: Send) -> None:
    # The real model can break a non-strict schema, so tests may script it doing so.
    app.reply(tool_calls=[{"name": "get_time", "arguments": {"wrong": 1}}])
    (call,) = message(send, user("Time?", tools=[TIME]))["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"wrong": 1}


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"text": "a", "json": {}},
        {"tool_calls": []},
        {"tool_calls": "get_weather"},
        {"tool_calls": [{"arguments": {}}]},
        {"tool_calls": [{"name": "f", "arguments": {"x": object()}}]},
        {"json": {1, 2}},
    ],
)
def test_bad_reply_arguments_fail_at_the_call(app: GPT4oMiniApp, kwargs: dict[str, Any]) -> None:
    text = kwargs.pop("text", None)
    with pytest.raises(TypeError, match=r"^minidouble: "):
        app.reply(text, **kwargs)


FAULTS = [
    (400, "invalid_request_error", None),
    (401, "invalid_request_error", "invalid_api_key"),
    (403, "request_forbidden", "unsupported_country_region_territory"),
    (404, "invalid_request_error", "model_not_found"),
    (409, "invalid_request_error", "conflict"),
    (429, "tokens", "rate_limit_exceeded"),
    (500, "server_error", None),
    (503, "server_error", None),
]


@pytest.mark.parametrize(("status", "type_", "code"), FAULTS)
def test_fail_sends_the_real_error(
    app: GPT4oMiniApp, send: Send, status: int, type_: str, code: str | None
) -> None:
    app.fail(status)
    response = send(chat_request(user()))
    assert response.status == status
    error = as_json(response)["error"]
    assert list(error) == ["message", "type", "param", "code"]
    assert (error["type"], error["code"]) == (type_, code)
    request_id = response.header("x-request-id") or ""
    assert request_id.startswith("req_")
    if status >= 500:
        assert request_id in error["message"]
    has_limits = response.header("x-ratelimit-limit-requests") is not None
    assert has_limits == (status not in (401, 403, 404))
    assert send(chat_request(user())).status == 200


def test_rate_limit_headers_and_message(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(429, retry_after=45.175)
    response = send(chat_request(user(max_tokens=100)))
    assert response.header("retry-after") == "46"
    assert response.header("retry-after-ms") == "45175"
    assert response.header("x-ratelimit-remaining-tokens") == "0"
    message_text = as_json(response)["error"]["message"]
    assert message_text.startswith("Rate limit reached for gpt-4o-mini in organization ")
    assert "on tokens per min (TPM): Limit 200000" in message_text
    assert "Please try again in 45.175s." in message_text


def test_requests_limit_and_insufficient_quota(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(429, type="requests")
    error = as_json(send(chat_request(user())))["error"]
    assert error["type"] == "requests"
    assert "on requests per min (RPM): Limit 500" in error["message"]
    app.fail(429, code="insufficient_quota")
    response = send(chat_request(user()))
    error = as_json(response)["error"]
    assert error["type"] == error["code"] == "insufficient_quota"
    assert error["message"].startswith("You exceeded your current quota")
    assert response.header("retry-after") is None


def test_502_is_the_proxy_page(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(502)
    response = send(chat_request(user()))
    assert response.status == 502
    assert response.header("content-type") == "text/html"
    assert b"502 Bad Gateway" in response.body


def test_fail_details_override_the_body(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(400, message="Custom.", param="temperature", code="x", headers={"x-extra": "1"})
    response = send(chat_request(user()))
    assert as_json(response)["error"] == {
        "message": "Custom.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "x",
    }
    assert response.header("x-extra") == "1"


def test_fail_times_counts_requests(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(500, times=2)
    app.reply("after the outage")
    assert send(chat_request(user())).status == 500
    assert app.unused_scripts() == ["fail(status=500, times=1)", "reply('after the outage')"]
    assert send(chat_request(user())).status == 500
    assert message(send, user())["content"] == "after the outage"
    assert app.unused_scripts() == []


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((418,), {}, ValueError),
        ((429,), {"times": 0}, ValueError),
        ((429,), {"bogus": 1}, TypeError),
    ],
)
def test_bad_fail_arguments(
    app: GPT4oMiniApp, args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error, match=r"^minidouble: "):
        app.fail(*args, **kwargs)


def test_requests_log(app: GPT4oMiniApp, send: Send) -> None:
    app.reply("logged")
    send(chat_request(user("Hello!")))
    send(chat_request(user("stream me", stream=True)))
    send(chat_request({"model": "nope", "messages": []}))
    first, second, third = app.requests
    assert first.method == "POST"
    assert first.path == "/v1/chat/completions"
    assert first.body["messages"][0]["content"] == "Hello!"
    assert first.messages == first.body["messages"]
    assert first.headers["authorization"].startswith("Bearer ")
    assert first.prompt_tokens == 9
    assert first.status == 200
    assert first.completion is not None
    assert first.completion["choices"][0]["message"]["content"] == "logged"
    assert first.completion_tokens == first.completion["usage"]["completion_tokens"]
    assert first.scripted == "reply('logged')"
    streamed = "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in events(second.response)[:-1]
        if c["choices"]
    )
    assert second.completion is not None
    assert streamed == second.completion["choices"][0]["message"]["content"]
    first_chunk = events(second.response)[0]
    assert first_chunk["id"] == second.completion["id"]
    assert first_chunk["created"] == second.completion["created"]
    assert third.status == 404
    assert third.prompt_tokens is None
    assert third.completion is None


def test_unused_scripts_and_reset(app: GPT4oMiniApp) -> None:
    app.reply("a")
    app.reply(tool_calls=[{"name": "get_weather", "arguments": {}}])
    app.reply(json={"k": 1})
    app.fail(429, times=2)
    assert app.unused_scripts() == [
        "fail(status=429, times=2)",
        "reply('a')",
        "reply(tool_calls=[get_weather])",
        "reply(json={'k': 1})",
    ]
    app.reset()
    assert app.unused_scripts() == []
    assert app.requests == []


def test_a_refused_request_leaves_the_script_queued(app: GPT4oMiniApp, send: Send) -> None:
    app.reply("for the valid request")
    refused = send(chat_request({"model": "gpt-4o-mini", "messages": []}))
    assert refused.status == 400
    assert app.unused_scripts() == ["reply('for the valid request')"]
    assert message(send, user())["content"] == "for the valid request"
