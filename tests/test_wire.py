"""The wire helpers reproduce the standard library's formatting byte for byte."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minidouble._engine._replies import Choice, Reply, ToolCall
from minidouble._model._profile import GPT4O_MINI
from minidouble._wire._writers import (
    OPENAI,
    ChunkWriter,
    _obfuscation,
    _plain_completion_bytes,
    completion_body,
    completion_bytes,
    new_call_id,
    new_completion_id,
    new_request_id,
    pretty,
    sse_event,
)

ODD = [
    {"a": [1, 2.5, {"b": None, "c": True, "d": []}, {}], "é": 'x\n"\u2028🙂\x00', "n": -0.0},
    {"big": 10**30, "small": 1e-7, "neg": -3, "esc": "\t\\/"},
    {},
    [],
    "plain",
    7,
    None,
]


@pytest.mark.parametrize("document", ODD)
def test_pretty_matches_json_dumps(document: Any) -> None:
    assert pretty(document) == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


@pytest.mark.slow
def test_pretty_matches_json_dumps_on_the_corpus(fidelity_dir: Path) -> None:
    with open(fidelity_dir / "real_gpt4o_mini.jsonl", encoding="utf-8") as lines:
        for line in lines:
            document = json.loads(line)
            expected = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
            assert pretty(document) == expected.encode()


def test_ids_have_the_real_shapes() -> None:
    ids = {new_completion_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", i) for i in ids)
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", new_call_id())
    assert re.fullmatch(r"req_[0-9a-f]{32}", new_request_id())


texts = st.none() | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)))


@given(
    contents=st.lists(st.tuples(texts, texts), min_size=1, max_size=3),
    finish=st.sampled_from(["stop", "length", "content_filter"]),
    prompt_tokens=st.integers(0, 128_000),
    predicted=st.tuples(st.integers(0, 50), st.integers(0, 50)),
    created=st.integers(0, 2**40),
    tier=st.sampled_from(["default", "flex", "priority"]),
    fingerprint=st.sampled_from(["fp_560af6e559", "fp_0ba0d124f1", 'fp_%s"%%', None, "\ue000"]),
    model=st.sampled_from(["gpt-4o-mini-2024-07-18", "ft:%d-x"]),
)
def test_a_plain_reply_is_served_as_its_walked_completion(
    contents: list[tuple[str | None, str | None]],
    finish: str,
    prompt_tokens: int,
    predicted: tuple[int, int],
    created: int,
    tier: str,
    fingerprint: str | None,
    model: str,
) -> None:
    # The template fill and completion_body write the same document, byte for byte.
    choices = tuple(
        Choice(content, refusal, (), None, finish, completion_tokens=index + 3)
        for index, (content, refusal) in enumerate(contents)
    )
    reply = Reply(choices, *predicted)
    profile = dataclasses.replace(GPT4O_MINI, system_fingerprint=fingerprint, response_model=model)
    walked = completion_body(
        reply,
        completion_id="chatcmpl-x",
        created=created,
        prompt_tokens=prompt_tokens,
        profile=profile,
        service_tier=tier,
    )
    filled = _plain_completion_bytes(reply, "chatcmpl-x", created, prompt_tokens, profile, tier)
    assert filled == (None if fingerprint == "\ue000" else pretty(walked))


def test_replies_with_tool_calls_or_logprobs_are_walked() -> None:
    call = ToolCall(id="call_1", name="f", arguments="{}")
    for choice in (
        Choice(None, None, (call,), None, "tool_calls", 5),
        Choice("hi", None, (), None, "stop", 1, logprobs=()),
    ):
        reply = Reply((choice,))
        assert _plain_completion_bytes(reply, "c", 1, 1, GPT4O_MINI, "default") is None
        served = completion_bytes(reply, completion_id="c", created=1, prompt_tokens=1)
        walked = completion_body(reply, completion_id="c", created=1, prompt_tokens=1)
        assert served == pretty(walked)


@given(
    texts=st.lists(st.text(), min_size=1, max_size=4),
    include_usage=st.booleans(),
    tier=st.sampled_from(["default", "flex"]),
    fingerprint=st.sampled_from(["fp_560af6e559", 'fp_"odd"\u2028']),
    completion_id=st.sampled_from(["chatcmpl-x", 'chatcmpl-,"choices":']),
)
def test_a_chunk_is_its_body_written_compactly(
    texts: list[str], include_usage: bool, tier: str, fingerprint: str, completion_id: str
) -> None:
    # chunk() writes each event around a head made once; sse_event(body(...)) walks it all.
    profile = dataclasses.replace(GPT4O_MINI, system_fingerprint=fingerprint)
    usage = {"prompt_tokens": 3, "completion_tokens": len(texts)} if include_usage else None
    for obfuscate in (False, True):
        writer = ChunkWriter(
            include_usage=include_usage,
            obfuscate=obfuscate,
            profile=profile,
            flavor=OPENAI,
            service_tier=tier,
            completion_id=completion_id,
            created=7,
        )
        choices = [writer.choice(0, {"content": text}) for text in texts]
        event = writer.chunk(choices, usage)
        padding = json.loads(event.removeprefix(b"data: ")).get("obfuscation")
        assert (padding is not None) == obfuscate
        assert event == sse_event(writer.body(choices, usage, padding))
        assert writer.chunk([], usage).startswith(b"data: {")
        if not obfuscate:
            for index, text in enumerate(texts):
                for delta, finish in (
                    ({"content": text}, None),
                    ({}, text),
                    ({"role": text}, "stop"),
                ):
                    entry = writer.choice(index, delta, finish_reason=finish)
                    assert writer.delta_chunk(index, delta, finish) == writer.chunk([entry])


def test_obfuscation_pads_with_1_to_16_base62_characters() -> None:
    writer = ChunkWriter(include_usage=False, obfuscate=True, profile=GPT4O_MINI, flavor=OPENAI)
    streamed = [json.loads(writer.chunk([])[6:])["obfuscation"] for _ in range(2_000)]
    for paddings in ([_obfuscation() for _ in range(2_000)], streamed):
        assert {len(p) for p in paddings} == set(range(1, 17))
        assert all(re.fullmatch(r"[A-Za-z0-9]+", p) for p in paddings)
        assert len(set(paddings)) > 1_900
