"""A Batch API session recorded into a cassette replays offline: uploads, polls, downloads."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from minidouble import FakeGPT4oMini
from minidouble._model._profile import GPT4O_MINI

KEY = "sk-proj-recording-key-that-must-not-leak-0123456789"
LINES = [
    {
        "custom_id": f"q{index}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"Classify ticket {index}."}],
        },
    }
    for index in range(5)
]


def pipeline(client: openai.OpenAI) -> dict[str, Any]:
    """Upload, create, poll until done, download: what a batch job's code does."""
    data = "".join(json.dumps(line) + "\n" for line in LINES).encode()
    upload = client.files.create(file=("tickets.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    polls = 0
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        time.sleep(0.01)
        batch = client.batches.retrieve(batch.id)
        polls += 1
    assert batch.output_file_id is not None
    output = client.files.content(batch.output_file_id).text
    answers = {
        line["custom_id"]: line["response"]["body"]["choices"][0]["message"]["content"]
        for line in map(json.loads, output.splitlines())
    }
    assert batch.usage is not None
    tokens = (batch.usage.input_tokens, batch.usage.output_tokens)
    return {"status": batch.status, "polls": polls, "answers": answers, "output": output,
            "tokens": tokens}  # fmt: skip


def test_a_recorded_batch_session_replays_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "batch.json"
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with (
        FakeGPT4oMini().serve() as live,  # stands in for api.openai.com
        FakeGPT4oMini(cassette=path, record_mode="once", upstream=live.base_url) as rec,
    ):
        recorded = pipeline(openai.OpenAI())
    assert recorded["status"] == "completed" and len(recorded["answers"]) == 5
    assert all(r.cassette == "recorded" for r in rec.requests)
    text = path.read_text()
    assert KEY not in text  # the key is scrubbed
    assert "Classify ticket 4." in text  # the uploaded file's contents are in the cassette

    monkeypatch.setenv("OPENAI_API_KEY", "sk-another-key-on-the-ci-machine-000")
    with FakeGPT4oMini(cassette=path) as fake:  # record_mode="none": no upstream, offline
        replayed = pipeline(openai.OpenAI())
    assert replayed == recorded
    assert {r.cassette for r in fake.requests} == {"replayed"}
    # The batch is billed once (not per poll) at the batch price, as when it was recorded.
    prompt, completion = recorded["tokens"]
    for usage in (rec.usage(), fake.usage()):
        assert (usage.batch_lines, usage.prompt_tokens, usage.completion_tokens) == (
            5,
            prompt,
            completion,
        )
        assert usage.cost() == GPT4O_MINI.prices.cost(prompt, completion) / 2
