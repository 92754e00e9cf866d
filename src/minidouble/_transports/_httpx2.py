"""httpx2 clients (openai 3.x), intercepted at httpcore2's connection pools.

respx does not patch httpx2, so this does for httpcore2 what respx does for httpcore: every
httpx2 transport (sync or async, direct or through a proxy) sends through
``ConnectionPool.handle_request`` / ``AsyncConnectionPool.handle_async_request``. The patched
methods answer OpenAI and Azure hosts from the handler and call the original for any other
host, so unrelated traffic is untouched. Patching the pool rather than ``httpx2.HTTPTransport``
also covers clients that bring their own transport subclass.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore2

from minidouble._http import Handler, HttpResponse
from minidouble._transports import is_openai_host
from minidouble._transports._common import (
    FaultTypes,
    HandlerStream,
    build_request,
    encode_headers,
    translated_faults,
)

__all__ = ["intercept_httpx2"]

_FAULTS = FaultTypes(timeout=httpcore2.ReadTimeout, disconnect=httpcore2.RemoteProtocolError)

SyncSend = Callable[[Any, httpcore2.Request], httpcore2.Response]
AsyncSend = Callable[[Any, httpcore2.Request], Coroutine[Any, Any, httpcore2.Response]]


def _to_core_response(response: HttpResponse) -> httpcore2.Response:
    content: bytes | HandlerStream = (
        response.body if response.stream is None else HandlerStream(response.stream, _FAULTS)
    )
    return httpcore2.Response(response.status, headers=encode_headers(response), content=content)


def _answer(handler: Handler, request: httpcore2.Request, body: bytes) -> httpcore2.Response:
    url = request.url
    http_request = build_request(
        request.method, url.scheme, url.host, url.port, url.target, request.headers, body
    )
    with translated_faults(_FAULTS):
        response = handler(http_request)
    return _to_core_response(response)


def _sync_send(handler: Handler, original: SyncSend) -> SyncSend:
    def handle_request(pool: Any, request: httpcore2.Request) -> httpcore2.Response:
        if not is_openai_host(request.url.host.decode("ascii")):
            return original(pool, request)
        stream = request.stream
        body = stream if isinstance(stream, bytes) else b"".join(_sync_chunks(stream))
        return _answer(handler, request, body)

    return handle_request


def _async_send(handler: Handler, original: AsyncSend) -> AsyncSend:
    async def handle_async_request(pool: Any, request: httpcore2.Request) -> httpcore2.Response:
        if not is_openai_host(request.url.host.decode("ascii")):
            return await original(pool, request)
        stream = request.stream
        if isinstance(stream, AsyncIterable):
            body = b"".join([chunk async for chunk in stream])
        else:
            body = b"".join(_sync_chunks(stream))
        return _answer(handler, request, body)

    return handle_async_request


def _sync_chunks(stream: Iterable[bytes] | AsyncIterable[bytes]) -> Iterable[bytes]:
    if not isinstance(stream, Iterable):
        raise TypeError(
            "minidouble: an httpx2 request with an async body was sent through a sync client; "
            "expected bytes or a sync iterable. Use httpx2.AsyncClient for async bodies."
        )
    return stream


@contextmanager
def intercept_httpx2(handler: Handler) -> Iterator[None]:
    sync_pool, async_pool = httpcore2.ConnectionPool, httpcore2.AsyncConnectionPool
    original_sync = sync_pool.__dict__["handle_request"]
    original_async = async_pool.__dict__["handle_async_request"]
    sync_pool.handle_request = _sync_send(handler, original_sync)  # type: ignore[method-assign,assignment]
    async_pool.handle_async_request = _async_send(  # type: ignore[method-assign,assignment]
        handler, original_async
    )
    try:
        yield
    finally:
        sync_pool.handle_request = original_sync  # type: ignore[method-assign]
        async_pool.handle_async_request = original_async  # type: ignore[method-assign]
