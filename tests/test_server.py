"""The loopback server with a toy handler: what crosses the socket, streaming, errors, lifecycle."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

from minidouble._http import HttpRequest, HttpResponse
from minidouble._transports._server import LoopbackServer, asgi_app, format_base_url


def echo(request: HttpRequest) -> HttpResponse:
    body = {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "host": request.host,
        "auth": request.headers.get("authorization"),
        "body": request.body.decode(),
    }
    return HttpResponse(200, [("content-type", "application/json")], json.dumps(body).encode())


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(echo) as running:
        yield running


def test_base_url_is_loopback_and_ends_in_v1(server: LoopbackServer) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.port > 0
    assert format_base_url("::1", 8000) == "http://[::1]:8000/v1"


def test_the_handler_sees_the_request_as_sent(server: LoopbackServer) -> None:
    response = httpx.post(
        server.base_url + "/chat/completions?api-version=x%20y",
        content=b'{"a":1}',
        headers={"Authorization": "Bearer k"},
    )
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(response.content))
    assert "server" not in response.headers
    assert response.json() == {
        "method": "POST",
        "path": "/v1/chat/completions",
        "query": {"api-version": "x y"},
        "host": "127.0.0.1",
        "auth": "Bearer k",
        "body": '{"a":1}',
    }


def test_curl_in_a_subprocess_gets_an_answer(server: LoopbackServer) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    result = subprocess.run(
        [curl, "-sS", "-H", "Authorization: Bearer k", "-d", '{"x":2}',
         server.base_url + "/chat/completions"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout)["body"] == '{"x":2}'


def test_plain_python_urllib_in_a_subprocess_gets_an_answer(server: LoopbackServer) -> None:
    script = (
        "import sys, urllib.request\n"
        "headers = {'Authorization': 'Bearer k'}\n"
        "request = urllib.request.Request(sys.argv[1] + '/models', headers=headers)\n"
        "print(urllib.request.urlopen(request, timeout=20).read().decode())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, server.base_url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout)["path"] == "/v1/models"


def test_streams_arrive_chunk_by_chunk() -> None:
    # The handler makes chunk n+1 only after the client has read chunk n; a buffering
    # server would deadlock here, and the timeout turns that into a failure.
    read = [threading.Event() for _ in range(3)]

    def streaming(request: HttpRequest) -> HttpResponse:
        def chunks() -> Iterator[bytes]:
            for index, was_read in enumerate(read):
                yield f"data: {index}\n\n".encode()
                if index < len(read) - 1 and not was_read.wait(10):
                    raise AssertionError("the client never got the chunk: server buffers")

        return HttpResponse(200, [("content-type", "text/event-stream")], stream=chunks())

    with (
        LoopbackServer(streaming, blocking=True) as server,
        httpx.stream("POST", server.base_url + "/chat/completions", timeout=20) as response,
    ):
        assert "content-length" not in response.headers
        events = []
        for line in response.iter_lines():
            if line:
                events.append(line)
                read[len(events) - 1].set()
    assert events == ["data: 0", "data: 1", "data: 2"]


def test_a_failing_handler_answers_500_with_a_minidouble_message_and_keeps_the_error() -> None:
    def broken(request: HttpRequest) -> HttpResponse:
        raise ValueError("kaputt")

    with LoopbackServer(broken) as server:
        response = httpx.get(server.base_url + "/models")
        assert response.status_code == 500
        message = response.json()["error"]["message"]
        assert message.startswith("minidouble: ") and "ValueError: kaputt" in message
        assert [type(e) for e in server.errors] == [ValueError]


def test_close_stops_serving_and_is_idempotent() -> None:
    server = LoopbackServer(echo)
    httpx.get(server.base_url + "/models")
    server.close()
    server.close()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/models")


def test_a_busy_port_gets_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=r"^.*minidouble: cannot listen on 127\.0\.0\.1"):
            LoopbackServer(echo, port=port)


def test_the_asgi_app_reads_a_body_sent_in_several_messages() -> None:
    import asyncio

    sent: list[dict[str, object]] = []
    messages = [
        {"type": "http.request", "body": b'{"a"', "more_body": True},
        {"type": "http.request", "body": b":1}", "more_body": False},
    ]

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/x",
        "raw_path": b"/v1/x",
        "query_string": b"",
        "headers": [(b"host", b"h:1")],
    }
    asyncio.run(asgi_app(echo)(scope, receive, send))  # type: ignore[arg-type]
    assert json.loads(sent[1]["body"])["body"] == '{"a":1}'  # type: ignore[arg-type]
