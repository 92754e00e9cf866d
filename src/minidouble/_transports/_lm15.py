"""lm15 clients (DSPy's default engine since 3.4, vendored as ``dspy._vendor.lm15``),
intercepted at the transport.

lm15 speaks HTTP/1.1 over its own sockets, below no library minidouble patches elsewhere.
Every provider sends through its transport's ``stream(request)``: ``StdlibTransport``
(sync), ``StdlibAsyncTransport`` and ``FetchTransport`` (async; the latter is Pyodide's).
Their ``stream`` for an OpenAI or Azure host is answered by the handler; every other host,
and every transport a caller brings of their own, goes out as before. lm15's own
``testing.FakeTransport`` is a per-client double the caller must inject; DSPy builds its
transports itself, so the class is the one place every request passes.

The request is what lm15's transport would write: its own request writer serializes the head
(``Host``, ``User-Agent``, ``Content-Length``...; a header it refuses is refused here too),
and the fake reads those bytes. The answer is lm15's
own response type, one chunk per event, so ``iter_lines`` / ``aiter_lines`` and its SSE
parser read a stream as they read the real API's. A fault raises what lm15's transport
raises for the real thing: a timeout its ``ReadTimeout``, a reset its ``ReadError``, a cut
stream its ``ProtocolError``; DSPy's engine maps those as it maps an outage.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from minidouble._http import Handler, HttpRequest, HttpResponse
from minidouble._transports import is_openai_host
from minidouble._transports._common import build_request
from minidouble._transports._exchange import reason_phrase, wire_headers

__all__ = ["intercept_lm15"]

# The transport classes whose ``stream`` every lm15 provider calls, sync and async.
_SYNC = ("StdlibTransport",)
_ASYNC = ("StdlibAsyncTransport", "FetchTransport")


class _Lm15:
    """What the interception needs of one copy of lm15 (DSPy's, or a standalone one)."""

    def __init__(self, package: str) -> None:
        transports = importlib.import_module(package)
        self.transports = transports
        self.response: Callable[..., Any] = transports.TransportResponse
        self.async_response: Callable[..., Any] = transports.AsyncTransportResponse
        self.read_timeout: type[Exception] = transports.ReadTimeout
        self.read_error: type[Exception] = transports.ReadError
        self.protocol_error: type[Exception] = transports.ProtocolError
        self.transport_error: type[Exception] = transports.TransportError
        # lm15's own request writer, URL parser and timeout wording (private, but vendored:
        # they change only with the DSPy release that carries them, and the tests pin them).
        self.build_head: Callable[..., bytes] = _module(package, "_http11").build_request_head
        self.parse_url: Callable[[str], Any] = _module(package, "_url").parse_url
        self.timeout_hint: Callable[[float], str] = _module(package, "_limits").read_timeout_hint


def _module(package: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package}.{name}")


class _Faults:
    """The handler's ``TimeoutError``/``ConnectionError`` raised as lm15's transport raises
    the real thing, with its messages: a timeout or reset before the head, a timeout or a
    connection closed mid-chunk in the body."""

    def __init__(self, lm15: _Lm15, transport: Any, request: Any) -> None:
        self._lm15 = lm15
        # The timeout lm15 would have waited for, as it words it.
        seconds = request.read_timeout or getattr(transport, "_read_timeout", None)
        self._hint = lm15.timeout_hint(seconds) if seconds else "no bytes from the server"

    def answer(self, handler: Handler, request: HttpRequest) -> HttpResponse:
        try:
            return handler(request)
        except TimeoutError as exc:
            message = f"read timed out waiting for headers: {self._hint}"
            raise self._lm15.read_timeout(message) from exc
        except ConnectionError as exc:
            raise self._lm15.read_error(f"read failed: {exc}") from exc

    def body(self, exc: OSError) -> Exception:
        if isinstance(exc, TimeoutError):
            return self._lm15.read_timeout(f"read timed out mid-body: {self._hint}")
        return self._lm15.protocol_error("connection closed mid-chunk")


def _request(lm15: _Lm15, transport: Any, request: Any) -> HttpRequest | None:
    """The request as lm15 would write it, if it is bound for OpenAI; else ``None``."""
    parsed = lm15.parse_url(request.url)
    if not is_openai_host(parsed.host):
        return None
    if getattr(transport, "_closed", False):
        raise lm15.transport_error("transport is closed")
    body = request.body or b""
    # As lm15's writer decides: a body-less GET/HEAD/DELETE has no Content-Length.
    has_body = request.method.upper() not in ("GET", "HEAD", "DELETE") or bool(body)
    head = lm15.build_head(
        method=request.method,
        target=parsed.target,
        host=parsed.host,
        port=parsed.port,
        is_tls=parsed.is_tls,
        headers=request.headers,
        body_length=len(body) if has_body else None,
        user_agent=getattr(transport, "_user_agent", "lm15/stdlib"),
    )
    # lm15 has just written and checked this head (no CR, LF or NUL inside a field), so
    # splitting it is a faithful read at a fraction of a full HTTP parser's cost.
    request_line, *lines = head.split(b"\r\n")
    method, _, rest = request_line.partition(b" ")
    target = rest.rpartition(b" ")[0]  # before " HTTP/1.1"
    pairs = []
    for line in lines:
        if line:
            name, _, value = line.partition(b":")
            pairs.append((name, value.strip()))
    default = 443 if parsed.is_tls else 80
    port = None if parsed.port == default else parsed.port
    scheme = parsed.scheme.encode("ascii")
    return build_request(method, scheme, parsed.host.encode("idna"), port, target, pairs, body)


def _sync_chunks(stream: Iterable[bytes], faults: _Faults) -> Iterator[bytes]:
    try:
        yield from stream
    except (TimeoutError, ConnectionError) as exc:
        raise faults.body(exc) from exc


async def _async_chunks(
    stream: Iterable[bytes] | AsyncIterable[bytes], faults: _Faults
) -> AsyncIterator[bytes]:
    # A stream that must wait (simulated latency) is awaited, not blocked on.
    try:
        if isinstance(stream, AsyncIterable):
            async for piece in stream:
                yield piece
        else:
            for piece in stream:
                yield piece
    except (TimeoutError, ConnectionError) as exc:
        raise faults.body(exc) from exc


def _close(stream: object) -> None:
    # Closing a generator runs its cleanup (a cassette finishing a recording, say).
    close = getattr(stream, "close", None)
    if close is not None:
        close()


async def _aclose(stream: object) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
    else:
        _close(stream)


SyncStream = Callable[[Any, Any], Any]


def _sync_stream(lm15: _Lm15, handler: Handler, original: SyncStream) -> SyncStream:
    def stream(transport: Any, request: Any) -> Any:
        http_request = _request(lm15, transport, request)
        if http_request is None:
            return original(transport, request)
        faults = _Faults(lm15, transport, request)
        response = faults.answer(handler, http_request)
        body = response.stream

        def release(body_consumed: bool) -> None:
            _close(body)

        return lm15.response(
            status=response.status,
            reason=reason_phrase(response.status),
            headers=wire_headers(response, streamed=response.stream is not None),
            http_version="HTTP/1.1",
            chunks=iter([response.body]) if body is None else _sync_chunks(body, faults),
            release=release,
        )

    return stream


class _AsyncStream:
    """What lm15's async ``stream`` returns: awaited, or entered as a context manager."""

    def __init__(self, open_: Callable[[], Any]) -> None:
        self._open = open_
        self._response: Any = None

    def __await__(self) -> Any:
        return self._open().__await__()

    async def __aenter__(self) -> Any:
        self._response = await self._open()
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            await self._response.aclose()


async def _async_answer(
    lm15: _Lm15, handler: Handler, faults: _Faults, request: HttpRequest
) -> Any:
    response = faults.answer(handler, request)
    body = response.stream

    async def plain() -> AsyncIterator[bytes]:
        yield response.body

    async def release(body_consumed: bool) -> None:
        if body is not None:
            await _aclose(body)

    return lm15.async_response(
        status=response.status,
        reason=reason_phrase(response.status),
        headers=wire_headers(response, streamed=response.stream is not None),
        http_version="HTTP/1.1",
        chunks=plain() if body is None else _async_chunks(body, faults),
        release=release,
    )


def _async_stream(lm15: _Lm15, handler: Handler, original: SyncStream) -> SyncStream:
    def stream(transport: Any, request: Any) -> Any:
        http_request = _request(lm15, transport, request)
        if http_request is None:
            return original(transport, request)
        faults = _Faults(lm15, transport, request)
        return _AsyncStream(lambda: _async_answer(lm15, handler, faults, http_request))

    return stream


@contextmanager
def intercept_lm15(handler: Handler, package: str) -> Iterator[None]:
    """Answer OpenAI-bound requests of the lm15 transports in ``package`` (imported already:
    ``dspy._vendor.lm15.transports`` for DSPy's copy)."""
    try:
        lm15 = _Lm15(package)
    except (ImportError, AttributeError) as exc:
        # This runs inside the user's own `import dspy`: a DSPy whose lm15 differs must not
        # break that import. Unpatched, its requests still meet the network guard.
        warnings.warn(
            f"minidouble: {package} is not the lm15 minidouble knows ({exc}), so its requests "
            "are not answered in-process and meet the network guard instead. Expected the lm15 "
            "of DSPy 3.4; use dspy.LM(..., engine='litellm'), or point api_base at "
            "`fake.serve()`.",
            RuntimeWarning,
            stacklevel=2,
        )
        yield
        return
    transports = lm15.transports
    originals: dict[tuple[Any, str], Any] = {}
    for name in (*_SYNC, *_ASYNC):
        cls = getattr(transports, name, None)
        if cls is not None:
            # What the class itself holds (a patch made before, say), not an inherited one.
            originals[cls, name] = cls.__dict__["stream"]
    try:
        for (cls, name), original in originals.items():
            wrap = _sync_stream if name in _SYNC else _async_stream
            cls.stream = wrap(lm15, handler, original)
        yield
    finally:
        for (cls, _), original in originals.items():
            cls.stream = original
