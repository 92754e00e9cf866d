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
