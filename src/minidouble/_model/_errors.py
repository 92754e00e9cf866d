"""The one exception type for everything the real API would refuse."""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["BodyStyle", "OpenAIError", "invalid_request"]  # plus the message templates below

# OpenAI's validator pretty-prints with 2 spaces and no trailing newline; its gateway (auth,
# model lookup, JSON parsing, rate limits) with 4 spaces, a trailing newline and a charset.
BodyStyle = Literal["validator", "gateway"]


class OpenAIError(Exception):
    """A request the real API rejects, with the status and body it rejects it with.

    ``body`` is the whole JSON document (``{"error": {"message", "type", "param", "code"}}``)
    so that it can be sent on the wire unchanged; ``style`` says how the real service
    formats it.
    """

    def __init__(self, status: int, body: dict[str, Any], *, style: BodyStyle = "validator"):
        self.status = status
        self.body = body
        self.style: BodyStyle = style
        super().__init__(f"{status}: {self.message}")

    @property
    def error(self) -> dict[str, Any]:
        inner = self.body.get("error", self.body)
        return inner if isinstance(inner, dict) else {}

    @property
    def message(self) -> str:
        return str(self.error.get("message", ""))

    @property
    def type(self) -> str | None:
        value = self.error.get("type")
        return value if isinstance(value, str) else None

    @property
    def param(self) -> str | None:
        value = self.error.get("param")
        return value if isinstance(value, str) else None

    @property
    def code(self) -> str | None:
        value = self.error.get("code")
        return value if isinstance(value, str) else None

    def __repr__(self) -> str:
        return f"OpenAIError(status={self.status}, body={self.body!r})"


def invalid_request(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    status: int = 400,
    style: BodyStyle = "validator",
) -> OpenAIError:
    """An ``invalid_request_error`` with the envelope's keys in the order the API serves them."""
    body = {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }
    return OpenAIError(status, body, style=style)


# --- Message templates -------------------------------------------------------------------
# One function per family of OpenAI error texts, so a wording change is one edit. The texts
# are OpenAI's (reference §2.2-§5); where the reference marks a text unknown, the choice is
# recorded in docs/model-profile.md.


def json_type_name(value: object) -> str:
    """How OpenAI's validator names the JSON type of a value it did not expect."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def echo_number(value: float) -> str:
    """A number as the API echoes it: as sent (``2.5``, ``200``), no reformatting."""
    try:
        return repr(value)
    except ValueError:  # an integer beyond Python's digit limit for str()
        return "a very large integer"


def echo_value(value: str, abbreviate_over: int) -> str:
    """An enum value as echoed: long ones shortened to first 3 + ``...`` + last 3."""
    if len(value) > abbreviate_over:
        return f"{value[:3]}...{value[-3:]}"
    return value


def quoted_list(values: tuple[str, ...] | list[str]) -> str:
    """``'a', 'b', and 'c'`` (Oxford comma, as the API writes it)."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def one_of(values: tuple[str, ...] | list[str]) -> str:
    """How a type error names an enumeration: ``one of 'a', 'b', or 'c'`` (or ``'a' or 'b'``)."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return "one of " + " or ".join(quoted)
    return "one of " + ", ".join(quoted[:-1]) + f", or {quoted[-1]}"


def invalid_type(param: str, expected: str, value: object) -> OpenAIError:
    return invalid_request(
        f"Invalid type for '{param}': expected {expected}, but got {json_type_name(value)} "
        "instead.",
        param=param,
        code="invalid_type",
    )


def out_of_range(
    param: str, value: float, bound: float, *, above: bool, integer: bool
) -> OpenAIError:
    kind = "integer" if integer else "decimal"
    side = "above" if above else "below"
    extreme = "maximum" if above else "minimum"
    comparison = "<=" if above else ">="
    return invalid_request(
        f"Invalid '{param}': {kind} {side} {extreme} value. Expected a value {comparison} "
        f"{echo_number(bound)}, but got {echo_number(value)} instead.",
        param=param,
        code=f"{kind}_{side}_{'max' if above else 'min'}_value",
    )


def invalid_enum(
    param: str, value: str, supported: tuple[str, ...], abbreviate_over: int
) -> OpenAIError:
    return invalid_request(
        f"Invalid value: '{echo_value(value, abbreviate_over)}'. Supported values are: "
        f"{quoted_list(supported)}.",
        param=param,
        code="invalid_value",
    )


def missing_parameter(param: str) -> OpenAIError:
    return invalid_request(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def unknown_parameter(param: str) -> OpenAIError:
    return invalid_request(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def unrecognized_arguments(names: list[str], wording: str = "unrecognized") -> OpenAIError:
    """Top-level keys the API does not know.

    ``"unrecognized"``: the wording recorded for gpt-4o-mini (all names, singular or plural);
    ``"unknown_parameter"``: the newer validator's, seen for later models (the first name).
    """
    if wording == "unknown_parameter":
        return unknown_parameter(names[0])
    if len(names) == 1:
        return invalid_request(f"Unrecognized request argument supplied: {names[0]}")
    return invalid_request(f"Unrecognized request arguments supplied: {', '.join(names)}")


def empty_array(param: str) -> OpenAIError:
    return invalid_request(
        f"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        param=param,
        code="empty_array",
    )


def array_too_long(param: str, maximum: int, length: int) -> OpenAIError:
    return invalid_request(
        f"Invalid '{param}': array too long. Expected an array with maximum length {maximum}, "
        f"but got an array with length {length} instead.",
        param=param,
        code="array_above_max_length",
    )


def string_too_long(param: str, maximum: int, length: int) -> OpenAIError:
    return invalid_request(
        f"Invalid '{param}': string too long. Expected a string with maximum length {maximum}, "
        f"but got a string with length {length} instead.",
        param=param,
        code="string_above_max_length",
    )


def string_too_short(param: str, minimum: int, length: int) -> OpenAIError:
    return invalid_request(
        f"Invalid '{param}': string too short. Expected a string with minimum length {minimum}, "
        f"but got a string with length {length} instead.",
        param=param,
        code="string_below_min_length",
    )


def pattern_mismatch(param: str, pattern: str) -> OpenAIError:
    return invalid_request(
        f"Invalid '{param}': string does not match pattern. Expected a string that matches the "
        f"pattern '{pattern}'.",
        param=param,
        code="invalid_value",
    )


def too_many_properties(param: str, maximum: int, count: int) -> OpenAIError:
    return invalid_request(
        f"Invalid '{param}': too many properties. Expected an object with at most {maximum} "
        f"properties, but got an object with {count} properties instead.",
        param=param,
        code="object_above_max_properties",
    )


def only_allowed_when(param: str, condition: str) -> OpenAIError:
    """The older semantic layer's "X is only allowed when Y" family (``code: null``)."""
    return invalid_request(
        f"Invalid value for '{param}': '{param}' is only allowed when {condition}.", param=param
    )


def null_content(index: int) -> OpenAIError:
    # The older layer names the field alone in the text and a dotted path in ``param``.
    return invalid_request(
        "Invalid value for 'content': expected a string, got null.",
        param=f"messages.[{index}].content",
    )


def orphan_tool_message(index: int, spelling: str) -> OpenAIError:
    return invalid_request(
        "Invalid parameter: messages with role 'tool' must be a response to a "
        f"{spelling} message with 'tool_calls'.",
        param=f"messages.[{index}].role",
    )


def unanswered_tool_calls(index: int, ids: list[str]) -> OpenAIError:
    return invalid_request(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(ids),
        param=f"messages.[{index}].role",
    )


def part_not_allowed_for_role(
    index: int, what: str, an_item: str, allowed: str, role: str
) -> OpenAIError:
    return invalid_request(
        f"Invalid 'messages[{index}]'. {what} are only allowed for messages with role "
        f"'{allowed}', but this message with role '{role}' contains {an_item}.",
        param=f"messages[{index}]",
        code="invalid_value",
    )


def unsupported_image(formats: tuple[str, ...]) -> OpenAIError:
    listed = ", ".join(f"'{f}'" for f in formats)
    return invalid_request(
        "You uploaded an unsupported image. Please make sure your image has of one the "
        f"following formats: [{listed}].",
        code="invalid_image_format",
    )


def invalid_schema(
    owner: str, context: tuple[str | int, ...] | None, problem: str, *, param: str, code: str | None
) -> OpenAIError:
    """Structured Outputs schema errors: ``Invalid schema for function 'f': In context=(), ...``."""
    where = "" if context is None else f"In context={context!r}, "
    return invalid_request(f"Invalid schema for {owner}: {where}{problem}", param=param, code=code)


def json_word_missing() -> OpenAIError:
    return invalid_request(
        "'messages' must contain the word 'json' in some form, to use 'response_format' of "
        "type 'json_object'.",
        param="messages",
    )


def parameter_combination(first: str, second: str) -> OpenAIError:
    return invalid_request(
        f"Setting '{first}' and '{second}' at the same time is not supported.",
        param=first,
        code="invalid_parameter_combination",
    )


def max_tokens_too_large(param: str, value: int, cap: int, wording: str) -> OpenAIError:
    if wording == "integer_above_max_value":
        return out_of_range(param, value, cap, above=True, integer=True)
    return invalid_request(
        f"{param} is too large: {value}. This model supports at most {cap} completion tokens, "
        f"whereas you provided {value}.",
        param=param,
    )


def context_exceeded(window: int, prompt_tokens: int, completion_tokens: int | None) -> OpenAIError:
    if completion_tokens is None:
        message = (
            f"This model's maximum context length is {window} tokens. However, your messages "
            f"resulted in {prompt_tokens} tokens. Please reduce the length of the messages."
        )
    else:
        message = (
            f"This model's maximum context length is {window} tokens. However, you requested "
            f"{prompt_tokens + completion_tokens} tokens ({prompt_tokens} in the messages, "
            f"{completion_tokens} in the completion). Please reduce the length of the messages "
            "or completion."
        )
    return invalid_request(message, param="messages", code="context_length_exceeded")


MALFORMED_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)


def malformed_json() -> OpenAIError:
    return invalid_request(MALFORMED_JSON, style="gateway")


def missing_model() -> OpenAIError:
    return invalid_request("you must provide a model parameter", style="gateway")


def model_not_found(model: str) -> OpenAIError:
    body = {
        "error": {
            "message": f"The model `{model}` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    return OpenAIError(404, body, style="gateway")


# Texts the reference marks unknown [I]: each is our choice, recorded in docs/model-profile.md.


def top_logprobs_without_logprobs() -> OpenAIError:
    # [T other]: measured on the same endpoint for a 2026 model.
    return invalid_request(
        "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.",
        param="top_logprobs",
    )


def property_name_too_long(param: str, key: str, maximum: int, abbreviate_over: int) -> OpenAIError:
    """A key of a free-form object (``metadata``) over its length limit [T other]."""
    return invalid_request(
        f"Invalid property name in '{param}': '{echo_value(key, abbreviate_over)}' is too long. "
        f"Expected a string with maximum length {maximum}, but got a string with length "
        f"{len(key)} instead.",
        param=f"{param}.{key}",
        code="property_name_above_max_length",
    )


def tool_choice_not_found(name: str) -> OpenAIError:
    # The Responses API's text for the same mistake [T other].
    return invalid_request(
        f"Tool choice '{name}' not found in 'tools' parameter.", param="tool_choice"
    )


def function_call_not_found(name: str) -> OpenAIError:
    return invalid_request(
        f"Function '{name}' not found in 'functions' parameter.", param="function_call"
    )


def stream_options_without_stream() -> OpenAIError:
    return invalid_request(
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        param="stream_options",
    )


def web_search_unsupported() -> OpenAIError:
    return invalid_request(
        "Web search options not supported with this model.", param="web_search_options"
    )


def audio_unsupported(param: str) -> OpenAIError:
    return invalid_request(
        "This model does not support audio input or output.", param=param, code="invalid_value"
    )


def invalid_logit_bias_key(key: str, maximum: int | None) -> OpenAIError:
    if maximum is None:
        text = (
            f"Invalid key in 'logit_bias': {key}. You should only be submitting non-negative "
            "integers."
        )
    else:
        text = f"Invalid key in 'logit_bias': {key}. Maximum value is {maximum}."
    return invalid_request(text, param="logit_bias")


# What a 5xx without a JSON body of its own (a 502's HTML page, a dropped connection) stands
# for where a body is needed: a batch line's error record.
SERVER_ERROR_BODY: dict[str, Any] = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
