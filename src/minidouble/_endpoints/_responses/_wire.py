"""The bytes ``POST /v1/responses`` writes: the ``response`` object and its typed SSE events.

Shapes follow the newest real gpt-4o-mini recordings (2026): the field set and order of the
``response`` object, ``resp_``/``msg_``/``fc_`` ids that embed the creation time, output items
for messages and function calls, and a stream of named events (``event:`` + ``data:`` lines)
whose ``data`` objects start with ``type``, list their other keys alphabetically, carry an
increasing ``sequence_number`` and end with ``response.completed`` (no ``[DONE]``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from minidouble._engine._replies import Choice, TokenLogprob
from minidouble._model._errors import OpenAIError
from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._model._strict_schema import check_strict_schema
from minidouble._wire._writers import _obfuscation, compact, pretty

__all__ = [
    "ResponseIds",
    "output_items",
    "response_bytes",
    "response_object",
    "stream_events",
    "usage_block",
]

# Ids must differ between requests, not be reproducible: kept off the engine's seeded generator.
_ids = random.Random()


@dataclass(frozen=True)
class ResponseIds:
    """Ids of one response: real ones share a 16-hex shard and embed the unix time in hex."""

    shard: str
    created_at: int

    @classmethod
    def new(cls, created_at: int) -> ResponseIds:
        return cls(f"{_ids.getrandbits(64):016x}", created_at)

    def make(self, prefix: str) -> str:
        return f"{prefix}_{self.shard}01{self.created_at:08x}{_ids.getrandbits(96):024x}"


def usage_block(input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": cached_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def output_items(choice: Choice, ids: ResponseIds) -> list[dict[str, Any]]:
    """The ``output`` array for one generated choice."""
    status = "incomplete" if choice.finish_reason == "length" else "completed"
    if choice.tool_calls:
        return [
            {
                "id": ids.make("fc"),
                "type": "function_call",
                "status": status,
                "arguments": call.arguments,
                "call_id": call.id,
                "name": call.name,
            }
            for call in choice.tool_calls
        ]
    if choice.refusal is not None:
        part: dict[str, Any] = {"type": "refusal", "refusal": choice.refusal}
    else:
        logprobs = [_logprob(entry) for entry in choice.logprobs or ()]
        part = {
            "type": "output_text",
            "annotations": [],
            "logprobs": logprobs,
            "text": choice.content,
        }
    return [
        {
            "id": ids.make("msg"),
            "type": "message",
            "status": status,
            "content": [part],
            "role": "assistant",
        }
    ]


def _logprob(entry: TokenLogprob) -> dict[str, Any]:
    """One token's log-probability, keys in the API's (alphabetical) order."""
    return {
        "bytes": list(entry.bytes),
        "logprob": entry.logprob,
        "token": entry.token,
        "top_logprobs": [
            {"bytes": list(top.bytes), "logprob": top.logprob, "token": top.token}
            for top in entry.top_logprobs
        ],
    }


def _echo_float(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    )


def _strictified(schema: Any) -> Any:
    """``schema`` with the blanks strict mode needs filled in, or None when it cannot be strict.

    A function tool that leaves ``strict`` out is served strict when its schema allows it: the
    API echoes it with ``additionalProperties: false`` and a complete ``required`` list added
    (recorded 2026); a schema that says otherwise stays non-strict.
    """
    if isinstance(schema, list):
        items = [_strictified(item) for item in schema]
        return None if any(item is None for item in items) else items
    if not isinstance(schema, Mapping):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions"):
            if not isinstance(value, Mapping):
                return None
            children = {name: _strictified(child) for name, child in value.items()}
            if any(child is None for child in children.values()):
                return None
            result[key] = children
        elif key in ("items", "anyOf"):
            child = _strictified(value)
            if child is None:
                return None
            result[key] = child
        else:
            result[key] = value
    if schema.get("type") == "object" or "properties" in schema:
        properties = list(schema.get("properties") or {})
        if schema.get("additionalProperties", False) is not False:
            return None
        required = schema.get("required")
        if required is not None and sorted(required) != sorted(properties):
            return None
        result.setdefault("additionalProperties", False)
        result.setdefault("required", properties)
    return result


def _echo_tool(tool: Mapping[str, Any], profile: ModelProfile) -> dict[str, Any]:
    parameters = tool.get("parameters")
    strict = tool.get("strict")
    if strict is None and isinstance(parameters, Mapping):
        normalized = _strictified(parameters)
        strict = False
        if normalized is not None:
            try:
                check_strict_schema(normalized, owner="", param="", code=None, profile=profile)
            except OpenAIError:
                pass
            else:
                parameters, strict = normalized, True
    return {
        "type": "function",
        "description": tool.get("description"),
        "name": tool.get("name"),
        "parameters": parameters,
        "strict": True if strict is None else strict,
    }


def _echo_format(body: Mapping[str, Any]) -> dict[str, Any]:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping) or fmt.get("type") in (None, "text"):
        return {"type": "text"}
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "description": fmt.get("description"),
        "name": fmt.get("name"),
        "schema": fmt.get("schema"),
        "strict": fmt.get("strict") is True,
    }


def response_object(
    body: Mapping[str, Any],
    *,
    response_id: str,
    created_at: int,
    output: Sequence[Mapping[str, Any]],
    usage: Mapping[str, Any] | None,
    status: str,
    completed_at: int | None,
    azure: bool = False,
    profile: ModelProfile = GPT4O_MINI,
) -> dict[str, Any]:
    """The ``response`` object, in the real field order, echoing the request's settings.

    ``azure`` gives Azure OpenAI's variant (recorded 2025-11): an older field set with
    ``content_filters``, and ``model`` naming the deployment the request addressed.
    """
    tier = body.get("service_tier")
    if status == "in_progress":
        served_tier = tier or "auto"
    else:
        served_tier = "default" if tier in (None, "auto") else tier
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    tools = [
        _echo_tool(tool, profile)
        for tool in body.get("tools") or ()
        if isinstance(tool, Mapping) and tool.get("type") == "function"
    ]
    metadata = body.get("metadata")
    document = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "billing": {"payer": "developer"},
        "completed_at": completed_at,
        "error": None,
        "frequency_penalty": 0.0,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": profile.response_model,
        "moderation": None,
        "output": list(output),
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "presence_penalty": 0.0,
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "prompt_cache_retention": body.get("prompt_cache_retention") or "in_memory",
        "reasoning": {"context": None, "effort": None, "summary": None},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": served_tier,
        "store": body.get("store") is not False,
        "temperature": _echo_float(body.get("temperature"), 1.0),
        "text": {"format": _echo_format(body), "verbosity": "medium"},
        "tool_choice": body.get("tool_choice") or "auto",
        "tool_usage": {
            "image_gen": {
                "input_tokens": 0,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
                "output_tokens": 0,
                "output_tokens_details": {"image_tokens": 0, "text_tokens": 0},
                "total_tokens": 0,
            },
            "web_search": {"num_requests": 0},
        },
        "tools": tools,
        "top_logprobs": body.get("top_logprobs") or 0,
        "top_p": _echo_float(body.get("top_p"), 1.0),
        "truncation": body.get("truncation") or "disabled",
        "usage": None if usage is None else dict(usage),
        "user": body.get("user"),
        "metadata": dict(metadata) if isinstance(metadata, Mapping) else {},
    }
    return _azure_variant(document, body) if azure else document


_AZURE_FIELDS = (
    "id", "object", "created_at", "status", "background", "content_filters", "error",
    "incomplete_details", "instructions", "max_output_tokens", "max_tool_calls", "model",
    "output", "parallel_tool_calls", "previous_response_id", "prompt_cache_key", "reasoning",
    "safety_identifier", "service_tier", "store", "temperature", "text", "tool_choice", "tools",
    "top_logprobs", "top_p", "truncation", "usage", "user", "metadata",
)  # fmt: skip


def _azure_variant(document: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    changed = {
        **document,
        "content_filters": None,
        "model": body.get("model"),
        "reasoning": {"effort": None, "summary": None},
    }
    usage = document["usage"]
    if usage is not None:
        details = {"cached_tokens": usage["input_tokens_details"]["cached_tokens"]}
        changed["usage"] = {**usage, "input_tokens_details": details}
    return {key: changed[key] for key in _AZURE_FIELDS}


def response_bytes(document: Mapping[str, Any]) -> bytes:
    """A non-streamed response: 2-space indent, raw UTF-8, no trailing newline (as recorded).

    That is ``json.dumps(document, indent=2, ensure_ascii=False)``, which with an indent
    runs the pure-Python encoder: ``pretty`` writes the same bytes (and a newline) faster.
    """
    return pretty(document)[:-1]


class _EventWriter:
    def __init__(self, *, obfuscate: bool) -> None:
        self.sequence = 0
        self.obfuscate = obfuscate

    def event(self, kind: str, **fields: Any) -> bytes:
        if "delta" in fields and self.obfuscate:
            fields["obfuscation"] = _obfuscation()
        fields["sequence_number"] = self.sequence
        self.sequence += 1
        data = {"type": kind, **dict(sorted(fields.items()))}
        return b"event: " + kind.encode() + b"\ndata: " + compact(data) + b"\n\n"


def _in_progress(item: Mapping[str, Any]) -> dict[str, Any]:
    if item["type"] == "function_call":
        return {**item, "status": "in_progress", "arguments": ""}
    return {**item, "status": "in_progress", "content": []}


def stream_events(
    snapshot: Mapping[str, Any],
    final: Mapping[str, Any],
    choice: Choice,
    *,
    obfuscate: bool,
) -> Iterator[bytes]:
    """The typed events of one streamed response, from its in-progress and final objects."""
    writer = _EventWriter(obfuscate=obfuscate)
    yield writer.event("response.created", response=snapshot)
    yield writer.event("response.in_progress", response=snapshot)
    for index, item in enumerate(final["output"]):
        yield writer.event(
            "response.output_item.added", item=_in_progress(item), output_index=index
        )
        if item["type"] == "function_call":
            call = choice.tool_calls[index]
            for fragment in call.fragments():
                yield writer.event(
                    "response.function_call_arguments.delta",
                    delta=fragment,
                    item_id=item["id"],
                    output_index=index,
                )
            yield writer.event(
                "response.function_call_arguments.done",
                arguments=item["arguments"],
                item_id=item["id"],
                output_index=index,
            )
        else:
            yield from _message_events(writer, item, index, choice)
        yield writer.event("response.output_item.done", item=item, output_index=index)
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    yield writer.event(kind, response=final)


def _message_events(
    writer: _EventWriter, item: Mapping[str, Any], index: int, choice: Choice
) -> Iterator[bytes]:
    part = item["content"][0]
    where = {"content_index": 0, "item_id": item["id"], "output_index": index}
    if part["type"] == "refusal":
        yield writer.event("response.content_part.added", part={**part, "refusal": ""}, **where)
        for piece in choice.pieces():
            yield writer.event("response.refusal.delta", delta=piece.text, **where)
        yield writer.event("response.refusal.done", refusal=part["refusal"], **where)
    else:
        yield writer.event(
            "response.content_part.added", part={**part, "logprobs": [], "text": ""}, **where
        )
        for piece in choice.pieces():
            logprobs = [_logprob(entry) for entry in piece.logprobs]
            yield writer.event(
                "response.output_text.delta", delta=piece.text, logprobs=logprobs, **where
            )
        yield writer.event(
            "response.output_text.done", logprobs=part["logprobs"], text=part["text"], **where
        )
    yield writer.event("response.content_part.done", part=part, **where)
