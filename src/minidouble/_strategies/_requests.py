"""Whole Chat Completions request bodies that the API accepts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._model._profile import GPT4O_MINI, ModelProfile, NumberRule
from minidouble._strategies._common import (
    Body,
    Message,
    Tool,
    check_strategy,
    fail,
    known_model,
    names,
    texts,
)
from minidouble._strategies._messages import conversations
from minidouble._strategies._schemas import tool_schemas
from minidouble._strategies._schemas import tools as tool_lists

# The word json_object mode needs somewhere in the messages; kept out of random texts so that
# adding or removing it is a deliberate, single change.
_JSON_WORD = re.compile("json", re.IGNORECASE)
JSON_INSTRUCTIONS = "Answer in JSON."


def number(rule: NumberRule, *, default_high: int | None = None) -> st.SearchStrategy[Any]:
    """Any value inside ``rule``'s range: floats for decimal parameters, ints otherwise."""
    low = rule.minimum
    high = rule.maximum if rule.maximum is not None else default_high
    if rule.integer:
        return st.integers(None if low is None else int(low), None if high is None else int(high))
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def without_json_word(history: list[Message]) -> list[Message]:
    """The history with every "json" spelled out of it (case-insensitively)."""

    def scrub(text: str) -> str:
        return _JSON_WORD.sub("jsn", text)

    result = []
    for message in history:
        content = message.get("content")
        if isinstance(content, str):
            message = {**message, "content": scrub(content)}
        elif isinstance(content, list):
            message = {
                **message,
                "content": [{**part, "text": scrub(part["text"])} for part in content],
            }
        result.append(message)
    return result


@st.composite
def _response_format(draw: DrawFn, profile: ModelProfile) -> dict[str, Any]:
    kind = draw(st.sampled_from(("text", "json_object", "json_schema")), label="format")
    if kind != "json_schema":
        return {"type": kind}
    spec: dict[str, Any] = {"name": draw(names(profile.max_name_length), label="schema name")}
    if draw(st.booleans(), label="has description"):
        spec["description"] = draw(texts(30), label="description")
    strict = draw(st.booleans(), label="strict")
    spec["schema"] = draw(tool_schemas(strict=strict), label="schema")
    if strict or draw(st.booleans(), label="says strict false"):
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


@st.composite
def _tool_choice(draw: DrawFn, drawn_tools: Sequence[Tool]) -> Any:
    mode = draw(st.sampled_from(("auto", "none", "required", "named")), label="tool_choice")
    if mode != "named":
        return mode
    tool = draw(st.sampled_from(drawn_tools), label="chosen tool")
    return {"type": "function", "function": {"name": tool["function"]["name"]}}


@st.composite
def chat_requests(
    draw: DrawFn,
    *,
    within_limits: bool = True,
    tools: st.SearchStrategy[list[Tool]] | None = None,
    messages: st.SearchStrategy[list[Message]] | None = None,
) -> Body:
    """A Chat Completions request body for gpt-4o-mini.

    ``model`` and ``messages`` (default :func:`conversations`, with tool rounds calling the
    drawn tools), then each optional parameter behind its own choice, inside the model
    profile's ranges: ``tools`` (default :func:`tools`) with ``tool_choice`` naming a drawn
    tool and ``parallel_tool_calls``; ``temperature``, ``top_p``, both penalties, ``n``,
    ``seed``; ``max_completion_tokens`` or ``max_tokens`` (never both); ``stop`` (a string
    or up to 4); ``logprobs`` with ``top_logprobs``; ``logit_bias``; ``response_format``
    (``json_object`` only when the messages say "json"; ``json_schema`` from
    :func:`tool_schemas`); ``stream`` with ``stream_options``; ``store``, ``metadata``,
    ``user``, ``service_tier``. Prompts stay small.

    ``within_limits=True`` gives only requests the API accepts. ``within_limits=False`` also
    gives well-formed requests sitting just over one of the limits :func:`near_limit_requests`
    builds (context window, completion cap, tool count, content length, schema size).

    Shrinks towards ``{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ""}]}``.
    """
    what = "chat_requests()"
    if not isinstance(within_limits, bool):
        raise fail(f"{what}: within_limits={within_limits!r} must be True or False.")
    check_strategy(tools, name="tools", what=what)
    check_strategy(messages, name="messages", what=what)
    profile = GPT4O_MINI
    if not within_limits and draw(st.booleans(), label="near a limit"):
        from minidouble._strategies._limits import LIMITS, near_limit_requests

        limit = draw(st.sampled_from(LIMITS), label="limit")
        return draw(near_limit_requests(limit=limit, within_limits=False), label="over").body
    body: Body = {"model": draw(known_model(profile), label="model")}
    drawn_tools: list[Tool] | None = None
    if draw(st.booleans(), label="has tools"):
        drawn_tools = draw(tools if tools is not None else tool_lists(), label="tools")
        if not drawn_tools:
            drawn_tools = None
    history = draw(
        messages if messages is not None else conversations(tools=drawn_tools or []),
        label="messages",
    )
    body["messages"] = history
    numbers = profile.numbers
    optional = st.fixed_dictionaries(
        {},
        optional={
            "temperature": number(numbers["temperature"]),
            "top_p": number(numbers["top_p"]),
            "presence_penalty": number(numbers["presence_penalty"]),
            "frequency_penalty": number(numbers["frequency_penalty"]),
            "n": number(numbers["n"]),
            "seed": number(numbers["seed"]),
            "stop": st.one_of(
                st.text(max_size=8),
                st.lists(
                    st.text(min_size=1, max_size=8), min_size=1, max_size=profile.max_stop_sequences
                ),
            ),
            "logit_bias": st.dictionaries(
                st.integers(0, 100_000).map(str),
                number(numbers["logit_bias_value"]),
                max_size=3,
            ),
            "store": st.booleans(),
            "user": names(profile.max_name_length),
            "service_tier": st.sampled_from(profile.service_tiers),
        },
    )
    body.update(draw(optional, label="optional parameters"))
    if draw(st.booleans(), label="caps completion"):
        field = draw(st.sampled_from(("max_completion_tokens", "max_tokens")), label="cap field")
        body[field] = draw(st.integers(1, profile.max_output_tokens), label="cap")
    if draw(st.booleans(), label="has logprobs"):
        body["logprobs"] = draw(st.booleans(), label="logprobs")
        if body["logprobs"] and draw(st.booleans(), label="has top_logprobs"):
            body["top_logprobs"] = draw(number(numbers["top_logprobs"]), label="top_logprobs")
    if drawn_tools is not None:
        body["tools"] = drawn_tools
        if draw(st.booleans(), label="has tool_choice"):
            body["tool_choice"] = draw(_tool_choice(drawn_tools), label="tool_choice")
        if draw(st.booleans(), label="has parallel_tool_calls"):
            body["parallel_tool_calls"] = draw(st.booleans(), label="parallel_tool_calls")
    if draw(st.booleans(), label="has response_format"):
        response_format = draw(_response_format(profile), label="response_format")
        if response_format["type"] == "json_object" and not _mentions_json(history):
            body["messages"] = [{"role": "system", "content": JSON_INSTRUCTIONS}, *history]
        body["response_format"] = response_format
    if draw(st.booleans(), label="streams"):
        body["stream"] = draw(st.booleans(), label="stream")
        if body["stream"] and draw(st.booleans(), label="has stream_options"):
            body["stream_options"] = {"include_usage": draw(st.booleans(), label="include_usage")}
    if draw(st.booleans(), label="has metadata"):
        body["metadata"] = draw(
            st.dictionaries(
                st.text(
                    "abcdefghijklmnopqrstuvwxyz_",
                    min_size=1,
                    max_size=profile.max_metadata_key_length,
                ),
                st.text(max_size=20),
                max_size=3,
            ),
            label="metadata",
        )
    return body


def _mentions_json(history: list[Message]) -> bool:
    for message in history:
        content = message.get("content")
        pieces = [content] if isinstance(content, str) else []
        if isinstance(content, list):
            pieces = [part.get("text", "") for part in content]
        if any(_JSON_WORD.search(piece) for piece in pieces):
            return True
    return False
