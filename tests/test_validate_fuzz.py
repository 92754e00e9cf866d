"""Bad input never crashes: any bytes, any JSON value, any mangled request gets an OpenAI error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from minidouble import GPT4O_MINI, OpenAIError
from minidouble._validate import check_request, parse_json_body

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
