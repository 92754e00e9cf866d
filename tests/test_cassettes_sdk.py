"""Cassettes through the real openai SDK: record from the loopback fake, replay offline."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from minidouble import count_prompt_tokens
from minidouble._cassettes import CassetteWarning
from minidouble._fake import FakeCheckError, FakeGPT4oMini
from minidouble._service._script import RecordedRequest

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.sdk

KEY = "sk-test-RoundTrip-0123456789abcdefghij"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]


def session(client: Any) -> list[Any]:
    """What a small app does: a plain answer, a stream with usage, a tool call, an error."""
    seen: list[Any] = []
    plain = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hi"}], max_tokens=20
    )
    seen.append(plain.model_dump())
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Count to five"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    seen.append([chunk.model_dump() for chunk in stream])
    tools = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=TOOLS,
        tool_choice="required",
    )
    seen.append(tools.model_dump())
    try:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], max_tokens=10**6
        )
    except openai.BadRequestError as error:
        seen.append((error.status_code, error.body))
    return seen


def sdk_httpx() -> Any:
    """The httpx the installed SDK runs on: httpx2 for openai 3.x, httpx for 1.x and 2.x."""
    base = importlib.import_module("openai._base_client")
    return getattr(base, "httpx2", None) or base.httpx


def raw_stream_chunks(base_url: str) -> list[bytes]:
    """The transport-level chunks of one streamed completion, as the client receives them."""
    httpx2 = sdk_httpx()
    body = {"model": "gpt-4o-mini", "stream": True,
            "messages": [{"role": "user", "content": "Chunks, please"}]}  # fmt: skip
    with (
        httpx2.Client() as client,
        client.stream(
            "POST",
            f"{base_url}/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {KEY}"},
        ) as response,  # fmt: skip
    ):
        return list(response.iter_raw())


@pytest.fixture
def recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[Any], list[bytes]]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    path = tmp_path / "cassettes" / "session.json"
    with FakeGPT4oMini().serve() as live:  # stands in for api.openai.com
        with FakeGPT4oMini(cassette=path, record_mode="once", upstream=live.base_url) as fake:
            seen = session(openai.OpenAI())
            chunks = raw_stream_chunks("https://api.openai.com/v1")
        assert len(live.requests) == 5
    # Recording logs each request as the upstream answered and billed it.
    assert [r.cassette for r in fake.requests] == ["recorded"] * 5
    assert [r.status for r in fake.requests] == [r.status for r in live.requests]
    assert billed(fake.requests[:3]) == billed(live.requests[:3])
    return path, seen, chunks


def billed(requests: list[RecordedRequest]) -> list[tuple[int | None, int | None]]:
    return [(r.prompt_tokens, r.completion_tokens) for r in requests]


def test_replay_in_process_is_identical_and_offline(
    recorded: tuple[Path, list[Any], list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, seen, chunks = recorded
    monkeypatch.setenv("OPENAI_API_KEY", "sk-another-key-on-the-ci-machine-000")
    with FakeGPT4oMini(cassette=path) as fake:  # record_mode="none", no upstream
        assert session(openai.OpenAI()) == seen
        assert raw_stream_chunks("https://api.openai.com/v1") == chunks
    assert [r.cassette for r in fake.requests] == ["replayed"] * 5
    usage = seen[1][-1]["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert len(chunks) > 3 and chunks[-1] == b"data: [DONE]\n\n"


def test_replay_over_the_loopback_server_is_identical(
    recorded: tuple[Path, list[Any], list[bytes]],
) -> None:
    path, seen, chunks = recorded
    with FakeGPT4oMini(cassette=path).serve() as server:
        client = openai.OpenAI(api_key="any", base_url=server.base_url)
        assert session(client) == seen
        assert raw_stream_chunks(server.base_url) == chunks


def test_replayed_requests_are_logged_and_billed_as_recorded(
    recorded: tuple[Path, list[Any], list[bytes]],
) -> None:
    path, seen, _ = recorded
    with FakeGPT4oMini(cassette=path) as fake:
        session(openai.OpenAI(api_key="any"))
        raw_stream_chunks("https://api.openai.com/v1")
    logged = fake.requests
    assert [r.status for r in logged] == [200, 200, 200, 400, 200]
    assert logged[0].body["messages"] == [{"role": "user", "content": "Say hi"}]
    assert logged[2].completion is not None
    assert logged[2].completion["choices"][0]["message"]["tool_calls"]
    reported = [seen[0]["usage"], seen[1][-1]["usage"], seen[2]["usage"]]
    assert billed(logged[:3]) == [(u["prompt_tokens"], u["completion_tokens"]) for u in reported]
    # A refused request bills nothing; a stream recorded without usage bills its prompt,
    # recounted, and no completion tokens (nobody knows them).
    assert billed(logged[3:]) == [(None, None), (count_prompt_tokens(logged[4].body), None)]
    usage = fake.usage()
    assert (usage.requests, usage.replayed, usage.recorded) == (5, 5, 0)
    assert usage.prompt_tokens == sum(u["prompt_tokens"] for u in reported) + (
        logged[4].prompt_tokens or 0
    )
    assert usage.completion_tokens == sum(u["completion_tokens"] for u in reported)


def test_key_is_nowhere_on_disk(recorded: tuple[Path, list[Any], list[bytes]]) -> None:
    path, _, _ = recorded
    for file in path.parent.parent.rglob("*"):
        if file.is_file():
            assert KEY.encode() not in file.read_bytes()
    document = json.loads(path.read_text())
    assert document["recorded_with"]["client"].startswith("OpenAI/Python")
    assert [i["summary"]["status"] for i in document["interactions"]] == [200, 200, 200, 400, 200]


def test_edited_request_fails_loudly_with_the_diff(
    recorded: tuple[Path, list[Any], list[bytes]],
) -> None:
    path, _, _ = recorded
    # Even if the code under test swallowed the error, leaving the block fails the test.
    with pytest.raises(FakeCheckError, match="no recorded interaction"):  # noqa: SIM117
        with FakeGPT4oMini(cassette=path):
            with pytest.raises(openai.BadRequestError) as raised:
                openai.OpenAI(api_key="k").chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "Say hI"}],
                    max_tokens=20,
                )
    message = raised.value.message
    assert '-      "content": "Say hi",' in message and '+      "content": "Say hI",' in message
    assert "--minidouble-record-mode=new_episodes" in message


def test_async_client_replays_the_same_stream(
    recorded: tuple[Path, list[Any], list[bytes]],
) -> None:
    import asyncio

    path, seen, _ = recorded

    async def stream() -> list[Any]:
        client = openai.AsyncOpenAI(api_key="any")
        chunks = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Count to five"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        return [chunk.model_dump() async for chunk in chunks]

    with (
        pytest.warns(CassetteWarning, match="4 interaction"),
        FakeGPT4oMini(cassette=path, cassette_timing="recorded") as fake,
    ):
        assert fake.blocking
        assert asyncio.run(stream()) == seen[1]
    assert fake.cassette is not None and fake.cassette.close().replayed == 1


def test_cassette_options_need_a_cassette() -> None:
    with pytest.raises(TypeError, match="pass cassette="):
        FakeGPT4oMini(record_mode="all")
