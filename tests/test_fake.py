"""FakeGPT4oMini as a library object: its lifecycle, nesting, threads, async use and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request

import httpcore
import httpx
import pytest

from minidouble import FakeGPT4oMini
from minidouble._fake import FakeCheckError

CHAT_URL = "https://api.openai.com/v1/chat/completions"
HEADERS = {"Authorization": "Bearer sk-test"}
HELLO = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}


def content(response: httpx.Response) -> str:
    return str(response.json()["choices"][0]["message"]["content"])


def test_with_intercepts_only_inside_the_block() -> None:
    original = httpcore.ConnectionPool.handle_request
    fake = FakeGPT4oMini()
    with fake:
        assert fake.intercepting
        assert httpcore.ConnectionPool.handle_request is not original
        fake.reply("inside")
        assert content(httpx.post(CHAT_URL, json=HELLO, headers=HEADERS)) == "inside"
    assert not fake.intercepting
    assert httpcore.ConnectionPool.handle_request is original
    assert len(fake.requests) == 1


def test_async_with_intercepts_async_clients() -> None:
    async def run() -> str:
        async with FakeGPT4oMini() as fake, httpx.AsyncClient() as client:
            fake.reply("async")
            response = await client.post(CHAT_URL, json=HELLO, headers=HEADERS)
            return content(response)

    assert asyncio.run(run()) == "async"


def test_an_error_in_the_block_undoes_the_patches_and_is_not_buried() -> None:
    fake = FakeGPT4oMini()
    with pytest.raises(ZeroDivisionError), fake:
        fake.reply("never used")  # the unused-script check must not hide the real error
        _ = 1 / 0
    assert not fake.intercepting
    with FakeGPT4oMini(allow_unused=True):  # a new fake can start: nothing was left behind
        pass


def test_nesting_is_a_clear_error_and_leaves_the_outer_fake_working() -> None:
    with FakeGPT4oMini() as outer:
        with pytest.raises(RuntimeError, match=r"^minidouble: another FakeGPT4oMini is already"):
            FakeGPT4oMini().__enter__()
        with pytest.raises(RuntimeError, match=r"^minidouble: this FakeGPT4oMini is already"):
            outer.__enter__()
        outer.reply("still mine")
        assert content(httpx.post(CHAT_URL, json=HELLO, headers=HEADERS)) == "still mine"


def test_a_second_fake_in_another_thread_is_refused_too() -> None:
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with FakeGPT4oMini():
                pass
        except RuntimeError as exc:
            errors.append(exc)

    with FakeGPT4oMini():
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(30)
    assert len(errors) == 1 and str(errors[0]).startswith("minidouble:")


def test_start_and_stop_pair_up_and_stop_is_idempotent() -> None:
    fake = FakeGPT4oMini()
    fake.start()
    try:
        assert content(httpx.post(CHAT_URL, json=HELLO, headers=HEADERS))
    finally:
        fake.stop()
    fake.stop()
    assert not fake.intercepting


def test_unknown_options_name_the_accepted_ones() -> None:
    with pytest.raises(TypeError, match=r"^minidouble: FakeGPT4oMini got unknown option\(s\) x"):
        FakeGPT4oMini(x=1)  # type: ignore[arg-type]


def test_unused_scripts_fail_the_block_unless_allowed() -> None:
    with (
        pytest.raises(FakeCheckError, match=r"were never used: reply\('spare'\)"),
        FakeGPT4oMini() as fake,
    ):
        fake.reply("spare")
    with FakeGPT4oMini(allow_unused=True) as fake:
        fake.reply("spare")


def test_in_process_and_loopback_share_one_script_and_log() -> None:
    with FakeGPT4oMini() as fake, fake.serve() as server:
        fake.reply("one")
        server.reply("two")
        assert content(httpx.post(CHAT_URL, json=HELLO, headers=HEADERS)) == "one"
        over_socket = httpx.post(f"{server.base_url}/chat/completions", json=HELLO, headers=HEADERS)
        assert content(over_socket) == "two"
        assert [r.status for r in server.requests] == [200, 200]


def test_minidouble_serve_prints_its_url_answers_and_stops_cleanly_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "minidouble", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("minidouble: a fake GPT-4o mini is serving at http://127.0.0.1:")
        base_url = first.rsplit(" ", 1)[1].strip()
        assert base_url.endswith("/v1")
        request = urllib.request.Request(
            base_url + "/chat/completions",
            data=json.dumps(HELLO).encode(),
            headers={**HEADERS, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["usage"]["prompt_tokens"] == 9
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.rstrip().endswith("minidouble: stopped")
    assert "Traceback" not in err


def test_minidouble_serve_on_a_busy_port_says_so() -> None:
    with FakeGPT4oMini().serve() as busy:
        result = subprocess.run(
            [sys.executable, "-m", "minidouble", "serve", "--port", str(busy.port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert "minidouble: cannot listen on 127.0.0.1" in result.stderr


def test_the_log_gives_back_each_body_and_completion_as_sent_and_served() -> None:
    # The log keeps bytes and parses them when first read: what a test reads must be exactly
    # what was sent and answered, and the same object on every read.
    with FakeGPT4oMini() as fake, httpx.Client(headers=HEADERS) as client:
        plain = client.post(CHAT_URL, json=HELLO)
        streamed = client.post(CHAT_URL, json={**HELLO, "stream": True})
        assert streamed.status_code == 200
    first, second = fake.requests
    assert first.body == HELLO and first.body is first.body
    assert first.completion == plain.json() and first.completion is first.completion
    assert second.body == {**HELLO, "stream": True}
    assert second.completion is not None
    assert second.completion["object"] == "chat.completion"
    assert second.completion_tokens is not None and second.completion_tokens > 0
