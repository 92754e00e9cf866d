"""The project's own cassettes (``cassettes/`` at the top) replay cleanly and strictly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from minidouble import FakeGPT4oMini

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
URL = "https://api.openai.com/v1/chat/completions"
QUESTION = {"role": "user", "content": "Say hello in five words."}


def test_greeting_replays_both_interactions_strictly() -> None:
    with (
        FakeGPT4oMini(cassette=CASSETTES / "greeting.json", cassette_strict=True) as fake,
        httpx.Client(headers={"authorization": "Bearer sk-test"}) as client,
    ):
        plain = client.post(URL, json={"model": "gpt-4o-mini", "messages": [QUESTION]})
        streamed = client.post(
            URL,
            json={
                "model": "gpt-4o-mini",
                "messages": [QUESTION],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    assert plain.status_code == 200 and streamed.status_code == 200
    assert json.loads(plain.content)["choices"][0]["message"]["content"]
    assert streamed.text.rstrip().endswith("data: [DONE]")
    assert [r.cassette for r in fake.requests] == ["replayed", "replayed"]
    assert fake.usage().prompt_tokens == 2 * json.loads(plain.content)["usage"]["prompt_tokens"]
