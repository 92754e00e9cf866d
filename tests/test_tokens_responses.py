"""``input_tokens`` of Responses requests: where the Responses template differs from chat's.

Each test pins one rule of docs/responses.md ("Token accounting") on a real recorded request
from the fidelity corpus (named in the test), next to a variant the rule must tell apart.
"""

from __future__ import annotations

from typing import Any

from minidouble._responses._mapping import to_chat_body
from minidouble._responses._tokens import count_input_tokens
from minidouble._tokenizer import token_count


def count(**body: Any) -> int:
    return count_input_tokens(to_chat_body({"model": "gpt-4o-mini", **body}))


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


# dd-trace-js, recorded 2025-08-04 to 2026-06-23 with and without the call below.
WEATHER = {
    "type": "function",
    "name": "weather",
    "description": "Get the weather in a given location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The location to get the weather for"}
        },
        "required": ["location"],
    },
}
TOKYO = [
    {"role": "system", "content": "You are a helpful assistant"},
    {"role": "user", "content": [{"type": "input_text", "text": "What is the weather in Tokyo?"}]},
]


def test_tools_are_encoded_apart_from_the_instructions() -> None:
    # Recorded 63. Merged into the system text, "assistant" + "\n\n" would cost one more
    # token; a text ending in "." absorbs the "\n\n" either way, so it shows no difference.
    assert count(input=TOKYO, tools=[WEATHER]) == 63
    dotted = [{**TOKYO[0], "content": "You are a helpful assistant."}, TOKYO[1]]
    period = token_count(".")
    assert count(input=dotted, tools=[WEATHER]) == 63 + period
    # Without a system message the block rides along with no turn of its own.
    alone = count(input=TOKYO[1:], tools=[WEATHER])
    assert alone == 63 - 3 - token_count("system") - token_count("You are a helpful assistant")


# Mirascope test_resume_with_override_thinking_and_tools (Azure, 2025-11-05): a call whose
# arguments a client wrote with a space, and its output.
FIB = {
    "type": "function",
    "name": "compute_fib",
    "description": "Compute the nth Fibonacci number (1-indexed).",
    "parameters": {
        "properties": {"n": {"title": "N", "type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
        "type": "object",
    },
    "strict": False,
}


def fib_history(arguments: str) -> list[dict[str, Any]]:
    call_id = "toolu_01P11Xus7T44xSAftSiPypjg"
    return [
        user("What is the 100th fibonacci number?"),
        {"call_id": call_id, "name": "compute_fib", "arguments": arguments,
         "type": "function_call"},
        {"call_id": call_id, "output": "218922995834555169026", "type": "function_call_output"},
    ]  # fmt: skip


def test_call_arguments_are_read_as_sent() -> None:
    spaced = count(input=fib_history('{"n": 100}'), tools=[FIB], tool_choice="none")
    assert spaced == 85  # recorded
    compact = count(input=fib_history('{"n":100}'), tools=[FIB], tool_choice="none")
    assert spaced - compact == token_count('{"n": 100}') - token_count('{"n":100}') == 1
