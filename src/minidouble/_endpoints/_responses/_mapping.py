"""A Responses request seen as the Chat Completions request the model actually reads.

The Responses API renders its input through the same chat template as Chat Completions: from
April 2025 on, ``input_tokens`` equals the chat count of the request rewritten this way
(``docs/responses.md`` has the evidence). So token accounting and reply generation both run
on the rewritten body, and there is one counting rule and one generator for both endpoints.

The rewrite assumes a body that passed :mod:`minidouble._endpoints._responses._validate`; on
anything else it skips what it cannot read instead of failing, because the counter must never crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "COMPACTED",
    "COMPACTION",
    "ECHOED",
    "LOGPROBS",
    "chat_messages",
    "chat_tool",
    "to_chat_body",
]

# What ``include`` names to get the tokens' log-probabilities in the output text.
LOGPROBS = "message.output_text.logprobs"
# Marks a tool call sent back as the API returned it (a function_call output item, with its
# ``id`` and ``status``): the Responses template does not read it like a written one.
ECHOED = "echoed"
# The input item that stands for an earlier conversation compacted by the server, and the key
# of the chat body that carries the size of what those items hide (characters of their
# ``encrypted_content``): the counter turns it into an estimate of tokens.
COMPACTION = "compaction"
COMPACTED = "compacted_chars"

_TEXT_PARTS = frozenset({"input_text", "output_text", "summary_text"})


def _chat_part(part: Any) -> dict[str, Any] | None:
    if not isinstance(part, Mapping):
        return None
    kind = part.get("type")
    if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if kind == "refusal" and isinstance(part.get("refusal"), str):
        return {"type": "text", "text": part["refusal"]}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: dict[str, Any] = {"url": part["image_url"]}
        if isinstance(part.get("detail"), str):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    return None


def _chat_content(content: Any) -> Any:
    if isinstance(content, list):
        return [chat for part in content if (chat := _chat_part(part)) is not None]
    return content


def _tool_call(item: Mapping[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": item.get("call_id"),
        "type": "function",
        "function": {"name": item.get("name"), "arguments": item.get("arguments")},
    }
    if item.get("id") is not None and item.get("status") is not None:
        call[ECHOED] = True
    return call


def _tool_output(output: Any) -> Any:
    if isinstance(output, list):
        return _chat_content(output)
    return output


def chat_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``instructions`` and ``input`` as chat messages, in the order the model reads them.

    ``instructions`` is a leading developer message; each ``function_call`` item is an
    assistant message with that one tool call, and each ``function_call_output`` a tool
    message.
    """
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        messages.append({"role": "developer", "content": instructions})
    source = body.get("input")
    if isinstance(source, str):
        messages.append({"role": "user", "content": source})
        return messages
    if not isinstance(source, list):
        return messages
    for item in source:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type", "message")
        if kind == "message" and isinstance(item.get("role"), str):
            messages.append({"role": item["role"], "content": _chat_content(item.get("content"))})
        elif kind == "function_call":
            # Each call is its own assistant turn, even several in a row: the recordings of
            # 2, 3 and 6 parallel calls count one addressed turn per call, no parallel wrapper.
            messages.append(
                {"role": "assistant", "content": None, "tool_calls": [_tool_call(item)]}
            )
        elif kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "content": _tool_output(item.get("output")),
                }
            )
    return messages


def chat_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A flat Responses function tool as the nested Chat Completions tool."""
    function = {
        key: tool[key] for key in ("name", "description", "parameters", "strict") if key in tool
    }
    return {"type": "function", "function": function}


def _named(name: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def _chat_tool_choice(choice: Any, functions: list[dict[str, Any]]) -> Any:
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return _named(choice.get("name"))
    if choice == "required" and len(functions) == 1:
        # Requiring a call when one function can be called names it: billed as a named
        # choice (+7 and the name, 2 of 2 recordings; with several tools it costs nothing).
        return _named(functions[0]["function"].get("name"))
    if isinstance(choice, Mapping) and choice.get("type") == "allowed_tools":
        # The model still reads every tool; the mode is what constrains its answer.
        return choice.get("mode")
    return choice


def _chat_response_format(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, Mapping):
        return None
    fmt = text.get("format")
    if not isinstance(fmt, Mapping):
        return None
    if fmt.get("type") == "json_schema":
        schema = {
            key: fmt[key] for key in ("name", "description", "schema", "strict") if key in fmt
        }
        return {"type": "json_schema", "json_schema": schema}
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    return None


def to_chat_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The Chat Completions body equivalent to a Responses body, for counting and generating."""
    chat: dict[str, Any] = {"model": body.get("model"), "messages": chat_messages(body)}
    tools = body.get("tools")
    functions = [
        chat_tool(tool)
        for tool in (tools if isinstance(tools, list) else ())
        if isinstance(tool, Mapping) and tool.get("type") == "function"
    ]
    if functions:
        chat["tools"] = functions
    if "tool_choice" in body:
        chat["tool_choice"] = _chat_tool_choice(body["tool_choice"], functions)
    if "parallel_tool_calls" in body and "tools" in chat:
        chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    response_format = _chat_response_format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    for key in ("temperature", "top_p", "seed"):
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    compacted = _compacted_chars(body.get("input"))
    if compacted:
        chat[COMPACTED] = compacted
    include = body.get("include")
    if isinstance(include, list) and LOGPROBS in include:
        chat["logprobs"] = True
        chat["top_logprobs"] = body.get("top_logprobs") or 0
    return chat


def _compacted_chars(source: Any) -> int:
    if not isinstance(source, list):
        return 0
    return sum(
        len(item["encrypted_content"])
        for item in source
        if isinstance(item, Mapping)
        and item.get("type") == COMPACTION
        and isinstance(item.get("encrypted_content"), str)
    )
