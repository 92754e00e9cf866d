"""In-process interception for httpx and httpx2 clients, sync and async, against a toy handler.

The toy handler records what it received and answers with canned bodies, so these tests pin
the adapters alone: what reaches the handler, what the client gets back, streaming order,
fault mapping, pass-through of other hosts and the undoing of every patch.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpcore
import httpx
import pytest
import respx

from minidouble import FakeGPT4oMini
from minidouble._http import HttpRequest, HttpResponse, RawHeaders
from minidouble._transports import intercept, is_openai_host
from minidouble._transports._server import LoopbackServer

CHAT_URL = "https://api.openai.com/v1/chat/completions"
AZURE_URL = (
    "https://myres.openai.azure.com/openai/deployments/mini/chat/completions"
    "?api-version=2024-12-01-preview"
)
# openai 2.x environments have no httpx2; the httpx2 cases then have nothing to test.
HAS_HTTPX2 = importlib.util.find_spec("httpx2") is not None
CLIENTS = [pytest.param(httpx, id="httpx")]
if HAS_HTTPX2:
    import httpx2

    CLIENTS.append(pytest.param(httpx2, id="httpx2"))


class Recorder:
    """A handler that keeps the requests and answers with a JSON echo, or a script."""

    def __init__(self) -> None:
        self.requests: list[HttpRequest] = []
        self.events: list[str] = []
        self.answer: Any = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        if callable(self.answer):
            return self.answer(request)  # type: ignore[no-any-return]
        body = json.dumps({"path": request.path, "host": request.host}).encode()
        return HttpResponse(200, [("content-type", "application/json"), ("x-fake", "1")], body)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    with intercept(handler):
        yield handler


@pytest.mark.parametrize("lib", CLIENTS)
def test_sync_client_reaches_the_handler_with_the_whole_request(
    recorder: Recorder, lib: ModuleType
) -> None:
    with lib.Client() as client:
        response = client.post(
            CHAT_URL,
            json={"model": "gpt-4o-mini"},
            headers={"Authorization": "Bearer sk-test", "X-Custom": "Yes"},
        )
    assert response.status_code == 200
    assert response.json() == {"path": "/v1/chat/completions", "host": "api.openai.com"}
    assert response.headers["x-fake"] == "1"
    (seen,) = recorder.requests
    assert seen.method == "POST"
    assert seen.url == CHAT_URL
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert seen.headers["x-custom"] == "Yes"  # names lower-cased, values kept
    assert json.loads(seen.body) == {"model": "gpt-4o-mini"}


@pytest.mark.parametrize("lib", CLIENTS)
def test_async_client_reaches_the_handler(recorder: Recorder, lib: ModuleType) -> None:
    async def call() -> Any:
        async with lib.AsyncClient() as client:
            return await client.post(CHAT_URL, content=b'{"a": 1}')

    response = asyncio.run(call())
    assert response.status_code == 200
    assert recorder.requests[0].body == b'{"a": 1}'


@pytest.mark.parametrize("lib", CLIENTS)
def test_azure_hosts_keep_their_path_and_query(recorder: Recorder, lib: ModuleType) -> None:
    lib.post(AZURE_URL, headers={"api-key": "k"}, content=b"{}")
    lib.get("https://other.cognitiveservices.azure.com/openai/models")
    first, second = recorder.requests
    assert first.host == "myres.openai.azure.com"
    assert first.query == {"api-version": "2024-12-01-preview"}
    assert first.headers["api-key"] == "k"
    assert second.host == "other.cognitiveservices.azure.com"


def test_hosts_that_are_intercepted() -> None:
    assert is_openai_host("api.openai.com")
    assert is_openai_host("API.OpenAI.com")
    assert is_openai_host("x.openai.azure.com")
    assert is_openai_host("x.cognitiveservices.azure.com")
    assert not is_openai_host("openai.com")
    assert not is_openai_host("api.openai.com.evil.example")
    assert not is_openai_host("openai.azure.com.example")
    assert not is_openai_host("127.0.0.1")


@pytest.fixture
def bystander() -> Iterator[LoopbackServer]:
    """A real server on another host the interception must leave alone."""

    def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, [("content-type", "text/plain")], b"bystander " + request.body)

    with LoopbackServer(answer) as server:
        yield server


@pytest.mark.parametrize("lib", CLIENTS)
def test_other_hosts_pass_through_untouched(
    recorder: Recorder, bystander: LoopbackServer, lib: ModuleType
) -> None:
    assert lib.post(bystander.url + "/x", content=b"hi").text == "bystander hi"

    async def call() -> str:
        async with lib.AsyncClient() as client:
            return (await client.post(bystander.url + "/y", content=b"yo")).text  # type: ignore[no-any-return]

    assert asyncio.run(call()) == "bystander yo"
    assert recorder.requests == []


def test_a_users_own_respx_routes_keep_working_beside_the_fake(recorder: Recorder) -> None:
    with respx.mock(assert_all_called=True) as users_mock:
        users_mock.get("https://example.com/data").respond(json={"mine": True})
        assert httpx.get("https://example.com/data").json() == {"mine": True}
        assert httpx.post(CHAT_URL, content=b"{}").json()["host"] == "api.openai.com"
    assert len(recorder.requests) == 1


def test_the_fake_started_inside_a_users_respx_mock_answers_openai_and_defers_the_rest() -> None:
    handler = Recorder()
    with respx.mock() as users_mock:
        users_mock.get("https://example.com/data").respond(text="users")
        with intercept(handler):
            assert httpx.get("https://example.com/data").text == "users"
            assert httpx.post(CHAT_URL, content=b"{}").status_code == 200
    assert len(handler.requests) == 1


def test_a_users_respx_route_for_openai_started_first_keeps_its_precedence() -> None:
    # respx asks its routers in the order they started; the fake's direct path must not
    # jump that queue while another router is active.
    handler = Recorder()
    with respx.mock() as users_mock:
        users_mock.post(CHAT_URL).respond(json={"users": True})
        with intercept(handler):
            assert httpx.post(CHAT_URL, content=b"{}").json() == {"users": True}
    assert handler.requests == []


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_the_fake_answers_before_during_and_after_a_users_respx_mock(
    recorder: Recorder, sync: bool
) -> None:
    def post() -> Any:
        if sync:
            return httpx.post(CHAT_URL, content=b"{}").json()

        async def call() -> Any:
            async with httpx.AsyncClient() as client:
                return (await client.post(CHAT_URL, content=b"{}")).json()

        return asyncio.run(call())

    assert post()["host"] == "api.openai.com"
    with respx.mock() as users_mock:
        users_mock.get("https://example.com/data").respond(text="users")
        assert post()["host"] == "api.openai.com"
        assert httpx.get("https://example.com/data").text == "users"
    assert post()["host"] == "api.openai.com"
    assert len(recorder.requests) == 3


def _sse(recorder: Recorder, count: int) -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        def chunks() -> Iterator[bytes]:
            for index in range(count):
                recorder.events.append(f"made {index}")
                yield f"data: {index}\n\n".encode()
            recorder.events.append("closed")

        return HttpResponse(200, [("content-type", "text/event-stream")], stream=chunks())

    recorder.answer = answer


@pytest.mark.parametrize("lib", CLIENTS)
def test_streams_are_delivered_chunk_by_chunk_not_buffered(
    recorder: Recorder, lib: ModuleType
) -> None:
    _sse(recorder, 3)
    with lib.Client() as client, client.stream("POST", CHAT_URL, content=b"{}") as response:
        for chunk in response.iter_raw():
            recorder.events.append(f"read {chunk.decode().strip()}")
    assert recorder.events == [
        "made 0",
        "read data: 0",
        "made 1",
        "read data: 1",
        "made 2",
        "read data: 2",
        "closed",
    ]


@pytest.mark.parametrize("lib", CLIENTS)
def test_async_streams_are_delivered_chunk_by_chunk(recorder: Recorder, lib: ModuleType) -> None:
    _sse(recorder, 2)

    async def read() -> None:
        async with (
            lib.AsyncClient() as client,
            client.stream("POST", CHAT_URL, content=b"{}") as response,
        ):
            async for chunk in response.aiter_raw():
                recorder.events.append(f"read {chunk.decode().strip()}")

    asyncio.run(read())
    assert recorder.events == ["made 0", "read data: 0", "made 1", "read data: 1", "closed"]


@pytest.mark.parametrize("lib", CLIENTS)
def test_a_handler_timeout_is_the_clients_read_timeout(recorder: Recorder, lib: ModuleType) -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        raise TimeoutError("simulated")

    recorder.answer = answer
    with pytest.raises(lib.ReadTimeout):
        lib.post(CHAT_URL, content=b"{}")


@pytest.mark.parametrize("lib", CLIENTS)
def test_a_stream_cut_midway_is_the_clients_protocol_error(
    recorder: Recorder, lib: ModuleType
) -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        def chunks() -> Iterator[bytes]:
            yield b"data: {}\n\n"
            raise ConnectionResetError("cut")

        return HttpResponse(200, [("content-type", "text/event-stream")], stream=chunks())

    recorder.answer = answer
    received: list[bytes] = []
    with (
        pytest.raises(lib.RemoteProtocolError),
        lib.Client() as client,
        client.stream("POST", CHAT_URL, content=b"{}") as response,
    ):
        for chunk in response.iter_raw():
            received.append(chunk)
    assert received == [b"data: {}\n\n"]


def _patched_methods() -> list[Any]:
    methods = [
        httpcore.ConnectionPool.handle_request,
        httpcore.AsyncConnectionPool.handle_async_request,
    ]
    if HAS_HTTPX2:
        import httpcore2

        methods += [
            httpcore2.ConnectionPool.handle_request,
            httpcore2.AsyncConnectionPool.handle_async_request,
        ]
    return methods


def test_every_patch_is_undone_even_when_the_block_raises() -> None:
    before = _patched_methods()
    with pytest.raises(KeyError), intercept(Recorder()):
        assert _patched_methods() != before
        raise KeyError("boom")
    assert _patched_methods() == before


def test_raw_headers_read_alike_before_and_after_they_are_decoded() -> None:
    pairs = [(b"Authorization", b"Bearer sk-1"), (b"X-Note", b"caf\xe9"), (b"x-note", b"last")]
    lazy, decoded = RawHeaders(pairs), RawHeaders(pairs)
    dict(decoded)  # decodes every pair
    for headers in (lazy, decoded):
        assert headers.get("authorization") == "Bearer sk-1"
        assert headers.get("x-note") == "last"  # repeated names: the last wins, as in a dict
        assert headers.get("missing") is None
        assert headers.get("missing", "default") == "default"
    assert lazy == {"authorization": "Bearer sk-1", "x-note": "last"}
    assert len(lazy) == 2
    with pytest.raises(KeyError):
        lazy["missing"]


def test_the_request_log_keeps_the_headers_the_client_sent() -> None:
    hello = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    with FakeGPT4oMini() as fake:
        httpx.post(CHAT_URL, json=hello, headers={"Authorization": "Bearer sk-1", "X-Trace": "t"})
    (logged,) = fake.requests
    assert logged.status == 200
    assert logged.headers["x-trace"] == "t"
    assert logged.headers["authorization"] == "Bearer sk-1"


def test_the_log_holds_bodies_and_headers_compact_until_they_are_read() -> None:
    # A long run keeps every request: held compact, they give the garbage collector nothing
    # to walk (see _KeptCompact). Reading expands them once.
    hello = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    with FakeGPT4oMini() as fake:
        httpx.post(CHAT_URL, json=hello, headers={"Authorization": "Bearer sk-1"})
    (logged,) = fake.requests
    held = vars(logged)
    assert type(held["_body"]) is bytes
    assert type(held["_completion"]) is bytes
    assert type(held["_headers"]) is tuple
    assert isinstance(logged.response.headers, tuple)
    assert logged.completion_tokens == json.loads(held["_completion"])["usage"]["completion_tokens"]
    assert logged.body == hello
    assert logged.completion["object"] == "chat.completion"
    assert logged.headers["authorization"] == "Bearer sk-1"
    assert logged.body is logged.body  # expanded once


_FIRST_IMPORT = """
import sys
from minidouble import FakeGPT4oMini

body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
headers = {"authorization": "Bearer sk-test"}
url = "https://api.openai.com/v1/chat/completions"
fake = FakeGPT4oMini()
with fake:
    assert not {"httpx", "respx", "httpx2"} & set(sys.modules)
    import httpx  # the code under test imports it inside the block
    import respx

    assert httpx.post(url, json=body, headers=headers).status_code == 200
    with respx.mock() as own:  # a test's own routes work beside the fake
        own.get("https://example.com/data").respond(text="users")
        assert httpx.get("https://example.com/data").text == "users"
        assert httpx.post(url, json=body, headers=headers).status_code == 200
    try:
        import httpx2
    except ImportError:
        pass
    else:
        assert httpx2.post(url, json=body, headers=headers).status_code == 200
assert len(fake.requests) == 2 + ("httpx2" in sys.modules)
import httpcore  # nothing left behind:
assert httpcore.ConnectionPool.handle_request.__module__ == "httpcore._sync.connection_pool"
if "httpx2" in sys.modules:
    import httpcore2

    assert httpx2.HTTPTransport.handle_request.__module__ == "httpx2._transports.default"
    assert httpcore2.ConnectionPool.handle_request.__module__ == "httpcore2._sync.connection_pool"
"""


def test_a_fake_imports_no_httpx_generation_but_patches_each_at_its_first_import() -> None:
    # A fresh interpreter: in this one httpx is imported already.
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_IMPORT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
