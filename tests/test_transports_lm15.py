"""lm15 (DSPy's default engine since 3.4) answered in-process, at its transports' ``stream``.

DSPy vendors lm15 as ``dspy._vendor.lm15``; lm15 speaks HTTP/1.1 over its own sockets, which
the network guard refused while a fake was active. The tests drive lm15's transports directly
(sync, async, plain, streamed, faults, hosts) and DSPy on its default engine.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _stream_support import sse_recorder

from minidouble import FakeGPT4oMini, count_prompt_tokens
from minidouble._http import HttpRequest, HttpResponse
from minidouble._transports import intercept
from minidouble._transports._lm15 import intercept_lm15

# DSPy refreshes its model price list from GitHub on first use unless told to use its own copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
dspy = pytest.importorskip("dspy")
lm15 = pytest.importorskip("dspy._vendor.lm15.transports")

CHAT_URL = "https://api.openai.com/v1/chat/completions"
AZURE_URL = "https://myres.openai.azure.com/openai/v1/chat/completions"
KEY = "sk-test-0123456789abcdefghijklmnop"
HEADERS = [("authorization", f"Bearer {KEY}"), ("content-type", "application/json")]
HI = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}]}
ANSWER = "[[ ## answer ## ]]\n{}\n\n[[ ## completed ## ]]"


def post(url: str, body: dict[str, Any], headers: list[tuple[str, str]] = HEADERS) -> Any:
    return lm15.TransportRequest("POST", url, headers, json.dumps(body).encode())


def sse_payloads(lines: list[bytes]) -> list[Any]:
    datas = [line.strip()[len(b"data: ") :] for line in lines if line.startswith(b"data: ")]
    assert datas[-1] == b"[DONE]"
    return [json.loads(data) for data in datas[:-1]]


def streamed_text(events: list[Any]) -> str:
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])


# --- lm15's transports ------------------------------------------------------------------------


def test_sync_transport_plain_answer_is_the_handlers() -> None:
    with FakeGPT4oMini() as fake, lm15.StdlibTransport() as transport:
        fake.reply("Hello from lm15")
        with transport.stream(post(CHAT_URL, HI)) as response:
            answer = json.loads(response.read())
            status, length = response.status, response.header("content-length")
    assert status == 200 and answer["choices"][0]["message"]["content"] == "Hello from lm15"
    assert length is not None and int(length) > 0
    logged = fake.requests[0]
    assert logged.prompt_tokens == answer["usage"]["prompt_tokens"] == 9
    # What lm15's own request writer puts on the wire, as the real API would read it.
    assert logged.headers["host"] == "api.openai.com"
    assert logged.headers["user-agent"] == "lm15/stdlib"
    assert logged.headers["content-length"] == str(len(json.dumps(HI)))


def test_a_body_less_get_with_a_query_is_read_as_lm15_writes_it() -> None:
    url = "https://api.openai.com/v1/models/gpt-4o-mini?trace=a%20b"
    with (
        FakeGPT4oMini() as fake,
        lm15.StdlibTransport() as transport,
        transport.stream(lm15.TransportRequest("GET", url, HEADERS[:1])) as response,
    ):
        model = json.loads(response.read())
    assert response.status == 200 and model["id"] == "gpt-4o-mini"
    logged = fake.requests[0]
    assert (logged.method, logged.path) == ("GET", "/v1/models/gpt-4o-mini")
    assert "content-length" not in logged.headers  # lm15 sends none on a body-less GET


def test_sync_transport_streams_line_by_line_and_chunk_by_chunk() -> None:
    with FakeGPT4oMini() as fake, lm15.StdlibTransport() as transport:
        fake.reply("One two three four five")
        body = {**HI, "stream": True, "stream_options": {"include_usage": True}}
        with transport.stream(post(CHAT_URL, body)) as response:
            chunked = response.header("transfer-encoding")
            lines = list(response.iter_lines())
    events = sse_payloads(lines)
    assert chunked == "chunked" and streamed_text(events) == "One two three four five"
    assert events[-1]["usage"]["prompt_tokens"] == fake.requests[0].prompt_tokens == 9
    assert len([e for e in events if e["choices"]]) > 2  # one chunk per event, not one blob


def test_async_transport_plain_and_streamed() -> None:
    async def session() -> tuple[Any, list[bytes]]:
        async with lm15.StdlibAsyncTransport() as transport:
            async with transport.stream(post(CHAT_URL, HI)) as response:
                plain = json.loads(await response.read())
            # Awaited instead of entered: lm15's other way to open a response.
            response = await transport.stream(post(CHAT_URL, {**HI, "stream": True}))
            lines = [line async for line in response.aiter_lines()]
            await response.aclose()
        return plain, lines

    with FakeGPT4oMini() as fake:
        fake.reply("Plain, async")
        fake.reply("Streamed, async")
        plain, lines = asyncio.run(session())
    assert plain["choices"][0]["message"]["content"] == "Plain, async"
    assert streamed_text(sse_payloads(lines)) == "Streamed, async"
    assert [r.status for r in fake.requests] == [200, 200]


def test_sync_streams_are_delivered_event_by_event_not_buffered() -> None:
    events: list[str] = []
    with (
        intercept(sse_recorder(events, 3)),
        lm15.StdlibTransport() as transport,
        transport.stream(post(CHAT_URL, HI)) as response,
    ):
        for line in response.iter_lines():
            if line.strip():
                events.append(f"read {line.decode().strip()}")
    assert events == [
        "made 0", "read data: 0", "made 1", "read data: 1", "made 2", "read data: 2", "closed",
    ]  # fmt: skip


class _AwaitedOnly:
    """A stream that must wait (as simulated latency's): an async reader awaits it."""

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("the async transport blocked its event loop on a sync read")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index in range(2):
            await asyncio.sleep(0)
            yield f"data: {index}\n\n".encode()


def test_async_streams_await_a_stream_that_waits() -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, [("content-type", "text/event-stream")], stream=_AwaitedOnly())

    async def read() -> list[bytes]:
        async with (
            lm15.StdlibAsyncTransport() as transport,
            transport.stream(post(CHAT_URL, HI)) as response,
        ):
            return [line async for line in response.aiter_lines() if line.strip()]

    with intercept(answer):
        assert asyncio.run(read()) == [b"data: 0\n", b"data: 1\n"]


def test_api_error_is_the_real_status_and_body() -> None:
    with (
        FakeGPT4oMini() as fake,
        lm15.StdlibTransport() as transport,
        transport.stream(post(CHAT_URL, {**HI, "max_tokens": 10**6})) as response,
    ):
        status, error = response.status, json.loads(response.read())["error"]
    assert status == 400 and response.reason == "Bad Request"
    assert error["param"] == "max_tokens" and "max_tokens is too large" in error["message"]
    assert fake.requests[0].status == 400


def test_azure_hosts_are_answered_with_their_path() -> None:
    with (
        FakeGPT4oMini() as fake,
        lm15.StdlibTransport() as transport,
        transport.stream(post(AZURE_URL, HI, [("api-key", "k")])) as response,
    ):
        status = response.status
    assert status == 200
    assert fake.requests[0].headers["host"] == "myres.openai.azure.com"
    assert fake.requests[0].path == "/openai/v1/chat/completions"


def test_faults_are_lm15s_own_transport_errors() -> None:
    with FakeGPT4oMini() as fake, lm15.StdlibTransport() as transport:
        fake.fail("timeout")
        # lm15's own wording, naming the request's own read timeout.
        with pytest.raises(lm15.ReadTimeout, match="waiting for headers: no bytes for 7s; this"):
            transport.stream(
                lm15.TransportRequest(
                    "POST", CHAT_URL, HEADERS, json.dumps(HI).encode(), read_timeout=7
                )
            )
        fake.fail("connection_reset")
        with pytest.raises(lm15.ReadError, match=r"read failed: .*reset"):
            transport.stream(post(CHAT_URL, HI))
        fake.fail("stream_cut", after_chunks=2)
        with (
            transport.stream(post(CHAT_URL, {**HI, "stream": True})) as response,
            pytest.raises(lm15.ProtocolError, match="connection closed mid-chunk"),
        ):
            list(response.iter_lines())
    assert [r.fault for r in fake.requests] == ["timeout", "connection_reset", "stream_cut"]


def test_async_faults_are_lm15s_own_transport_errors() -> None:
    async def ask(stream: bool) -> None:
        async with (
            lm15.StdlibAsyncTransport() as transport,
            transport.stream(post(CHAT_URL, {**HI, "stream": stream})) as response,
        ):
            await response.read()

    with FakeGPT4oMini() as fake:
        fake.fail("timeout")
        with pytest.raises(lm15.ReadTimeout):
            asyncio.run(ask(False))
        fake.fail("stream_cut", after_chunks=2)
        with pytest.raises(lm15.ProtocolError, match="connection closed mid-chunk"):
            asyncio.run(ask(True))
    assert [r.fault for r in fake.requests] == ["timeout", "stream_cut"]


def test_a_closed_transport_refuses_as_lm15_does() -> None:
    transport = lm15.StdlibTransport()
    transport.close()
    with FakeGPT4oMini() as fake, pytest.raises(lm15.TransportError, match="transport is closed"):
        transport.stream(post(CHAT_URL, HI))
    assert fake.requests == []


def test_a_header_lm15_refuses_is_refused_before_the_fake() -> None:
    with (
        FakeGPT4oMini() as fake,
        lm15.StdlibTransport() as transport,
        pytest.raises(lm15.ProtocolError, match="forbidden byte in HTTP header value"),
    ):
        transport.stream(post(CHAT_URL, HI, [("x-bad", "a\r\nInjected: 1")]))
    assert fake.requests == []


def test_other_hosts_go_out_through_lm15s_sockets_untouched() -> None:
    loopback = FakeGPT4oMini()
    with loopback.serve() as server, FakeGPT4oMini() as fake:
        loopback.reply("Over a real socket")
        with lm15.StdlibTransport() as transport:
            url = server.base_url + "/chat/completions"
            with transport.stream(post(url, HI)) as response:
                answer = json.loads(response.read())
                stats = transport.pool_stats()
    assert answer["choices"][0]["message"]["content"] == "Over a real socket"
    assert fake.requests == [] and len(loopback.requests) == 1
    assert stats  # lm15's own pool held the connection: its socket code ran


def test_every_patch_is_undone_even_when_the_block_raises() -> None:
    before = {
        cls: cls.__dict__["stream"] for cls in (lm15.StdlibTransport, lm15.StdlibAsyncTransport)
    }
    with pytest.raises(RuntimeError), FakeGPT4oMini():
        assert lm15.StdlibTransport.__dict__["stream"] is not before[lm15.StdlibTransport]
        raise RuntimeError("the test failed")
    assert {cls: cls.__dict__["stream"] for cls in before} == before


def test_an_lm15_minidouble_does_not_know_is_left_to_the_guard_with_a_warning() -> None:
    def unused(request: HttpRequest) -> HttpResponse:
        raise AssertionError("nothing is answered")

    before = lm15.StdlibTransport.__dict__["stream"]
    # A package without lm15's request writer: a future DSPy that moved it, say.
    with (
        pytest.warns(RuntimeWarning, match="minidouble: json is not the lm15 minidouble knows"),
        intercept_lm15(unused, "json"),
    ):
        assert lm15.StdlibTransport.__dict__["stream"] is before


def test_cassettes_record_and_replay_through_lm15(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "lm15.json"

    def session() -> list[Any]:
        with lm15.StdlibTransport() as transport:
            with transport.stream(post(CHAT_URL, HI)) as response:
                plain = json.loads(response.read())
            body = {**HI, "messages": [{"role": "user", "content": "Stream it"}], "stream": True}
            with transport.stream(post(CHAT_URL, body)) as response:
                lines = [line for line in response.iter_lines() if line.strip()]
        return [plain, lines]

    with FakeGPT4oMini().serve() as live:  # stands in for api.openai.com
        with FakeGPT4oMini(cassette=path, record_mode="once", upstream=live.base_url) as rec:
            recorded = session()
        assert len(live.requests) == 2
    assert [r.cassette for r in rec.requests] == ["recorded"] * 2
    with FakeGPT4oMini(cassette=path) as replay:
        replayed = session()
    assert replayed == recorded
    assert [r.cassette for r in replay.requests] == ["replayed"] * 2


_FIRST_IMPORT = """
import os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
import minidouble.plugin
from minidouble import FakeGPT4oMini

fake = FakeGPT4oMini()
with fake:
    assert "dspy" not in sys.modules  # a fake never imports DSPy
    import dspy  # the code under test imports it inside the block

    lm = dspy.LM("openai/gpt-4o-mini", api_key="sk-test", cache=False, num_retries=0)
    fake.reply("Hi there")
    assert lm("Say hi") == ["Hi there"]
assert len(fake.requests) == 1
from dspy._vendor.lm15 import transports
assert transports.StdlibTransport.stream.__module__ == transports._sync.__name__
"""


def test_a_fake_never_imports_dspy_but_patches_lm15_at_its_first_import() -> None:
    # A fresh interpreter: in this one DSPy is imported already.
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_IMPORT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


# --- DSPy on its default engine ---------------------------------------------------------------


@pytest.fixture
def lm() -> Any:
    # No engine named: DSPy's default, which is lm15 for OpenAI models.
    return dspy.LM("openai/gpt-4o-mini", api_key=KEY, cache=False, num_retries=0)


def test_dspy_default_engine_is_lm15(lm: Any) -> None:
    with FakeGPT4oMini() as fake:
        fake.reply("Hi there")
        assert lm("Say hi") == ["Hi there"]
    logged = fake.requests[0]
    assert logged.headers["user-agent"] == "lm15/stdlib"  # not LiteLLM's httpx or aiohttp
    assert logged.prompt_tokens == lm.history[-1]["usage"]["prompt_tokens"] == 9


def test_dspy_predict_sync_and_async(lm: Any) -> None:
    qa = dspy.Predict("question -> answer")
    with FakeGPT4oMini() as fake, dspy.context(lm=lm):
        fake.reply(ANSWER.format("Paris"))
        fake.reply(ANSWER.format("Rome"))
        assert qa(question="Capital of France?").answer == "Paris"
        assert asyncio.run(qa.acall(question="Capital of Italy?")).answer == "Rome"
    first, second = fake.requests
    assert "Capital of France?" in first.body["messages"][-1]["content"]
    assert "Capital of Italy?" in second.body["messages"][-1]["content"]
    for logged in fake.requests:
        assert logged.prompt_tokens == count_prompt_tokens(logged.body)
    assert [h["usage"]["prompt_tokens"] for h in lm.history] == [
        r.prompt_tokens for r in fake.requests
    ]


def test_dspy_streamify_streams_through_lm15(lm: Any) -> None:
    qa = dspy.Predict("question -> answer")
    listener = dspy.streaming.StreamListener(signature_field_name="answer")
    streamed = dspy.streamify(qa, stream_listeners=[listener])

    async def run() -> tuple[list[str], Any]:
        chunks: list[str] = []
        prediction = None
        async for item in streamed(question="Capital of France?"):
            if isinstance(item, dspy.streaming.StreamResponse):
                chunks.append(item.chunk)
            elif isinstance(item, dspy.Prediction):
                prediction = item
        return chunks, prediction

    with FakeGPT4oMini() as fake, dspy.context(lm=lm):
        fake.reply(ANSWER.format("Paris is the capital of France."))
        chunks, prediction = asyncio.run(run())
    assert prediction.answer == "Paris is the capital of France."
    assert "".join(chunks) == "Paris is the capital of France."
    assert len([c for c in chunks if c]) > 2  # arrived event by event
    assert fake.requests[0].body["stream"] is True
    assert fake.requests[0].status == 200


def test_dspy_api_error_is_dspys_own_with_the_fakes_message() -> None:
    lm = dspy.LM("openai/gpt-4o-mini", api_key=KEY, cache=False, num_retries=0, max_tokens=10**6)
    qa = dspy.Predict("question -> answer")
    with (
        FakeGPT4oMini() as fake,
        dspy.context(lm=lm),
        pytest.raises(dspy.utils.exceptions.LMInvalidRequestError) as raised,
    ):
        qa(question="Capital of France?")
    assert "max_completion_tokens is too large: 1000000" in str(raised.value)
    assert [r.status for r in fake.requests] == [400]


def test_dspy_scripted_failure_is_retried_by_dspy() -> None:
    lm = dspy.LM("openai/gpt-4o-mini", api_key=KEY, cache=False, num_retries=2)
    with FakeGPT4oMini() as fake:
        fake.fail(503, retry_after=0.01)
        fake.reply("after the outage")
        assert lm("Say hi") == ["after the outage"]
    assert [r.status for r in fake.requests] == [503, 200]


def test_dspy_faults_are_dspys_transport_errors(lm: Any) -> None:
    with FakeGPT4oMini() as fake:
        fake.fail("timeout")
        with pytest.raises(dspy.utils.exceptions.LMTransportError, match="read timed out"):
            lm("Say hi")
        fake.fail("connection_reset")
        with pytest.raises(dspy.utils.exceptions.LMTransportError, match="read failed"):
            asyncio.run(lm.acall("Say hi"))
    assert [r.fault for r in fake.requests] == ["timeout", "connection_reset"]


def test_dspy_azure_on_the_default_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "myres")
    lm = dspy.LM("azure/gpt-4o-mini", api_key="azure-key", cache=False, num_retries=0)
    with FakeGPT4oMini() as fake:
        fake.reply("Hello from Azure")
        assert lm("Say hi") == ["Hello from Azure"]
    logged = fake.requests[0]
    assert logged.headers["host"] == "myres.openai.azure.com"
    assert logged.path == "/openai/v1/chat/completions"
    assert logged.headers["api-key"] == "azure-key" and logged.prompt_tokens == 9
