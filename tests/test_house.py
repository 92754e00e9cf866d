"""The house (issue 14): one pipeline, cassettes inside it, state per session, one clock.

Each test pins a defect the structure review found, or a promise of the new structure.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from minidouble import GPT4O_MINI, FakeGPT4oMini
from minidouble._http import HttpRequest, HttpResponse
from minidouble._service._app import GPT4oMiniApp
from tests._cassette_support import FAKE_KEY, upstream_app

AZURE = "https://res.openai.azure.com"


def post(
    path: str, body: dict[str, Any], *, base: str = "https://api.openai.com", **headers: str
) -> HttpRequest:
    return HttpRequest(
        "POST",
        base + path,
        {
            "authorization": f"Bearer {FAKE_KEY}",
            "api-key": FAKE_KEY,
            "content-type": "application/json",
            **headers,
        },
        json.dumps(body).encode(),
    )


def chat_body(content: str = "Say hello.", **params: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **params}


def text(response: HttpResponse) -> str:
    assert response.status == 200, response.body
    content: str = json.loads(response.body)["choices"][0]["message"]["content"]
    return content


def record(path: Path, *requests: HttpRequest, **options: Any) -> None:
    with upstream_app() as url:
        fake = FakeGPT4oMini(
            cassette=path, record_mode="once", upstream=url.removesuffix("/v1"), **options
        )
        for request in requests:
            assert fake.handle(request).status == 200
        assert fake.close_cassette() is None


def test_with_a_cassette_on_reply_and_fail_still_fire(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, post("/v1/chat/completions", chat_body()))
    fake = FakeGPT4oMini(cassette=path)
    fake.fail(500)
    assert fake.handle(post("/v1/chat/completions", chat_body())).status == 500
    fake.reply("Scripted, not recorded.")
    assert text(fake.handle(post("/v1/chat/completions", chat_body()))) == "Scripted, not recorded."
    # With nothing scripted, the cassette answers (the one recording is still unused).
    replayed = fake.handle(post("/v1/chat/completions", chat_body()))
    assert replayed.status == 200 and fake.requests[-1].cassette == "replayed"
    assert [r.status for r in fake.requests] == [500, 200, 200]
    assert fake.unused_scripts() == []


def test_azure_v1_chat_and_azure_responses_replays_are_revalidated(tmp_path: Path) -> None:
    path = tmp_path / "azure.json"
    azure_chat = chat_body(model="dep", max_tokens=10)
    azure_responses = {"model": "dep", "input": "Hi", "max_output_tokens": 16}
    record(
        path,
        post("/openai/v1/chat/completions", azure_chat, base=AZURE),
        post("/openai/v1/responses", azure_responses, base=AZURE),
    )
    # The fields a test changes are ignored by matching, so the replay matches: the now
    # invalid values must still be refused, as GPT-4o mini refuses them today.
    fake = FakeGPT4oMini(cassette=path, cassette_ignore=["/max_tokens", "/max_output_tokens"])
    too_many = post("/openai/v1/chat/completions", {**azure_chat, "max_tokens": 10**9}, base=AZURE)
    assert fake.handle(too_many).status == 400
    too_few = post("/openai/v1/responses", {**azure_responses, "max_output_tokens": 1}, base=AZURE)
    assert fake.handle(too_few).status == 400
    problems = fake.close_cassette()
    assert problems is not None and problems.count("refuses the request the test sends now") == 2


def test_replays_are_revalidated_with_the_fakes_profile(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, post("/v1/chat/completions", chat_body("A question of some length, surely.")))
    tiny = dataclasses.replace(GPT4O_MINI, context_window=5)
    fake = FakeGPT4oMini(cassette=path, profile=tiny)
    refused = fake.handle(
        post("/v1/chat/completions", chat_body("A question of some length, surely."))
    )
    assert refused.status == 400
    assert b"context length" in refused.body


def test_reset_forgets_stored_responses() -> None:
    app = GPT4oMiniApp()
    created = app.handle(post("/v1/responses", {"model": "gpt-4o-mini", "input": "Hi"}))
    response_id = json.loads(created.body)["id"]
    get = HttpRequest(
        "GET", f"https://api.openai.com/v1/responses/{response_id}", {"authorization": "Bearer k"}
    )
    assert app.handle(get).status == 200
    app.reset()
    assert app.handle(get).status == 404


def test_sessions_keep_scripts_and_logs_apart() -> None:
    app = GPT4oMiniApp()
    app.scripts("worker-1").reply("For worker 1.")
    app.reply("For the default session.")
    mine = post("/v1/chat/completions", chat_body(), **{"x-minidouble-session": "worker-1"})
    assert text(app.handle(mine)) == "For worker 1."
    assert text(app.handle(post("/v1/chat/completions", chat_body()))) == "For the default session."
    assert len(app.requests) == 1 and len(app.scripts("worker-1").requests) == 1
    app.scripts("worker-2").fail(503)
    other = post("/v1/chat/completions", chat_body(), **{"x-minidouble-session": "worker-2"})
    assert app.handle(post("/v1/chat/completions", chat_body())).status == 200
    assert app.handle(other).status == 503
    app.reset()
    assert app.scripts("worker-1").requests == [] and app.unused_scripts() == []


def test_the_clock_is_injected_not_patched() -> None:
    from minidouble._service._clock import Clock

    now = [100.0]
    app = GPT4oMiniApp(clock=Clock(now=lambda: now[0]), requests_per_minute=1)
    assert app.handle(post("/v1/chat/completions", chat_body())).status == 200
    assert app.handle(post("/v1/chat/completions", chat_body())).status == 429
    now[0] += 60
    assert app.handle(post("/v1/chat/completions", chat_body())).status == 200
    assert app.requests[0].received_at == 100.0


def test_loading_a_cassette_leaves_the_garbage_collector_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    path = tmp_path / "c.json"
    record(path, post("/v1/chat/completions", chat_body()))

    def refuse() -> None:
        raise AssertionError("minidouble switched the process's garbage collector off")

    monkeypatch.setattr(gc, "disable", refuse)
    fake = FakeGPT4oMini(cassette=path)
    assert fake.handle(post("/v1/chat/completions", chat_body())).status == 200


def test_run_body_answers_one_batch_line_through_the_core_without_http() -> None:
    app = GPT4oMiniApp()
    app.reply("Scripted for the batch.")
    status, body = app.run_body("chat", chat_body(), price_factor=Decimal("0.5"))
    assert status == 200 and body["choices"][0]["message"]["content"] == "Scripted for the batch."
    full = GPT4oMiniApp()
    full.reply("Scripted for the batch.")
    full.run_body("chat", chat_body())
    assert app.usage().total_tokens == full.usage().total_tokens
    assert app.usage().cost() * 2 == full.usage().cost()
    assert app.usage().batch_lines == 1 and app.usage().requests == 0
    status, body = app.run_body("responses", {"model": "gpt-4o-mini", "input": "Hi"})
    assert status == 200 and body["object"] == "response"
    assert app.store("responses").get(body["id"]) is None  # a batch line's answer is not kept
    status, body = app.run_body("chat", {"model": "gpt-4o-mini"})
    assert status == 400 and body["error"]["param"] == "messages"
    app.fail(500)
    status, body = app.run_body("chat", chat_body())
    assert status == 500 and "error" in body
    # A transport fault needs a connection: it waits for the next direct request.
    app.fail("timeout")
    status, body = app.run_body("chat", chat_body())
    assert status == 200 and app.unused_scripts() == ["fail(status='timeout', times=1)"]
    # Aimed at one line: that line, whatever the queue holds.
    app.reply("queued")
    app.reply("aimed", custom_id="line-2")
    status, body = app.run_body("chat", chat_body(), custom_id="line-2")
    assert body["choices"][0]["message"]["content"] == "aimed"
    # Lines are not requests: not logged, not rate limited.
    assert app.requests == []


def test_a_loopback_only_route_answers_only_through_the_loopback_server() -> None:
    # The control API is the loopback-only route (docs/any-language.md).
    request = HttpRequest("GET", "https://api.openai.com/_minidouble/health", {})
    refused = GPT4oMiniApp().handle(request)
    assert refused.status == 404
    assert b"Invalid URL (GET /_minidouble/health)" in refused.body
    assert GPT4oMiniApp().handle(request, loopback=True).status == 200
