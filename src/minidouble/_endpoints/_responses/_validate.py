"""Reject exactly what ``POST /v1/responses`` rejects for GPT-4o mini, with its own wording.

The Responses endpoint sits on the same validator as Chat Completions (same templates: ``Invalid
'x': integer below minimum value...``), with its own parameter names and a few texts of its own
(model lookup, the json word rule, context length). The rules and templates are the chat
validator's; this module only knows where the Responses API puts things. Choices where the
public evidence is silent are listed in ``docs/responses.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from minidouble._endpoints._responses._mapping import COMPACTION, to_chat_body
from minidouble._endpoints._responses._tokens import count_input_tokens
from minidouble._model import _errors as err
from minidouble._model._errors import OpenAIError, invalid_request
from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._model._strict_schema import check_function_parameters, check_strict_schema
from minidouble._model._validate import (
    _bool_check,
    _check_enum,
    _check_metadata,
    _check_name,
    _check_number,
    _require_bool,
    _require_list,
    _require_object,
    _require_string,
    _string_check,
)

__all__ = [
    "RESPONSES",
    "as_items",
    "check_responses_request",
    "context_exceeded",
    "not_emulated",
    "previous_response_not_found",
]

RESPONSES = "/v1/responses"

# Item and tool types the real API serves with server-side state or hosted tools: valid
# requests, but nothing a local fake can answer truthfully, so they are refused by name.
_HOSTED_ITEM_TYPES = frozenset(
    {
        "code_interpreter_call",
        "computer_call",
        "computer_call_output",
        "file_search_call",
        "image_generation_call",
        "item_reference",
        "local_shell_call",
        "local_shell_call_output",
        "web_search_call",
    }
)
_TOOL_TYPES = (
    "function",
    "file_search",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "web_search",
    "web_search_2025_08_26",
    "computer_use_preview",
    "mcp",
    "code_interpreter",
    "image_generation",
    "local_shell",
    "custom",
)
_TOOL_CHOICE_MODES = ("none", "auto", "required")
_INPUT_PARTS_BY_ROLE = {
    "assistant": ("output_text", "refusal"),
}
_TEXT_PART_FIELDS = {"input_text": "text", "output_text": "text", "refusal": "refusal"}


def model_not_found(model: str) -> OpenAIError:
    # Unlike Chat Completions' 404, the Responses API answers an unknown model with a 400.
    return invalid_request(
        f"The requested model '{model}' does not exist.", param="model", code="model_not_found"
    )


def context_exceeded() -> OpenAIError:
    return invalid_request(
        "Your input exceeds the context window of this model. Please adjust your input and try "
        "again.",
        param="input",
        code="context_length_exceeded",
    )


def previous_response_not_found(response_id: str) -> OpenAIError:
    return invalid_request(
        f"Previous response with id '{response_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


def json_word_missing() -> OpenAIError:
    return invalid_request(
        "Response input messages must contain the word 'json' in some form to use "
        "'text.format' of type 'json_object'.",
        param="input",
    )


def not_emulated(what: str, param: str) -> OpenAIError:
    """A valid request that needs OpenAI's servers (hosted tools, server-side items)."""
    return invalid_request(
        f"minidouble: {what} is not emulated by the fake GPT-4o mini (it needs OpenAI's "
        "servers). Use function tools and send the conversation as input items, or record "
        "the interaction with a cassette against the real API.",
        param=param,
        code="minidouble_not_emulated",
    )


def check_responses_request(
    body: Any,
    *,
    history: Sequence[Mapping[str, Any]] = (),
    azure: bool = False,
    profile: ModelProfile = GPT4O_MINI,
) -> int:
    """Validate a Responses body as the real API does and return its ``input_tokens``.

    Raises :class:`OpenAIError` with the real status and body for the first problem found.
    ``history`` is the conversation a ``previous_response_id`` continues (input and output
    items, oldest first): the model reads it before ``input``, and its function calls may be
    answered by this input. Whether the id exists is the app's state, not checked here.
    On Azure (``azure``) ``model`` names a deployment, which the app has already checked.
    """
    if not isinstance(body, Mapping):
        raise err.invalid_type("body", "an object", body)
    for key in body:
        if key not in profile.responses.parameters:
            raise err.unknown_parameter(key)
    # The input's shape is checked before the model is looked up: a recorded request for
    # another model was refused for an input part type, not for its model [T].
    _check_input(body.get("input"), body, history, profile)
    _check_model(body, azure, profile)
    for key, check in _CHECKS.items():
        value = body.get(key)
        if value is not None:
            check(value, profile)
    tools = _check_tools(body.get("tools"), profile)
    _check_tool_choice(body.get("tool_choice"), tools, profile)
    conversation = [*history, *as_items(body.get("input"))]
    if _text_format_type(body) == "json_object" and not _mentions(conversation, "json"):
        raise json_word_missing()
    input_tokens = count_input_tokens(
        to_chat_body({**body, "input": conversation}), profile=profile
    )
    if input_tokens > profile.context_window:
        raise context_exceeded()
    return input_tokens


def _check_model(body: Mapping[str, Any], azure: bool, profile: ModelProfile) -> None:
    model = body.get("model")
    if model is None:
        raise err.missing_parameter("model")
    model = _require_string("model", model)
    if not azure and not profile.accepts_model(model):
        raise model_not_found(model)


# --- input ---------------------------------------------------------------------------------


def as_items(value: Any) -> list[Mapping[str, Any]]:
    """``input`` as a list of items (a string is one user message)."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


def _check_input(
    value: object,
    body: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    profile: ModelProfile,
) -> None:
    if value is None:
        if body.get("previous_response_id") is None:
            raise err.missing_parameter("input")
        return
    if isinstance(value, str):
        return
    items = _require_list("input", value, "a string or an array of input items")
    answered = {
        item["call_id"]
        for item in history
        if item.get("type") == "function_call" and isinstance(item.get("call_id"), str)
    }
    for index, item in enumerate(items):
        _check_item(f"input[{index}]", item, answered, profile)


def _check_item(path: str, item: object, calls: set[str], profile: ModelProfile) -> None:
    fields = _require_object(path, item)
    kind = fields.get("type")
    if kind is None:
        if "role" not in fields:
            raise err.missing_parameter(f"{path}.role")
        kind = "message"
    if kind not in _HOSTED_ITEM_TYPES and kind != COMPACTION:
        kind = _check_enum(path, kind, profile.responses.input_item_types, profile)
    if kind in _HOSTED_ITEM_TYPES:
        raise not_emulated(f"an input item of type '{kind}'", path)
    if kind == COMPACTION:
        # Answered with the encrypted earlier conversation (recorded 2026-02/04): the fake
        # cannot read it, but bills an estimate from its size (docs/responses.md).
        if fields.get("encrypted_content") is None:
            raise err.missing_parameter(f"{path}.encrypted_content")
        _require_string(f"{path}.encrypted_content", fields["encrypted_content"])
    elif kind == "message":
        _check_message(path, fields, profile)
    elif kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            if fields.get(key) is None:
                raise err.missing_parameter(f"{path}.{key}")
            _require_string(f"{path}.{key}", fields[key])
        calls.add(fields["call_id"])
    elif kind == "function_call_output":
        call_id = fields.get("call_id")
        if call_id is None:
            raise err.missing_parameter(f"{path}.call_id")
        _require_string(f"{path}.call_id", call_id)
        output = fields.get("output")
        if output is None:
            raise err.missing_parameter(f"{path}.output")
        if not isinstance(output, str):
            _check_parts(f"{path}.output", "user", output, profile)
        if call_id not in calls:
            raise invalid_request(
                f"No tool call found for function call output with call_id {call_id}.",
                param="input",
            )


def _check_message(path: str, fields: Mapping[str, Any], profile: ModelProfile) -> None:
    if fields.get("role") is None:
        raise err.missing_parameter(f"{path}.role")
    role = _check_enum(f"{path}.role", fields["role"], profile.responses.roles, profile)
    content = fields.get("content")
    if content is None:
        raise err.missing_parameter(f"{path}.content")
    if not isinstance(content, str):
        _check_parts(f"{path}.content", role, content, profile)


def _check_parts(path: str, role: str, content: object, profile: ModelProfile) -> None:
    parts = _require_list(path, content, "a string or an array of content parts")
    allowed = _INPUT_PARTS_BY_ROLE.get(role)
    for index, part in enumerate(parts):
        part_path = f"{path}[{index}]"
        fields = _require_object(part_path, part)
        if fields.get("type") is None:
            raise err.missing_parameter(f"{part_path}.type")
        kind = _check_enum(
            f"{part_path}.type", fields["type"], profile.responses.content_part_types, profile
        )
        if allowed is not None and kind not in allowed:
            raise err.invalid_enum(
                f"{part_path}.type", kind, allowed, profile.validation.echo_abbreviate_over
            )
        if kind in _TEXT_PART_FIELDS:
            field = _TEXT_PART_FIELDS[kind]
            if fields.get(field) is None:
                raise err.missing_parameter(f"{part_path}.{field}")
            _require_string(f"{part_path}.{field}", fields[field])
        elif kind == "input_image":
            if fields.get("image_url") is None and fields.get("file_id") is None:
                raise err.missing_parameter(f"{part_path}.image_url")
        elif kind in ("input_file", "computer_screenshot", "summary_text"):
            raise not_emulated(f"a content part of type '{kind}'", f"{part_path}.type")


def _mentions(conversation: list[Mapping[str, Any]], word: str) -> bool:
    # Only the input counts: a "JSON" in `instructions` does not satisfy the rule [T].
    chat = to_chat_body({"input": conversation})
    for message in chat["messages"]:
        content = message.get("content")
        texts = [content] if isinstance(content, str) else []
        if isinstance(content, list):
            texts = [part["text"] for part in content if isinstance(part.get("text"), str)]
        if any(word in text.lower() for text in texts):
            return True
    return False


# --- scalar and object parameters -----------------------------------------------------------


def _check_max_output_tokens(value: object, profile: ModelProfile) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise err.invalid_type("max_output_tokens", "an integer", value)
    minimum = profile.responses.min_output_tokens
    if value < minimum:
        raise err.out_of_range("max_output_tokens", value, minimum, above=False, integer=True)
    if value > profile.max_output_tokens:
        raise err.out_of_range(
            "max_output_tokens", value, profile.max_output_tokens, above=True, integer=True
        )


def _check_top_logprobs(value: object, profile: ModelProfile) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise err.invalid_type("top_logprobs", "an integer", value)
    if value < 0:
        raise err.out_of_range("top_logprobs", value, 0, above=False, integer=True)
    if value > profile.responses.max_top_logprobs:
        raise err.out_of_range(
            "top_logprobs", value, profile.responses.max_top_logprobs, above=True, integer=True
        )


def _check_include(value: object, profile: ModelProfile) -> None:
    for index, entry in enumerate(_require_list("include", value)):
        _check_enum(f"include[{index}]", entry, profile.responses.includables, profile)


def _check_instructions(value: object, profile: ModelProfile) -> None:
    _require_string("instructions", value)


def _check_reasoning(value: object, profile: ModelProfile) -> None:
    reasoning = _require_object("reasoning", value)
    for key in ("effort", "summary", "generate_summary"):
        if reasoning.get(key) is not None:
            raise invalid_request(
                f"Unsupported parameter: 'reasoning.{key}' is not supported with this model.",
                param=f"reasoning.{key}",
                code="unsupported_parameter",
            )


def _check_text(value: object, profile: ModelProfile) -> None:
    text = _require_object("text", value)
    verbosity = text.get("verbosity")
    if verbosity is not None and verbosity != "medium":
        raise invalid_request(
            f"Unsupported value: '{verbosity}' is not supported with the 'gpt-4o-mini' model. "
            "Supported values are: 'medium'.",
            param="text.verbosity",
            code="unsupported_value",
        )
    fmt = text.get("format")
    if fmt is None:
        return
    fmt = _require_object("text.format", fmt)
    if fmt.get("type") is None:
        raise err.missing_parameter("text.format.type")
    kind = _check_enum(
        "text.format.type", fmt["type"], profile.responses.text_format_types, profile
    )
    if kind != "json_schema":
        return
    if fmt.get("name") is None:
        raise err.missing_parameter("text.format.name")
    _check_name("text.format.name", fmt["name"], profile)
    if fmt.get("schema") is None:
        raise err.missing_parameter("text.format.schema")
    schema = _require_object("text.format.schema", fmt["schema"])
    strict = fmt.get("strict")
    if strict is not None:
        _require_bool("text.format.strict", strict)
    if strict is True:
        check_strict_schema(
            schema,
            owner=f"response_format '{fmt['name']}'",
            param="text.format.schema",
            code="invalid_json_schema",
            profile=profile,
        )


def _text_format_type(body: Mapping[str, Any]) -> str | None:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    return kind if isinstance(kind, str) else None


def _check_service_tier(value: object, profile: ModelProfile) -> None:
    _check_enum("service_tier", value, profile.service_tiers, profile)


def _check_truncation(value: object, profile: ModelProfile) -> None:
    _check_enum("truncation", value, ("auto", "disabled"), profile)


def _check_conversation(value: object, profile: ModelProfile) -> None:
    raise not_emulated("a server-side conversation", "conversation")


def _check_prompt(value: object, profile: ModelProfile) -> None:
    raise not_emulated("a stored prompt template", "prompt")


def _check_background(value: object, profile: ModelProfile) -> None:
    _require_bool("background", value)
    if value is True:
        raise not_emulated("background mode", "background")


def _number(name: str) -> Any:
    def check(value: object, profile: ModelProfile) -> None:
        _check_number(name, value, profile.numbers[name])

    return check


# In the order the checks run after `model`, the unknown-parameter check and `input`.
_CHECKS: dict[str, Any] = {
    "instructions": _check_instructions,
    "max_output_tokens": _check_max_output_tokens,
    "temperature": _number("temperature"),
    "top_p": _number("top_p"),
    "top_logprobs": _check_top_logprobs,
    "include": _check_include,
    "stream": _bool_check("stream"),
    "store": _bool_check("store"),
    "parallel_tool_calls": _bool_check("parallel_tool_calls"),
    "background": _check_background,
    "metadata": _check_metadata,
    "previous_response_id": _string_check("previous_response_id"),
    "conversation": _check_conversation,
    "prompt": _check_prompt,
    "reasoning": _check_reasoning,
    "text": _check_text,
    "service_tier": _check_service_tier,
    "truncation": _check_truncation,
    "user": _string_check("user"),
    "safety_identifier": _string_check("safety_identifier"),
    "prompt_cache_key": _string_check("prompt_cache_key"),
}


# --- tools -----------------------------------------------------------------------------------


def _check_tools(value: object, profile: ModelProfile) -> list[str]:
    """The offered function names, after checking every tool definition."""
    if value is None:
        return []
    tools = _require_list("tools", value)
    if len(tools) > profile.max_tools:
        raise err.array_too_long("tools", profile.max_tools, len(tools))
    names = []
    for index, tool in enumerate(tools):
        path = f"tools[{index}]"
        fields = _require_object(path, tool)
        if fields.get("type") is None:
            raise err.missing_parameter(f"{path}.type")
        kind = _check_enum(f"{path}.type", fields["type"], _TOOL_TYPES, profile)
        if kind != "function":
            raise not_emulated(f"the hosted tool '{kind}'", f"{path}.type")
        if fields.get("name") is None:
            raise err.missing_parameter(f"{path}.name")
        _check_name(f"{path}.name", fields["name"], profile)
        if fields.get("description") is not None:
            _require_string(f"{path}.description", fields["description"])
        strict = fields.get("strict")
        if strict is not None:
            _require_bool(f"{path}.strict", strict)
        parameters = fields.get("parameters")
        if parameters is not None:
            parameters = _require_object(f"{path}.parameters", parameters)
        check_function_parameters(
            parameters,
            name=fields["name"],
            strict=strict is True and profile.responses.strict_functions_checked,
            param=f"{path}.parameters",
            profile=profile,
        )
        names.append(fields["name"])
    return names


def _check_tool_choice(value: object, tools: list[str], profile: ModelProfile) -> None:
    if value is None:
        return
    if isinstance(value, str):
        _check_enum("tool_choice", value, _TOOL_CHOICE_MODES, profile)
        return
    choice = _require_object("tool_choice", value)
    if choice.get("type") is None:
        raise err.missing_parameter("tool_choice.type")
    kind = _require_string("tool_choice.type", choice["type"])
    if kind == "allowed_tools":
        _check_allowed_tools(choice, tools, profile)
        return
    if kind != "function":
        raise invalid_request(
            f"Tool choice '{kind}' not found in 'tools' parameter.", param="tool_choice"
        )
    if choice.get("name") is None:
        raise err.missing_parameter("tool_choice.name")
    name = _require_string("tool_choice.name", choice["name"])
    if name not in tools:
        raise invalid_request(
            f"Tool choice '{name}' not found in 'tools' parameter.", param="tool_choice"
        )


def _check_allowed_tools(
    choice: Mapping[str, Any], tools: list[str], profile: ModelProfile
) -> None:
    if choice.get("mode") is None:
        raise err.missing_parameter("tool_choice.mode")
    _check_enum("tool_choice.mode", choice["mode"], ("auto", "required"), profile)
    if choice.get("tools") is None:
        raise err.missing_parameter("tool_choice.tools")
    allowed = _require_list("tool_choice.tools", choice["tools"])
    for index, entry in enumerate(allowed):
        fields = _require_object(f"tool_choice.tools[{index}]", entry)
        name = fields.get("name")
        if fields.get("type") == "function" and name not in tools:
            raise invalid_request(
                f"Tool choice '{name}' not found in 'tools' parameter.", param="tool_choice"
            )
