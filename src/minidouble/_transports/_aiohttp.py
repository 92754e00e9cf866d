"""aiohttp clients (LiteLLM's async path, and so DSPy), intercepted at the connector.

``TCPConnector._create_connection`` for an OpenAI or Azure host hands aiohttp's own protocol
a :class:`HandlerTransport` instead of a TCP (and TLS) connection; every other host connects
as usual. aiohttp's request writer, response parser and payload streams run unchanged: so
``resp.content`` yields lines and chunks as the events come, a stream cut is aiohttp's
``ClientPayloadError``, a reset its ``ClientOSError``, a timeout its ``SocketTimeoutError``
(an ``asyncio.TimeoutError``), and connection pooling behaves as against the real API.

``aioresponses`` patches ``ClientSession._request``, far above the connector: a test's own
mock answers first, and a request reaches the fake only when that mock lets it through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

# From the submodules: this may run while the aiohttp package itself is still importing
# (patched at its first import), when the package has none of its names yet.
from aiohttp import client_exceptions
from aiohttp.connector import TCPConnector

from minidouble._http import Handler, HttpRequest
from minidouble._transports import is_openai_host
from minidouble._transports._exchange import Exchange, arespond

__all__ = ["HandlerTransport", "intercept_aiohttp"]

# aiohttp >= 3.10 names the read timeout; before, it was the generic server timeout.
_READ_TIMEOUT: type[Exception] = getattr(
    client_exceptions, "SocketTimeoutError", client_exceptions.ServerTimeoutError
)


class _Line:
    """One interception: its handler, and whether it still answers (pooled connections ask)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.open = True


class HandlerTransport(asyncio.Transport):
    """The transport an intercepted connection holds: what aiohttp writes goes to the
    handler; the answer is fed to aiohttp's protocol as HTTP/1.1, event by event."""

    def __init__(
        self,
        line: _Line,
        protocol: Any,
        loop: asyncio.AbstractEventLoop,
        scheme: str,
        host: str,
        port: int | None,
    ) -> None:
        super().__init__()
        self._line = line
        self._protocol = protocol
        self._loop = loop
        self._peer = (host, port or (443 if scheme == "https" else 80))
        self._exchange = Exchange(scheme, host, port)
        self._closing = False
        self._reading = asyncio.Event()
        self._reading.set()
        self._answering: asyncio.Task[None] | None = None

    # --- asyncio.Transport ---------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        request = self._exchange.feed(bytes(data))
        if request is not None:
            self._answering = self._loop.create_task(self._answer(request))

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def is_closing(self) -> bool:
        return self._closing or not self._line.open

    def close(self) -> None:
        self._lose(None)

    def abort(self) -> None:
        self._lose(None)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self._peer}.get(name, default)

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def is_reading(self) -> bool:
        return self._reading.is_set()

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def can_write_eof(self) -> bool:
        return False

    # --- the answer ------------------------------------------------------------------------

    def _lose(self, exc: BaseException | None) -> None:
        if self._closing:
            return
        self._closing = True
        task = self._answering
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        if not self._loop.is_closed():
            self._loop.call_soon(self._protocol.connection_lost, exc)

    async def _answer(self, request: HttpRequest) -> None:
        protocol = self._protocol
        try:
            response = self._line.handler(request)
        except TimeoutError:
            # What aiohttp's own read timeout does: fail the read, then drop the connection.
            protocol.set_exception(_READ_TIMEOUT("Timeout on reading data from socket"))
            self._lose(None)
            return
        except ConnectionError as exc:
            self._lose(exc)  # a reset: the peer is gone before it answered
            return
        except Exception as exc:
            protocol.set_exception(exc)  # the handler's own error reaches the caller as is
            return
        pieces: AsyncGenerator[bytes, None] = arespond(response)
        try:
            async for piece in pieces:
                await self._reading.wait()
                if self._closing:
                    break
                protocol.data_received(piece)
                # One event at a time: the reader sees each as it comes, not the whole stream.
                await asyncio.sleep(0)
        except ConnectionError:
            self._lose(None)  # a cut: the server closes the connection mid-body
        finally:
            await pieces.aclose()


AsyncCreate = Callable[..., Coroutine[Any, Any, Any]]


def _create_connection(original: AsyncCreate, line: _Line) -> AsyncCreate:
    async def create(connector: Any, req: Any, traces: Any, timeout: Any) -> Any:
        if not (line.open and is_openai_host(req.host)):
            return await original(connector, req, traces, timeout)
        protocol = connector._factory()
        scheme = "https" if req.is_ssl() else "http"
        transport = HandlerTransport(line, protocol, connector._loop, scheme, req.host, req.port)
        protocol.connection_made(transport)
        return protocol

    return create


@contextmanager
def intercept_aiohttp(handler: Handler) -> Iterator[None]:
    connector = TCPConnector
    # What the class itself holds (a patch made before, say), not an inherited method.
    original = connector.__dict__["_create_connection"]
    line = _Line(handler)
    connector._create_connection = _create_connection(original, line)  # type: ignore[method-assign]
    try:
        yield
    finally:
        connector._create_connection = original  # type: ignore[method-assign]
        # Pooled connections to the fake report closing; the pool drops them.
        line.open = False
