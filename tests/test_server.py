"""The loopback server with a toy handler: what crosses the socket, streaming, errors, lifecycle."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from minidouble._http import HttpRequest, HttpResponse
from minidouble._transports._server import LoopbackServer, format_base_url


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


# --- the HTTP layer, byte by byte --------------------------------------------------------


def _raw(server: LoopbackServer, *pieces: bytes, pause: float = 0.0) -> bytes:
    """Send ``pieces`` as separate writes on one connection; everything read until close."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        for piece in pieces:
            sock.sendall(piece)
            if pause:
                time.sleep(pause)
        sock.shutdown(socket.SHUT_WR)
        received = []
        while chunk := sock.recv(65536):
            received.append(chunk)
    return b"".join(received)


def _bodies(answer: bytes) -> list[bytes]:
    """The bodies of consecutive responses with a content-length."""
    bodies = []
    while answer:
        head, _, rest = answer.partition(b"\r\n\r\n")
        length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
        bodies.append(rest[:length])
        answer = rest[length:]
    return bodies


def _post(body: bytes, *, extra: bytes = b"") -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer k\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def test_a_body_sent_in_several_segments_reaches_the_handler_whole(
    server: LoopbackServer,
) -> None:
    request = _post(b'{"a":1}')
    answer = _raw(server, request[:-4], request[-4:-2], request[-2:], pause=0.05)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["body"] == '{"a":1}'


def test_pipelined_requests_are_answered_in_order(server: LoopbackServer) -> None:
    bodies = [f'{{"n":{n}}}'.encode() for n in range(5)]
    answer = _raw(server, b"".join(_post(body) for body in bodies))
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 5
    seen = [json.loads(body)["body"] for body in _bodies(answer)]
    assert seen == [body.decode() for body in bodies]


def test_connections_answered_together_each_get_their_own_answers_in_order(
    server: LoopbackServer,
) -> None:
    """Requests that arrive on many connections at once are answered in one turn of the
    loop: each connection still gets exactly its own answers, in its order, and a close, an
    end of input or bad bytes on one of them change nothing for the others."""
    sockets = [socket.create_connection((server.host, server.port), timeout=10) for _ in range(12)]
    sent: list[list[bytes]] = []
    try:
        for n, sock in enumerate(sockets):
            bodies = [f'{{"connection":{n},"request":{i}}}'.encode() for i in range(3)]
            last = _post(bodies[2], extra=b"Connection: close\r\n" if n % 3 == 0 else b"")
            sock.sendall(
                _post(bodies[0])
                + _post(bodies[1])
                + last
                + (b"NOT HTTP\r\n\r\n" if n % 3 == 2 else b"")
            )
            sent.append(bodies)
        for n, sock in enumerate(sockets):
            if n % 3 == 1:
                sock.shutdown(socket.SHUT_WR)
        for n, (sock, bodies) in enumerate(zip(sockets, sent, strict=True)):
            received = []
            while chunk := sock.recv(65536):
                received.append(chunk)
            answer = b"".join(received)
            assert answer.count(b"HTTP/1.1 200 OK\r\n") == 3
            seen = [json.loads(body)["body"] for body in _bodies(answer)[:3]]
            assert seen == [body.decode() for body in bodies]
            if n % 3 == 2:
                assert answer.split(b"HTTP/1.1 ")[-1].startswith(b"400 Bad Request\r\n")
    finally:
        for sock in sockets:
            sock.close()


def test_bytes_that_are_not_http_get_a_400_and_the_server_keeps_serving(
    server: LoopbackServer,
) -> None:
    answer = _raw(server, b"HELLO THERE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"connection: close" in answer
    assert _raw(server, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01garbage")[:15] == (
        b"HTTP/1.1 200 OK"
    )
    assert httpx.get(server.base_url + "/models").status_code == 200


def test_head_gets_the_headers_without_a_body(server: LoopbackServer) -> None:
    answer = _raw(server, b"HEAD /v1/models HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: " in head
    assert rest == b""


def test_expect_100_continue_is_honoured(server: LoopbackServer) -> None:
    extra = b"Expect: 100-continue\r\nConnection: close\r\n"
    head = _post(b'{"big":true}', extra=extra).rsplit(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b'{"big":true}')
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK") and b'{\\"big\\":true}' in answer


def test_http_1_0_and_connection_close_end_the_connection(server: LoopbackServer) -> None:
    for request in (
        b"GET /v1/models HTTP/1.0\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ):
        answer = _raw(server, request, pause=0.0)
        assert answer.count(b"HTTP/1.1 200 OK") == 1
        assert b"connection: close\r\n" in answer


def test_a_large_body_arrives_whole(server: LoopbackServer) -> None:
    body = json.dumps({"text": "word " * 150_000}).encode()
    response = httpx.post(server.base_url + "/chat/completions", content=body, timeout=30)
    assert response.status_code == 200
    assert len(response.json()["body"]) == len(body)


def test_a_streamed_response_without_length_is_chunked_and_ends_cleanly() -> None:
    def streaming(request: HttpRequest) -> HttpResponse:
        return HttpResponse(
            200, [("content-type", "text/event-stream")], stream=iter([b"a", b"bc"])
        )

    with LoopbackServer(streaming) as server:
        answer = _raw(server, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head and b"content-length" not in head
    assert body == b"1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"


def test_a_header_with_a_line_break_is_a_500_not_a_split_response() -> None:
    def splitting(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, [("x-evil", "a\r\nset-cookie: b")], b"{}")

    with LoopbackServer(splitting) as server:
        response = httpx.get(server.base_url + "/models")
        assert response.status_code == 500
        assert "set-cookie" not in response.headers
        assert [type(e) for e in server.errors] == [ValueError]


def test_pipelined_requests_to_a_blocking_handler_keep_their_order() -> None:
    # A blocking handler runs in a thread: the next request must wait for the answer before.
    def slow_echo(request: HttpRequest) -> HttpResponse:
        time.sleep(0.05 if b'"n":0' in request.body else 0)
        return echo(request)

    with LoopbackServer(slow_echo, blocking=True) as server:
        bodies = [f'{{"n":{n}}}'.encode() for n in range(3)]
        answer = _raw(server, b"".join(_post(body) for body in bodies))
    assert [json.loads(body)["body"] for body in _bodies(answer)] == [b.decode() for b in bodies]


def test_an_idle_keep_alive_connection_is_closed(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minidouble._transports import _http1

    monkeypatch.setattr(_http1, "KEEP_ALIVE_TIMEOUT", 0.1)
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: h\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            answer += sock.recv(65536)
        # The server's sweep (once a second) finds it idle and closes it: recv sees the end.
        assert sock.recv(65536) == b""
    assert answer.startswith(b"HTTP/1.1 200 OK")
