"""aiohttp and requests/urllib3 in-process: the same handler, answers, errors and log as httpx.

Each library runs its own HTTP code against an in-memory connection, so these tests read
answers the way applications do (``resp.json()``, ``iter_lines``, ``iter_content``,
``async for line in resp.content``) and expect each library's own exceptions for faults.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _stream_support import sse_recorder

from minidouble import FakeGPT4oMini
from minidouble._http import HttpRequest, HttpResponse, RawHeaders
from minidouble._transports import intercept
from minidouble._transports._server import LoopbackServer

aiohttp = pytest.importorskip("aiohttp")
requests = pytest.importorskip("requests")
urllib3 = pytest.importorskip("urllib3")

CHAT_URL = "https://api.openai.com/v1/chat/completions"
AZURE_URL = (
    "https://myres.openai.azure.com/openai/deployments/mini/chat/completions"
    "?api-version=2024-12-01-preview"
)
KEY = "sk-test-0123456789abcdefghijklmnop"
HEADERS = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
HI = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}]}
TOO_LONG = {**HI, "max_tokens": 10**6}


def direct(url: str, body: dict[str, Any], headers: dict[str, str] = HEADERS) -> HttpResponse:
    """What the handler itself answers, without any transport in between."""
    pairs = RawHeaders([(k.encode(), v.encode()) for k, v in headers.items()])
    request = HttpRequest("POST", url, pairs, json.dumps(body).encode())
    return FakeGPT4oMini().handle(request)


def sse_payloads(lines: list[bytes]) -> list[Any]:
    datas = [line[len(b"data: ") :] for line in lines if line.startswith(b"data: ")]
    assert datas[-1] == b"[DONE]"
    return [json.loads(data) for data in datas[:-1]]


def streamed_text(events: list[Any]) -> str:
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])


# --- requests (sync) -----------------------------------------------------------------------


def test_requests_plain_answer_is_the_handlers() -> None:
    with FakeGPT4oMini() as fake:
        fake.reply("Hello there")
        response = requests.post(CHAT_URL, json=HI, headers=HEADERS, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    completion = response.json()
    assert completion["choices"][0]["message"]["content"] == "Hello there"
    assert completion["usage"]["prompt_tokens"] == fake.requests[0].prompt_tokens == 9
    (logged,) = fake.requests
    assert (logged.method, logged.path, logged.status) == ("POST", "/v1/chat/completions", 200)


def test_requests_stream_line_by_line() -> None:
    with FakeGPT4oMini() as fake:
        fake.reply("One two three four")
        body = {**HI, "stream": True, "stream_options": {"include_usage": True}}
        with requests.post(CHAT_URL, json=body, headers=HEADERS, stream=True) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["transfer-encoding"] == "chunked"
            lines = [line for line in response.iter_lines() if line]
    events = sse_payloads(lines)
    assert streamed_text(events) == "One two three four"
    assert events[-1]["usage"]["completion_tokens"] == fake.requests[0].completion_tokens


def test_requests_api_error_is_the_real_400_body() -> None:
    with FakeGPT4oMini() as fake:
        response = requests.post(CHAT_URL, json=TOO_LONG, headers=HEADERS)
    expected = direct(CHAT_URL, TOO_LONG)
    assert response.status_code == expected.status == 400
    assert response.content == expected.body
    assert response.json()["error"]["param"] == "max_tokens"
    assert fake.requests[0].status == 400


def test_requests_reaches_azure_hosts_with_their_path_and_query() -> None:
    with FakeGPT4oMini() as fake:
        fake.reply("Hello from Azure")
        response = requests.post(AZURE_URL, json=HI, headers={"api-key": "azure-key"})
    assert response.status_code == 200
    assert response.headers["x-ms-deployment-name"] == "mini"
    assert response.json()["choices"][0]["message"]["content"] == "Hello from Azure"
    assert fake.requests[0].path == "/openai/deployments/mini/chat/completions"


def test_urllib3_directly_is_answered_too() -> None:
    with FakeGPT4oMini() as fake, urllib3.PoolManager() as pool:
        fake.reply("Plain urllib3")
        response = pool.request("POST", CHAT_URL, body=json.dumps(HI), headers=HEADERS)
    assert response.status == 200
    assert json.loads(response.data)["choices"][0]["message"]["content"] == "Plain urllib3"


# --- aiohttp (async) -------------------------------------------------------------------------


async def _aiohttp_post(url: str, body: dict[str, Any], headers: dict[str, str] = HEADERS) -> Any:
    async with aiohttp.ClientSession() as session, session.post(
        url, json=body, headers=headers) as response:  # fmt: skip
        return response.status, dict(response.headers), await response.read()


def test_aiohttp_plain_answer_is_the_handlers() -> None:
    with FakeGPT4oMini() as fake:
        fake.reply("Hello there")
        status, headers, body = asyncio.run(_aiohttp_post(CHAT_URL, HI))
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["choices"][0]["message"]["content"] == "Hello there"
    assert fake.requests[0].prompt_tokens == 9


def test_aiohttp_stream_line_by_line_and_chunk_by_chunk() -> None:
    async def read(by_line: bool) -> list[bytes]:
        body = {**HI, "stream": True}
        async with aiohttp.ClientSession() as session, session.post(
            CHAT_URL, json=body, headers=HEADERS) as response:  # fmt: skip
            assert response.headers["Content-Type"].startswith("text/event-stream")
            if by_line:
                return [line.strip() async for line in response.content if line.strip()]
            chunks = [chunk async for chunk, _ in response.content.iter_chunks() if chunk]
            # One HTTP chunk per event, as the real API sends them.
            assert all(chunk.endswith(b"\n\n") for chunk in chunks)
            return [line for chunk in chunks for line in chunk.split(b"\n") if line]

    with FakeGPT4oMini() as fake:
        fake.reply("Line by line")
        fake.reply("Chunk by chunk")
        by_line = asyncio.run(read(True))
        by_chunk = asyncio.run(read(False))
    assert streamed_text(sse_payloads(by_line)) == "Line by line"
    assert streamed_text(sse_payloads(by_chunk)) == "Chunk by chunk"


def test_aiohttp_api_error_is_the_real_400_body() -> None:
    with FakeGPT4oMini():
        status, _, body = asyncio.run(_aiohttp_post(CHAT_URL, TOO_LONG))
    expected = direct(CHAT_URL, TOO_LONG)
    assert (status, body) == (expected.status, expected.body)


def test_aiohttp_reaches_azure_hosts() -> None:
    with FakeGPT4oMini() as fake:
        fake.reply("Hello from Azure")
        status, headers, body = asyncio.run(_aiohttp_post(AZURE_URL, HI, {"api-key": "k"}))
    assert status == 200
    assert headers["x-ms-deployment-name"] == "mini"
    assert json.loads(body)["choices"][0]["message"]["content"] == "Hello from Azure"
    assert fake.requests[0].path == "/openai/deployments/mini/chat/completions"


# --- streaming order: each event reaches the reader before the next is made ------------------


def test_requests_streams_are_delivered_chunk_by_chunk_not_buffered() -> None:
    events: list[str] = []
    with (
        intercept(sse_recorder(events, 3)),
        requests.post(CHAT_URL, data=b"{}", stream=True) as response,
    ):
        for chunk in response.iter_content(chunk_size=None):
            events.append(f"read {chunk.decode().strip()}")
    assert events == [
        "made 0", "read data: 0", "made 1", "read data: 1", "made 2", "read data: 2", "closed",
    ]  # fmt: skip


def test_aiohttp_streams_are_delivered_chunk_by_chunk_not_buffered() -> None:
    events: list[str] = []

    async def read() -> None:
        async with aiohttp.ClientSession() as session, session.post(
            CHAT_URL, data=b"{}") as response:  # fmt: skip
            async for chunk in response.content.iter_any():
                events.append(f"read {chunk.decode().strip()}")

    with intercept(sse_recorder(events, 2)):
        asyncio.run(read())
    assert events == ["made 0", "read data: 0", "made 1", "read data: 1", "closed"]


# --- faults: each library's own exception, where a real outage raises it ---------------------


def test_requests_faults_are_requests_own_exceptions() -> None:
    with FakeGPT4oMini() as fake:
        fake.fail("timeout")
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(CHAT_URL, json=HI, headers=HEADERS, timeout=5)
        fake.fail("connection_reset")
        with pytest.raises(requests.exceptions.ConnectionError) as reset:
            requests.post(CHAT_URL, json=HI, headers=HEADERS)
        assert "Connection aborted" in str(reset.value)
        assert not isinstance(reset.value, requests.exceptions.Timeout)
        fake.fail("stream_cut", after_chunks=2)
        lines: list[bytes] = []
        with (
            pytest.raises(requests.exceptions.ChunkedEncodingError),
            requests.post(CHAT_URL, json={**HI, "stream": True}, headers=HEADERS, stream=True) as r,
        ):
            lines.extend(line for line in r.iter_lines() if line)
        # The retry after a cut goes out on a fresh connection and succeeds.
        assert requests.post(CHAT_URL, json=HI, headers=HEADERS).status_code == 200
    assert len(lines) == 2
    assert [r.fault for r in fake.requests] == ["timeout", "connection_reset", "stream_cut", None]


def test_aiohttp_faults_are_aiohttps_own_exceptions() -> None:
    async def stream() -> list[bytes]:
        lines: list[bytes] = []
        async with aiohttp.ClientSession() as session, session.post(
            CHAT_URL, json={**HI, "stream": True}, headers=HEADERS) as response:  # fmt: skip
            try:
                async for line in response.content:
                    if line.strip():
                        lines.append(line)
            finally:
                assert len(lines) == 2
        return lines

    with FakeGPT4oMini() as fake:
        fake.fail("timeout")
        with pytest.raises(asyncio.TimeoutError) as timed_out:
            asyncio.run(_aiohttp_post(CHAT_URL, HI))
        assert isinstance(timed_out.value, aiohttp.ServerTimeoutError)
        fake.fail("connection_reset")
        with pytest.raises(aiohttp.ClientOSError) as reset:
            asyncio.run(_aiohttp_post(CHAT_URL, HI))
        assert reset.value.errno == 104
        fake.fail("stream_cut", after_chunks=2)
        with pytest.raises(aiohttp.ClientPayloadError):
            asyncio.run(stream())
    assert [r.fault for r in fake.requests] == ["timeout", "connection_reset", "stream_cut"]


def test_a_handler_bug_reaches_the_caller_as_itself() -> None:
    def broken(request: HttpRequest) -> HttpResponse:
        raise KeyError("the handler's own bug")

    with intercept(broken):
        with pytest.raises(KeyError):
            requests.post(CHAT_URL, data=b"{}")
        with pytest.raises(KeyError):
            asyncio.run(_aiohttp_post(CHAT_URL, {}))


# --- keep-alive and the end of interception ---------------------------------------------------


def test_a_session_reuses_its_connection_and_drops_it_when_the_fake_stops() -> None:
    session = requests.Session()
    with FakeGPT4oMini() as fake:
        for _ in range(3):
            assert session.post(CHAT_URL, json=HI, headers=HEADERS).status_code == 200
        manager = session.get_adapter(CHAT_URL).poolmanager
        # urllib3's pool container refuses plain iteration; keys() is its way.
        (pool,) = [manager.pools[key] for key in manager.pools.keys()]  # noqa: SIM118
        assert pool.host == "api.openai.com"
        assert pool.num_connections == 1 and pool.num_requests == 3
    (conn,) = list(pool.pool.queue)[-1:]
    # Closed with the fake: the next use connects for real (here: refused, nothing listens).
    assert conn.sock is None
    assert len(fake.requests) == 3


def test_aiohttp_pooled_connections_close_with_the_fake() -> None:
    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            with FakeGPT4oMini():
                for _ in range(2):
                    async with session.post(CHAT_URL, json=HI, headers=HEADERS) as response:
                        await response.read()
                (protocols,) = session.connector._conns.values()
                assert len(protocols) == 1
            assert not protocols[0][0].is_connected()

    asyncio.run(run())


def test_every_patch_is_undone_even_when_the_block_raises() -> None:
    def patched() -> list[Any]:
        return [
            urllib3.connection.HTTPConnection.__dict__["connect"],
            urllib3.connection.HTTPSConnection.__dict__["connect"],
            urllib3.connection.HTTPConnection.__dict__["is_connected"],
            aiohttp.TCPConnector.__dict__["_create_connection"],
        ]

    before = patched()
    with pytest.raises(KeyError), intercept(lambda request: HttpResponse(200)):
        assert all(now is not then for now, then in zip(patched(), before, strict=True))
        raise KeyError("boom")
    assert patched() == before


# --- other hosts, and a test's own mocks ------------------------------------------------------


def test_other_hosts_pass_through_untouched() -> None:
    seen: list[str] = []

    def elsewhere(request: HttpRequest) -> HttpResponse:
        seen.append(request.host)
        return HttpResponse(200, [("content-type", "text/plain")], b"the real other host")

    with LoopbackServer(elsewhere) as server, FakeGPT4oMini() as fake:
        assert requests.get(server.url + "/x").text == "the real other host"
        status, _, body = asyncio.run(_aiohttp_post(server.url + "/x", {}))
        assert (status, body) == (200, b"the real other host")
    assert seen == ["127.0.0.1", "127.0.0.1"] and fake.requests == []


def test_a_tests_own_responses_mock_keeps_precedence() -> None:
    responses = pytest.importorskip("responses")
    with FakeGPT4oMini() as fake, responses.RequestsMock() as mock:
        mock.post(CHAT_URL, json={"mine": True})
        mock.get("https://api.example.com/data", json={"data": 1})
        assert requests.post(CHAT_URL, json=HI).json() == {"mine": True}
        assert requests.get("https://api.example.com/data").json() == {"data": 1}
        # An OpenAI request the mock does not match is the fake's, as beside respx...
        assert requests.post(AZURE_URL, json=HI, headers={"api-key": "k"}).status_code == 200
        # ...and any other unmatched request is refused, as responses always does.
        with pytest.raises(requests.exceptions.ConnectionError, match="Responses"):
            requests.get("https://api.example.com/other")
    assert [r.path for r in fake.requests] == ["/openai/deployments/mini/chat/completions"]
    assert responses.RequestsMock._find_match.__module__ == "responses"  # undone


def test_without_a_fake_responses_refuses_unmatched_openai_requests_as_ever() -> None:
    responses = pytest.importorskip("responses")
    with (
        responses.RequestsMock(),
        pytest.raises(requests.exceptions.ConnectionError, match="Responses"),
    ):
        requests.post(CHAT_URL, json=HI)


def test_a_tests_own_aioresponses_mock_keeps_precedence() -> None:
    aioresponses = pytest.importorskip("aioresponses")
    if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        pytest.skip("aioresponses 0.7.9 cannot build a response on aiohttp >= 3.14")

    async def run() -> tuple[Any, int]:
        with aioresponses.aioresponses(passthrough=["https://myres.openai.azure.com"]) as mock:
            mock.post(CHAT_URL, payload={"mine": True})
            async with aiohttp.ClientSession() as session:
                async with session.post(CHAT_URL, json=HI) as mine:
                    mine_body = await mine.json()
                async with session.post(AZURE_URL, json=HI, headers={"api-key": "k"}) as azure:
                    return mine_body, azure.status

    with FakeGPT4oMini() as fake:
        assert asyncio.run(run()) == ({"mine": True}, 200)
    assert [r.path for r in fake.requests] == ["/openai/deployments/mini/chat/completions"]


def test_a_mock_above_aiohttps_connector_keeps_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    # What aioresponses does (and any mock at ClientSession._request): it answers before a
    # connection is ever asked for, and lets the rest through to the connector and the fake.
    original = aiohttp.ClientSession._request
    answered: list[str] = []

    async def users_mock(session: Any, method: str, url: Any, **kwargs: Any) -> Any:
        if str(url) == CHAT_URL:
            answered.append(str(url))
            raise aiohttp.ClientConnectionError("the test's own mock refuses this one")
        return await original(session, method, url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", users_mock)
    with FakeGPT4oMini() as fake:
        with pytest.raises(aiohttp.ClientConnectionError, match="own mock"):
            asyncio.run(_aiohttp_post(CHAT_URL, HI))
        status, _, _ = asyncio.run(_aiohttp_post(AZURE_URL, HI, {"api-key": "k"}))
    assert status == 200 and answered == [CHAT_URL]
    assert [r.path for r in fake.requests] == ["/openai/deployments/mini/chat/completions"]


# --- cassettes record and replay through both libraries ---------------------------------------


def test_cassettes_record_and_replay_through_requests_and_aiohttp(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "clients.json"

    def session() -> list[Any]:
        plain = requests.post(CHAT_URL, json=HI, headers=HEADERS).json()
        body = {**HI, "messages": [{"role": "user", "content": "Stream it"}], "stream": True}
        with requests.post(CHAT_URL, json=body, headers=HEADERS, stream=True) as response:
            lines = [line for line in response.iter_lines() if line]
        other = {**HI, "messages": [{"role": "user", "content": "Async, please"}]}
        _, _, answer = asyncio.run(_aiohttp_post(CHAT_URL, other))
        return [plain, lines, json.loads(answer)]

    with FakeGPT4oMini().serve() as live:  # stands in for api.openai.com
        with FakeGPT4oMini(cassette=path, record_mode="once", upstream=live.base_url) as rec:
            recorded = session()
        assert len(live.requests) == 3
    assert [r.cassette for r in rec.requests] == ["recorded"] * 3
    with FakeGPT4oMini(cassette=path) as replay:
        replayed = session()
    assert replayed == recorded
    assert [r.cassette for r in replay.requests] == ["replayed"] * 3


_FIRST_IMPORT = """
import asyncio, sys
from minidouble import FakeGPT4oMini

body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
headers = {"authorization": "Bearer sk-test"}
url = "https://api.openai.com/v1/chat/completions"
fake = FakeGPT4oMini()
with fake:
    assert "aiohttp" not in sys.modules and "urllib3" not in sys.modules
    import aiohttp, requests  # the code under test imports them inside the block

    assert requests.post(url, json=body, headers=headers).status_code == 200

    async def ask():
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=body, headers=headers) as response:
                return response.status

    assert asyncio.run(ask()) == 200
assert len(fake.requests) == 2
assert "connect" not in vars(aiohttp.TCPConnector)  # nothing left behind
import urllib3.connection
assert urllib3.connection.HTTPConnection.connect.__module__ == "urllib3.connection"
assert aiohttp.TCPConnector._create_connection.__module__ == "aiohttp.connector"
"""


def test_a_fake_imports_neither_library_but_patches_each_at_its_first_import() -> None:
    # A fresh interpreter: in this one both libraries are imported already.
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_IMPORT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_the_openai_sdk_on_its_aiohttp_backend() -> None:
    openai = pytest.importorskip("openai")
    if not hasattr(openai, "DefaultAioHttpClient"):
        pytest.skip("this openai has no aiohttp backend")
    try:
        openai.DefaultAioHttpClient()
    except RuntimeError:
        pytest.skip("the openai SDK's aiohttp backend needs its `aiohttp` extra here")

    async def session(fake: FakeGPT4oMini) -> tuple[Any, str, Any]:
        async with openai.AsyncOpenAI(
            api_key=KEY, http_client=openai.DefaultAioHttpClient(), max_retries=0
        ) as client:
            plain = await client.chat.completions.create(**HI)
            stream = await client.chat.completions.create(**HI, stream=True)
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            fake.fail("timeout")
            with pytest.raises(openai.APITimeoutError):
                await client.chat.completions.create(**HI)
            return plain.choices[0].message.content, text, plain.usage.prompt_tokens

    with FakeGPT4oMini() as fake:
        fake.reply("Plain")
        fake.reply("Streamed")
        assert asyncio.run(session(fake)) == ("Plain", "Streamed", 9)
    assert [r.fault for r in fake.requests] == [None, None, "timeout"]
