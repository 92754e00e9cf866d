"""Replies in the API's shapes, for property-testing the code that parses them.

Shapes follow the reference (``gpt-4o-mini-api.md`` §6.4, §7 and §8): key order as served,
``refusal`` and ``annotations`` on every message, usage with its details blocks, and streams
whose chunks reassemble exactly into the non-streaming completion they came from.
"""

from __future__ import annotations

import itertools
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._profile import GPT4O_MINI
from minidouble._strategies._common import Tool, check_size_bounds, fail, texts
from minidouble._strategies._messages import calls_for_tools, check_tools_value

_BASE62 = string.digits + string.ascii_letters
Completion = dict[str, Any]
Chunk = dict[str, Any]


def _encoded(number: int, alphabet: str, width: int) -> str:
    chars = []
    for _ in range(width):
        number, remainder = divmod(number, len(alphabet))
        chars.append(alphabet[remainder])
    return "".join(reversed(chars))


def _random_id(prefix: str, width: int) -> st.SearchStrategy[str]:
    # One integer choice rather than one choice per character.
    return st.integers(0, 62**width - 1).map(lambda n: prefix + _encoded(n, _BASE62, width))


def _usage(draw: DrawFn, completion_tokens: int | None = None) -> dict[str, Any]:
    profile = GPT4O_MINI
    prompt = draw(st.integers(1, profile.context_window), label="prompt_tokens")
    completion = (
        completion_tokens
        if completion_tokens is not None
        else draw(st.integers(0, profile.max_output_tokens), label="completion_tokens")
    )
    cached = draw(st.integers(0, prompt // 128), label="cached blocks") * 128
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


@st.composite
def _choice(draw: DrawFn, index: int, tools: Sequence[Tool] | None) -> dict[str, Any]:
    kinds = ["text", "refusal"] + (["tool_calls"] if tools else [])
    kind = draw(st.sampled_from(kinds), label="reply kind")
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if kind == "text":
        message["content"] = draw(texts(60), label="content")
        finish = draw(st.sampled_from(("stop", "length", "content_filter")), label="finish")
    elif kind == "refusal":
        finish = "stop"
    else:
        assert tools
        calls = draw(calls_for_tools(tools, index, 1, 3), label="tool_calls")
        ids = draw(st.lists(_random_id("call_", 24), min_size=len(calls), max_size=len(calls)))
        message["tool_calls"] = [{**call, "id": id_} for call, id_ in zip(calls, ids, strict=True)]
        # A forced named call finishes with "stop" (reference §7.2).
        finish = draw(st.sampled_from(("tool_calls", "stop")), label="finish")
    message["refusal"] = (
        draw(st.text(min_size=1, max_size=40), label="refusal") if kind == "refusal" else None
    )
    message["annotations"] = []
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish}


@st.composite
def chat_completions(
    draw: DrawFn, *, tools: Sequence[Tool] | None = None, min_choices: int = 1, max_choices: int = 1
) -> Completion:
    """A non-streaming ``chat.completion`` object as gpt-4o-mini returns it.

    Each choice holds text (finishing ``stop``, ``length`` or ``content_filter``), a refusal
    (``content: null``), or, when ``tools`` are given, tool calls with arguments valid for
    their schemas. Ids, ``created``, ``system_fingerprint`` and ``usage`` have the real
    formats.

    Shrinks towards one choice with empty text.
    """
    what = "chat_completions()"
    check_size_bounds(min_choices, max_choices, what=what, hard_max=128)
    if min_choices < 1:
        raise fail(f"{what}: min_choices={min_choices}; a completion has at least one choice.")
    if tools is not None:
        check_tools_value(tools, what)
    profile = GPT4O_MINI
    count = draw(st.integers(min_choices, max_choices), label="choices")
    choices = [draw(_choice(index, tools), label="choice") for index in range(count)]
    return {
        "id": draw(_random_id("chatcmpl-", 29), label="id"),
        "object": "chat.completion",
        "created": draw(st.integers(1_720_000_000, 1_900_000_000), label="created"),
        "model": profile.response_model,
        "choices": choices,
        "usage": _usage(draw),
        "service_tier": "default",
        "system_fingerprint": draw(
            st.integers(0, 16**10 - 1).map(lambda n: f"fp_{n:010x}"), label="fingerprint"
        ),
    }


@dataclass(frozen=True)
class CompletionStream:
    """The ``data:`` payloads of one streamed reply, and the completion they add up to.

    ``chunks`` are the parsed JSON objects in order (without the final ``[DONE]``);
    ``completion`` is the non-streaming object the same reply would have been, so a parser
    can be checked against it; :meth:`sse` gives the exact bytes on the wire.
    """

    chunks: list[Chunk]
    completion: Completion = field(repr=False)

    def sse(self) -> bytes:
        events = [f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n" for chunk in self.chunks]
        return ("".join(events) + "data: [DONE]\n\n").encode()


def _fragments(draw: DrawFn, text: str, label: str) -> list[str]:
    """``text`` cut at drawn points; shrinks towards one fragment."""
    if not text:
        return []
    cuts = draw(
        st.lists(st.integers(1, max(1, len(text) - 1)), max_size=min(8, len(text)), unique=True),
        label=label,
    )
    points = [0, *sorted(cut for cut in cuts if cut < len(text)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(points) if b > a]


@st.composite
def chat_completion_chunks(
    draw: DrawFn, *, tools: Sequence[Tool] | None = None
) -> CompletionStream:
    """A streamed reply: ``chat.completion.chunk`` objects as the API sends them.

    The first delta carries the role, text arrives in fragments cut at drawn points, each
    tool call opens with its id and name and then streams its arguments, the last choice
    chunk has an empty delta and the ``finish_reason``; with ``stream_options.include_usage``
    (drawn) every chunk says ``"usage": null`` and a final chunk with no choices carries the
    totals. Chunks may carry the ``obfuscation`` padding field of current traffic.

    Shrinks towards a two-chunk stream of empty text.
    """
    what = "chat_completion_chunks()"
    if tools is not None:
        check_tools_value(tools, what)
    completion = draw(chat_completions(tools=tools), label="completion")
    choice = completion["choices"][0]
    message = choice["message"]
    include_usage = draw(st.booleans(), label="include_usage")
    obfuscate = draw(st.booleans(), label="obfuscation")
    header = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
        "service_tier": completion["service_tier"],
        "system_fingerprint": completion["system_fingerprint"],
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Chunk:
        result: Chunk = {
            **header,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            result["usage"] = None
        if obfuscate:
            result["obfuscation"] = draw(st.text(string.ascii_letters, max_size=12))
        return result

    chunks: list[Chunk] = []
    if message.get("tool_calls"):
        chunks.append(chunk({"role": "assistant", "content": None}))
        for index, call in enumerate(message["tool_calls"]):
            function = call["function"]
            opening = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": function["name"], "arguments": ""},
            }
            chunks.append(chunk({"tool_calls": [opening]}))
            for piece in _fragments(draw, function["arguments"], "argument fragments"):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                chunks.append(chunk(delta))
    elif message.get("refusal") is not None:
        chunks.append(chunk({"role": "assistant", "content": None, "refusal": ""}))
        for piece in _fragments(draw, message["refusal"], "refusal fragments"):
            chunks.append(chunk({"refusal": piece}))
    else:
        chunks.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        for piece in _fragments(draw, message["content"], "content fragments"):
            chunks.append(chunk({"content": piece}))
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        final: Chunk = {**header, "choices": [], "usage": completion["usage"]}
        if obfuscate:
            final["obfuscation"] = draw(st.text(string.ascii_letters, max_size=12))
        chunks.append(final)
    return CompletionStream(chunks, completion)
