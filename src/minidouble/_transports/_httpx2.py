"""httpx2 clients (openai 3.x), intercepted at the transport, and at httpcore2's pools.

respx does not patch httpx2, so this does it here. ``HTTPTransport.handle_request`` (and its
async twin) answers OpenAI and Azure hosts straight from the handler, building the
``httpx2.Response`` itself: the same work a bare ``httpx2.MockTransport`` does, without the
round trip through httpcore2's request and response types (the benchmark's part (e)). A
client whose transport does not go through ``HTTPTransport.handle_request`` (its own
subclass overriding it, say) still sends through ``ConnectionPool.handle_request`` /
``AsyncConnectionPool.handle_async_request``, patched as before. Any other host goes to the
original methods, so unrelated traffic is untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore2
import httpx2

from minidouble._http import Handler, HttpRequest, RawHeaders
from minidouble._transports import is_openai_host
from minidouble._transports._common import (
    CoreModule,
    FaultTypes,
    HandlerStream,
    encode_headers,
    patched_pools,
    translated_faults,
)

__all__ = ["intercept_httpx2"]

_CORE = CoreModule(
    sync_pool=httpcore2.ConnectionPool,
    async_pool=httpcore2.AsyncConnectionPool,
    response=httpcore2.Response,
    faults=FaultTypes(timeout=httpcore2.ReadTimeout, disconnect=httpcore2.RemoteProtocolError),
)
# At the transport, the client's own exceptions: what HTTPTransport maps httpcore2's to.
_FAULTS = FaultTypes(timeout=httpx2.ReadTimeout, disconnect=httpx2.RemoteProtocolError)


class _Stream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A handler's streamed body as httpx2 reads one, sync or async."""

    def __init__(self, stream: HandlerStream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()

    def close(self) -> None:
        self._stream.close()

    async def aclose(self) -> None:
        await self._stream.aclose()


def _respond(handler: Handler, request: httpx2.Request, body: bytes) -> httpx2.Response:
    url = request.url
    http_request = HttpRequest(request.method, str(url), RawHeaders(request.headers.raw), body)
    with translated_faults(_FAULTS):
        response = handler(http_request)
    stream: httpx2.SyncByteStream | httpx2.AsyncByteStream
    if response.stream is None:
        stream = httpx2.ByteStream(response.body)
    else:
        stream = _Stream(HandlerStream(response.stream, _FAULTS))
    return httpx2.Response(response.status, headers=encode_headers(response), stream=stream)


SyncSend = Callable[[Any, httpx2.Request], httpx2.Response]
AsyncSend = Callable[[Any, httpx2.Request], Coroutine[Any, Any, httpx2.Response]]


def _sync_transport(handler: Handler, original: SyncSend) -> SyncSend:
    def handle_request(transport: Any, request: httpx2.Request) -> httpx2.Response:
        if not is_openai_host(request.url.host):
            return original(transport, request)
        return _respond(handler, request, request.read())

    return handle_request


def _async_transport(handler: Handler, original: AsyncSend) -> AsyncSend:
    async def handle_async_request(transport: Any, request: httpx2.Request) -> httpx2.Response:
        if not is_openai_host(request.url.host):
            return await original(transport, request)
        return _respond(handler, request, await request.aread())

    return handle_async_request


@contextmanager
def intercept_httpx2(handler: Handler) -> Iterator[None]:
    sync, async_ = httpx2.HTTPTransport, httpx2.AsyncHTTPTransport
    original_sync = sync.__dict__["handle_request"]
    original_async = async_.__dict__["handle_async_request"]
    with patched_pools(handler, _CORE):
        sync.handle_request = _sync_transport(handler, original_sync)  # type: ignore[method-assign,assignment]
        async_.handle_async_request = _async_transport(handler, original_async)  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            sync.handle_request = original_sync  # type: ignore[method-assign]
            async_.handle_async_request = original_async  # type: ignore[method-assign]
