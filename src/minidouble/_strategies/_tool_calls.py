"""``tool_calls(tools)``: what an assistant message's ``tool_calls`` holds for given tools."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._strategies._common import Tool, ToolCall, check_size_bounds, fail
from minidouble._strategies._messages import calls_for_tools, check_tools_value


@st.composite
def tool_calls(
    draw: DrawFn, tools: Sequence[Tool], *, min_size: int = 1, max_size: int = 3
) -> list[ToolCall]:
    """Calls to some of ``tools``, each with arguments valid for the tool's ``parameters``.

    ``arguments`` is compact JSON text (what the API sends), ids are ``call_`` + 24
    characters and unique within the list. A tool may be called more than once (parallel
    calls).

    Shrinks towards one call to the first tool with the simplest arguments.
    """
    what = "tool_calls()"
    check_tools_value(tools, what)
    if not tools:
        raise fail(f"{what}: tools is empty; pass at least one tool definition to call.")
    check_size_bounds(min_size, max_size, what=what, hard_max=None)
    return draw(calls_for_tools(tools, 0, min_size, max_size), label="tool_calls")
