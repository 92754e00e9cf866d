"""`minidouble serve` for any language: the control API, sessions, fixtures and their errors.

Most tests drive ``fake.serve()`` (the same handler and routes as ``minidouble serve``) over
real HTTP with httpx; the command line itself (start-up errors, --log-level, a fixtures file
end to end) runs as a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from minidouble import FakeGPT4oMini
from minidouble._cli import _warn_if_open
from minidouble._fake import FakeServer
from minidouble._service._fixtures import FixtureError, load_fixtures, parse_fixtures

pytest_plugins = ["pytester"]

KEY = {"Authorization": "Bearer sk-test"}


def chat(content: str = "Hello!", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@pytest.fixture
def served() -> Iterator[tuple[FakeGPT4oMini, FakeServer, httpx.Client]]:
    fake = FakeGPT4oMini(allow_unused=True)
    with fake.serve() as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield fake, server, client
        assert server.errors == []


def _control(
    client: httpx.Client,
    method: str,
    call: str,
    body: Any = None,
    *,
    session: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if session is not None:
        headers["X-Minidouble-Session"] = session
    if body is not None:
        kwargs["content"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.request(method, f"/_minidouble/{call}", headers=headers, **kwargs)


def _ask(
    client: httpx.Client, body: dict[str, Any], *, session: str | None = None
) -> httpx.Response:
    headers = dict(KEY)
    if session is not None:
        headers["X-Minidouble-Session"] = session
    return client.post("/v1/chat/completions", json=body, headers=headers)


def _read_stream(client: httpx.Client, body: dict[str, Any]) -> None:
    with client.stream("POST", "/v1/chat/completions", json=body, headers=KEY) as stream:
        for _ in stream.iter_bytes():
            pass


def _text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    content: str = response.json()["choices"][0]["message"]["content"]
    return content


# --- the control calls --------------------------------------------------------------------


def test_health_answers(served: Any) -> None:
    _, _, client = served
    response = _control(client, "GET", "health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_a_scripted_reply_answers_the_next_request(served: Any) -> None:
    fake, _, client = served
    queued = _control(client, "POST", "reply", {"text": "scripted over HTTP"})
    assert queued.status_code == 200
    assert queued.json() == {"session": None, "queued": {"replies": 1, "failures": 0}}
    assert _text(_ask(client, chat())) == "scripted over HTTP"
    # the queue is consumed: the next request gets the engine's default reply
    assert _text(_ask(client, chat())) != "scripted over HTTP"
    assert fake.unused_scripts() == []


def test_scripted_tool_calls_and_json_replies(served: Any) -> None:
    _, _, client = served
    call = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert _control(client, "POST", "reply", {"tool_calls": [call]}).status_code == 200
    answer = _ask(client, chat("weather?", tools=TOOLS)).json()
    (tool_call,) = answer["choices"][0]["message"]["tool_calls"]
    assert tool_call["function"] == {"name": "get_weather", "arguments": '{"city":"Oslo"}'}
    assert _control(client, "POST", "reply", {"json": {"ok": True}}).status_code == 200
    body = chat("json please", response_format={"type": "json_object"})
    body["messages"].insert(0, {"role": "system", "content": "Answer in JSON."})
    assert json.loads(_text(_ask(client, body))) == {"ok": True}


def test_a_scripted_reply_that_does_not_fit_is_the_same_400_as_in_python(served: Any) -> None:
    fake, _, client = served
    call = {"name": "get_weather", "arguments": {}}
    assert _control(client, "POST", "reply", {"tool_calls": [call]}).status_code == 200
    response = _ask(client, chat("no tools offered"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "minidouble_script_mismatch"
    assert len(fake.app.script_errors) == 1


def test_a_scripted_failure_is_the_real_error(served: Any) -> None:
    _, _, client = served
    queued = _control(client, "POST", "fail", {"status": 503})
    assert queued.json()["queued"] == {"replies": 0, "failures": 1}
    response = _ask(client, chat())
    assert response.status_code == 503
    assert response.json()["error"]["type"] in ("server_error", "service_unavailable_error")
    assert _ask(client, chat()).status_code == 200  # times=1 by default


def test_a_scripted_stream_cut_breaks_the_stream(served: Any) -> None:
    _, _, client = served
    queued = _control(client, "POST", "fail", {"status": "stream_cut", "after_chunks": 2})
    assert queued.status_code == 200
    body = chat(stream=True)
    with pytest.raises(httpx.RemoteProtocolError):
        _read_stream(client, body)
    (entry,) = _control(client, "GET", "requests").json()["data"]
    assert entry["fault"] == "stream_cut"


def test_fail_takes_times_and_a_standing_probability(served: Any) -> None:
    _, _, client = served
    assert _control(client, "POST", "fail", {"status": 429, "times": 2}).status_code == 200
    assert [_ask(client, chat()).status_code for _ in range(3)] == [429, 429, 200]
    standing = {"status": 500, "probability": 1, "times": None, "seed": 3}
    assert _control(client, "POST", "fail", standing).status_code == 200
    assert [_ask(client, chat()).status_code for _ in range(2)] == [500, 500]


def test_the_log_lists_each_request_and_not_the_control_calls(served: Any) -> None:
    _, _, client = served
    _control(client, "POST", "reply", {"text": "one"})
    _ask(client, chat("first"))
    client.post("/v1/chat/completions", json=chat(), headers={})  # no key: 401
    log = _control(client, "GET", "requests")
    assert log.status_code == 200
    document = log.json()
    assert document["object"] == "list" and document["session"] is None
    first, second = document["data"]
    assert first == {
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
        "prompt_tokens": 8,
        "completion_tokens": 1,
        "body": chat("first"),
        "fault": None,
        "scripted": "reply('one')",
        "cassette": None,
    }
    assert second["status"] == 401 and second["prompt_tokens"] is None
    assert second["completion_tokens"] is None


def test_reset_forgets_the_default_session_or_everything(served: Any) -> None:
    _, _, client = served
    for session in (None, "worker-1"):
        _control(client, "POST", "reply", {"text": "never used"}, session=session)
        _ask(client, chat(), session=session)
        _control(client, "POST", "fail", {"status": 500}, session=session)
    reset = _control(client, "POST", "reset")
    assert reset.json() == {"reset": None}
    assert _control(client, "GET", "requests").json()["data"] == []
    assert _ask(client, chat()).status_code == 200  # the default session's failure is gone
    # a named session kept its own until it is reset by name (or all=true)
    assert len(_control(client, "GET", "requests", session="worker-1").json()["data"]) == 1
    assert _control(client, "POST", "reset", session="worker-1").json() == {"reset": "worker-1"}
    assert _control(client, "GET", "requests", session="worker-1").json()["data"] == []
    _control(client, "POST", "fail", {"status": 500}, session="worker-2")
    assert _control(client, "POST", "reset?all=true").json() == {"reset": "all"}
    assert _ask(client, chat(), session="worker-2").status_code == 200


def test_an_unknown_session_has_an_empty_log(served: Any) -> None:
    _, _, client = served
    _ask(client, chat())
    response = _control(client, "GET", "requests", session="nobody-used-this")
    assert response.status_code == 200
    assert response.json() == {"object": "list", "session": "nobody-used-this", "data": []}


def test_sessions_keep_parallel_clients_apart(served: Any) -> None:
    """Two workers script, fail and read their own session, at the same time."""
    fake, _, client = served
    results: dict[str, list[Any]] = {}
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=10) as own:
            _control(own, "POST", "fail", {"status": 503}, session=name)
            for index in range(20):
                _control(own, "POST", "reply", {"text": f"{name}-{index}"}, session=name)
            barrier.wait()
            statuses = [_ask(own, chat(name), session=name).status_code]
            texts = [_text(_ask(own, chat(name), session=name)) for _ in range(20)]
            log = _control(own, "GET", "requests", session=name).json()["data"]
            results[name] = [statuses, texts, log]

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for name in ("a", "b"):
        statuses, texts, log = results[name]
        assert statuses == [503]
        assert texts == [f"{name}-{index}" for index in range(20)]
        assert len(log) == 21
        assert {entry["body"]["messages"][0]["content"] for entry in log} == {name}
    assert fake.requests == []  # the default session saw none of it


# --- bad input: a clear 4xx, never a 500 ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "call", "body", "status", "message"),
    [
        ("POST", "reply", {"txt": "x"}, 400, "unknown key 'txt'; expected text, tool_calls"),
        ("POST", "reply", {"text": 5}, 400, "takes a str, got int"),
        ("POST", "reply", {}, 400, "exactly one of text, tool_calls=, json= or refusal="),
        ("POST", "reply", '{"text": ', 400, "is not JSON"),
        ("POST", "reply", "[1, 2]", 400, "must be a JSON object"),
        ("POST", "fail", {"status": 503, "colour": "red"}, 400, "unknown details ['colour']"),
        ("POST", "fail", {"status": 999}, 400, "fail() knows the statuses"),
        ("POST", "fail", {"status": 503, "times": 0}, 400, "must be an int >= 1"),
        ("POST", "fail", {"status": 503, "seed": "x"}, 400, "seed=...) takes an int"),
        ("POST", "fail", b"\xff\xfe", 400, "is not JSON"),
        ("GET", "reply", None, 405, "/_minidouble/reply takes POST, not GET"),
        ("POST", "requests", None, 405, "takes GET, not POST"),
        ("DELETE", "reset", None, 405, "takes POST, not DELETE"),
        ("GET", "replies", None, 404, "there is no control call /_minidouble/replies"),
        ("POST", "reset?all=maybe", None, 400, "takes true or false, got 'maybe'"),
    ],
)
def test_bad_control_calls_get_a_clear_4xx(
    served: Any, method: str, call: str, body: Any, status: int, message: str
) -> None:
    fake, _, client = served
    response = _control(client, method, call, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"].startswith("minidouble: ")
    assert message in error["message"]
    assert error["type"] == "invalid_request_error"
    assert fake.unused_scripts() == []  # nothing was queued


def test_a_wrong_method_names_the_right_one_in_allow(served: Any) -> None:
    _, _, client = served
    assert _control(client, "PUT", "fail").headers["allow"] == "POST"


# --- guarding -------------------------------------------------------------------------------


def test_with_an_api_key_control_calls_need_the_same_key() -> None:
    fake = FakeGPT4oMini(api_key="sk-only", allow_unused=True)
    with fake.serve() as server, httpx.Client(base_url=server.url) as client:
        missing = _control(client, "POST", "reply", {"text": "x"})
        assert missing.status_code == 401
        assert missing.json()["error"]["message"].startswith("You didn't provide an API key")
        wrong = _control(
            client, "POST", "reply", {"text": "x"}, headers={"Authorization": "Bearer sk-no"}
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_api_key"
        assert fake.unused_scripts() == []
        right = _control(client, "GET", "health", headers={"Authorization": "Bearer sk-only"})
        assert right.status_code == 200


def test_without_an_api_key_control_calls_need_none(served: Any) -> None:
    _, _, client = served
    assert _control(client, "POST", "reply", {"text": "x"}).status_code == 200


def test_the_control_api_is_not_reachable_in_process() -> None:
    with FakeGPT4oMini() as fake:
        response = httpx.post(
            "https://api.openai.com/_minidouble/reply", json={"text": "hijacked"}, headers=KEY
        )
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Invalid URL (POST /_minidouble/reply)"
        assert fake.unused_scripts() == []
        health = httpx.get("https://api.openai.com/_minidouble/health", headers=KEY)
        assert health.status_code == 404
        answer = httpx.post("https://api.openai.com/v1/chat/completions", json=chat(), headers=KEY)
        assert answer.json()["choices"][0]["message"]["content"] != "hijacked"


def test_the_control_api_is_not_reachable_in_process_through_requests_either() -> None:
    import requests

    with FakeGPT4oMini() as fake:
        response = requests.post(
            "https://api.openai.com/_minidouble/fail", json={"status": 500}, headers=KEY
        )
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Invalid URL (POST /_minidouble/fail)"
        assert fake.unused_scripts() == []


@pytest.mark.parametrize(
    ("host", "key", "warned"),
    [
        ("0.0.0.0", None, True),
        ("192.168.1.20", None, True),
        ("my-host.example", None, True),
        ("0.0.0.0", "sk-only", False),
        ("127.0.0.1", None, False),
        ("127.0.0.2", None, False),
        ("::1", None, False),
        ("localhost", None, False),
    ],
)
def test_an_open_bind_without_a_key_warns(
    capsys: pytest.CaptureFixture[str], host: str, key: str | None, warned: bool
) -> None:
    _warn_if_open(host, key)
    err = capsys.readouterr().err
    if warned:
        assert "anyone who can reach this port can script the fake" in err
        assert host in err
    else:
        assert err == ""


# --- fixtures -------------------------------------------------------------------------------


def _with_rules(fake: FakeGPT4oMini, *rules: dict[str, Any]) -> None:
    fake.app.fixtures = parse_fixtures({"fixtures": list(rules)}, "test-fixtures.json")


def test_fixtures_match_contains_model_tools_and_endpoint(served: Any) -> None:
    fake, _, client = served
    _with_rules(
        fake,
        {"match": {"contains": "weather"}, "reply": {"text": "sunny"}},
        {"match": {"model": "gpt-4o-mini-2024-07-18"}, "reply": {"text": "dated model"}},
        {"match": {"tools": True}, "reply": {"text": "tools offered"}},
        {"match": {"endpoint": "responses"}, "reply": {"text": "via responses"}},
        {"match": {"endpoint": "/openai/v1/chat/completions"}, "reply": {"text": "azure v1"}},
    )
    assert _text(_ask(client, chat("what is the weather in Oslo?"))) == "sunny"
    dated = {**chat("hi"), "model": "gpt-4o-mini-2024-07-18"}
    assert _text(_ask(client, dated)) == "dated model"
    assert _text(_ask(client, chat("hi", tools=TOOLS))) == "tools offered"
    responses = client.post(
        "/v1/responses", json={"model": "gpt-4o-mini", "input": "hi"}, headers=KEY
    ).json()
    assert responses["output"][0]["content"][0]["text"] == "via responses"
    azure = client.post("/openai/v1/chat/completions", json=chat("hi"), headers={"api-key": "k"})
    assert _text(azure) == "azure v1"
    # no rule matches: the engine's default reply
    default = _text(_ask(client, chat("hi")))
    assert default not in {"sunny", "dated model", "tools offered", "via responses", "azure v1"}


def test_contains_reads_the_last_user_message_and_the_last_user_input(served: Any) -> None:
    fake, _, client = served
    _with_rules(fake, {"match": {"contains": "weather"}, "reply": {"text": "sunny"}})
    earlier = chat("weather?")
    earlier["messages"] += [
        {"role": "assistant", "content": "Where?"},
        {"role": "user", "content": [{"type": "text", "text": "In Oslo"}]},
    ]
    assert _text(_ask(client, earlier)) != "sunny"  # only the last user message counts
    parts = chat("x")
    parts["messages"][0]["content"] = [{"type": "text", "text": "the weather, please"}]
    assert _text(_ask(client, parts)) == "sunny"
    items = {
        "model": "gpt-4o-mini",
        "input": [
            {"role": "user", "content": "hello"},
            {"role": "user", "content": [{"type": "input_text", "text": "and the weather?"}]},
        ],
    }
    answer = client.post("/v1/responses", json=items, headers=KEY).json()
    assert answer["output"][0]["content"][0]["text"] == "sunny"


def test_the_first_match_answers_and_rules_are_not_consumed(served: Any) -> None:
    fake, _, client = served
    _with_rules(
        fake,
        {"match": {"contains": "weather"}, "reply": {"text": "first"}},
        {"match": {"contains": "weather in"}, "reply": {"text": "second"}},
        {"match": {}, "reply": {"text": "catch-all"}},
    )
    assert [_text(_ask(client, chat("weather in Oslo"))) for _ in range(3)] == ["first"] * 3
    assert _text(_ask(client, chat("hello"))) == "catch-all"
    (entry, *_) = _control(client, "GET", "requests").json()["data"]
    assert entry["scripted"] == "fixtures[0]: reply('first')"


def test_a_fixture_fails_every_matching_request(served: Any) -> None:
    fake, _, client = served
    _with_rules(fake, {"match": {"contains": "flaky"}, "fail": {"status": 503}})
    assert [_ask(client, chat("flaky")).status_code for _ in range(3)] == [503] * 3
    assert _ask(client, chat("fine")).status_code == 200
    assert fake.unused_scripts() == []  # a rule is never queued on the session
    entry = _control(client, "GET", "requests").json()["data"][0]
    assert entry["scripted"] == "fixtures[0]: fail(status=503)"


def test_a_fixture_stream_cut_that_cannot_apply_is_not_queued(served: Any) -> None:
    fake, _, client = served
    _with_rules(
        fake, {"match": {"contains": "cut"}, "fail": {"status": "stream_cut", "after_chunks": 1}}
    )
    # an invalid request gets its 400 whole: nothing to cut, and nothing waits on the session
    assert _ask(client, chat("cut", temperature=5)).status_code == 400
    assert fake.unused_scripts() == []
    assert _text(_ask(client, chat("not matched"))) != ""
    with pytest.raises(httpx.RemoteProtocolError):  # the rule still stands
        _read_stream(client, chat("cut"))


def test_session_scripts_come_before_fixtures(served: Any) -> None:
    fake, _, client = served
    _with_rules(
        fake,
        {"match": {"contains": "weather"}, "reply": {"text": "sunny"}},
        {"match": {"contains": "down"}, "fail": {"status": 500}},
    )
    _control(client, "POST", "reply", {"text": "scripted"})
    _control(client, "POST", "fail", {"status": 429})
    assert _ask(client, chat("weather")).status_code == 429  # the queued failure first
    assert _text(_ask(client, chat("weather"))) == "scripted"  # then the queued reply
    assert _text(_ask(client, chat("weather"))) == "sunny"  # then the rule
    _control(client, "POST", "reply", {"text": "scripted again"})
    assert _text(_ask(client, chat("down"))) == "scripted again"  # a reply beats a fail rule
    assert _ask(client, chat("down")).status_code == 500


def test_a_fixture_reply_is_checked_against_its_request(served: Any) -> None:
    fake, _, client = served
    call = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    _with_rules(fake, {"match": {"contains": "weather"}, "reply": {"tool_calls": [call]}})
    answer = _ask(client, chat("weather", tools=TOOLS))
    assert answer.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == (
        "get_weather"
    )
    refused = _ask(client, chat("weather"))  # no tools offered: the model cannot call one
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "minidouble_script_mismatch"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected an object with one key, fixtures"),
        ({"fixture": []}, "expected an object with one key, fixtures"),
        ({"fixtures": {}}, "fixtures must be a list of rules"),
        ({"fixtures": ["x"]}, "fixtures[0]: expected a rule object"),
        (
            {"fixtures": [{"reply": {"text": "a"}}, {"match": {"contians": "x"}, "reply": {}}]},
            "fixtures[1].match: unknown key 'contians'; expected contains, model, tools, "
            "endpoint. Did you mean contains?",
        ),
        ({"fixtures": [{"match": {}}]}, "fixtures[0]: a rule needs exactly one of reply or fail"),
        (
            {"fixtures": [{"reply": {"text": "a"}, "fail": {"status": 500}}]},
            "exactly one of reply or fail",
        ),
        ({"fixtures": [{"match": {"tools": "yes"}, "reply": {"text": "a"}}]}, ".tools: expected"),
        ({"fixtures": [{"match": {"contains": 3}, "reply": {"text": "a"}}]}, ".contains: expected"),
        (
            {"fixtures": [{"match": {"endpoint": "embeddings"}, "reply": {"text": "a"}}]},
            ".endpoint: expected chat, responses or a path",
        ),
        ({"fixtures": [{"reply": {"txt": "a"}}]}, "fixtures[0].reply: unknown key 'txt'"),
        ({"fixtures": [{"reply": {"text": 1}}]}, "fixtures[0].reply: fake.reply(text) takes"),
        ({"fixtures": [{"reply": "sunny"}]}, "fixtures[0].reply: expected the keywords"),
        ({"fixtures": [{"fail": {"status": 503, "x": 1}}]}, "unknown details ['x']"),
        ({"fixtures": [{"fail": {"status": 503, "times": 2}}]}, "'times' does not apply"),
        ({"fixtures": [{"fail": {"status": "boom"}}]}, "fail() knows the statuses"),
    ],
)
def test_a_malformed_fixtures_document_names_the_rule_and_the_key(
    document: Any, message: str
) -> None:
    with pytest.raises(FixtureError) as raised:
        parse_fixtures(document, "rules.json")
    text = str(raised.value)
    assert text.startswith("minidouble: rules.json")
    assert message in text


def test_a_yaml_fixtures_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "fixtures:\n"
        "  - match: {contains: weather}\n"
        "    reply: {text: sunny}\n"
        "  - match: {model: gpt-4o-mini, tools: true}\n"
        "    fail: {status: stream_cut, after_chunks: 2}\n",
        encoding="utf-8",
    )
    rules = load_fixtures(path)
    assert [rule.index for rule in rules.rules] == [0, 1]
    assert rules.rules[1].fail == ("stream_cut", {"after_chunks": 2})


# --- the command line -------------------------------------------------------------------------


def _serve_fails(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minidouble", "serve", "--port=0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{"fixtures": [', "is not valid JSON (Expecting value at line 1"),
        ("bad.yaml", "fixtures: [\n  - {match: {", "is not valid YAML at line"),
        (
            "typo.json",
            '{"fixtures": [{"match": {"contain": "x"}, "reply": {"text": "y"}}]}',
            "fixtures[0].match: unknown key 'contain'",
        ),
        ("missing.json", None, "cannot read the fixtures file"),
    ],
)
def test_a_bad_fixtures_file_is_a_start_up_error(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = _serve_fails("--fixtures", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("minidouble: ")
    assert str(path) in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # it never started serving


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--fixturez", "x.json"], "Did you mean --fixtures"),
        (["--log-level", "loud"], "minidouble: --log-level: expected one of 'debug', 'info'"),
    ],
)
def test_unknown_or_bad_serve_flags_are_start_up_errors(flags: list[str], message: str) -> None:
    result = _serve_fails(*flags)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


class _Served:
    """``minidouble serve`` in a subprocess on a free port; SIGTERM on exit."""

    def __init__(self, *flags: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "minidouble", "serve", "--port=0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        found = re.search(r"serving at (http://\S+)/v1", first)
        assert found, first + self.process.stderr.read()  # type: ignore[union-attr]
        self.url = found[1]

    def stop(self) -> tuple[str, str]:
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return out, err


def test_serve_with_fixtures_and_log_level_info_end_to_end(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps({"fixtures": [{"match": {"contains": "weather"}, "reply": {"text": "sunny"}}]}),
        encoding="utf-8",
    )
    served = _Served("--fixtures", str(rules), "--log-level", "info")
    try:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            assert _text(_ask(client, chat("weather?"))) == "sunny"
            _control(client, "POST", "fail", {"status": 503}, session="w1")
            assert _ask(client, chat("weather?"), session="w1").status_code == 503
    finally:
        _, err = served.stop()
    assert served.process.returncode == 0
    lines = [line for line in err.splitlines() if line.startswith("minidouble: POST")]
    assert len(lines) == 2, err  # one per API request, none for the control call
    assert re.fullmatch(
        r"minidouble: POST /v1/chat/completions 200 session=- prompt_tokens=9 [\d.]+ms", lines[0]
    )
    assert "503 session=w1 prompt_tokens=-" in lines[1]


def test_serve_logs_nothing_per_request_by_default() -> None:
    served = _Served()
    try:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            assert _ask(client, chat()).status_code == 200
    finally:
        _, err = served.stop()
    assert "POST /v1/chat/completions" not in err


# --- the docs page's examples -----------------------------------------------------------------

PAGE = Path(__file__).resolve().parent.parent / "docs" / "any-language.md"


def _blocks(language: str) -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def _curl_commands() -> list[tuple[list[str], int]]:
    """Every curl line of the page's bash blocks, with the status its ``# -> NNN`` comment
    names (200 without one)."""
    commands: list[tuple[list[str], int]] = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            stripped = line.strip()
            expected = re.match(r"# -> (\d{3})", stripped)
            if expected and commands:
                commands[-1] = (commands[-1][0], int(expected[1]))
            elif stripped.startswith("curl "):
                commands.append((shlex.split(stripped), 200))
    return commands


def _as_request(words: list[str], root: str) -> tuple[str, str, dict[str, str], str | None]:
    method, url, headers, data = None, "", {}, None
    items = iter(words[1:])
    for word in items:
        if word == "-s":
            continue
        if word == "-X":
            method = next(items)
        elif word == "-H":
            name, _, value = next(items).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(items)
        else:
            url = word.replace("$BASE", root)
    return method or ("POST" if data is not None else "GET"), url, headers, data


def test_the_pages_curl_examples_do_what_it_says(served: Any) -> None:
    _, server, client = served
    commands = _curl_commands()
    assert len(commands) >= 10
    for words, expected in commands:
        method, url, headers, data = _as_request(words, server.url)
        assert url.startswith(server.url), words
        response = client.request(method, url, headers=headers, content=data)
        assert response.status_code == expected, (words, response.text)
        if expected >= 400 and "/_minidouble/" in url:
            assert response.json()["error"]["message"].startswith("minidouble: ")


def test_the_pages_fixtures_examples_are_valid_and_the_same() -> None:
    import yaml

    (as_json,) = [block for block in _blocks("json") if '"fixtures"' in block]
    (as_yaml,) = _blocks("yaml")
    from_json = parse_fixtures(json.loads(as_json), "fixtures.json")
    from_yaml = parse_fixtures(yaml.safe_load(as_yaml), "fixtures.yaml")
    assert from_json.rules == from_yaml.rules
    assert len(from_json.rules) == 4


# --- fixtures= on FakeGPT4oMini and the marker -----------------------------------------------


def _rules_file(directory: Path, text: str = "sunny") -> Path:
    path = directory / "rules.json"
    rule = {"match": {"contains": "weather"}, "reply": {"text": text}}
    path.write_text(json.dumps({"fixtures": [rule]}), encoding="utf-8")
    return path


def test_the_fixtures_keyword_answers_in_process_too(tmp_path: Path) -> None:
    with FakeGPT4oMini(fixtures=_rules_file(tmp_path)) as fake:
        url = "https://api.openai.com/v1/chat/completions"
        answer = httpx.post(url, json=chat("weather?"), headers=KEY).json()
        assert answer["choices"][0]["message"]["content"] == "sunny"
        other = httpx.post(url, json=chat("hello"), headers=KEY).json()
        assert other["choices"][0]["message"]["content"] != "sunny"
    assert fake.options.fixtures == tmp_path / "rules.json"


def test_the_fixtures_keyword_checks_the_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('{"fixtures": [{"reply": {"txt": "x"}}]}', encoding="utf-8")
    with pytest.raises(FixtureError, match=r"fixtures\[0\]\.reply: unknown key 'txt'"):
        FakeGPT4oMini(fixtures=path)


def test_the_marker_takes_fixtures_relative_to_the_test_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rules_file(pytester.path, "from the marker's rules")
    pytester.makepyfile(
        """
        import httpx
        import minidouble

        @minidouble.mark(fixtures="rules.json")
        def test_rules(gpt4o_mini):
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "weather"}]}
            answer = httpx.post(
                "https://api.openai.com/v1/chat/completions",
                json=body,
                headers={"Authorization": "Bearer sk-x"},
            ).json()
            assert answer["choices"][0]["message"]["content"] == "from the marker's rules"
        """
    )
    (pytester.path / "elsewhere").mkdir()
    monkeypatch.chdir(pytester.path / "elsewhere")  # not where rules.json is
    result = pytester.runpytest_inprocess(str(pytester.path), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_long_running_server_trims_every_sessions_log() -> None:
    served = _Served()
    try:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            for index in range(2150):
                session = None if index % 43 == 0 else "busy"
                assert _ask(client, chat(), session=session).status_code == 200
            busy = _control(client, "GET", "requests", session="busy").json()["data"]
            default = _control(client, "GET", "requests").json()["data"]
    finally:
        served.stop()
    # a named session's log keeps its latest 1,024 requests at least, not all 2,100
    assert 1024 <= len(busy) < 1200
    assert len(default) == 50  # short logs are left alone


def test_control_calls_and_fixtures_answer_before_a_cassette(tmp_path: Path) -> None:
    # Recording, with an upstream nobody listens on: only the cassette would try to reach it.
    fake = FakeGPT4oMini(
        allow_unused=True,
        cassette=tmp_path / "app.json",
        record_mode="once",
        upstream="http://127.0.0.1:9/v1",
        fixtures=_rules_file(tmp_path),
    )
    with fake.serve() as server, httpx.Client(base_url=server.url, timeout=10) as client:
        assert _control(client, "GET", "health").status_code == 200
        assert _control(client, "POST", "reply", {"text": "scripted"}).status_code == 200
        assert _text(_ask(client, chat("hello"))) == "scripted"
        assert _text(_ask(client, chat("weather?"))) == "sunny"
        log = _control(client, "GET", "requests").json()["data"]
        assert [entry["cassette"] for entry in log] == [None, None]
