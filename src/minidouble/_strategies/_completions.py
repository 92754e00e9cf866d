"""Replies in the API's shapes, for property-testing the code that parses them.

Shapes follow the reference (``gpt-4o-mini-api.md`` §6.4, §7 and §8): key order as served,
``refusal`` and ``annotations`` on every message, usage with its details blocks, and streams
whose chunks reassemble exactly into the non-streaming completion they came from.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._engine._replies import Choice, Piece, Reply, ToolCall
from minidouble._model._profile import GPT4O_MINI
from minidouble._strategies._common import Tool, check_size_bounds, fail, texts
from minidouble._strategies._messages import calls_for_tools, check_tools_value
from minidouble._wire._writers import (
    DONE_EVENT,
    OPENAI,
    ChunkWriter,
    choice_deltas,
    completion_body,
    sse_event,
)

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


@dataclass(frozen=True)
class _DrawnReply:
    """A reply's drawn values; :mod:`minidouble._wire._writers` gives them the served shapes."""

    reply: Reply
    completion_id: str
    created: int
    prompt_tokens: int
    cached_tokens: int
    system_fingerprint: str

    def completion(self) -> Completion:
        return completion_body(
            self.reply,
            completion_id=self.completion_id,
            created=self.created,
            prompt_tokens=self.prompt_tokens,
            system_fingerprint=self.system_fingerprint,
            cached_tokens=self.cached_tokens,
        )

    def chunk_writer(self, *, include_usage: bool) -> ChunkWriter:
        # The writer adds no padding of its own: the strategies draw it, chunk by chunk.
        return ChunkWriter(
            include_usage=include_usage,
            obfuscate=False,
            profile=GPT4O_MINI,
            flavor=OPENAI,
            completion_id=self.completion_id,
            created=self.created,
            system_fingerprint=self.system_fingerprint,
        )


@st.composite
def _choice(draw: DrawFn, index: int, tools: Sequence[Tool] | None) -> Choice:
    kinds = ["text", "refusal"] + (["tool_calls"] if tools else [])
    kind = draw(st.sampled_from(kinds), label="reply kind")
    content: str | None = None
    calls: tuple[ToolCall, ...] = ()
    if kind == "text":
        content = draw(texts(60), label="content")
        finish = draw(st.sampled_from(("stop", "length", "content_filter")), label="finish")
    elif kind == "refusal":
        finish = "stop"
    else:
        assert tools
        drawn = draw(calls_for_tools(tools, index, 1, 3), label="tool_calls")
        ids = draw(st.lists(_random_id("call_", 24), min_size=len(drawn), max_size=len(drawn)))
        calls = tuple(
            ToolCall(id_, call["function"]["name"], call["function"]["arguments"])
            for call, id_ in zip(drawn, ids, strict=True)
        )
        # A forced named call finishes with "stop" (reference §7.2).
        finish = draw(st.sampled_from(("tool_calls", "stop")), label="finish")
    refusal = draw(st.text(min_size=1, max_size=40), label="refusal") if kind == "refusal" else None
    return Choice(content, refusal, calls, None, finish, completion_tokens=0)


def _draw_reply(
    draw: DrawFn, tools: Sequence[Tool] | None, min_choices: int, max_choices: int
) -> _DrawnReply:
    profile = GPT4O_MINI
    count = draw(st.integers(min_choices, max_choices), label="choices")
    choices = [draw(_choice(index, tools), label="choice") for index in range(count)]
    completion_id = draw(_random_id("chatcmpl-", 29), label="id")
    created = draw(st.integers(1_720_000_000, 1_900_000_000), label="created")
    prompt = draw(st.integers(1, profile.context_window), label="prompt_tokens")
    completion = draw(st.integers(0, profile.max_output_tokens), label="completion_tokens")
    cached = draw(st.integers(0, prompt // 128), label="cached blocks") * 128
    fingerprint = draw(
        st.integers(0, 16**10 - 1).map(lambda n: f"fp_{n:010x}"), label="fingerprint"
    )
    # The reply's completion tokens are its choices' sum: the first choice carries them all.
    choices[0] = replace(choices[0], completion_tokens=completion)
    return _DrawnReply(Reply(tuple(choices)), completion_id, created, prompt, cached, fingerprint)


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
    return _draw_reply(draw, tools, min_choices, max_choices).completion()


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
        return b"".join([sse_event(chunk) for chunk in self.chunks]) + DONE_EVENT


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

    The first delta carries the role (and opens the first tool call), text arrives in
    fragments cut at drawn points, each tool call opens with its id and name and then
    streams its arguments, the last choice
    chunk has an empty delta and the ``finish_reason``; with ``stream_options.include_usage``
    (drawn) every chunk says ``"usage": null`` and a final chunk with no choices carries the
    totals. Chunks may carry the ``obfuscation`` padding field of current traffic.

    Shrinks towards a two-chunk stream of empty text.
    """
    what = "chat_completion_chunks()"
    if tools is not None:
        check_tools_value(tools, what)
    drawn = _draw_reply(draw, tools, 1, 1)
    choice = drawn.reply.choices[0]
    include_usage = draw(st.booleans(), label="include_usage")
    obfuscate = draw(st.booleans(), label="obfuscation")
    # The values are drawn here (cut points, padding); every shape is the fake's own.
    pieces: list[Piece] | None = None
    call_fragments: list[list[str]] | None = None
    if choice.tool_calls:
        call_fragments = [
            _fragments(draw, call.arguments, "argument fragments") for call in choice.tool_calls
        ]
    elif choice.refusal is not None:
        pieces = [Piece(text) for text in _fragments(draw, choice.refusal, "refusal fragments")]
    else:
        pieces = [
            Piece(text) for text in _fragments(draw, choice.content or "", "content fragments")
        ]

    def padding() -> str | None:
        return draw(st.text(string.ascii_letters, max_size=12)) if obfuscate else None

    writer = drawn.chunk_writer(include_usage=include_usage)
    refusal = choice.refusal is not None
    chunks: list[Chunk] = [
        writer.body(
            [writer.choice(0, delta, finish_reason=finish, refusal=refusal)], None, padding()
        )
        for delta, _, finish in choice_deltas(choice, pieces=pieces, call_fragments=call_fragments)
    ]
    completion = drawn.completion()
    if include_usage:
        chunks.append(writer.body([], completion["usage"], padding()))
    return CompletionStream(chunks, completion)
