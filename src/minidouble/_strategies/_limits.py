"""Requests exactly at a limit, or a few units either side, in milliseconds.

A 128,000-token prompt cannot come from random text: Hypothesis caps a test case at 8 KiB of
choices. Instead a small request is drawn, counted once with the server's own counter, and
padded with a filler whose token cost is known exactly: a space-prefixed word repeated n
times is n tokens in o200k_base (each repeat is its own token, verified up to 128,000 by
tests/test_strategies_limits.py). The filler sits in its own message, so it cannot merge
with its neighbours, and each example costs a handful of choices whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._model._tokens import count_prompt_tokens
from minidouble._strategies._common import Body, Message, check_strategy, fail, known_model
from minidouble._strategies._messages import conversations

Limit = Literal[
    "context",
    "context_with_completion",
    "completion",
    "tools",
    "content_length",
    "schema_properties",
    "schema_nesting",
    "schema_enum_values",
]
LIMITS: tuple[Limit, ...] = get_args(Limit)
# Each costs exactly one o200k token per repeat, whatever its neighbours in the run.
FILLER_UNITS = (" hello", " the", " data", " token")
# 16 characters per o200k token, so a million characters stay far inside the context window,
# and short pieces keep the encoder fast (one huge run of a single character takes seconds to
# encode, and a million spaces overflow tiktoken's regex stack).
CHEAP_UNIT = " " + "-" * 31
DEFAULT_OFFSET = 8


@dataclass(frozen=True)
class NearLimitRequest:
    """A request whose measured ``value`` is ``limit_value + offset``.

    ``limit`` names what is measured: ``"context"`` (prompt tokens against the context
    window), ``"context_with_completion"`` (prompt tokens plus the requested completion cap
    against the context window), ``"completion"`` (``max_completion_tokens``/``max_tokens``
    against the output cap), ``"tools"`` (number of tools) or ``"content_length"`` (characters
    of one message's content). ``offset <= 0`` is within the limit; ``offset > 0`` is over
    it, and then ``expected_param``/``expected_code`` say what the API answers.
    """

    body: Body = field(repr=False)
    limit: Limit
    offset: int
    value: int
    limit_value: int
    expected_param: str | None = None
    expected_code: str | None = None
    expected_status: int | None = None

    @property
    def within_limit(self) -> bool:
        return self.offset <= 0


def _over_error(limit: Limit, body: Body, profile: ModelProfile) -> tuple[str | None, str | None]:
    if limit in ("context", "context_with_completion"):
        return "messages", "context_length_exceeded"
    if limit == "completion":
        param = "max_tokens" if "max_tokens" in body else "max_completion_tokens"
        code = None if profile.over_cap_wording == "too_large" else "integer_above_max_value"
        return param, code
    if limit == "tools":
        return "tools", "array_above_max_length"
    if limit.startswith("schema_"):
        return "response_format", None
    index = len(body["messages"]) - 1
    return f"messages[{index}].content", "string_above_max_length"


@st.composite
def _base(draw: DrawFn, profile: ModelProfile) -> Body:
    """A small valid request without tools or completion caps: the thing that gets padded."""
    return {
        "model": draw(known_model(profile), label="model"),
        "messages": draw(conversations(tools=[], max_turns=3), label="messages"),
    }


def _padded(body: Body, message: Message, front: bool) -> Body:
    history = body["messages"]
    if front:
        # After the instructions, so a leading system/developer message stays first.
        lead = 1 if history and history[0]["role"] in ("system", "developer") else 0
        history = [*history[:lead], message, *history[lead:]]
    else:
        history = [*history, message]
    return {**body, "messages": history}


@st.composite
def near_limit_requests(
    draw: DrawFn,
    *,
    limit: Limit = "context",
    offsets: st.SearchStrategy[int] | None = None,
    within_limits: bool | None = None,
) -> NearLimitRequest:
    """Requests at ``limit`` plus a small offset, built from additive filler in milliseconds.

    ``offsets`` defaults to ``st.integers(-8, 8)``, narrowed to ``<= 0`` by
    ``within_limits=True`` or to ``>= 1`` by ``within_limits=False``. Offsets shrink towards
    0, so a failure lands exactly at the limit, or at ``+1`` when only the over side fails.
    Every token count comes from :func:`minidouble.count_prompt_tokens`.

    Shrinks towards offset 0 with a one-message conversation.
    """
    what = "near_limit_requests()"
    profile = GPT4O_MINI
    if limit not in LIMITS:
        raise fail(f"{what}: limit={limit!r} is not one of {list(LIMITS)!r}.")
    if within_limits is not None and not isinstance(within_limits, bool):
        raise fail(f"{what}: within_limits={within_limits!r} must be True, False or None.")
    check_strategy(offsets, name="offsets", what=what)
    if offsets is None:
        low = -DEFAULT_OFFSET if within_limits in (None, True) else 1
        high = DEFAULT_OFFSET if within_limits in (None, False) else 0
        offsets = st.integers(low, high)
    offset = draw(offsets, label="offset")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise fail(f"{what}: offsets must yield integers, got {offset!r}.")
    if (within_limits is True and offset > 0) or (within_limits is False and offset <= 0):
        raise fail(
            f"{what}: offsets yielded {offset}, which contradicts within_limits={within_limits}."
        )
    body = draw(_base(profile), label="base request")
    builder = _BUILDERS[limit]
    built = builder(draw, body, offset, profile)
    param, code = _over_error(limit, built[0], profile) if offset > 0 else (None, None)
    return NearLimitRequest(
        body=built[0],
        limit=limit,
        offset=offset,
        value=built[1],
        limit_value=built[2],
        expected_param=param,
        expected_code=code,
        expected_status=400 if offset > 0 else None,
    )


class Filler(str):
    """A long generated text that prints as the expression that built it.

    A failing near-limit example would otherwise fill the report with a megabyte of
    ``' hello hello ...'``; this is an ordinary ``str`` everywhere else (JSON, tokenizers,
    comparisons).
    """

    description: str

    def __new__(cls, text: str, description: str) -> Filler:
        made = super().__new__(cls, text)
        made.description = description
        return made

    def __repr__(self) -> str:
        return self.description

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.description)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Filler, (str(self), self.description))


def filler(unit: str, tokens: int) -> Filler:
    return Filler(unit * tokens, f"{unit!r} * {tokens}")


def _prompt_of(draw: DrawFn, body: Body, target: int, profile: ModelProfile) -> tuple[Body, int]:
    """``body`` plus one filler message, so that its prompt counts exactly ``target`` tokens."""
    unit = draw(st.sampled_from(FILLER_UNITS), label="filler unit")
    front = draw(st.booleans(), label="filler first")
    role = draw(st.sampled_from(("user", "system")), label="filler role")
    empty: Message = {"role": role, "content": ""}
    base_tokens = count_prompt_tokens(_padded(body, empty, front))
    repeats = target - base_tokens
    if repeats < 0:
        raise fail(
            f"near_limit_requests(): the base request already has {base_tokens} tokens, more "
            f"than the target {target}; this is a minidouble bug, please report it."
        )
    padded = _padded(body, {"role": role, "content": filler(unit, repeats)}, front)
    return padded, target


def _context(draw: DrawFn, body: Body, offset: int, profile: ModelProfile) -> tuple[Body, int, int]:
    target = profile.context_window + offset
    padded, tokens = _prompt_of(draw, body, target, profile)
    return padded, tokens, profile.context_window


def _context_with_completion(
    draw: DrawFn, body: Body, offset: int, profile: ModelProfile
) -> tuple[Body, int, int]:
    if not profile.reject_prompt_plus_max_over_context:
        raise fail(
            "near_limit_requests(): this model profile does not limit prompt plus completion; "
            "use limit='context'."
        )
    # A cap of at least the offset keeps the prompt itself inside the window.
    cap = draw(st.integers(max(1, offset), profile.max_output_tokens), label="completion cap")
    field = draw(st.sampled_from(("max_completion_tokens", "max_tokens")), label="cap field")
    padded, tokens = _prompt_of(draw, body, profile.context_window - cap + offset, profile)
    return {**padded, field: cap}, tokens + cap, profile.context_window


def _completion(
    draw: DrawFn, body: Body, offset: int, profile: ModelProfile
) -> tuple[Body, int, int]:
    field = draw(st.sampled_from(("max_completion_tokens", "max_tokens")), label="cap field")
    value = profile.max_output_tokens + offset
    return {**body, field: value}, value, profile.max_output_tokens


def _tools(draw: DrawFn, body: Body, offset: int, profile: ModelProfile) -> tuple[Body, int, int]:
    count = profile.max_tools + offset
    # Names by position keep thousands of tools at zero choices; schemas stay empty objects.
    tool_list: list[dict[str, Any]] = [
        {"type": "function", "function": {"name": f"tool_{index}"}} for index in range(count)
    ]
    return {**body, "tools": tool_list}, count, profile.max_tools


def _content_length(
    draw: DrawFn, body: Body, offset: int, profile: ModelProfile
) -> tuple[Body, int, int]:
    length = profile.max_string_length + offset
    text = (CHEAP_UNIT * (length // len(CHEAP_UNIT) + 1))[:length]
    content = Filler(text, f"({CHEAP_UNIT!r} * {length // len(CHEAP_UNIT) + 1})[:{length}]")
    message: Message = {"role": "user", "content": content}
    return _padded(body, message, front=False), length, profile.max_string_length


def _with_schema(body: Body, schema: dict[str, Any]) -> Body:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }
    return {**body, "response_format": response_format}


def _strict_object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _schema_properties(
    draw: DrawFn, body: Body, offset: int, profile: ModelProfile
) -> tuple[Body, int, int]:
    limit = profile.strict_schema.max_properties
    count = limit + offset
    # Names by position: thousands of properties for the price of one choice.
    schema = _strict_object({f"p{index}": {"type": "string"} for index in range(count)})
    return _with_schema(body, schema), count, limit


def _schema_nesting(
    draw: DrawFn, body: Body, offset: int, profile: ModelProfile
) -> tuple[Body, int, int]:
    limit = profile.strict_schema.max_nesting
    levels = max(1, limit + offset)
    schema = _strict_object({"value": {"type": "string"}})
    for _ in range(levels - 1):
        schema = _strict_object({"child": schema})
    return _with_schema(body, schema), levels, limit


def _schema_enum_values(
    draw: DrawFn, body: Body, offset: int, profile: ModelProfile
) -> tuple[Body, int, int]:
    limits = profile.strict_schema
    count = limits.max_enum_values + offset
    # Short integers keep every enum under the large-enum character rule: only the count counts.
    per_enum = limits.large_enum_threshold
    enums = {
        f"e{start}": {"type": "integer", "enum": list(range(start, min(start + per_enum, count)))}
        for start in range(0, count, per_enum)
    }
    return _with_schema(body, _strict_object(enums)), count, limits.max_enum_values


_BUILDERS = {
    "context": _context,
    "context_with_completion": _context_with_completion,
    "completion": _completion,
    "tools": _tools,
    "content_length": _content_length,
    "schema_properties": _schema_properties,
    "schema_nesting": _schema_nesting,
    "schema_enum_values": _schema_enum_values,
}
