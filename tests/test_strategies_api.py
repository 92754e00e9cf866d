"""The public face of minidouble.strategies: packaging, arguments, reprs, docs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import find, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import minidouble.strategies as mds
from minidouble import GPT4O_MINI
from minidouble._strategies._common import NAME_ALPHABET

DOCS = Path(__file__).resolve().parent.parent / "docs" / "strategies.md"


def _draw(strategy: st.SearchStrategy[Any]) -> Any:
    return find(strategy, lambda _: True, settings=settings(database=None, max_examples=1))


def test_importing_minidouble_does_not_import_hypothesis() -> None:
    code = (
        "import sys, minidouble; minidouble.GPT4O_MINI; minidouble.count_prompt_tokens; "
        "assert 'hypothesis' not in sys.modules, 'hypothesis was imported'; "
        "import minidouble.strategies; assert 'hypothesis' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_hypothesis_extra_declares_hypothesis() -> None:
    pyproject = (DOCS.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^hypothesis = \["hypothesis>=[\d.]+"\]', pyproject, re.MULTILINE)


def test_every_public_name_is_documented() -> None:
    page = DOCS.read_text(encoding="utf-8")
    missing = [name for name in mds.__all__ if f"`{name}" not in page]
    assert missing == []


def test_the_name_alphabet_is_exactly_the_api_name_pattern() -> None:
    pattern = re.compile(GPT4O_MINI.name_pattern)
    assert all(pattern.match(char) for char in NAME_ALPHABET)
    outside = [chr(code) for code in range(32, 127) if chr(code) not in NAME_ALPHABET]
    assert not any(pattern.match(char) for char in outside)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (mds.messages(roles=["user"]), "messages(roles=['user'])"),
        (mds.tools(max_size=2), "tools(max_size=2)"),
        (mds.tool_schemas(strict=False), "tool_schemas(strict=False)"),
        (mds.near_limit_requests(limit="tools"), "near_limit_requests(limit='tools')"),
        (mds.invalid_requests(kinds=["bad_role"]), "invalid_requests(kinds=['bad_role'])"),
    ],
)
def test_reprs_read_like_the_call(strategy: st.SearchStrategy[Any], expected: str) -> None:
    assert repr(strategy) == expected


_BAD_CALLS = {
    "unknown role": lambda: mds.messages(roles=["bot"]),
    "no roles": lambda: mds.messages(roles=[]),
    "texts not a strategy": lambda: mds.messages(texts="hello"),  # type: ignore[arg-type]
    "min_turns zero": lambda: mds.conversations(min_turns=0),
    "turn bounds swapped": lambda: mds.conversations(min_turns=3, max_turns=2),
    "tools not a list": lambda: mds.conversations(tools="f"),  # type: ignore[arg-type]
    "too deep": lambda: mds.tool_schemas(max_depth=GPT4O_MINI.strict_schema.max_nesting + 1),
    "too many properties": lambda: mds.tool_schemas(
        max_properties=GPT4O_MINI.strict_schema.max_properties + 1
    ),
    "too many tools": lambda: mds.tools(max_size=GPT4O_MINI.max_tools + 1),
    "no tools to call": lambda: mds.tool_calls([]),
    "unsupported keyword": lambda: mds.from_tool_schema({"allOf": [{"type": "string"}]}),
    "no finite value": lambda: mds.from_tool_schema(
        {"type": "object", "properties": {"me": {"$ref": "#"}}, "required": ["me"]}
    ),
    "bad pattern": lambda: mds.from_tool_schema({"type": "string", "pattern": "("}),
    "unknown limit": lambda: mds.near_limit_requests(limit="tokens"),  # type: ignore[arg-type]
    "offsets contradict side": lambda: mds.near_limit_requests(
        offsets=st.just(3), within_limits=True
    ),
    "unknown kind": lambda: mds.invalid_requests(kinds=["nonsense"]),
    "within_limits not bool": lambda: mds.chat_requests(within_limits="yes"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", list(_BAD_CALLS))
def test_bad_arguments_raise_invalid_argument_when_drawn(case: str) -> None:
    strategy = _BAD_CALLS[case]()  # calling never raises: only drawing does
    with pytest.raises(InvalidArgument, match=r"^minidouble: "):
        _draw(strategy)


def test_unreachable_recursion_is_cut_at_the_budget() -> None:
    schema = {
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
        "required": ["children"],
        "additionalProperties": False,
    }
    assert _draw(mds.from_tool_schema(schema, max_recursion=0)) == {"children": []}


def test_near_limit_filler_prints_short_but_is_a_plain_string() -> None:
    import json

    case = _draw(mds.near_limit_requests())
    filler = max((m["content"] for m in case.body["messages"]), key=len)
    assert len(repr(filler)) < 40
    assert isinstance(filler, str)
    assert json.loads(json.dumps(filler)) == str(filler)
