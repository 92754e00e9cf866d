"""Faults that still answer over HTTP, through every transport: broken streams, Azure's
content filter, standing (probabilistic) failures, and the limiter's headers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minidouble._http import HttpResponse
from minidouble._service._app import GPT4oMiniApp
from tests.behaviour.conftest import Send
from tests.behaviour.helpers import as_json, body_bytes, chat_request, events, user
from tests.behaviour.test_routing_auth import azure_request


def _raw_events(response: HttpResponse) -> list[bytes]:
    return [block for block in body_bytes(response).split(b"\n\n") if block]


def test_error_event_mid_stream_is_the_recorded_model_error(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("stream_error", after_chunks=2)
    response = send(chat_request(user("Tell me a story.", stream=True)))
    assert response.status == 200
    received = events(response)
    assert len(received) == 3
    assert received[0]["object"] == received[1]["object"] == "chat.completion.chunk"
    assert received[2] == {
        "error": {
            "message": "The model produced invalid content. Consider modifying your prompt if "
            "you are seeing this error persistently.",
            "type": "model_error",
            "param": None,
            "code": None,
        }
    }
    assert app.requests[0].fault == "stream_error"
    # The next stream is whole again.
    assert events(send(chat_request(user(stream=True))))[-1] == "[DONE]"


def test_error_event_details_override_the_body(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("stream_error", message="The server had an error while processing your request.",
             type="server_error")  # fmt: skip
    error = events(send(chat_request(user(stream=True))))[-1]["error"]
    assert error["type"] == "server_error"
    assert error["message"] == "The server had an error while processing your request."


def test_error_event_waits_for_a_streamed_request(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("stream_error")
    assert send(chat_request(user())).status == 200  # not a stream: nothing to poison
    assert app.unused_scripts() == ["fail(status='stream_error', times=1)"]
    assert "error" in events(send(chat_request(user(stream=True))))[-1]
    assert app.unused_scripts() == []


def test_malformed_chunk_breaks_one_event(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("malformed_chunk", after_chunks=1)
    blocks = _raw_events(send(chat_request(user("Hello!", stream=True))))
    assert blocks[-1] == b"data: [DONE]"
    json.loads(blocks[0].removeprefix(b"data: "))
    with pytest.raises(ValueError):
        json.loads(blocks[1].removeprefix(b"data: "))
    for block in blocks[2:-1]:
        json.loads(block.removeprefix(b"data: "))
    assert app.requests[0].fault == "malformed_chunk"


def test_malformed_non_streamed_body(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("malformed_chunk")
    response = send(chat_request(user()))
    assert response.status == 200
    with pytest.raises(ValueError):
        json.loads(body_bytes(response))


# --- Azure content filter -------------------------------------------------------------------


def test_filtered_prompt_is_azures_400(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("filtered_prompt", category="violence", severity="medium")
    response = send(azure_request(user("How do I ...")))
    assert response.status == 400
    raw = body_bytes(response)
    # Azure's own key order, compact.
    assert raw.startswith(b'{"error":{"message":"The response was filtered due to the prompt')
    error = json.loads(raw)["error"]
    assert list(error) == ["message", "type", "param", "code", "status", "innererror"]
    assert (error["type"], error["param"], error["code"], error["status"]) == (
        None,
        "prompt",
        "content_filter",
        400,
    )
    assert error["innererror"] == {
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {
            "hate": {"filtered": False, "severity": "safe"},
            "jailbreak": {"filtered": False, "detected": False},
            "self_harm": {"filtered": False, "severity": "safe"},
            "sexual": {"filtered": False, "severity": "safe"},
            "violence": {"filtered": True, "severity": "medium"},
        },
    }
    assert "https://go.microsoft.com/fwlink/?linkid=2198766" in error["message"]


def test_filtered_completion_stops_with_content_filter(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("filtered_completion", category="hate", severity="high")
    body = as_json(send(azure_request(user("Write a long essay.", max_tokens=60))))
    whole = as_json(send(azure_request(user("Write a long essay.", max_tokens=60))))
    choice = body["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["content_filter_results"]["hate"] == {"filtered": True, "severity": "high"}
    assert choice["content_filter_results"]["violence"] == {"filtered": False, "severity": "safe"}
    full_text = whole["choices"][0]["message"]["content"]
    assert full_text.startswith(choice["message"]["content"])
    assert len(choice["message"]["content"]) < len(full_text)
    assert body["usage"]["completion_tokens"] < whole["usage"]["completion_tokens"]


def test_filtered_completion_streamed(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("filtered_completion", category="sexual")
    received = events(send(azure_request(user("Hello!", stream=True))))
    finishing = [e for e in received[:-1] if e["choices"] and e["choices"][0]["finish_reason"]]
    assert len(finishing) == 1
    choice = finishing[0]["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["content_filter_results"]["sexual"] == {"filtered": True, "severity": "medium"}
    others = [e["choices"][0] for e in received[1:-1] if e["choices"] and e is not finishing[0]]
    assert all(c["content_filter_results"] == {} for c in others)


def test_filtered_completion_on_openai_sets_only_the_finish_reason(
    app: GPT4oMiniApp, send: Send
) -> None:
    app.fail("filtered_completion")
    choice = as_json(send(chat_request(user())))["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert "content_filter_results" not in choice


@pytest.mark.parametrize(
    "details",
    [{"category": "spam"}, {"severity": "safe"}, {"severity": "extreme"}],
)
def test_filter_details_are_checked(app: GPT4oMiniApp, details: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"^minidouble: "):
        app.fail("filtered_prompt", **details)


# --- standing failures ----------------------------------------------------------------------


def _statuses(app: GPT4oMiniApp, send: Send, count: int) -> list[int]:
    return [send(chat_request(user(f"request {i}"))).status for i in range(count)]


def test_probability_mode_is_seeded_and_repeats() -> None:
    first, second, other = GPT4oMiniApp(), GPT4oMiniApp(), GPT4oMiniApp()
    first.fail(503, probability=0.3, seed=7, times=None)
    second.fail(503, probability=0.3, seed=7, times=None)
    other.fail(503, probability=0.3, seed=8, times=None)
    runs = [[s.status for s in (a.handle(chat_request(user(f"{i}"))) for i in range(40))]
            for a in (first, second, other)]  # fmt: skip
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert 4 <= runs[0].count(503) <= 20
    assert set(runs[0]) == {200, 503}


def test_probability_mode_through_the_transport(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(500, probability=0.5, seed=1, times=3)
    statuses = _statuses(app, send, 30)
    assert statuses.count(500) == 3
    assert app.unused_scripts() == []


def test_a_standing_failure_no_request_reached_is_unused(app: GPT4oMiniApp) -> None:
    app.fail(429, probability=0.1)
    assert app.unused_scripts() == ["fail(status=429, probability=0.1, seed=0, times=1)"]


def test_queued_failures_come_before_standing_ones(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(500, probability=1.0, times=None)
    app.fail(400)
    assert _statuses(app, send, 3) == [400, 500, 500]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("meltdown",), {}),
        ((True,), {}),
        ((500,), {"probability": 0}),
        ((500,), {"probability": 1.5}),
        ((500,), {"probability": "often"}),
        ((500,), {"times": None}),
        (("timeout",), {"stall": -1}),
        (("stream_cut",), {"after_chunks": -1}),
        (("stream_cut",), {"retry_after": 1}),
        (("connection_reset",), {"message": "x"}),
    ],
)
def test_bad_fault_arguments(app: GPT4oMiniApp, args: tuple[Any, ...], kwargs: Any) -> None:
    with pytest.raises((ValueError, TypeError), match=r"^minidouble: "):
        app.fail(*args, **kwargs)


# --- 5xx with a steering wait ---------------------------------------------------------------


def test_retry_after_on_a_5xx_steers_the_wait(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(503, retry_after=0.25)
    response = send(chat_request(user()))
    assert (response.header("retry-after"), response.header("retry-after-ms")) == ("1", "250")


def test_error_event_in_a_responses_stream_is_typed(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("stream_error", after_chunks=3)
    body = {"model": "gpt-4o-mini", "input": "Tell me a story.", "stream": True}
    blocks = _raw_events(send(chat_request(body, path="/v1/responses")))
    assert len(blocks) == 4
    assert all(block.startswith(b"event: response.") for block in blocks[:3])
    name, data = blocks[3].split(b"\n", 1)
    assert name == b"event: error"
    assert json.loads(data.removeprefix(b"data: ")) == {
        "type": "error",
        "code": "model_error",
        "message": "The model produced invalid content. Consider modifying your prompt if you "
        "are seeing this error persistently.",
        "param": None,
        "sequence_number": 3,
    }


def test_responses_requests_are_rate_limited_too() -> None:
    app = GPT4oMiniApp(requests_per_minute=1)
    body = {"model": "gpt-4o-mini", "input": "Hi"}
    first = app.handle(chat_request(body, path="/v1/responses"))
    assert first.header("x-ratelimit-remaining-requests") == "0"
    refused = app.handle(chat_request(body, path="/v1/responses"))
    assert refused.status == 429
    assert as_json(refused)["error"]["type"] == "requests"


def test_a_filtered_completion_waits_for_a_chat_request(app: GPT4oMiniApp, send: Send) -> None:
    app.fail("filtered_completion")
    send(chat_request({"model": "gpt-4o-mini", "input": "Hi"}, path="/v1/responses"))
    assert app.unused_scripts() == ["fail(status='filtered_completion', times=1)"]
    assert as_json(send(chat_request(user())))["choices"][0]["finish_reason"] == "content_filter"
