"""Bad input never crashes: any bytes, any JSON value, any mangled request gets an OpenAI error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from minidouble import GPT4O_MINI, OpenAIError, count_prompt_tokens
from minidouble._model._validate import check_request, parse_json_body

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
# Keys and values the validator looks at, so that mangled requests reach its deeper rules.
FIELD_NAMES = [
    "role",
    "content",
    "type",
    "text",
    "image_url",
    "url",
    "name",
    "tool_calls",
    "id",
    "function",
    "parameters",
    "properties",
    "required",
    "strict",
    "json_schema",
    "schema",
    "tool_call_id",
    "additionalProperties",
    "items",
    "file",
    "input_audio",
    "detail",
]
KEYS = st.sampled_from([*sorted(GPT4O_MINI.chat_parameters), *FIELD_NAMES])
VALUES = st.sampled_from(
    [
        "user",
        "assistant",
        "tool",
        "system",
        "function",
        "text",
        "image_url",
        "json_schema",
        "object",
        "json_object",
        "auto",
        "data:image/png;base64,iVBORw0KGgo=",
    ]
)
SHAPED = st.recursive(
    SCALARS | VALUES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(KEYS | st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=30,
)


def _outcome(body: Any) -> None:
    try:
        tokens = check_request(body)
    except OpenAIError as exc:
        assert exc.status in (400, 404)
        assert set(exc.body["error"]) == {"message", "type", "param", "code"}
        assert exc.message
        json.dumps(exc.body)
    else:
        assert isinstance(tokens, int) and tokens > 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes(raw: bytes) -> None:
    try:
        body = parse_json_body(raw)
    except OpenAIError as exc:
        assert exc.status == 400 and exc.style == "gateway"
        return
    _outcome(body)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_json_value(value: Any) -> None:
    _outcome(value)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(KEYS, SHAPED, max_size=6), SHAPED)
def test_mangled_requests(params: dict[str, Any], messages: Any) -> None:
    _outcome({**params, "model": "gpt-4o-mini", "messages": messages})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(KEYS, SHAPED, max_size=5), min_size=1, max_size=4), SHAPED)
def test_mangled_messages_and_tools(messages: list[dict[str, Any]], tools: Any) -> None:
    _outcome({"model": "gpt-4o-mini", "messages": messages, "tools": tools})


# Tool rounds with arbitrary ids, calls and answers: the history the counter pairs up.
CALLS = st.lists(st.fixed_dictionaries({"id": SHAPED, "function": SHAPED}) | SHAPED, max_size=3)
HISTORY = st.lists(
    st.fixed_dictionaries({"role": st.just("assistant"), "tool_calls": CALLS})
    | st.fixed_dictionaries(
        {"role": st.just("tool"), "tool_call_id": SHAPED | st.sampled_from(["a", "b"])},
        optional={"content": SHAPED},
    )
    | st.dictionaries(KEYS, SHAPED, max_size=5),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(HISTORY, SHAPED)
def test_mangled_tool_rounds_are_counted_and_checked(messages: Any, tools: Any) -> None:
    # count_prompt_tokens is public and promises to count even what the validator refuses.
    body = {"model": "gpt-4o-mini", "messages": messages, "tools": tools}
    assert count_prompt_tokens(body) >= GPT4O_MINI.tokens.reply_priming
    _outcome(body)


ONE_PIXEL_PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
# A request that uses every feature; each example swaps one of its values for arbitrary JSON,
# so every rule meets values of every type in the position it checks.
FULL_REQUEST: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Answer in json."}]},
        {
            "role": "user",
            "name": "alice",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": ONE_PIXEL_PNG}},
                {"type": "file", "file": {"file_id": "file-1"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "f",
                "strict": True,
                "parameters": {
                    "type": "object",
                    "properties": {"x": {"type": "array", "items": {"type": "string"}}},
                    "required": ["x"],
                    "additionalProperties": False,
                },
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "parallel_tool_calls": False,
    "response_format": {"type": "json_object"},
    "stream": True,
    "stream_options": {"include_usage": True},
    "logprobs": True,
    "top_logprobs": 2,
    "logit_bias": {"11": 5},
    "metadata": {"k": "v"},
    "stop": ["END"],
    "max_completion_tokens": 100,
    "temperature": 0.5,
    "prediction": {"type": "content", "content": "x"},
}


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _leaf_paths(child, (*path, key))
    elif isinstance(value, list):
        for position, child in enumerate(value):
            paths += _leaf_paths(child, (*path, position))
    return paths


LEAF_PATHS = _leaf_paths(FULL_REQUEST)


def test_the_full_request_is_valid() -> None:
    check_request(FULL_REQUEST)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(LEAF_PATHS), SHAPED)
def test_one_value_replaced(path: tuple[Any, ...], replacement: Any) -> None:
    body = json.loads(json.dumps(FULL_REQUEST))
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = replacement
    _outcome(body)


def test_a_million_spaces_within_the_string_limit() -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": " " * 1_048_576}]}
    _outcome(body)
