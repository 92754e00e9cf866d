"""batch_files() agrees with the fake: valid files complete, each mistake fails as promised."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis.errors import InvalidArgument

import minidouble.strategies as mds
from minidouble import FakeGPT4oMini

openai = pytest.importorskip("openai")

_SETTINGS = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


def _run(data: bytes) -> tuple[Any, Any]:
    with FakeGPT4oMini(allow_unused=True) as fake:
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        while batch.status not in ("completed", "failed"):
            time.sleep(0.02)
            batch = client.batches.retrieve(batch.id)
        return batch, fake


@_SETTINGS
@given(mds.batch_files())
def test_valid_files_complete_without_errors(batch_file: mds.BatchFile) -> None:
    batch, _ = _run(batch_file.data)
    assert batch.status == "completed", batch.errors
    assert batch.error_file_id is None
    assert batch.request_counts.completed == len(batch_file.custom_ids)


@pytest.mark.parametrize("mistake", mds.BATCH_MISTAKES)
def test_each_mistake_fails_the_batch_as_promised(mistake: str) -> None:
    examples = 1 if mistake in ("too_many_tasks", "token_limit_exceeded") else 4

    @settings(_SETTINGS, max_examples=examples)
    @given(mds.batch_files(mistake=mistake))  # type: ignore[arg-type]
    def check(batch_file: mds.BatchFile) -> None:
        assert not batch_file.valid and batch_file.mistake == mistake
        batch, _ = _run(batch_file.data)
        assert batch.status == "failed"
        first = batch.errors.data[0]
        assert (first.code, first.line) == (batch_file.expected_code, batch_file.expected_line)

    check()


def test_unknown_mistake_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="minidouble: mistake='typo'"):
        find(mds.batch_files(mistake="typo"), lambda _: True)  # type: ignore[arg-type]


@settings(_SETTINGS, max_examples=60)
@given(mds.batch_files())
def test_valid_files_stay_within_the_enqueued_token_limit(batch_file: mds.BatchFile) -> None:
    # n times max_tokens reserves up to 2.1M tokens for one line: drawn freely, a valid file
    # crossed the 2M limit and its batch failed with token_limit_exceeded.
    from minidouble._model._profile import GPT4O_MINI
    from minidouble._service._ratelimit import estimate_tokens

    lines = [json.loads(line) for line in batch_file.data.splitlines()]
    total = sum(estimate_tokens(line["body"]) for line in lines)
    assert total <= GPT4O_MINI.batch.enqueued_tokens


def test_a_line_reserving_too_much_asks_one_choice_then_no_cap() -> None:
    from minidouble._model._profile import GPT4O_MINI
    from minidouble._strategies._batch import _within_enqueued_limit

    greedy = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    many = {**greedy, "n": 128, "max_completion_tokens": 16_383}
    kept = _within_enqueued_limit([many, many], GPT4O_MINI)
    assert kept == [{**greedy, "max_completion_tokens": 16_383}] * 2
    crowd = _within_enqueued_limit([many] * 200, GPT4O_MINI)
    assert crowd == [greedy] * 200
