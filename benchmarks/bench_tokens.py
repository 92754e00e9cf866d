"""What counting prompt tokens costs next to one bare tiktoken encode of the same text.

``count_prompt_tokens`` renders the request (messages, tool definitions, tool history,
response format) and encodes each text once with ``encode_ordinary``. This script times it,
in one run, case by case, against a bare ``encoding().encode_ordinary`` of the text the case
holds, and prints the ratios. Target (issue 2): the 128K case within 1.2x of the bare encode.

    python benchmarks/bench_tokens.py

Each measured case is one function returning ``(body, text)``; add a case by adding a
function to ``CASES`` (the validation benchmark shares the timing helper and request builders).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench_validate import compare_to_bare_encode, full_context_request, small_request

from minidouble import count_prompt_tokens

Case = Callable[[], tuple[dict[str, Any], str]]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}


def small_request_with_tools() -> tuple[dict[str, Any], str]:
    """A tool round trip: definitions, an assistant call and the tool's answer."""
    body, text = small_request()
    answer = "Sunny, 21 degrees."
    body = {
        **body,
        "tools": [WEATHER_TOOL],
        "messages": [
            *body["messages"],
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": answer},
        ],
    }
    return body, text + answer


def full_context_request_with_tools() -> tuple[dict[str, Any], str]:
    """The 128K prompt in a system message that also receives the tool definitions."""
    body, text = full_context_request()
    messages = [{"role": "system", "content": text}, {"role": "user", "content": "Go."}]
    return {**body, "messages": messages, "tools": [WEATHER_TOOL]}, text


CASES: list[tuple[str, Case, int, int]] = [
    ("small request", small_request, 9, 2_000),
    ("small + tool round", small_request_with_tools, 9, 1_000),
    ("128K-token request", full_context_request, 9, 3),
    ("128K + tools", full_context_request_with_tools, 9, 3),
]


def main() -> None:
    compare_to_bare_encode(CASES, count_prompt_tokens)


if __name__ == "__main__":
    main()
