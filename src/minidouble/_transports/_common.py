"""What the httpx and httpx2 adapters share: request building, fault mapping, streamed bodies,
and the patch of an httpcore generation's connection pools."""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from minidouble._http import Handler, HttpRequest, HttpResponse, RawHeaders
from minidouble._transports import is_openai_host

__all__ = [
    "FaultTypes",
    "HandlerStream",
    "build_request",
    "encode_headers",
    "patched_pools",
    "translated_faults",
]


@dataclass(frozen=True)
class FaultTypes:
    """The client library's own exceptions for a timed-out and a dropped connection.

    The handler signals transport faults with the built-in ``TimeoutError`` and
    ``ConnectionError``; raising the transport layer's exceptions instead lets the client's own
    mapping turn them into what a real outage raises (``httpx.ReadTimeout``,
    ``openai.APITimeoutError``...).
    """

    timeout: type[Exception]
    disconnect: type[Exception]


class translated_faults:  # lower case: used like contextlib's context managers
    """Raise the handler's ``TimeoutError``/``ConnectionError`` as the client library's own.

    A class rather than a generator-based context manager: it wraps every request, and
    entering a generator-based one costs several times more.
    """

    def __init__(self, faults: FaultTypes) -> None:
        self._faults = faults

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, TimeoutError):
            raise self._faults.timeout(str(exc) or "timed out") from exc
        if isinstance(exc, ConnectionError):
            raise self._faults.disconnect(str(exc) or "connection closed by the server") from exc


def build_request(
    method: bytes | str,
    scheme: bytes,
    host: bytes,
    port: int | None,
    target: bytes,
    raw_headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
) -> HttpRequest:
    """An :class:`HttpRequest` from the pieces both httpcore generations carry."""
    authority = host.decode("ascii") if port is None else f"{host.decode('ascii')}:{port}"
    url = f"{scheme.decode('ascii')}://{authority}{target.decode('ascii')}"
    if isinstance(method, bytes):
        method = method.decode("ascii")
    return HttpRequest(method=method, url=url, headers=RawHeaders(raw_headers), body=body)


def encode_headers(response: HttpResponse) -> list[tuple[bytes, bytes]]:
    """The response's headers as the client library holds them. A whole body gets its
    ``content-length`` unless it has one, as from any server (the loopback server, respx's
    responses): the httpx2 client then sees the same headers as from ``MockTransport``."""
    headers = [(key.encode("latin-1"), value.encode("latin-1")) for key, value in response.headers]
    if response.stream is None and not any(
        len(name) == 14 and name.lower() == b"content-length" for name, _ in headers
    ):
        headers.append((b"content-length", b"%d" % len(response.body)))
    return headers


class HandlerStream:
    """A streamed response body, sent chunk by chunk as the handler produces it.

    Iterable both ways so one object serves sync and async clients. A handler whose stream
    must wait (simulated latency) may give an object with ``__aiter__``; async clients then
    await it instead of blocking their event loop.
    """

    def __init__(self, chunks: Iterable[bytes], faults: FaultTypes) -> None:
        self._chunks = chunks
        self._faults = faults

    def __iter__(self) -> Iterator[bytes]:
        with translated_faults(self._faults):
            yield from self._chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with translated_faults(self._faults):
            if hasattr(self._chunks, "__aiter__"):
                async for chunk in self._chunks:
                    yield chunk
            else:
                for chunk in self._chunks:
                    yield chunk

    def close(self) -> None:
        # Closing a generator runs its cleanup (a cassette finishing a recording, say).
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    async def aclose(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()
        else:
            self.close()


# --- answering at an httpcore generation's connection pools ---------------------------------

SyncSend = Callable[[Any, Any], Any]
AsyncSend = Callable[[Any, Any], Coroutine[Any, Any, Any]]


@dataclass(frozen=True)
class CoreModule:
    """What the pool patch needs of one httpcore generation (httpcore or httpcore2)."""

    sync_pool: type
    async_pool: type
    response: Callable[..., Any]
    faults: FaultTypes


def _answer(handler: Handler, core: CoreModule, request: Any, body: bytes) -> Any:
    url = request.url
    http_request = build_request(
        request.method, url.scheme, url.host, url.port, url.target, request.headers, body
    )
    with translated_faults(core.faults):
        response = handler(http_request)
    content: bytes | HandlerStream = (
        response.body if response.stream is None else HandlerStream(response.stream, core.faults)
    )
    return core.response(response.status, headers=encode_headers(response), content=content)


def _sync_chunks(stream: Iterable[bytes] | AsyncIterable[bytes]) -> Iterable[bytes]:
    if not isinstance(stream, Iterable):
        raise TypeError(
            "minidouble: an httpx request with an async body was sent through a sync client; "
            "expected bytes or a sync iterable. Use an AsyncClient for async bodies."
        )
    return stream


def _sync_send(
    handler: Handler, core: CoreModule, original: SyncSend, answers: Callable[[], bool]
) -> SyncSend:
    def handle_request(pool: Any, request: Any) -> Any:
        if not (is_openai_host(request.url.host.decode("ascii")) and answers()):
            return original(pool, request)
        stream = request.stream
        body = stream if isinstance(stream, bytes) else b"".join(_sync_chunks(stream))
        return _answer(handler, core, request, body)

    return handle_request


def _async_send(
    handler: Handler, core: CoreModule, original: AsyncSend, answers: Callable[[], bool]
) -> AsyncSend:
    async def handle_async_request(pool: Any, request: Any) -> Any:
        if not (is_openai_host(request.url.host.decode("ascii")) and answers()):
            return await original(pool, request)
        stream = request.stream
        if isinstance(stream, AsyncIterable):
            body = b"".join([chunk async for chunk in stream])
        else:
            body = b"".join(_sync_chunks(stream))
        return _answer(handler, core, request, body)

    return handle_async_request


def _always() -> bool:
    return True


@contextmanager
def patched_pools(
    handler: Handler, core: CoreModule, *, answers: Callable[[], bool] = _always
) -> Iterator[None]:
    """Answer OpenAI-bound requests at ``core``'s connection pools while ``answers()`` holds.

    Every transport of the matching httpx generation (sync or async, direct or through a
    proxy, a client's own transport subclass) sends through ``ConnectionPool.handle_request``
    / ``AsyncConnectionPool.handle_async_request``. Any other request, or any request while
    ``answers()`` is false, goes to whatever was there before: the library, or a mock
    patched in earlier.
    """
    sync_pool, async_pool = core.sync_pool, core.async_pool
    # What the class itself holds (a mock's patch, say), not an inherited method.
    original_sync = sync_pool.__dict__["handle_request"]
    original_async = async_pool.__dict__["handle_async_request"]
    sync_pool.handle_request = _sync_send(handler, core, original_sync, answers)  # type: ignore[attr-defined]
    async_pool.handle_async_request = _async_send(handler, core, original_async, answers)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        sync_pool.handle_request = original_sync  # type: ignore[attr-defined]
        async_pool.handle_async_request = original_async  # type: ignore[attr-defined]
