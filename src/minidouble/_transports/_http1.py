"""HTTP/1.1 for the loopback server: httptools' parser on an asyncio protocol, nothing between.

The handler is CPU-bound and answers most requests in ~100 µs, so every microsecond the HTTP
layer spends shows in requests per second. A general server (uvicorn and its ASGI messages)
costs about half as much again as the handler; here a connection parses with httptools,
and once the loop has read every ready socket, the requests they completed are answered in a
row, synchronously, each answer's status line, headers and body sent in one write after the
last of them (the handler runs with warm caches that way: see ``Http1Service.answer_soon``).
Only what has to wait gets a task: a handler declared blocking (run in a thread), an
asynchronous stream, and a simulated timeout.

Behaviour follows what the ASGI layer on uvicorn did, so clients see the same bytes:
lower-case header names after a ``date`` header, ``content-length`` on whole bodies and
chunked transfer coding on streams without one, no body for HEAD, ``100 Continue`` when
asked, keep-alive with a 5 s idle timeout, pipelined requests answered in order, and a 400
(never a crash) for bytes that are not HTTP. Simulated transport faults become real ones:
a timeout stalls until the client gives up (at most ``stall`` s), a reset aborts with a TCP
RST, a cut closes the socket mid-body.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import socket
import struct
import time
from collections import deque
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from email.utils import formatdate
from typing import Any

import httptools

from minidouble._http import Handler, HttpRequest, HttpResponse, RawHeaders
from minidouble._service._faults import DEFAULT_STALL

__all__ = ["Http1Service", "internal_error"]

_log = logging.getLogger("minidouble.server")

KEEP_ALIVE_TIMEOUT = 5.0
# Requests buffered behind a busy connection before it stops reading from its socket.
_PIPELINE_LIMIT = 16
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST_TEXT = b"Invalid HTTP request received."
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: "
    + str(len(_BAD_REQUEST_TEXT)).encode()
    + b"\r\nconnection: close\r\n\r\n"
    + _BAD_REQUEST_TEXT
)
_CHUNK_END = b"0\r\n\r\n"


def _status_line(status: int) -> str:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n"


_STATUS_LINES = {status: _status_line(status) for status in range(100, 600)}


class _Clock:
    """The ``date`` header, formatted at most once a second."""

    __slots__ = ("_line", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._line = ""

    def date_line(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._line = f"date: {formatdate(now, usegmt=True)}\r\n"
        return self._line


class Http1Service:
    """What every connection of one server shares: the handler, its mode and the clock.

    ``blocking`` may be a callable, asked per request with the request, for a server whose
    handler changes (the plugin's session-wide server serves each test's fake in turn) or
    whose requests differ (a Batch API call may run a large batch's lines). A handler that
    may wait or run long (a cassette forwarding upstream, simulated latency, batches) is
    blocking for that request, which then runs in a thread so the server keeps serving.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        blocking: bool | Callable[[HttpRequest], bool] = False,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.handler = handler
        self.is_blocking: Callable[[HttpRequest], bool] = (
            blocking if callable(blocking) else (lambda request: blocking)
        )
        self.on_error = on_error
        self.clock = _Clock()
        self.connections: set[_Connection] = set()
        self.closing = False
        # Connections with requests to answer, answered together once the loop has read
        # every socket that was ready; their answers are written after the last of them.
        self.ready: list[_Connection] = []
        self.outbox: list[tuple[asyncio.Transport, bytes | tuple[bytes, ...]]] = []
        self.batching = False
        self.loop: asyncio.AbstractEventLoop | None = None

    def protocol(self) -> asyncio.Protocol:
        return _Connection(self)

    async def serve(self, listener: socket.socket, started: Callable[[], None]) -> None:
        """Serve on ``listener`` until the task is cancelled, then close every connection:
        idle ones at once, busy ones when their response ends (or after 2 s)."""
        loop = self.loop = asyncio.get_running_loop()
        server = await loop.create_server(self.protocol, sock=listener, backlog=2048)
        sweeper = loop.create_task(self._close_idle_connections())
        started()
        try:
            await asyncio.Future()  # until cancelled
        finally:
            sweeper.cancel()
            server.close()
            await self._shut_down()

    async def _shut_down(self) -> None:
        self.closing = True
        for connection in list(self.connections):
            connection.shut_down()
        deadline = time.monotonic() + 2.0
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self.connections):
            connection.abort()

    async def _close_idle_connections(self) -> None:
        # One sweep a second instead of a timer per request: a keep-alive connection that
        # has been idle for KEEP_ALIVE_TIMEOUT is closed, as uvicorn and most servers do.
        while True:
            await asyncio.sleep(1.0)
            cutoff = time.monotonic() - KEEP_ALIVE_TIMEOUT
            for connection in list(self.connections):
                connection.close_if_idle_since(cutoff)

    def answer_soon(self, connection: _Connection) -> None:
        """Answer ``connection``'s requests after the reads of this turn of the loop.

        A handler's code and data stay in the CPU's caches from one request to the next
        when the requests of every ready connection are answered in a row, and their
        answers sent after the last: answering each as it was read put a receive and a
        send (the kernel's TCP code) between two handler calls, and the handler then ran at
        about half the speed it runs at in a loop of its own.
        """
        self.ready.append(connection)
        if len(self.ready) == 1:
            loop = self.loop or asyncio.get_running_loop()
            loop.call_soon(self._answer_ready)

    def _answer_ready(self) -> None:
        ready, self.ready = self.ready, []
        self.batching = True
        try:
            for connection in ready:
                connection.queued = False
                try:
                    connection.answer_pending()
                except Exception as exc:
                    _log.error("minidouble: the loopback server failed", exc_info=exc)
                    connection.abort()
        finally:
            self.batching = False
            self.flush()

    def flush(self) -> None:
        """Send what answers of this turn hold back; before anything else on a transport
        (a close, an abort), so that each connection's bytes keep their order."""
        outbox = self.outbox
        if not outbox:
            return
        self.outbox = []
        for transport, data in outbox:
            # One connection's failure must not keep the others' answers back.
            try:
                if isinstance(data, tuple):
                    transport.writelines(data)
                else:
                    transport.write(data)
            except Exception as exc:
                _log.error("minidouble: a write to a client failed", exc_info=exc)

    def head(
        self, response: HttpResponse, *, method: str, keep_alive: bool
    ) -> tuple[bytes, bool, bool]:
        """The status line and headers, whether the body is chunked, and whether the
        connection stays open after this response."""
        headers = response.headers
        status = response.status
        # One join, then substring checks on the lower-case names: a per-header loop in
        # Python was the largest single cost of the HTTP layer.
        text = "".join(
            [
                _STATUS_LINES.get(status) or _status_line(status),
                self.clock.date_line(),
                *[f"{name.lower()}: {value}\r\n" for name, value in headers],
            ]
        )
        # A CR or LF inside a name or value would split the response: one count catches it.
        lines = len(headers) + 2
        if text.count("\n") != lines or text.count("\r") != lines:
            raise ValueError("minidouble: a response header name or value contains CR or LF")
        has_length = "\ncontent-length:" in text
        chunked = False
        if "\ntransfer-encoding:" in text or "\nconnection:" in text:
            for name, value in headers:
                name = name.lower()
                if name == "transfer-encoding":
                    chunked = value.lower() == "chunked"
                elif name == "connection" and "close" in value.lower():
                    keep_alive = False
        if response.stream is None:
            if not has_length:
                text += f"content-length: {len(response.body)}\r\n"
        elif not (has_length or chunked or method == "HEAD" or status in (204, 304)):
            chunked = True
            text += "transfer-encoding: chunked\r\n"
        if not keep_alive:
            text += "connection: close\r\n"
        return (text + "\r\n").encode("latin-1"), chunked, keep_alive


class _Request:
    __slots__ = ("body", "headers", "host", "keep_alive", "method", "url")

    def __init__(
        self,
        method: str,
        url: bytes,
        headers: list[tuple[bytes, bytes]],
        host: bytes,
        keep_alive: bool,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.host = host
        self.keep_alive = keep_alive
        self.body: list[bytes] = []


class _Connection(asyncio.Protocol):
    """One client connection: parse, answer in order, apply faults for real."""

    def __init__(self, service: Http1Service) -> None:
        self.service = service
        self.parser = httptools.HttpRequestParser(self)
        # Set by connection_made, before any other call.
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.pending: deque[_Request] = deque()
        self.task: asyncio.Task[None] | None = None
        self.idle_since = 0.0
        self.lost = False
        self.write_ready: asyncio.Future[None] | None = None
        self.disconnected: asyncio.Future[None] | None = None
        self.reading_paused = False
        self.shutting_down = False
        self.malformed = False
        self.local_host = ""
        # The request being parsed.
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.host = b""
        self.expect_continue = False
        self.current: _Request | None = None
        self.queued = False

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass but has its methods.
        self.transport = transport  # type: ignore[assignment]
        self.service.connections.add(self)
        self.idle_since = time.monotonic()
        sockname = transport.get_extra_info("sockname")
        if isinstance(sockname, tuple):
            host, port = sockname[0], sockname[1]
            self.local_host = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.service.connections.discard(self)
        self.pending.clear()
        for waiter in (self.write_ready, self.disconnected):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def pause_writing(self) -> None:
        if self.write_ready is None or self.write_ready.done():
            self.write_ready = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.write_ready is not None and not self.write_ready.done():
            self.write_ready.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No protocol switch here: answer what was asked as HTTP, then hang up, since
            # whatever follows on this connection is not HTTP/1.1.
            for request in self.pending:
                request.keep_alive = False
        except httptools.HttpParserError:
            # Requests complete before the bad bytes still get their answers first.
            self.malformed = True
        if self.task is None and self.pending and not self.queued:
            self.queued = True
            self.service.answer_soon(self)
        elif self.malformed and self.task is None and not self.queued:
            self._answer_pending()

    def eof_received(self) -> bool | None:
        # The client finished sending: answer what it asked, then close.
        if self.task is not None or self.pending:
            self.shutting_down = True
            return True  # keep the transport open for the answers still to come
        return None

    # --- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.host = b""
        self.expect_continue = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        value = value.rstrip(b" \t")
        if name == b"host":
            self.host = value  # the last one wins, as in RawHeaders
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        method = parser.get_method().decode("ascii")
        self.current = _Request(method, self.url, self.headers, self.host, keep_alive)
        if self.expect_continue and self.task is None and not self.pending:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self.current is not None:
            self.current.body.append(body)

    def on_message_complete(self) -> None:
        if self.current is not None:
            self.pending.append(self.current)
            self.current = None

    # --- answering ----------------------------------------------------------------------------

    def answer_pending(self) -> None:
        if self.task is None:
            self._answer_pending()

    def _send(self, data: bytes | tuple[bytes, ...]) -> None:
        """Write ``data``: at once, or with the other answers of this turn of the loop."""
        if self.service.batching:
            self.service.outbox.append((self.transport, data))
        elif isinstance(data, tuple):
            self.transport.writelines(data)
        else:
            self.transport.write(data)

    def _answer_pending(self) -> None:
        """Answer queued requests in order: synchronously while nothing has to wait, else
        in a task that picks up the rest when it ends."""
        service = self.service
        while self.pending and not self.lost:
            request = self.pending.popleft()
            http_request = self._http_request(request)
            if http_request is None:
                self._bad_request()
                return
            if service.is_blocking(http_request):
                self._start(self._answer_later(request, http_request, blocking=True))
                return
            try:
                response = service.handler(http_request)
            except (TimeoutError, ConnectionError) as fault:
                self._start(self._fault(fault))
                return
            except Exception as exc:
                response = self._handler_failed(exc, http_request)
            if response.stream is not None and hasattr(response.stream, "__aiter__"):
                self._start(self._write_later(request, response, blocking=False))
                return
            if not self._write(request, response):
                return
        if self.lost:
            return
        if self.malformed:
            self._bad_request()
        elif self.shutting_down:
            self.close()
        else:
            self.idle_since = time.monotonic()
            if self.reading_paused:
                self.reading_paused = False
                self.transport.resume_reading()

    def _start(self, work: Any) -> None:
        self.task = asyncio.get_running_loop().create_task(work)
        if len(self.pending) >= _PIPELINE_LIMIT and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()
        self.task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.task = None
        if not task.cancelled() and task.exception() is not None:
            _log.error("minidouble: the loopback server failed", exc_info=task.exception())
            self.abort()
            return
        if not self.lost:
            self._answer_pending()

    def _http_request(self, request: _Request) -> HttpRequest | None:
        url = request.url
        if not url.startswith(b"/") or b"#" in url:
            # Absolute form (a proxy-style target) or a fragment: keep path and query only.
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                return None
            url = parsed.path or b"/"
            if parsed.query:
                url = url + b"?" + parsed.query
        host = request.host.decode("latin-1") or self.local_host
        body = request.body
        return HttpRequest(
            method=request.method,
            url=f"http://{host}{url.decode('latin-1')}",
            headers=RawHeaders(request.headers),
            body=body[0] if len(body) == 1 else b"".join(body),
        )

    def _handler_failed(self, exc: Exception, request: HttpRequest) -> HttpResponse:
        if self.service.on_error is not None:
            self.service.on_error(exc)
        _log.exception("minidouble: the handler failed on %s %s", request.method, request.url)
        return internal_error(exc)

    def _write(self, request: _Request, response: HttpResponse) -> bool:
        """Write a whole response, or a synchronous stream; False if the connection ended."""
        try:
            head, chunked, keep_alive = self.service.head(
                response, method=request.method, keep_alive=request.keep_alive
            )
        except ValueError as exc:
            return self._write(request, self._handler_failed(exc, _as_request(request)))
        stream = response.stream
        if stream is None:
            if request.method == "HEAD":
                self._send(head)
            elif len(response.body) < 65536:
                self._send(head + response.body)
            else:
                self._send((head, response.body))
        else:
            self._send(head)
            try:
                for chunk in stream:
                    self._write_chunk(chunk, chunked, request.method)
            except ConnectionError as fault:
                self._cut(fault)
                return False
            except Exception as exc:
                self._broken_stream(exc)
                return False
            finally:
                _close(stream)
            if chunked:
                self._send(_CHUNK_END)
        if not keep_alive:
            self.close()
            return False
        return True

    def _write_chunk(self, chunk: bytes, chunked: bool, method: str) -> None:
        if method == "HEAD" or not chunk:
            return
        if chunked:
            self._send((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
        else:
            self._send(chunk)

    async def _answer_later(
        self, request: _Request, http_request: HttpRequest, *, blocking: bool
    ) -> None:
        try:
            response = await asyncio.to_thread(self.service.handler, http_request)
        except (TimeoutError, ConnectionError) as fault:
            await self._fault(fault)
            return
        except Exception as exc:
            response = self._handler_failed(exc, http_request)
        await self._write_later(request, response, blocking=blocking)

    async def _write_later(
        self, request: _Request, response: HttpResponse, *, blocking: bool
    ) -> None:
        if self.lost:
            _close(response.stream)
            return
        if response.stream is None or not (blocking or hasattr(response.stream, "__aiter__")):
            self._write(request, response)
            return
        try:
            head, chunked, keep_alive = self.service.head(
                response, method=request.method, keep_alive=request.keep_alive
            )
        except ValueError as exc:
            self._write(request, self._handler_failed(exc, _as_request(request)))
            return
        transport = self.transport
        transport.write(head)
        # The declared type is Iterable; an async iterator is the one other thing allowed.
        stream: Any = response.stream
        try:
            if isinstance(stream, AsyncIterable):
                async for chunk in stream:
                    await self._drain()
                    if transport.is_closing():
                        return
                    self._write_chunk(chunk, chunked, request.method)
            else:
                iterator = iter(stream)
                while (chunk := await asyncio.to_thread(_next_or_none, iterator)) is not None:
                    await self._drain()
                    if transport.is_closing():
                        return
                    self._write_chunk(chunk, chunked, request.method)
        except ConnectionError as fault:
            self._cut(fault)
            return
        except Exception as exc:
            self._broken_stream(exc)
            return
        finally:
            _close(stream)
        if chunked:
            transport.write(_CHUNK_END)
        if not keep_alive:
            self.close()

    async def _drain(self) -> None:
        if self.write_ready is not None and not self.write_ready.done():
            await self.write_ready

    # --- faults and closing -------------------------------------------------------------------

    async def _fault(self, fault: OSError) -> None:
        """Make the client meet ``fault`` for real: a timeout stalls (answering nothing)
        until the client gives up, or for ``stall`` seconds at most, then resets."""
        if isinstance(fault, TimeoutError):
            self.disconnected = asyncio.get_running_loop().create_future()
            if self.lost:
                return
            stall = getattr(fault, "stall", DEFAULT_STALL)
            try:
                await asyncio.wait_for(asyncio.shield(self.disconnected), stall)
                return
            except asyncio.TimeoutError:
                pass
        self._cut(fault)

    def _cut(self, fault: OSError) -> None:
        self.pending.clear()
        if isinstance(fault, (TimeoutError, ConnectionResetError)):
            self.abort(reset=True)
        else:
            # A stream cut: what was written arrives, then the body ends without its end.
            self.close()

    def _broken_stream(self, exc: Exception) -> None:
        # The head is out, so there is no 500 to send: log, keep the error, hang up.
        if self.service.on_error is not None:
            self.service.on_error(exc)
        _log.error("minidouble: a response stream failed", exc_info=exc)
        self.pending.clear()
        self.close()

    def _bad_request(self) -> None:
        _log.debug("minidouble: a client sent bytes that are not HTTP/1.1; answered 400")
        self.pending.clear()
        if not self.transport.is_closing():
            self._send(_BAD_REQUEST)
        self.close()

    def close(self) -> None:
        self.lost = True
        self.service.flush()
        self.transport.close()

    def abort(self, *, reset: bool = False) -> None:
        self.lost = True
        self.service.flush()
        transport = self.transport
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: closing sends RST instead of FIN, which is what "reset" means.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def shut_down(self) -> None:
        self.shutting_down = True
        if self.task is None and not self.pending:
            self.close()

    def close_if_idle_since(self, cutoff: float) -> None:
        idle = self.task is None and not self.pending and self.current is None
        if idle and self.idle_since < cutoff:
            self.close()


def _as_request(request: _Request) -> HttpRequest:
    return HttpRequest(request.method, request.url.decode("latin-1"), RawHeaders(()))


def _next_or_none(iterator: Iterator[bytes]) -> bytes | None:
    return next(iterator, None)


def _close(chunks: Iterable[bytes] | AsyncIterable[bytes] | None) -> None:
    # A generator's close() runs its cleanup (a cassette releasing its upstream response).
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def internal_error(exc: BaseException) -> HttpResponse:
    """The 500 a client gets when the fake itself fails: a bug in minidouble, said so."""
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
