"""Single messages and whole conversations, tool rounds included, valid by construction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._strategies._common import (
    DEFAULT_MAX_TEXT,
    Message,
    Tool,
    ToolCall,
    call_id,
    check_size_bounds,
    check_strategy,
    check_subset,
    fail,
    names,
    texts,
)

# Simplest first: a message shrinks towards a user message.
MESSAGE_ROLES = ("user", "system", "developer", "assistant", "tool", "function")
# Roles whose text may also be sent as a list of text parts.
_PART_ROLES = frozenset({"user", "system", "developer", "assistant", "tool"})
_NAMED_ROLES = frozenset({"user", "system", "developer", "assistant"})
MAX_CALLS_PER_ROUND = 3


def _content(draw: DrawFn, text: st.SearchStrategy[str], role: str) -> str | list[dict[str, Any]]:
    if role in _PART_ROLES and draw(st.booleans(), label="content as parts"):
        parts = draw(st.lists(text, min_size=1, max_size=3), label="text parts")
        return [{"type": "text", "text": part} for part in parts]
    return draw(text, label="content")


def _maybe_name(draw: DrawFn, message: Message, profile: ModelProfile) -> None:
    if message["role"] in _NAMED_ROLES and draw(st.booleans(), label="has name"):
        message["name"] = draw(names(profile.max_name_length), label="name")


def _message(
    draw: DrawFn, role: str, text: st.SearchStrategy[str], profile: ModelProfile, position: int
) -> Message:
    message: Message = {"role": role}
    if role == "function":
        message["name"] = draw(names(profile.max_name_length), label="function name")
        message["content"] = draw(text, label="content")
        return message
    if role == "assistant" and draw(st.booleans(), label="calls tools"):
        calls = draw(_generic_calls(position, profile), label="tool_calls")
        message["content"] = None
        message["tool_calls"] = calls
        return message
    message["content"] = _content(draw, text, role)
    if role == "tool":
        message["tool_call_id"] = call_id(position, 0)
    _maybe_name(draw, message, profile)
    return message


@st.composite
def messages(
    draw: DrawFn,
    *,
    roles: Sequence[str] = MESSAGE_ROLES,
    texts: st.SearchStrategy[str] | None = None,
) -> Message:
    """One chat message of one of ``roles``, in the shape the API accepts for that role.

    Every role's content forms appear: a string or a list of text parts, ``name`` where the
    role allows it, an assistant message with ``tool_calls`` and ``content: null``, a tool
    message with a ``tool_call_id``. One message alone says nothing about its neighbours:
    use :func:`conversations` for a valid history.

    Shrinks towards ``{"role": "user", "content": ""}``.
    """
    chosen = check_subset(roles, MESSAGE_ROLES, name="roles", what="messages()")
    check_strategy(texts, name="texts", what="messages()")
    text = texts if texts is not None else _default_texts()
    role = draw(st.sampled_from(chosen), label="role")
    return _message(draw, role, text, GPT4O_MINI, 0)


def _default_texts() -> st.SearchStrategy[str]:
    return texts(DEFAULT_MAX_TEXT)


# Arguments for tool calls when no tools are given: a small JSON object, as a model writes it.
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=10))
_GENERIC_ARGUMENTS = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8), _SCALARS, max_size=3
)


def dump_arguments(arguments: object) -> str:
    """Compact, deterministic JSON, so cassettes built from generated calls stay stable."""
    return json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)


def make_call(position: tuple[int, ...], name: str, arguments: object) -> ToolCall:
    return {
        "id": call_id(*position),
        "type": "function",
        "function": {"name": name, "arguments": dump_arguments(arguments)},
    }


@st.composite
def _generic_calls(draw: DrawFn, turn: int, profile: ModelProfile) -> list[ToolCall]:
    pairs = draw(
        st.lists(
            st.tuples(names(profile.max_name_length), _GENERIC_ARGUMENTS),
            min_size=1,
            max_size=MAX_CALLS_PER_ROUND,
        )
    )
    return [make_call((turn, index), name, args) for index, (name, args) in enumerate(pairs)]


@st.composite
def calls_for_tools(
    draw: DrawFn, tools: Sequence[Tool], turn: int, min_size: int, max_size: int
) -> list[ToolCall]:
    """Calls to ``tools`` (chosen by index, so the first tool is the simplest) with valid args."""
    from minidouble._strategies._compile import compile_parameters

    indices = draw(
        st.lists(st.integers(0, len(tools) - 1), min_size=min_size, max_size=max_size),
        label="called tools",
    )
    calls = []
    for index, tool_index in enumerate(indices):
        function = tools[tool_index]["function"]
        arguments = draw(compile_parameters(function.get("parameters")), label="arguments")
        calls.append(make_call((turn, index), function["name"], arguments))
    return calls


@st.composite
def _tool_round(
    draw: DrawFn,
    tools: Sequence[Tool] | None,
    text: st.SearchStrategy[str],
    profile: ModelProfile,
) -> list[Message]:
    """An assistant message with tool calls, then one tool message answering each call."""
    if tools is None:
        calls = draw(_generic_calls(0, profile), label="tool_calls")
    else:
        calls = draw(calls_for_tools(tools, 0, 1, MAX_CALLS_PER_ROUND), label="tool_calls")
    assistant: Message = {"role": "assistant", "content": None, "tool_calls": calls}
    if draw(st.booleans(), label="text beside calls"):
        assistant["content"] = draw(text, label="content")
    # Answers may come in any order; the identity permutation is the simplest.
    order = draw(st.permutations(range(len(calls))), label="answer order")
    answers: list[Message] = [
        {
            "role": "tool",
            "tool_call_id": calls[index]["id"],
            "content": _content(draw, text, "tool"),
        }
        for index in order
    ]
    return [assistant, *answers]


@st.composite
def _turn(
    draw: DrawFn,
    tools: Sequence[Tool] | None,
    text: st.SearchStrategy[str],
    profile: ModelProfile,
) -> list[Message]:
    kinds = ["user", "assistant"] if tools == [] else ["user", "assistant", "tool round"]
    kind = draw(st.sampled_from(kinds), label="turn kind")
    if kind == "tool round":
        return draw(_tool_round(tools, text, profile))
    message: Message = {"role": kind, "content": _content(draw, text, kind)}
    _maybe_name(draw, message, profile)
    return [message]


@st.composite
def conversations(
    draw: DrawFn,
    *,
    tools: Sequence[Tool] | None = None,
    min_turns: int = 1,
    max_turns: int = 6,
    texts: st.SearchStrategy[str] | None = None,
) -> list[Message]:
    """A valid message history: an optional system or developer message, then turns.

    A turn is a user message, an assistant reply, or a tool round (an assistant message with
    1 to 3 ``tool_calls`` followed by one ``tool`` message per call, in any order). With
    ``tools`` (a list of tool definitions, e.g. drawn from :func:`tools`) the calls name those
    tools with arguments valid for their schemas; ``tools=[]`` means no tool rounds; ``None``
    invents function names. Every ``tool_call_id`` is answered and ids follow the position, so
    deleting any turn while shrinking leaves a valid history.

    Shrinks towards ``[{"role": "user", "content": ""}]``.
    """
    what = "conversations()"
    check_size_bounds(min_turns, max_turns, what=what, hard_max=None)
    if min_turns < 1:
        raise fail(f"{what}: min_turns={min_turns}; the API needs at least one message.")
    check_strategy(texts, name="texts", what=what)
    if tools is not None:
        check_tools_value(tools, what)
    text = texts if texts is not None else _default_texts()
    profile = GPT4O_MINI
    history: list[Message] = []
    if draw(st.booleans(), label="has instructions"):
        role = draw(st.sampled_from(("system", "developer")), label="instructions role")
        instructions: Message = {"role": role, "content": _content(draw, text, role)}
        _maybe_name(draw, instructions, profile)
        history.append(instructions)
    # Turns are drawn as a list of self-contained units, so the shrinker deletes whole turns;
    # call ids are then given by turn position, never by a random draw.
    turns = draw(
        st.lists(_turn(tools, text, profile), min_size=min_turns, max_size=max_turns),
        label="turns",
    )
    for position, turn in enumerate(turns):
        history.extend(_renumbered(turn, position))
    return history


def _renumbered(turn: list[Message], position: int) -> list[Message]:
    renamed: dict[str, str] = {}
    result = []
    for message in turn:
        if message.get("tool_calls"):
            calls = []
            for index, call in enumerate(message["tool_calls"]):
                renamed[call["id"]] = call_id(position, index)
                calls.append({**call, "id": renamed[call["id"]]})
            message = {**message, "tool_calls": calls}
        elif message["role"] == "tool":
            message = {**message, "tool_call_id": renamed[message["tool_call_id"]]}
        result.append(message)
    return result


def check_tools_value(tools: object, what: str) -> None:
    if not isinstance(tools, Sequence) or isinstance(tools, str):
        raise fail(f"{what}: tools must be a list of tool definitions, got {tools!r}.")
    for position, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise fail(
                f"{what}: tools[{position}] is not a function tool "
                '({"type": "function", "function": {"name": ...}}); got '
                f"{tool!r}."
            )
