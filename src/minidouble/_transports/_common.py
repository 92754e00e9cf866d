"""What the httpx and httpx2 adapters share: request building, fault mapping, streamed bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType

from minidouble._http import HttpRequest, HttpResponse

__all__ = ["FaultTypes", "HandlerStream", "build_request", "encode_headers", "translated_faults"]


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
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw_headers
    }
    if isinstance(method, bytes):
        method = method.decode("ascii")
    return HttpRequest(method=method, url=url, headers=headers, body=body)


def encode_headers(response: HttpResponse) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]


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
