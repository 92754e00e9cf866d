"""The loopback server: the one request handler behind a real HTTP socket (uvicorn, ASGI).

Subprocesses, other languages, curl and any OpenAI-compatible client reach the fake through
it. The ASGI app is deliberately bare (no framework, no middleware): it turns the ASGI scope
into an :class:`HttpRequest`, calls the handler and writes the :class:`HttpResponse` back,
one ASGI body message per stream chunk so that server-sent events arrive as they are made.

The handler is CPU-bound (validate, count, generate), so it runs on the event loop itself:
a hop to a worker thread per request would cost more than most requests take. A handler that
may wait (a cassette forwarding to its upstream, simulated latency) is declared
``blocking=True`` and then runs in a thread so the server keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from types import TracebackType
from typing import Any

from minidouble._http import Handler, HttpRequest, HttpResponse, RawHeaders
from minidouble._service._faults import drop_connection

__all__ = ["LoopbackServer", "asgi_app", "build_uvicorn_server", "format_base_url"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger("minidouble.server")
_STOP_TIMEOUT = 5.0
_START_TIMEOUT = 10.0


def asgi_app(
    handler: Handler,
    *,
    blocking: bool | Callable[[], bool] = False,
    on_error: Callable[[BaseException], None] | None = None,
) -> ASGIApp:
    """An ASGI application that serves every request with ``handler``.

    ``blocking`` may be a callable, asked per request, for a server whose handler changes
    (the plugin's session-wide server serves each test's fake in turn).
    """
    is_blocking: Callable[[], bool] = blocking if callable(blocking) else lambda: blocking

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = await _read_request(scope, receive)
        blocking = is_blocking()
        try:
            if blocking:
                response = await asyncio.to_thread(handler, request)
            else:
                response = handler(request)
        except (TimeoutError, ConnectionError) as fault:
            # A simulated transport fault: the client sees a connection that stalls or dies
            # before any answer, as in a real outage.
            await drop_connection(fault, receive, send)
            return
        except Exception as exc:
            if on_error is not None:
                on_error(exc)
            _log.exception("minidouble: the handler failed on %s %s", request.method, request.url)
            response = _internal_error(exc)
        try:
            await _write_response(response, send, blocking=blocking)
        except ConnectionError as fault:
            # A stream cut mid-way: the body ends without its terminating chunk.
            await drop_connection(fault, receive, send)

    return app


async def _read_request(scope: Scope, receive: Receive) -> HttpRequest:
    message = await receive()
    body: bytes = message.get("body", b"")
    if message.get("more_body"):
        parts = [body]
        while message.get("more_body"):
            message = await receive()
            parts.append(message.get("body", b""))
        body = b"".join(parts)
    headers = RawHeaders(scope["headers"])
    host = headers.get("host")
    if host is None:
        server_host, server_port = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server_host}:{server_port}"
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query: bytes = scope.get("query_string", b"")
    url = f"{scope.get('scheme', 'http')}://{host}{path}"
    if query:
        url = f"{url}?{query.decode('latin-1')}"
    return HttpRequest(method=scope["method"], url=url, headers=headers, body=body)


async def _write_response(response: HttpResponse, send: Send, *, blocking: bool) -> None:
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers
    ]
    if response.stream is None:
        if response.header("content-length") is None:
            headers.append((b"content-length", str(len(response.body)).encode("ascii")))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    chunks = response.stream
    try:
        if hasattr(chunks, "__aiter__"):
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        elif blocking:
            iterator = iter(chunks)
            while (chunk := await asyncio.to_thread(_next_or_none, iterator)) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        _close(chunks)
    await send({"type": "http.response.body", "body": b""})


def _next_or_none(iterator: Iterator[bytes]) -> bytes | None:
    return next(iterator, None)


def _close(chunks: Iterable[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _internal_error(exc: BaseException) -> HttpResponse:
    message = (
        f"minidouble: the fake failed while handling this request ({type(exc).__name__}: "
        f"{exc}). This is a bug in minidouble, not in your request; please report it with "
        "the request body. The traceback is in the server's log."
    )
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return HttpResponse(
        status=500,
        headers=[("content-type", "application/json")],
        body=json.dumps(body, indent=2).encode("utf-8"),
    )


def format_base_url(host: str, port: int) -> str:
    """The OpenAI-style base URL (ending in ``/v1``) of a server on ``host:port``."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free port chosen by the system)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"minidouble: cannot listen on {host}:{port} ({exc.strerror}). Pick a free port "
            "with --port, or port 0 to let the system choose one.",
        ) from exc


def build_uvicorn_server(app: ASGIApp, *, quiet: bool) -> Any:
    """A uvicorn server tuned for throughput: no access log, no lifespan, fastest parser."""
    import uvicorn

    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        server_header=False,
        log_level="warning",
        # A library must not reconfigure the caller's logging; the CLI keeps uvicorn's own.
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=2,
        # httptools and uvloop when installed (the `server` extra), else h11 and asyncio.
        http="auto",
        loop="auto",
    )
    return uvicorn.Server(config)


class LoopbackServer:
    """A uvicorn server on a background thread serving ``handler``; stop it with ``close()``.

    Starts on construction, so ``.base_url`` is ready at once; as a context manager it
    closes on exit. Errors the handler raised are kept in ``errors`` (the client only saw a
    500) so a test can fail with them.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        blocking: bool | Callable[[], bool] = False,
    ) -> None:
        self.errors: list[BaseException] = []
        self._socket = bind_socket(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        app = asgi_app(handler, blocking=blocking, on_error=self.errors.append)
        self._server = build_uvicorn_server(app, quiet=True)
        self._crash: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"minidouble-server-{self.port}", daemon=True
        )
        self._thread.start()
        self._wait_until_started()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass it as the OpenAI client's ``base_url``."""
        return format_base_url(self.host, self.port)

    @property
    def url(self) -> str:
        """The server's root URL, without ``/v1``."""
        return self.base_url.removesuffix("/v1")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # surfaced by the starting thread
            self._crash = exc

    def _wait_until_started(self) -> None:
        pause = threading.Event()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._socket.close()
                raise RuntimeError(
                    f"minidouble: the loopback server on {self.host}:{self.port} did not start "
                    f"({self._crash!r}). Expected it to listen within {_START_TIMEOUT:.0f} s; "
                    "check that uvicorn is installed and the port is free."
                ) from self._crash
            pause.wait(0.002)

    def close(self) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        if not self._thread.is_alive():
            self._socket.close()
            return
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(_STOP_TIMEOUT)
        self._socket.close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LoopbackServer {self.base_url} {state}>"
