"""The behaviour suite's transport modes: the same cases through every real path to the app.

``httpx`` and ``httpx2`` send each request with a real client of that generation while
in-process interception is on, and so do ``aiohttp`` and ``requests`` (urllib3); ``loopback``
sends it over a real socket to the loopback server. Streams are read chunk by chunk, so the
responses the tests see keep their chunking.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import importlib.util
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from minidouble._http import HttpRequest, HttpResponse
from minidouble._service._app import GPT4oMiniApp
from minidouble._transports import intercept, is_openai_host
from minidouble._transports._server import LoopbackServer

Send = Callable[[HttpRequest], HttpResponse]
_TIMEOUT = 30.0


def _through(client: Any, request: HttpRequest, url: str, *, wire: bool = False) -> HttpResponse:
    headers = dict(request.headers)
    if wire:
        # HTTP strips whitespace around header values (RFC 9110 §5.5), and h11 refuses to
        # send it: "Bearer " reaches any server as "Bearer".
        headers = {name: value.strip() for name, value in headers.items()}
    with client.stream(request.method, url, headers=headers, content=request.body) as response:
        # Raw bytes: the app's own content-encoding (if any) must reach the test unchanged.
        chunks = [chunk for chunk in response.iter_raw() if chunk]
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
    streamed = response.headers.get("content-type", "").startswith("text/event-stream")
    if streamed:
        return HttpResponse(response.status_code, pairs, stream=chunks)
    return HttpResponse(response.status_code, pairs, b"".join(chunks))


def _in_process(lib: ModuleType) -> Callable[[GPT4oMiniApp], Iterator[Send]]:
    def factory(app: GPT4oMiniApp) -> Iterator[Send]:
        with lib.Client(timeout=_TIMEOUT) as client, intercept(app.handle):
            yield lambda request: _through(client, request, _intercepted(request))

    return factory


def _wire_headers(request: HttpRequest) -> dict[str, str]:
    # HTTP strips whitespace around header values (RFC 9110 §5.5): "Bearer " arrives as
    # "Bearer" through any client that writes real HTTP/1.1, as these two do.
    return {name: value.strip() for name, value in request.headers.items()}


def _response(status: int, pairs: list[tuple[str, str]], chunks: list[bytes]) -> HttpResponse:
    content_type = next((v for k, v in pairs if k.lower() == "content-type"), "")
    if content_type.startswith("text/event-stream"):
        return HttpResponse(status, pairs, stream=chunks)
    return HttpResponse(status, pairs, b"".join(chunks))


def _requests(app: GPT4oMiniApp) -> Iterator[Send]:
    requests = importlib.import_module("requests")

    def send(request: HttpRequest) -> HttpResponse:
        with session.request(
            request.method,
            _intercepted(request),
            headers=_wire_headers(request),
            data=request.body or None,
            stream=True,
            timeout=_TIMEOUT,
        ) as response:
            raw = response.raw
            # Undecoded, one HTTP chunk at a time: what the app sent, as it was framed.
            chunks = [chunk for chunk in raw.stream(None, decode_content=False) if chunk]
            pairs = list(raw.headers.iteritems())
        return _response(response.status_code, pairs, chunks)

    with requests.Session() as session, intercept(app.handle):
        yield send


def _aiohttp(app: GPT4oMiniApp) -> Iterator[Send]:
    aiohttp = importlib.import_module("aiohttp")

    async def exchange(request: HttpRequest) -> HttpResponse:
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method,
                _intercepted(request),
                headers=_wire_headers(request),
                data=request.body or None,
                # The case's own headers only: no content-type aiohttp would guess.
                skip_auto_headers=("Content-Type",),
            ) as response,
        ):
            chunks = [chunk async for chunk, _ in response.content.iter_chunks() if chunk]
            pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
            return _response(response.status, pairs, chunks)

    with intercept(app.handle):
        yield lambda request: asyncio.run(exchange(request))


def _intercepted(request: HttpRequest) -> str:
    if not is_openai_host(request.host):
        pytest.skip(f"in-process interception answers OpenAI and Azure hosts, not {request.host}")
    return request.url


class _SharedServer:
    """One loopback server for the whole run; each test plugs its app in."""

    def __init__(self) -> None:
        self.app: GPT4oMiniApp | None = None
        self._server: LoopbackServer | None = None
        self._client: httpx.Client | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        assert self.app is not None, "no behaviour test is using the loopback server now"
        return self.app.handle(request)

    def started(self) -> tuple[LoopbackServer, httpx.Client]:
        if self._server is None or self._client is None:
            self._server = LoopbackServer(self)
            self._client = httpx.Client(timeout=_TIMEOUT)
            atexit.register(self._server.close)
        return self._server, self._client


_shared = _SharedServer()


def _loopback(app: GPT4oMiniApp) -> Iterator[Send]:
    server, client = _shared.started()
    _shared.app = app

    def send(request: HttpRequest) -> HttpResponse:
        parts = urlsplit(request.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return _through(client, request, server.url + target, wire=True)

    try:
        yield send
    finally:
        _shared.app = None


TRANSPORT_SENDERS: dict[str, Callable[[GPT4oMiniApp], Iterator[Send]]] = {
    "httpx": _in_process(httpx),
    "loopback": _loopback,
}
for _name, _factory in (("requests", _requests), ("aiohttp", _aiohttp)):
    if importlib.util.find_spec(_name) is not None:
        TRANSPORT_SENDERS[_name] = _factory
# openai 2.x environments have no httpx2.
if importlib.util.find_spec("httpx2") is not None:
    TRANSPORT_SENDERS["httpx2"] = _in_process(importlib.import_module("httpx2"))
