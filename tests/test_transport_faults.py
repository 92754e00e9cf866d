"""Faults that kill the connection, as each client generation meets them.

In-process (httpx through respx, httpx2 through the httpcore2 patch) and on the loopback
socket, sync and async: a timeout raises the client's own timeout exception, a reset and a
cut stream raise its connection errors, exactly where a real outage would raise them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from minidouble._fake import FakeGPT4oMini

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Tell me a story."}]}
HEADERS = {"authorization": "Bearer sk-test", "content-type": "application/json"}
OPENAI_URL = "https://api.openai.com/v1/chat/completions"
LIBS = [pytest.param(httpx, id="httpx")]
if importlib.util.find_spec("httpx2") is not None:  # openai 3.x's client; absent beside 2.x
    import httpx2

    LIBS.append(pytest.param(httpx2, id="httpx2"))


@pytest.fixture
def fake() -> Iterator[FakeGPT4oMini]:
    fake = FakeGPT4oMini()
    yield fake
    fake.check()


def _send(lib: ModuleType, url: str, body: dict[str, Any], timeout: float = 5.0) -> list[bytes]:
    with (
        lib.Client(timeout=timeout) as client,
        client.stream("POST", url, headers=HEADERS, content=json.dumps(body).encode()) as response,
    ):
        return list(response.iter_raw())


async def _send_async(lib: ModuleType, url: str, body: dict[str, Any]) -> list[bytes]:
    async with (
        lib.AsyncClient(timeout=5.0) as client,
        client.stream("POST", url, headers=HEADERS, content=json.dumps(body).encode()) as response,
    ):
        return [chunk async for chunk in response.aiter_raw()]


# --- in-process -----------------------------------------------------------------------------


@pytest.mark.parametrize("lib", LIBS)
def test_timeout_raises_the_clients_own_timeout(lib: ModuleType, fake: FakeGPT4oMini) -> None:
    fake.fail("timeout")
    with fake, pytest.raises(lib.ReadTimeout):
        _send(lib, OPENAI_URL, BODY)
    assert fake.requests[0].fault == "timeout" and fake.requests[0].status == 0


@pytest.mark.parametrize("lib", LIBS)
def test_reset_raises_a_connection_error(lib: ModuleType, fake: FakeGPT4oMini) -> None:
    fake.fail("connection_reset")
    with fake, pytest.raises(lib.TransportError) as raised:
        _send(lib, OPENAI_URL, BODY)
    assert not isinstance(raised.value, lib.TimeoutException)
    assert fake.requests[0].fault == "connection_reset"


@pytest.mark.parametrize("lib", LIBS)
def test_cut_stream_raises_after_the_first_events(lib: ModuleType, fake: FakeGPT4oMini) -> None:
    fake.fail("stream_cut", after_chunks=2)
    received: list[bytes] = []
    with (
        fake,
        lib.Client() as client,
        client.stream(
            "POST", OPENAI_URL, headers=HEADERS, content=json.dumps({**BODY, "stream": True})
        ) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(lib.RemoteProtocolError, match="incomplete chunked read"):
            for chunk in response.iter_raw():
                received.append(chunk)
    assert b"".join(received).count(b"data: ") == 2
    assert fake.requests[0].fault == "stream_cut"


@pytest.mark.parametrize("lib", LIBS)
def test_cut_non_streamed_body(lib: ModuleType, fake: FakeGPT4oMini) -> None:
    fake.fail("stream_cut")
    with fake, pytest.raises(lib.RemoteProtocolError):
        _send(lib, OPENAI_URL, BODY)


@pytest.mark.parametrize("lib", LIBS)
def test_async_clients_meet_the_same_faults(lib: ModuleType, fake: FakeGPT4oMini) -> None:
    fake.fail("timeout")
    fake.fail("connection_reset")
    fake.fail("stream_cut")
    with fake:
        with pytest.raises(lib.ReadTimeout):
            asyncio.run(_send_async(lib, OPENAI_URL, BODY))
        with pytest.raises(lib.TransportError):
            asyncio.run(_send_async(lib, OPENAI_URL, BODY))
        with pytest.raises(lib.RemoteProtocolError):
            asyncio.run(_send_async(lib, OPENAI_URL, {**BODY, "stream": True}))
        assert b"[DONE]" in b"".join(
            asyncio.run(_send_async(lib, OPENAI_URL, BODY | {"stream": True}))
        )


# --- loopback -------------------------------------------------------------------------------


def test_loopback_timeout_stalls_until_the_client_gives_up(fake: FakeGPT4oMini) -> None:
    fake.fail("timeout", stall=30)
    with fake.serve() as server:
        url = server.base_url + "/chat/completions"
        with pytest.raises(httpx.ReadTimeout):
            _send(httpx, url, BODY, timeout=0.3)
        # The server is free again at once: the stall ended with the client's disconnect.
        assert b"chat.completion" in b"".join(_send(httpx, url, BODY))


def test_loopback_timeout_ends_with_a_reset_when_the_client_waits_longer(
    fake: FakeGPT4oMini,
) -> None:
    fake.fail("timeout", stall=0.2)
    with fake.serve() as server, pytest.raises(httpx.TransportError):
        _send(httpx, server.base_url + "/chat/completions", BODY, timeout=10)


def test_loopback_reset_is_a_tcp_reset(fake: FakeGPT4oMini) -> None:
    fake.fail("connection_reset")
    with fake.serve() as server:
        url = server.base_url + "/chat/completions"
        with pytest.raises(httpx.ReadError, match="reset"):
            _send(httpx, url, BODY)
        assert b"chat.completion" in b"".join(_send(httpx, url, BODY))


def test_loopback_cut_stream(fake: FakeGPT4oMini) -> None:
    fake.fail("stream_cut", after_chunks=3)
    received: list[bytes] = []
    with (
        fake.serve() as server,
        httpx.Client() as client,
        client.stream(
            "POST",
            server.base_url + "/chat/completions",
            headers=HEADERS,
            content=json.dumps({**BODY, "stream": True}),
        ) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for chunk in response.iter_raw():
                received.append(chunk)
    assert b"".join(received).count(b"data: ") == 3
