"""Reachability and shrink quality, in the manner of Hypothesis' own ``tests/common/debug.py``.

``find_any`` proves that a strategy can produce something (each role, keyword, kind and limit
side); ``minimal`` shows what a failure shrinks to, which is what a user reads in a report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import minidouble.strategies as mds
from minidouble import GPT4O_MINI
from minidouble._model._tokenizer import encoding
from minidouble._strategies._schemas import FORMATS, PATTERNS

T = TypeVar("T")


@pytest.fixture(autouse=True, scope="module")
def _loaded_tokenizer() -> None:
    encoding()


def find_any(strategy: st.SearchStrategy[T], condition: Callable[[T], bool]) -> T:
    """Some example satisfying ``condition``, without shrinking (fails if none is found).

    The search stops at the first hit; the cap only matters when a value is rare. Some are
    drawn once in 600 small schemas (an ``ipv6`` format), where 2,000 examples missed about
    one run in 25; at 10,000 a miss is a one-in-ten-million event, not a flaky test.
    """
    return find(
        strategy,
        condition,
        settings=settings(
            max_examples=10_000, database=None, phases=[Phase.generate], deadline=None
        ),
    )


def minimal(strategy: st.SearchStrategy[T], condition: Callable[[T], bool] = lambda _: True) -> T:
    """The simplest example satisfying ``condition``, as the shrinker reports it."""
    return find(
        strategy, condition, settings=settings(max_examples=200, database=None, deadline=None)
    )


def _walk(value: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        found.append(value)
        for child in value.values():
            found.extend(_walk(child))
    elif isinstance(value, list):
        for child in value:
            found.extend(_walk(child))
    return found


# --- reachability -------------------------------------------------------------------------


def unreached(
    strategy: st.SearchStrategy[T], features: dict[str, Callable[[T], bool]], examples: int = 300
) -> set[str]:
    """The features no example showed in one derandomized run (so the result is stable)."""
    seen: set[str] = set()

    @settings(max_examples=examples, database=None, derandomize=True, deadline=None)
    @given(strategy)
    def collect(value: T) -> None:
        seen.update(name for name, has in features.items() if has(value))

    collect()
    return set(features) - seen


def test_messages_reach_every_role() -> None:
    roles = ["user", "system", "developer", "assistant", "tool", "function"]
    features = {role: _has("role", role) for role in roles}
    features["tool calls"] = lambda m: "tool_calls" in m
    features["content parts"] = lambda m: isinstance(m.get("content"), list)
    features["name"] = lambda m: m["role"] != "function" and "name" in m
    assert unreached(mds.messages(), features, examples=150) == set()


def _answers_reordered(history: list[dict[str, Any]]) -> bool:
    for index, message in enumerate(history):
        ids = [c["id"] for c in message.get("tool_calls", [])]
        answers = [m["tool_call_id"] for m in history[index + 1 : index + 1 + len(ids)]]
        if len(ids) >= 2 and answers != ids:
            return True
    return False


def _calls(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in history if m.get("tool_calls")]


def test_conversations_reach_every_shape() -> None:
    features: dict[str, Callable[[list[dict[str, Any]]], bool]] = {
        "parallel calls": lambda h: any(len(m["tool_calls"]) >= 2 for m in _calls(h)),
        "answers reordered": _answers_reordered,
        "text beside calls": lambda h: any(m["content"] is not None for m in _calls(h)),
        "two rounds": lambda h: len(_calls(h)) >= 2,
        "content parts": lambda h: any(isinstance(m.get("content"), list) for m in h),
        "name": lambda h: any("name" in m for m in h),
        "system": lambda h: h[0]["role"] == "system",
        "developer": lambda h: h[0]["role"] == "developer",
        "assistant text": lambda h: any(
            m["role"] == "assistant" and not m.get("tool_calls") for m in h
        ),
        "six turns": lambda h: sum(m["role"] != "tool" for m in h) >= 6,
    }
    assert unreached(mds.conversations(), features) == set()


def _has(key: str, value: object) -> Callable[[dict[str, Any]], bool]:
    return lambda node: node.get(key) == value


_NODE_FEATURES: dict[str, Callable[[dict[str, Any]], bool]] = {
    **{kind: _has("type", kind) for kind in ("string", "integer", "number", "boolean", "array")},
    "enum": lambda node: "enum" in node,
    "const": lambda node: "const" in node,
    "nullable type": lambda node: isinstance(node.get("type"), list),
    "anyOf": lambda node: "anyOf" in node,
    "nested object": lambda node: (
        node.get("type") == "object"
        and any(p.get("type") == "object" for p in node.get("properties", {}).values())
    ),
    "$defs": lambda node: "$defs" in node,
    "$ref": lambda node: "$ref" in node,
    "recursion": lambda node: any(
        "#/$defs/" + name in json.dumps(definition)
        for name, definition in node.get("$defs", {}).items()
    ),
    "description": lambda node: "description" in node,
    "multipleOf": lambda node: "multipleOf" in node,
    "exclusiveMinimum": lambda node: "exclusiveMinimum" in node,
    "maximum": lambda node: "maximum" in node,
    "minItems": lambda node: "minItems" in node,
    "maxItems": lambda node: "maxItems" in node,
    "format": lambda node: "format" in node,
    "pattern": lambda node: "pattern" in node,
}


def _anywhere(
    features: dict[str, Callable[[dict[str, Any]], bool]],
) -> dict[str, Callable[[dict[str, Any]], bool]]:
    def anywhere(has: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
        return lambda schema: any(has(node) for node in _walk(schema))

    return {name: anywhere(has) for name, has in features.items()}


def test_tool_schemas_reach_every_kind_keyword_and_format() -> None:
    assert unreached(mds.tool_schemas(), _anywhere(_NODE_FEATURES), examples=400) == set()


@pytest.mark.parametrize("value", [*FORMATS, *PATTERNS])
def test_tool_schemas_reach_every_format_and_pattern(value: str) -> None:
    small = mds.tool_schemas(max_depth=1, max_properties=1, refs=False)
    find_any(small, lambda s: value in (n.get("format") or n.get("pattern") for n in _walk(s)))


def test_non_strict_schemas_reach_what_strict_mode_forbids() -> None:
    def objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
        return [n for n in _walk(schema) if n.get("type") == "object" and n.get("properties")]

    features: dict[str, Callable[[dict[str, Any]], bool]] = {
        "minLength": lambda s: any("minLength" in n for n in _walk(s)),
        "optional property": lambda s: any(
            set(n["properties"]) - set(n.get("required", [])) for n in objects(s)
        ),
        "open object": lambda s: any("additionalProperties" not in n for n in objects(s)),
    }
    assert unreached(mds.tool_schemas(strict=False), features, examples=150) == set()


def test_recursive_values_go_deeper_than_one_level() -> None:
    schema = {
        "type": "object",
        "properties": {
            "value": {"type": "integer"},
            "next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]},
        },
        "required": ["value", "next"],
        "additionalProperties": False,
    }
    find_any(
        mds.from_tool_schema(schema),
        lambda v: v["next"] is not None and v["next"]["next"] is not None,
    )


_UNDRAWN = {
    # Parameters chat_requests() leaves to invalid_requests() or to other models.
    "audio", "function_call", "functions", "modalities", "prediction", "prompt_cache_key",
    "safety_identifier", "web_search_options",
}  # fmt: skip


def test_chat_requests_reach_every_parameter_and_form() -> None:
    features: dict[str, Callable[[dict[str, Any]], bool]] = {
        key: (lambda k: lambda body: k in body)(key)
        for key in sorted(GPT4O_MINI.chat_parameters - _UNDRAWN)
    }
    for kind in ("text", "json_object", "json_schema"):
        features[f"response_format {kind}"] = (
            lambda k: lambda b: b.get("response_format", {}).get("type") == k
        )(kind)
    features["stop list"] = lambda b: isinstance(b.get("stop"), list)
    features["tool round calling a drawn tool"] = lambda b: any(
        call["function"]["name"] in {t["function"]["name"] for t in b.get("tools", [])}
        for m in _calls(b["messages"])
        for call in m["tool_calls"]
    )
    assert unreached(mds.chat_requests(), features, examples=400) == set()


@pytest.mark.parametrize("form", ["auto", "none", "required", "named"])
def test_chat_requests_reach_every_tool_choice(form: str) -> None:
    # A fixed history keeps each example cheap; the rarer forms need a few hundred tries.
    light = mds.chat_requests(messages=st.just([{"role": "user", "content": "hi"}]))
    find_any(
        light,
        lambda b: (
            b.get("tool_choice") == form
            or (form == "named" and isinstance(b.get("tool_choice"), dict))
        ),
    )


@pytest.mark.parametrize("limit", mds.LIMITS)
def test_near_limit_requests_reach_both_sides_and_the_limit(limit: str) -> None:
    features: dict[str, Callable[[mds.NearLimitRequest], bool]] = {
        "below": lambda c: c.offset < 0,
        "at the limit": lambda c: c.offset == 0,
        "over": lambda c: c.offset > 0,
        "filler first": lambda c: c.body["messages"][0]["content"] != "",
    }
    if limit not in ("context", "context_with_completion"):
        del features["filler first"]
    strategy = mds.near_limit_requests(limit=limit)  # type: ignore[arg-type]
    assert unreached(strategy, features, examples=60) == set()


def test_completions_and_streams_reach_every_shape() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]

    def finishes(reason: str) -> Callable[[mds.CompletionStream], bool]:
        return lambda s: s.completion["choices"][0]["finish_reason"] == reason

    features = {
        f"finish {reason}": finishes(reason)
        for reason in ("stop", "length", "content_filter", "tool_calls")
    }
    features["refusal"] = lambda s: s.completion["choices"][0]["message"]["refusal"] is not None
    features["usage chunk"] = lambda s: s.chunks[-1]["choices"] == []
    features["obfuscation"] = lambda s: "obfuscation" in s.chunks[0]
    features["fragmented arguments"] = lambda s: (
        sum("arguments" in str(c["choices"][0]["delta"]) for c in s.chunks if c["choices"]) >= 3
    )
    assert unreached(mds.chat_completion_chunks(tools=tools), features, examples=200) == set()


# --- shrink quality -----------------------------------------------------------------------


def test_a_failure_needing_a_tool_call_shrinks_to_one_round_of_one_call() -> None:
    history = minimal(mds.conversations(), lambda h: any(m.get("tool_calls") for m in h))
    assert [m["role"] for m in history] == ["assistant", "tool"]
    assert len(history[0]["tool_calls"]) == 1
    assert history[1]["tool_call_id"] == history[0]["tool_calls"][0]["id"]


def test_an_over_limit_failure_shrinks_to_offset_plus_one() -> None:
    case = minimal(mds.near_limit_requests(), lambda c: c.offset > 0)
    assert case.offset == 1
    assert case.value == GPT4O_MINI.context_window + 1


def test_near_limit_requests_shrink_to_exactly_the_limit() -> None:
    case = minimal(mds.near_limit_requests())
    assert case.offset == 0
    assert [m["role"] for m in case.body["messages"]] == ["user", "user"]


def test_a_schema_failure_shrinks_to_one_property() -> None:
    schema = minimal(mds.tool_schemas(), lambda s: "pattern" in json.dumps(s))
    assert list(schema) == ["type", "properties", "required", "additionalProperties"]
    [(name, node)] = schema["properties"].items()
    assert node == {"type": "string", "pattern": PATTERNS[0]}
    assert schema["required"] == [name]


def test_schemas_shrink_to_the_empty_strict_object() -> None:
    assert minimal(mds.tool_schemas()) == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_requests_shrink_to_model_and_one_empty_user_message() -> None:
    assert minimal(mds.chat_requests()) == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": ""}],
    }


def test_arguments_shrink_to_first_enum_value_and_null() -> None:
    schema = {
        "type": "object",
        "properties": {
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "city": {"type": ["string", "null"]},
            "days": {"type": "array", "items": {"type": "integer"}},
        },
        "required": ["unit", "city", "days"],
        "additionalProperties": False,
    }
    assert minimal(mds.from_tool_schema(schema)) == {"unit": "celsius", "city": None, "days": []}


def test_tool_calls_shrink_to_one_call_to_the_first_tool() -> None:
    tools = [
        {"type": "function", "function": {"name": "first"}},
        {"type": "function", "function": {"name": "second"}},
    ]
    calls = minimal(mds.tool_calls(tools))
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == [("first", "{}")]


def test_invalid_requests_shrink_to_the_first_kind() -> None:
    case = minimal(mds.invalid_requests())
    assert case.kind == mds.INVALID_KINDS[0] == "missing_messages"
    assert case.body == {"model": "gpt-4o-mini"}


def test_an_unanswered_call_shrinks_to_one_call_before_one_message() -> None:
    case = minimal(mds.invalid_requests(kinds=["unanswered_tool_call"]))
    assert [m["role"] for m in case.body["messages"]] == ["assistant", "user"]
    assert len(case.body["messages"][0]["tool_calls"]) == 1
    assert case.param == "messages.[1].role"
