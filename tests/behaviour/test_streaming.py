"""Server-Sent Events exactly as the real API streams them (reference §8)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minidouble._service._app import GPT4oMiniApp

from .conftest import Send
from .helpers import as_json, chat_request, events, user
from .test_completion import TIME, WEATHER

CHUNK_KEYS = [
    "id", "object", "created", "model", "service_tier", "system_fingerprint", "choices",
]  # fmt: skip


def stream(send: Send, body: dict[str, Any]) -> list[Any]:
    response = send(chat_request({**body, "stream": True}))
    assert response.status == 200, response.body
    assert response.header("content-type") == "text/event-stream; charset=utf-8"
    return events(response)


def reassemble(chunks: list[Any]) -> dict[int, dict[str, Any]]:
    """What a client rebuilds from the deltas, per choice index."""
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        if chunk == "[DONE]":
            continue
        for choice in chunk["choices"]:
            state = choices.setdefault(
                choice["index"], {"content": None, "tool_calls": {}, "finish_reason": None}
            )
            delta = choice["delta"]
            if delta.get("content") is not None:
                state["content"] = (state["content"] or "") + delta["content"]
            for call in delta.get("tool_calls", []):
                slot = state["tool_calls"].setdefault(call["index"], {"arguments": ""})
                if "id" in call:
                    slot["id"], slot["name"] = call["id"], call["function"]["name"]
                slot["arguments"] += call["function"]["arguments"]
            if choice["finish_reason"] is not None:
                state["finish_reason"] = choice["finish_reason"]
    return choices


def test_text_stream_sequence(send: Send) -> None:
    chunks = stream(send, user("Hi", stream_options={"include_obfuscation": False}))
    assert chunks[-1] == "[DONE]"
    body = chunks[:-1]
    assert all(list(c) == CHUNK_KEYS for c in body)
    assert len({c["id"] for c in body}) == 1
    assert len({c["created"] for c in body}) == 1
    assert body[0]["id"].startswith("chatcmpl-")
    assert body[0]["model"] == "gpt-4o-mini-2024-07-18"
    first = body[0]["choices"][0]
    assert first == {
        "index": 0,
        "delta": {"role": "assistant", "content": "", "refusal": None},
        "logprobs": None,
        "finish_reason": None,
    }
    for chunk in body[1:-1]:
        (choice,) = chunk["choices"]
        assert list(choice["delta"]) == ["content"]
        assert choice["finish_reason"] is None
    assert body[-1]["choices"] == [
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    ]
    # Compact JSON per event, exactly one space after "data:".
    raw = b"".join(send(chat_request(user("Hi", stream=True))).stream or [])
    assert raw.startswith(b'data: {"id":"chatcmpl-')


def test_stream_equals_the_non_streamed_reply(send: Send) -> None:
    body = user("Tell me something.", seed=3)
    whole = as_json(send(chat_request(body)))
    chunks = stream(send, body)
    assert reassemble(chunks)[0]["content"] == whole["choices"][0]["message"]["content"]


def test_usage_only_with_include_usage(send: Send) -> None:
    without = stream(send, user("Hi"))
    assert all("usage" not in c for c in without[:-1])
    chunks = stream(send, user("Hi", stream_options={"include_usage": True}))
    assert all(c["usage"] is None for c in chunks[:-2])
    final = chunks[-2]
    assert final["choices"] == []
    content = reassemble(chunks)[0]["content"]
    whole = as_json(send(chat_request(user("Hi"))))
    assert final["usage"] == whole["usage"]
    assert content == whole["choices"][0]["message"]["content"]
    assert list(final)[-1] in ("usage", "obfuscation")


def test_obfuscation_default_and_opt_out(send: Send) -> None:
    padded = stream(send, user("Hi"))
    assert all(isinstance(c["obfuscation"], str) and c["obfuscation"] for c in padded[:-1])
    assert all(list(c)[-1] == "obfuscation" for c in padded[:-1])
    plain = stream(send, user("Hi", stream_options={"include_obfuscation": False}))
    assert all("obfuscation" not in c for c in plain[:-1])


def test_app_option_turns_obfuscation_off_by_default() -> None:
    app = GPT4oMiniApp(stream_obfuscation=False)
    chunks = events(app.handle(chat_request(user("Hi", stream=True))))
    assert all("obfuscation" not in c for c in chunks[:-1])
    asked = events(
        app.handle(
            chat_request(user("Hi", stream=True, stream_options={"include_obfuscation": True}))
        )
    )
    assert all("obfuscation" in c for c in asked[:-1])


def test_max_tokens_in_a_stream(send: Send) -> None:
    chunks = stream(send, user("Explain.", max_tokens=4, stream_options={"include_usage": True}))
    assert reassemble(chunks)[0]["finish_reason"] == "length"
    assert chunks[-2]["usage"]["completion_tokens"] == 4


def test_tool_call_deltas(send: Send) -> None:
    body = user("Weather?", tools=[WEATHER], tool_choice="required")
    chunks = stream(send, {**body, "stream_options": {"include_obfuscation": False}})
    opening = chunks[0]["choices"][0]["delta"]
    assert list(opening) == ["role", "content", "tool_calls", "refusal"]
    assert opening["content"] is None
    (call,) = opening["tool_calls"]
    assert call["index"] == 0
    assert call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": ""}
    fragments = chunks[1:-2]
    assert len(fragments) > 1
    for chunk in fragments:
        (piece,) = chunk["choices"][0]["delta"]["tool_calls"]
        assert list(piece) == ["index", "function"]
        assert list(piece["function"]) == ["arguments"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    rebuilt = reassemble(chunks)[0]["tool_calls"][0]
    whole = as_json(send(chat_request(body)))["choices"][0]["message"]["tool_calls"][0]
    assert rebuilt["arguments"] == whole["function"]["arguments"]
    json.loads(rebuilt["arguments"])


def test_parallel_tool_call_deltas_are_sequential(app: GPT4oMiniApp, send: Send) -> None:
    app.reply(
        tool_calls=[
            {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
            {"name": "get_time", "arguments": {"zone": "CET"}},
        ]
    )
    chunks = stream(send, user("Weather and time?", tools=[WEATHER, TIME]))
    indexes = [
        call["index"]
        for chunk in chunks[:-1]
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls", [])
    ]
    assert indexes == sorted(indexes)
    second_opening = next(
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks[:-1]
        if c["choices"][0]["delta"].get("tool_calls", [{}])[0].get("index") == 1
    )
    assert second_opening["function"] == {"name": "get_time", "arguments": ""}
    assert "id" in second_opening
    calls = reassemble(chunks)[0]["tool_calls"]
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(calls[1]["arguments"]) == {"zone": "CET"}


def test_legacy_function_call_deltas(send: Send) -> None:
    body = user("Weather?", functions=[WEATHER["function"]], function_call={"name": "get_weather"})
    chunks = stream(send, body)
    opening = chunks[0]["choices"][0]["delta"]
    assert opening["function_call"] == {"name": "get_weather", "arguments": ""}
    arguments = "".join(
        c["choices"][0]["delta"]["function_call"]["arguments"] for c in chunks[1:-2]
    )
    json.loads(arguments)


def test_n_choices_interleave_and_reassemble(send: Send) -> None:
    body = user("Name a colour.", n=3)
    chunks = stream(send, body)
    order = [c["choices"][0]["index"] for c in chunks[:-1]]
    assert order[:3] == [0, 1, 2]
    whole = as_json(send(chat_request(body)))
    rebuilt = reassemble(chunks)
    for choice in whole["choices"]:
        assert rebuilt[choice["index"]]["content"] == choice["message"]["content"]


def test_logprobs_ride_on_content_chunks(send: Send) -> None:
    chunks = stream(send, user("Hi", logprobs=True, top_logprobs=2))
    assert chunks[0]["choices"][0]["logprobs"] is None
    for chunk in chunks[1:-2]:
        (choice,) = chunk["choices"]
        entries = choice["logprobs"]["content"]
        assert "".join(e["token"] for e in entries) == choice["delta"]["content"]
        assert all(len(e["top_logprobs"]) == 2 for e in entries)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-4o-mini-nope", "messages": [{"role": "user", "content": "x"}]},
        None,
    ],
)
def test_errors_before_streaming_are_http_errors(send: Send, body: Any) -> None:
    raw = b"{bad" if body is None else json.dumps({**body, "stream": True}).encode()
    response = send(chat_request(None, raw=raw))
    assert response.status >= 400
    assert response.stream is None or b"data:" not in b"".join(response.stream)
    assert "error" in as_json(response)


def test_scripted_failure_on_a_stream_is_an_http_error(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(503)
    response = send(chat_request(user("Hi", stream=True)))
    assert response.status == 503
    assert as_json(response)["error"]["type"] == "server_error"


def test_refusal_stream(app: GPT4oMiniApp, send: Send) -> None:
    app.reply(refusal="I can't help with that.")
    chunks = stream(send, user("Hi"))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None,
                                                "refusal": ""}  # fmt: skip
    text = "".join(c["choices"][0]["delta"].get("refusal") or "" for c in chunks[1:-1])
    assert text == "I can't help with that."
