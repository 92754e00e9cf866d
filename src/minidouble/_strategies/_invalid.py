"""Requests broken in exactly one way, each carrying the error the API answers with.

A minimal valid request is drawn, then exactly one mutation is applied by construction (never
by filtering), the way schemathesis builds negative cases. The API reports only the first
problem it finds, so one violation per request keeps the expected ``param`` and ``code``
deterministic. The texts of the errors are the server's business; the strategy only says
which parameter is at fault and which code the API gives.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._strategies._common import (
    Body,
    Message,
    Schema,
    call_id,
    check_subset,
    known_model,
    names,
    texts,
)
from minidouble._strategies._limits import near_limit_requests
from minidouble._strategies._messages import MAX_CALLS_PER_ROUND, conversations, make_call
from minidouble._strategies._requests import number, without_json_word
from minidouble._strategies._schemas import tool_schemas


@dataclass(frozen=True)
class InvalidRequest:
    """A request body with exactly one violation, and how the API rejects it.

    ``param`` and ``code`` are the ``error.param`` and ``error.code`` of the API's answer
    (either may be ``None``, as in the API), ``status`` its HTTP status, ``kind`` the
    violation's name (one of ``INVALID_KINDS``) and ``detail`` what was changed.
    """

    body: Body = field(repr=False)
    kind: str
    param: str | None
    code: str | None
    status: int = 400
    detail: str = ""


_Mutation = Callable[[DrawFn, Body, ModelProfile], InvalidRequest]
_MUTATIONS: dict[str, _Mutation] = {}


def _kind(name: str) -> Callable[[_Mutation], _Mutation]:
    def register(mutation: _Mutation) -> _Mutation:
        _MUTATIONS[name] = mutation
        return mutation

    return register


def _plain_tools(draw: DrawFn, profile: ModelProfile, min_size: int = 1) -> list[dict[str, Any]]:
    """Tools without parameters: a violation about tools needs nothing more."""
    tool_names = draw(
        st.lists(names(profile.max_name_length), min_size=min_size, max_size=3, unique=True),
        label="tool names",
    )
    return [{"type": "function", "function": {"name": name}} for name in tool_names]


def _pick(draw: DrawFn, history: list[Message], roles: Collection[str]) -> int:
    candidates = [index for index, message in enumerate(history) if message["role"] in roles]
    return draw(st.sampled_from(candidates), label="message index")


def _with_user_message(body: Body) -> list[Message]:
    """The history, with a user message guaranteed (a base may hold only assistant turns)."""
    history: list[Message] = list(body["messages"])
    if not any(message["role"] == "user" for message in history):
        history.append({"role": "user", "content": ""})
    return history


_WRONG_MODELS = (
    "gpt-4o-mini-2024-07-19",
    "gpt-4o-mini ",
    "GPT-4o-mini",
    "gpt4o-mini",
    "gpt-4o-mini-2025-01-01",
    "gpt-4o-mini-latest",
)


@_kind("model_not_found")
def _model_not_found(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    model = draw(
        st.sampled_from(_WRONG_MODELS)
        | names(40).filter(lambda name: not profile.accepts_model(name)),
        label="unknown model",
    )
    return InvalidRequest(
        {**body, "model": model},
        "model_not_found",
        None,
        "model_not_found",
        404,
        f"model {model!r} does not exist",
    )


@_kind("missing_messages")
def _missing_messages(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    mutated = {key: value for key, value in body.items() if key != "messages"}
    return InvalidRequest(
        mutated,
        "missing_messages",
        "messages",
        "missing_required_parameter",
        detail="removed 'messages'",
    )


@_kind("empty_messages")
def _empty_messages(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    return InvalidRequest(
        {**body, "messages": []},
        "empty_messages",
        "messages",
        "empty_array",
        detail="'messages' is []",
    )


_PLAUSIBLE_TYPOS = ("maxTokens", "responseFormat", "max_output_tokens", "temprature", "top_k")


@_kind("unrecognized_argument")
def _unrecognized_argument(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    known = profile.chat_parameters | profile.refused_parameters
    name = draw(
        st.sampled_from(_PLAUSIBLE_TYPOS)
        | st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
            lambda key: key not in known
        ),
        label="unknown argument",
    )
    return InvalidRequest(
        {**body, name: draw(st.integers(0, 100) | st.booleans(), label="value")},
        "unrecognized_argument",
        None,
        None,
        detail=f"added unknown argument {name!r}",
    )


_TYPED_PARAMETERS = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "seed",
    "max_completion_tokens",
    "max_tokens",
    "logprobs",
    "stream",
    "store",
    "top_logprobs",
)


@_kind("wrong_type")
def _wrong_type(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    param = draw(st.sampled_from(_TYPED_PARAMETERS), label="parameter")
    rule = profile.numbers.get(param)
    if rule is not None and rule.integer and draw(st.booleans(), label="decimal for integer"):
        low = int(rule.minimum) if rule.minimum is not None else 0
        value: Any = low + 0.5
    else:
        value = draw(st.sampled_from(("1", "true", "")), label="string value")
    return InvalidRequest(
        {**body, param: value},
        "wrong_type",
        param,
        "invalid_type",
        detail=f"{param} = {value!r}",
    )


@_kind("number_out_of_range")
def _number_out_of_range(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    sides = [
        (name, side)
        for name, rule in profile.numbers.items()
        for side, bound in (("below", rule.minimum), ("above", rule.maximum))
        if bound is not None
    ]
    name, side = draw(st.sampled_from(sides), label="parameter and side")
    rule = profile.numbers[name]
    bound = rule.minimum if side == "below" else rule.maximum
    assert bound is not None
    if rule.integer:
        step = draw(st.integers(1, 1_000), label="distance")
        value: Any = int(bound) - step if side == "below" else int(bound) + step
    else:
        value = draw(
            st.floats(bound - 100, bound, exclude_max=True)
            if side == "below"
            else st.floats(bound, bound + 100, exclude_min=True),
            label="value",
        )
    kind_word = "integer" if rule.integer else "decimal"
    code = f"{kind_word}_{side}_{'min' if side == 'below' else 'max'}_value"
    mutated = dict(body)
    if name == "logit_bias_value":
        key = str(draw(st.integers(0, 100_000), label="token id"))
        mutated["logit_bias"] = {key: value}
        param = f"logit_bias.{key}"
    else:
        mutated[name] = value
        param = name
    if name == "top_logprobs":
        mutated["logprobs"] = True
    return InvalidRequest(
        mutated, "number_out_of_range", param, code, detail=f"{param} = {value!r}"
    )


_BAD_ROLES = ("bot", "human", "model", "Assistant", "USER", "tooool")


@_kind("bad_role")
def _bad_role(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    history = list(body["messages"])
    index = draw(st.integers(0, len(history) - 1), label="message index")
    role = draw(
        st.sampled_from(_BAD_ROLES) | names(12).filter(lambda r: r not in profile.roles),
        label="role",
    )
    history[index] = {**history[index], "role": role}
    return InvalidRequest(
        {**body, "messages": history},
        "bad_role",
        f"messages[{index}].role",
        "invalid_value",
        detail=f"messages[{index}].role = {role!r}",
    )


def _change_content(
    draw: DrawFn, body: Body, change: Callable[[Message], Message]
) -> tuple[Body, int]:
    """``body`` with ``change`` applied to one user, system or developer message."""
    history = _with_user_message(body)
    index = _pick(draw, history, ("user", "system", "developer"))
    history[index] = change(history[index])
    return {**body, "messages": history}, index


@_kind("missing_content")
def _missing_content(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    mutated, index = _change_content(
        draw, body, lambda m: {k: v for k, v in m.items() if k != "content"}
    )
    return InvalidRequest(
        mutated,
        "missing_content",
        f"messages[{index}].content",
        "missing_required_parameter",
        detail=f"removed messages[{index}].content",
    )


@_kind("null_content")
def _null_content(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    mutated, index = _change_content(draw, body, lambda m: {**m, "content": None})
    # The older semantic layer of the API names the message with a dotted path.
    return InvalidRequest(
        mutated,
        "null_content",
        f"messages.[{index}].content",
        None,
        detail=f"messages[{index}].content = null",
    )


_BAD_NAMES = ("John Smith", "a.b", "name!", "ü", "a/b")


@_kind("bad_message_name")
def _bad_message_name(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    history = _with_user_message(body)
    index = _pick(draw, history, ("user", "system", "developer", "assistant"))
    name = draw(st.sampled_from(_BAD_NAMES), label="name")
    history[index] = {**history[index], "name": name}
    return InvalidRequest(
        {**body, "messages": history},
        "bad_message_name",
        f"messages[{index}].name",
        "invalid_value",
        detail=f"messages[{index}].name = {name!r}",
    )


def _over_limit(draw: DrawFn, kind: str, limit: Any) -> InvalidRequest:
    case = draw(near_limit_requests(limit=limit, within_limits=False), label=kind)
    return InvalidRequest(
        case.body,
        kind,
        case.expected_param,
        case.expected_code,
        case.expected_status or 400,
        detail=f"{limit} is {case.value}, {case.offset} over {case.limit_value}",
    )


@_kind("content_too_long")
def _content_too_long(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    return _over_limit(draw, "content_too_long", "content_length")


@_kind("too_many_stops")
def _too_many_stops(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    maximum = profile.max_stop_sequences
    stops = draw(
        st.lists(st.text(min_size=1, max_size=5), min_size=maximum + 1, max_size=maximum + 4),
        label="stop",
    )
    return InvalidRequest(
        {**body, "stop": stops},
        "too_many_stops",
        "stop",
        "array_above_max_length",
        detail=f"{len(stops)} stop sequences",
    )


@_kind("max_tokens_too_large")
def _max_tokens_too_large(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    return _over_limit(draw, "max_tokens_too_large", "completion")


@_kind("both_token_caps")
def _both_token_caps(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    caps = st.integers(1, profile.max_output_tokens)
    mutated = {
        **body,
        "max_tokens": draw(caps, label="max_tokens"),
        "max_completion_tokens": draw(caps, label="max_completion_tokens"),
    }
    return InvalidRequest(
        mutated,
        "both_token_caps",
        "max_tokens",
        "invalid_parameter_combination",
        detail="both max_tokens and max_completion_tokens",
    )


@_kind("empty_tools")
def _empty_tools(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    return InvalidRequest(
        {**body, "tools": []}, "empty_tools", "tools", "empty_array", detail="'tools' is []"
    )


@_kind("too_many_tools")
def _too_many_tools(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    return _over_limit(draw, "too_many_tools", "tools")


_NAME_BREAKERS = (" ", ".", ":", "/", "é", "$")


@_kind("bad_tool_name")
def _bad_tool_name(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    tool_list = _plain_tools(draw, profile)
    index = draw(st.integers(0, len(tool_list) - 1), label="tool index")
    name = tool_list[index]["function"]["name"]
    position = draw(st.integers(0, len(name)), label="position")
    breaker = draw(st.sampled_from(_NAME_BREAKERS), label="character")
    # Keep the name within 64 characters, so the pattern is the only thing wrong with it.
    bad = (name[:position] + breaker + name[position:])[: profile.max_name_length]
    if breaker not in bad:
        bad = bad[:-1] + breaker
    tool_list[index] = {"type": "function", "function": {"name": bad}}
    return InvalidRequest(
        {**body, "tools": tool_list},
        "bad_tool_name",
        f"tools[{index}].function.name",
        "invalid_value",
        detail=f"tools[{index}].function.name = {bad!r}",
    )


@_kind("tool_choice_without_tools")
def _tool_choice_without_tools(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    choice = draw(
        st.sampled_from(("auto", "none", "required"))
        | names(profile.max_name_length).map(
            lambda name: {"type": "function", "function": {"name": name}}
        ),
        label="tool_choice",
    )
    return InvalidRequest(
        {**body, "tool_choice": choice},
        "tool_choice_without_tools",
        "tool_choice",
        None,
        detail=f"tool_choice = {choice!r} without tools",
    )


@_kind("parallel_tool_calls_without_tools")
def _parallel_without_tools(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    value = draw(st.booleans(), label="parallel_tool_calls")
    return InvalidRequest(
        {**body, "parallel_tool_calls": value},
        "parallel_tool_calls_without_tools",
        "parallel_tool_calls",
        None,
        detail="parallel_tool_calls without tools",
    )


@_kind("tool_choice_not_found")
def _tool_choice_not_found(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    tool_list = _plain_tools(draw, profile)
    present = {tool["function"]["name"] for tool in tool_list}
    missing = draw(names(profile.max_name_length).filter(lambda n: n not in present), label="name")
    choice = {"type": "function", "function": {"name": missing}}
    return InvalidRequest(
        {**body, "tools": tool_list, "tool_choice": choice},
        "tool_choice_not_found",
        "tool_choice",
        None,
        detail=f"tool_choice names {missing!r}, not among the tools",
    )


@_kind("stream_options_without_stream")
def _stream_options_without_stream(
    draw: DrawFn, body: Body, profile: ModelProfile
) -> InvalidRequest:
    mutated = {**body, "stream_options": {"include_usage": draw(st.booleans())}}
    if draw(st.booleans(), label="says stream false"):
        mutated["stream"] = False
    return InvalidRequest(
        mutated,
        "stream_options_without_stream",
        "stream_options",
        None,
        detail="stream_options without stream: true",
    )


@_kind("top_logprobs_without_logprobs")
def _top_logprobs_without_logprobs(
    draw: DrawFn, body: Body, profile: ModelProfile
) -> InvalidRequest:
    mutated = {**body, "top_logprobs": draw(number(profile.numbers["top_logprobs"]))}
    if draw(st.booleans(), label="says logprobs false"):
        mutated["logprobs"] = False
    return InvalidRequest(
        mutated,
        "top_logprobs_without_logprobs",
        "top_logprobs",
        None,
        detail="top_logprobs without logprobs: true",
    )


@_kind("json_object_without_json")
def _json_object_without_json(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    mutated = {
        **body,
        "messages": without_json_word(body["messages"]),
        "response_format": {"type": "json_object"},
    }
    return InvalidRequest(
        mutated,
        "json_object_without_json",
        "messages",
        None,
        detail="json_object response format, no 'json' in the messages",
    )


@_kind("orphan_tool_message")
def _orphan_tool_message(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    history = list(body["messages"])
    position = draw(st.integers(0, len(history)), label="position")
    orphan: Message = {
        "role": "tool",
        "tool_call_id": call_id(-1, position),
        "content": draw(texts(), label="content"),
    }
    history.insert(position, orphan)
    return InvalidRequest(
        {**body, "messages": history},
        "orphan_tool_message",
        f"messages.[{position}].role",
        None,
        detail=f"messages[{position}] answers a tool call nobody made",
    )


@_kind("unanswered_tool_call")
def _unanswered_tool_call(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    history = list(body["messages"])
    position = draw(st.integers(0, len(history)), label="position")
    count = draw(st.integers(1, MAX_CALLS_PER_ROUND), label="calls")
    calls = [make_call((-1, index), f"tool_{index}", {}) for index in range(count)]
    answered = draw(st.integers(0, count - 1), label="answers")
    round_messages: list[Message] = [{"role": "assistant", "content": None, "tool_calls": calls}]
    round_messages += [
        {"role": "tool", "tool_call_id": call["id"], "content": ""} for call in calls[:answered]
    ]
    following = position + len(round_messages)
    history[position:position] = round_messages
    if following == len(history):
        history.append({"role": "user", "content": ""})
    missing = [call["id"] for call in calls[answered:]]
    return InvalidRequest(
        {**body, "messages": history},
        "unanswered_tool_call",
        f"messages.[{following}].role",
        None,
        detail=f"tool_call_ids {missing} have no answer before messages[{following}]",
    )


@_kind("context_length_exceeded")
def _context_length_exceeded(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    return _over_limit(draw, "context_length_exceeded", "context")


@_kind("context_with_completion_exceeded")
def _context_with_completion(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    return _over_limit(draw, "context_with_completion_exceeded", "context_with_completion")


def _objects(schema: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Schema]]:
    """Every object schema inside ``schema`` with its path, the root first."""
    found: list[tuple[tuple[Any, ...], Schema]] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            found.append((path, schema))
        for key, value in schema.items():
            if key not in ("enum", "const"):
                found.extend(_objects(value, (*path, key)))
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found.extend(_objects(value, (*path, index)))
    return found


def _replace(schema: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(schema, list):
        copy = list(schema)
        copy[head] = _replace(schema[head], rest, new)
        return copy
    return {**schema, head: _replace(schema[head], rest, new)}


STRICT_SCHEMA_VIOLATIONS = (
    "additional_properties_missing",
    "additional_properties_true",
    "property_not_required",
    "forbidden_keyword",
    "root_not_object",
)


@_kind("strict_schema_limit")
def _strict_schema_limit(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    limit = draw(
        st.sampled_from(("schema_nesting", "schema_enum_values", "schema_properties")),
        label="schema limit",
    )
    return _over_limit(draw, "strict_schema_limit", limit)


@_kind("strict_schema")
def _strict_schema(draw: DrawFn, body: Body, profile: ModelProfile) -> InvalidRequest:
    schema = draw(tool_schemas(strict=True, max_depth=3, max_properties=6), label="schema")
    violation = draw(st.sampled_from(STRICT_SCHEMA_VIOLATIONS), label="violation")
    objects = _objects({k: v for k, v in schema.items() if k != "$defs"}) + [
        (("$defs", name, *path), node)
        for name, definition in schema.get("$defs", {}).items()
        for path, node in _objects(definition)
    ]
    if violation == "property_not_required":
        objects = [(path, node) for path, node in objects if node["properties"]]
        if not objects:
            violation = "additional_properties_missing"
            objects = _objects(schema)[:1]
    path, node = draw(st.sampled_from(objects), label="object")
    if violation == "additional_properties_missing":
        broken = _replace(
            schema, path, {k: v for k, v in node.items() if k != "additionalProperties"}
        )
    elif violation == "additional_properties_true":
        broken = _replace(schema, path, {**node, "additionalProperties": True})
    elif violation == "property_not_required":
        dropped = draw(st.sampled_from(list(node["properties"])), label="optional property")
        required = [key for key in node["required"] if key != dropped]
        broken = _replace(schema, path, {**node, "required": required})
    elif violation == "forbidden_keyword":
        keyword = draw(st.sampled_from(profile.strict_schema.forbidden_keywords), label="keyword")
        broken = _replace(schema, path, {**node, keyword: 1})
    else:
        broken = {"anyOf": [schema, {"type": "null"}]}
    where = draw(st.sampled_from(("response_format", "tools")), label="where")
    if where == "response_format":
        mutated = {
            **body,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": broken, "strict": True},
            },
        }
        param, code = "response_format", None
    else:
        function = {"name": "tool", "parameters": broken, "strict": True}
        mutated = {**body, "tools": [{"type": "function", "function": function}]}
        param, code = "tools[0].function.parameters", "invalid_function_parameters"
    return InvalidRequest(
        mutated, "strict_schema", param, code, detail=f"{violation} at {list(path)} in {where}"
    )


# Simplest first: kinds that draw nothing beyond the base request lead, so a failure that any
# kind triggers shrinks to a missing 'messages'.
INVALID_KINDS = (
    "missing_messages",
    "empty_messages",
    "empty_tools",
    "json_object_without_json",
    "model_not_found",
    "unrecognized_argument",
    "wrong_type",
    "number_out_of_range",
    "bad_role",
    "missing_content",
    "null_content",
    "bad_message_name",
    "content_too_long",
    "too_many_stops",
    "max_tokens_too_large",
    "both_token_caps",
    "too_many_tools",
    "bad_tool_name",
    "tool_choice_without_tools",
    "parallel_tool_calls_without_tools",
    "tool_choice_not_found",
    "stream_options_without_stream",
    "top_logprobs_without_logprobs",
    "orphan_tool_message",
    "unanswered_tool_call",
    "context_length_exceeded",
    "context_with_completion_exceeded",
    "strict_schema",
    "strict_schema_limit",
)
assert set(INVALID_KINDS) == set(_MUTATIONS)


@st.composite
def invalid_requests(draw: DrawFn, *, kinds: Collection[str] | None = None) -> InvalidRequest:
    """Requests with exactly one violation, each with the ``param`` and ``code`` it earns.

    ``kinds`` restricts the violations (names in ``INVALID_KINDS``): unknown model, missing
    or empty messages, unrecognized argument, wrong type, number out of range, bad role,
    missing or null content, bad message name, over-long content, too many stop sequences,
    completion cap over the model's, both caps at once, empty or too many tools, bad tool
    name, tool_choice or parallel_tool_calls without tools, tool_choice naming no tool,
    stream_options without stream, top_logprobs without logprobs, json_object without "json",
    an orphan tool message, an unanswered tool call, a prompt over the context window (alone
    or with the completion cap), and a strict schema broken in one place.

    Shrinks towards the first kind on a one-message request.
    """
    chosen = (
        INVALID_KINDS
        if kinds is None
        else check_subset(kinds, INVALID_KINDS, name="kinds", what="invalid_requests()")
    )
    profile = GPT4O_MINI
    kind = draw(st.sampled_from(chosen), label="kind")
    body: Body = {
        "model": draw(known_model(profile), label="model"),
        "messages": draw(conversations(tools=[], max_turns=3), label="messages"),
    }
    return _MUTATIONS[kind](draw, body, profile)
