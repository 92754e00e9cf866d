"""One HTTP/1.1 connection's server side, in memory.

aiohttp and urllib3 (so requests) are intercepted at the connection, below their HTTP code:
the client's own request writer, response parser, chunked reads, keep-alive, retries and
error mapping all run as against a real server. The bytes the client writes are parsed here
into an :class:`HttpRequest` for the one handler, and the :class:`HttpResponse` is written back
as HTTP/1.1: a body with its length, a stream as one chunk per event. A fault is what a real
peer does to the connection, so each library raises exactly what an outage makes it raise.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Iterable
from http import HTTPStatus
from urllib.parse import urlsplit

import h11

from minidouble._http import HttpRequest, HttpResponse
from minidouble._transports._common import build_request

__all__ = ["Exchange", "arespond", "reason_phrase", "respond", "wire_headers"]

# Headers that describe the framing on this wire, not the answer: written afresh here.
_FRAMING = frozenset({"transfer-encoding", "connection", "keep-alive"})


class Exchange:
    """Parses the request bytes one connection carries; a request at a time (no pipelining)."""

    def __init__(self, scheme: str, host: str, port: int | None) -> None:
        self._scheme = scheme.encode("ascii")
        self._host = host.encode("idna")
        default = 443 if scheme == "https" else 80
        self._port = None if port in (None, default) else port
        self._start()

    def _start(self) -> None:
        self._parser = h11.Connection(h11.SERVER)
        self._head: h11.Request | None = None
        self._body: list[bytes] = []

    def feed(self, data: bytes) -> HttpRequest | None:
        """Take what the client wrote; the request once its last byte has come."""
        self._parser.receive_data(data)
        while True:
            event = self._parser.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return None
            if isinstance(event, h11.Request):
                self._head = event
            elif isinstance(event, h11.Data):
                self._body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return self._finish()

    def _finish(self) -> HttpRequest:
        head = self._head
        assert head is not None  # h11 gives the head before the end of a message
        target = head.target
        if not target.startswith(b"/"):
            # Absolute form, as sent to a forwarding proxy: keep the path and query.
            parts = urlsplit(target.decode("ascii"))
            target = ((parts.path or "/") + (f"?{parts.query}" if parts.query else "")).encode()
        request = build_request(
            head.method,
            self._scheme,
            self._host,
            self._port,
            target,
            head.headers.raw_items(),
            b"".join(self._body),
        )
        self._start()
        return request


def reason_phrase(status: int) -> str:
    """The status line's reason for ``status`` ("" for a code HTTP does not name)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def wire_headers(response: HttpResponse, *, streamed: bool) -> list[tuple[str, str]]:
    """The answer's headers as this wire carries them: its own framing headers dropped, a
    stream sent chunked, a whole body with its length."""
    headers = []
    for name, value in response.headers:
        lowered = name.lower()
        if lowered in _FRAMING or (streamed and lowered == "content-length"):
            continue
        headers.append((name, value))
    if streamed:
        headers.append(("transfer-encoding", "chunked"))
    elif response.header("content-length") is None:
        headers.append(("content-length", str(len(response.body))))
    return headers


def _head(response: HttpResponse, *, streamed: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {reason_phrase(response.status)}".encode("ascii")]
    lines += [f"{n}: {v}".encode("latin-1") for n, v in wire_headers(response, streamed=streamed)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_LAST_CHUNK = b"0\r\n\r\n"


def respond(response: HttpResponse) -> Generator[bytes, None, None]:
    """The response as the bytes a server writes, one piece per event of a stream.

    A ``ConnectionError`` from the handler's stream (a cut) propagates: the caller closes the
    connection there, leaving the body unfinished as a real cut does.
    """
    stream = response.stream
    if stream is None:
        yield _head(response, streamed=False) + response.body
        return
    try:
        yield _head(response, streamed=True)
        for piece in stream:
            if piece:
                yield _chunk(piece)
        yield _LAST_CHUNK
    finally:
        _close(stream)


async def arespond(response: HttpResponse) -> AsyncGenerator[bytes, None]:
    """:func:`respond` for an event loop: a stream that can wait is awaited, not blocked on."""
    stream = response.stream
    if stream is None or not hasattr(stream, "__aiter__"):
        for piece in respond(response):
            yield piece
        return
    try:
        yield _head(response, streamed=True)
        async for piece in stream:
            if piece:
                yield _chunk(piece)
        yield _LAST_CHUNK
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
        else:
            _close(stream)


def _close(stream: Iterable[bytes]) -> None:
    # Closing a generator runs its cleanup (a cassette finishing a recording, say).
    close = getattr(stream, "close", None)
    if close is not None:
        close()
