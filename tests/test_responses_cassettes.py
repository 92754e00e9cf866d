"""Responses API sessions recorded to a cassette and replayed offline, unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minidouble._cassettes._format import recorded_prompt_tokens
from minidouble._fake import FakeGPT4oMini

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.sdk

KEY = "sk-test-Responses-0123456789abcdefghij"


def session(client: Any) -> list[Any]:
    seen: list[Any] = [
        client.responses.create(model="gpt-4o-mini", input="Say hi").model_dump(),
        [e.model_dump() for e in client.responses.create(model="gpt-4o-mini", input="Count",
                                                          stream=True)],
    ]  # fmt: skip
    try:
        client.responses.create(model="gpt-4o-mini", input="x", max_output_tokens=5)
    except openai.BadRequestError as error:
        seen.append((error.status_code, error.body))
    return seen


def test_record_then_replay_offline_is_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    path = tmp_path / "responses.json"
    with FakeGPT4oMini().serve() as live:  # stands in for api.openai.com
        with FakeGPT4oMini(cassette=path, record_mode="once", upstream=live.base_url):
            seen = session(openai.OpenAI())
        assert len(live.requests) == 3
    with FakeGPT4oMini(cassette=path) as replaying:
        assert session(openai.OpenAI()) == seen
    assert [r.cassette for r in replaying.requests] == ["replayed"] * 3
    # Billed as recorded: the plain answer and the stream's final response object; not the 400.
    reported = [seen[0]["usage"], seen[1][-1]["response"]["usage"]]
    usage = replaying.usage()
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        sum(u["input_tokens"] for u in reported),
        sum(u["output_tokens"] for u in reported),
    )
    assert seen[2][0] == 400 and seen[2][1]["code"] == "integer_below_min_value"
    document = json.loads(path.read_text())
    plain, streamed = document["interactions"][0], document["interactions"][1]
    # The stored usage is readable for both shapes, so replays re-check it against the counter.
    assert recorded_prompt_tokens(plain["response"]) == seen[0]["usage"]["input_tokens"]
    assert (
        recorded_prompt_tokens(streamed["response"])
        == seen[1][-1]["response"]["usage"]["input_tokens"]
    )
