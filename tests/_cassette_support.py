"""Helpers for the cassette tests: an upstream to record from, and requests to send.

The upstream is GPT4oMiniApp behind the standard library's HTTP server, so the cassette
layer's tests do not depend on the loopback server or interception; streams are written
event by event with a flush, as a real SSE server sends them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from minidouble._http import Handler, HttpRequest, HttpResponse
from minidouble._service._app import GPT4oMiniApp

FAKE_KEY = "sk-test-FAKEKEY-0123456789abcdefABCDEF"


def serve_handler(handler: Handler) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            host = headers.get("host", "127.0.0.1")
            request = HttpRequest(self.command, f"http://{host}{self.path}", headers, body)
            response = handler(request)
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            if response.stream is None:
                self.send_header("content-length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)
                return
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for piece in response.stream:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        do_GET = do_POST = do_DELETE = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@contextmanager
def upstream_app(app: GPT4oMiniApp | None = None) -> Iterator[str]:
    """The base URL (ending in /v1) of a GPT-4o mini fake reachable over real HTTP."""
    app = app or GPT4oMiniApp()
    server, thread = serve_handler(app.handle)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def chat(content: str = "Say hello.", *, key: str = FAKE_KEY, **params: Any) -> HttpRequest:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **params}
    return HttpRequest(
        "POST",
        "https://api.openai.com/v1/chat/completions",
        {
            "authorization": f"Bearer {key}",
            "content-type": "application/json",
            "user-agent": "OpenAI/Python test",
        },
        json.dumps(body).encode(),
    )


def drain(response: HttpResponse) -> tuple[int, bytes, list[bytes] | None]:
    """Status, body and (for streams) the exact chunks, reading the stream to its end."""
    chunks = list(response.stream) if response.stream is not None else None
    return response.status, response.body, chunks


def never_called(request: HttpRequest) -> HttpResponse:
    raise AssertionError(f"the wrapped handler was reached for {request.method} {request.url}")
