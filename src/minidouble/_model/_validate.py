"""Reject exactly what GPT-4o mini rejects, in the order the real API checks it.

The real service checks a request in layers (reference §2.1) and reports only the first
problem it meets:

1. the gateway: the JSON must parse, the model must be given, a string, and exist (404);
2. ``messages`` must be there, and no top-level key may be unknown ("Unrecognized request
   argument");
3. the schema validator: each parameter's type, range and shape, field by field in the order
   measured on the endpoint, with bracketed paths such as ``messages[1].content[0].type``;
   ``temperature`` and ``top_p`` ranges after every field;
4. the semantic checks: null contents, tool-call ordering, parameters that need another one
   (``stream_options``, ``tool_choice``...), the json word, with the dotted paths
   (``messages.[4].role``) and ``code: null`` of that older code;
5. the length checks, which need the prompt's tokens: the output cap, then the context.

Steps 1-4 never tokenise, so :func:`check_request` costs one encode of the prompt on top of a
walk over the body's structure. ``docs/validation.md`` lists every rule.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NoReturn, cast

from minidouble._model import _errors as err
from minidouble._model import _tokens
from minidouble._model._body_key import body_key
from minidouble._model._profile import GPT4O_MINI, ModelProfile, NumberRule

__all__ = ["CHAT_COMPLETIONS", "check_chat_body", "check_request", "parse_json_body"]

CHAT_COMPLETIONS = "/v1/chat/completions"

# The order the schema layer reports fields in: measured pair by pair on the same endpoint in
# 2026 (a third-party probe of 27 fields, symmetric under body order; docs/model-profile.md).
# Fields this model knows and that probe did not (audio, modalities, web search) come last.
_SCHEMA_ORDER = (
    "messages",
    "functions",
    "function_call",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_completion_tokens",
    "n",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "user",
    "seed",
    "safety_identifier",
    "prompt_cache_key",
    "response_format",
    "service_tier",
    "max_tokens",
    "logit_bias",
    "stop",
    "stream",
    "stream_options",
    "store",
    "metadata",
    "prediction",
    "modalities",
    "audio",
    "web_search_options",
    "model",
)
_SCHEMA_RANK = {name: rank for rank, name in enumerate(_SCHEMA_ORDER)}
# Checked for type with the other fields but for range only after all of them: a body with
# max_tokens 0 and temperature -0.5 is refused for max_tokens (recorded, reference §2.1).
_RANGE_CHECKED_LATE = ("temperature", "top_p")

_BOOLEANS = frozenset({"store", "logprobs", "stream", "parallel_tool_calls"})
_STRINGS = frozenset({"user", "prompt_cache_key"})

# Keys each content part may carry besides ``type``; the first one is required.
_PART_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "image_url": ("image_url",),
    "input_audio": ("input_audio",),
    "refusal": ("refusal",),
    "audio": ("audio",),
    "file": ("file",),
}
# Part types limited to one role, with the words of OpenAI's "only allowed" error.
_PART_ROLES: dict[str, tuple[str, str, str]] = {
    "image_url": ("user", "Image URLs", "an image URL"),
    "input_audio": ("user", "Audio inputs", "an audio input"),
    "file": ("user", "Files", "a file"),
    "refusal": ("assistant", "Refusals", "a refusal"),
    "audio": ("assistant", "Audio references", "an audio reference"),
}
_EXPECTED_CONTENT = "one of a string or array of objects"
_ARRAY_OF_OBJECTS = "an array of objects"
# Magic numbers of the image formats the API decodes.
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
_DATA_URL = re.compile(r"data:([^,]*?)(;base64)?,", re.IGNORECASE)


def parse_json_body(raw: bytes) -> Any:
    """The request body as JSON, or the gateway's malformed-JSON error.

    Python's ``json`` also reads ``NaN`` and ``Infinity``, which are not JSON: the API refuses
    them like any other malformed body.
    """
    try:
        # What json.loads does with bytes, with one decoder made once: json.loads builds a
        # new one on every call that passes parse_constant. A body opening with "{" and no
        # NUL after it is UTF-8 by detect_encoding's own rules (no BOM starts with "{").
        if raw[:1] == b"{" and raw[1:2] != b"\x00":
            text = raw.decode("utf-8", "surrogatepass")
        else:
            text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        # JSONDecoder.decode's steps, without its two Python frames per request.
        value, end = _SCAN(text, _SPACE(text, 0).end())
        if _SPACE(text, end).end() != len(text):
            raise ValueError("extra data")
        return value
    except (ValueError, UnicodeDecodeError, RecursionError, StopIteration):
        raise err.malformed_json() from None


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(name)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
# The decoder's scanner and json.decoder's WHITESPACE (typeshed lists neither).
_SCAN: Callable[[str, int], tuple[Any, int]] = vars(_DECODER)["scan_once"]
# It matches the empty string, so it always matches.
_SPACE = cast("Callable[[str, int], re.Match[str]]", re.compile(r"[ \t\n\r]*").match)


def check_request(
    body: Any,
    *,
    path: str = CHAT_COMPLETIONS,
    profile: ModelProfile = GPT4O_MINI,
) -> int:
    """Validate a Chat Completions ``body`` and return its prompt tokens, tokenising it once.

    (``minidouble.validate_request`` also takes Responses bodies: it dispatches by path.)
    """
    _check_path(path)
    return check_chat_body(body, path, profile, body_key(body))


def check_chat_body(body: Any, path: str, profile: ModelProfile, key: Hashable | None) -> int:
    """:func:`check_request` for a body the router sent down a chat path, whose
    :func:`~minidouble._model._body_key.body_key` is ``key``: the pipeline computes it once
    and seeds the reply with it too."""
    if key is not None:
        known = _passed.get(key)
        if known is not None and known[0] is profile and known[1] == path:
            return known[2]
    try:
        completion_cap = _check_structure(body, path, profile)
        prompt_tokens = _count(body, profile, key)
    except RecursionError:
        # A body nested deeper than Python's stack: the API's parser gives up on it too.
        raise err.malformed_json() from None
    _check_lengths(prompt_tokens, completion_cap, profile)
    if key is not None:
        if len(_passed) >= _COUNTED_MAX:
            _passed.clear()
        _passed[key] = (profile, path, prompt_tokens)
    return prompt_tokens


# Small bodies that passed validation, by body key, with the profile (held, so ``is`` is
# sound) and path they passed under and their prompt tokens: the checks are a function of
# these three alone. Cleared when full; a refused body is checked afresh every time.
_passed: dict[Hashable, tuple[ModelProfile, str, int]] = {}


# Prompt tokens of small bodies already counted, per profile (see _body_key): counting is a
# pure function of the body and the profile. Cleared when full.
_counted: dict[int, tuple[ModelProfile, dict[Hashable, int]]] = {}
_COUNTED_MAX = 4096


def _count(body: Mapping[str, Any], profile: ModelProfile, key: Hashable | None) -> int:
    if key is None:
        return _tokens.count_prompt_tokens(body, profile=profile)
    entry = _counted.get(id(profile))
    if entry is None or entry[0] is not profile:
        if len(_counted) >= 16:
            _counted.clear()
        entry = _counted[id(profile)] = (profile, {})
    counts = entry[1]
    count = counts.get(key)
    if count is None:
        count = _tokens.count_prompt_tokens(body, profile=profile)
        if len(counts) >= _COUNTED_MAX:
            counts.clear()
        counts[key] = count
    return count


def _check_path(path: str) -> None:
    if not path.rstrip("/").endswith("/chat/completions"):
        raise ValueError(
            f"minidouble: validate_request() checks Chat Completions and Responses bodies, got "
            f"path {path!r}; pass path={CHAT_COMPLETIONS!r}, '/v1/responses', or an Azure "
            "'/openai/deployments/<name>/chat/completions' path."
        )


def _check_structure(body: Any, path: str, profile: ModelProfile) -> tuple[str, int] | None:
    """Layers 1-4; returns the requested completion cap as ``(field, value)``, if any."""
    if not isinstance(body, Mapping):
        raise err.malformed_json()
    _check_model(body, path, profile)
    if body.get("messages") is None:
        raise err.missing_parameter("messages")
    _check_arguments(body, profile)
    plain = _plain_messages(body["messages"], profile)
    # Only the fields present, in the schema's order: a small body has a handful of them.
    present = sorted(
        (name for name, value in body.items() if value is not None and name in _SCHEMA_RANK),
        key=_SCHEMA_RANK.__getitem__,
    )
    for name in present:
        if name == "messages" and plain:
            continue  # passes every message check: see _plain_messages
        _SCHEMA_CHECKS[name](body[name], profile)
    for name in _RANGE_CHECKED_LATE:
        value = body.get(name)
        if value is not None:
            _check_range(name, value, profile.numbers[name])
    return _check_semantics(body, profile, plain=plain)


# Roles whose message needs nothing but a role and a content (tool needs tool_call_id,
# function a name).
_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})


def _plain_messages(messages: object, profile: ModelProfile) -> bool:
    """Whether ``messages`` is a non-empty list of ``{"role": ..., "content": "..."}`` only,
    with a role this model knows that needs nothing else and a content within the limit.

    Nearly every request is; such messages pass every check of layers 3 and 4 that reads
    messages alone (types, parts, null contents, tool-call order), so those walks are
    skipped. Anything else, however slightly different, takes the checks one by one.
    """
    if type(messages) is not list or not messages:
        return False
    roles, limit = profile.roles, profile.max_string_length
    for message in messages:
        if type(message) is not dict or len(message) != 2:
            return False
        role, content = message.get("role"), message.get("content")
        if (
            type(content) is not str
            or type(role) is not str
            or role not in _PLAIN_ROLES
            or role not in roles
            or len(content) > limit
        ):
            return False
    return True


# --- layer 1 and 2: gateway and argument names ---------------------------------------------


def _check_model(body: Mapping[str, Any], path: str, profile: ModelProfile) -> None:
    # Azure deployments choose the model from the URL and ignore the body's ``model``.
    if path.startswith("/openai/deployments/"):
        return
    model = body.get("model")
    if model is None or model == "":
        raise err.missing_model()
    if not isinstance(model, str):
        # The gateway reads ``model`` as a string to route the request; anything else fails
        # its parse (measured on this endpoint in 2026: ``"model": 7``).
        raise err.malformed_json()
    if path.startswith("/openai/"):
        return  # Azure's v1 path: the "model" is a deployment name of the user's choosing.
    if not profile.accepts_model(model):
        raise err.model_not_found(model)


def _check_arguments(body: Mapping[str, Any], profile: ModelProfile) -> None:
    if profile.chat_parameters.issuperset(body):
        return  # every key known: the usual case, checked in one C-level pass
    unknown = [
        str(key)
        for key, value in body.items()
        if key not in profile.chat_parameters
        and not (key in profile.refused_parameters and value is None)
    ]
    if unknown:
        raise err.unrecognized_arguments(unknown, profile.validation.unknown_argument_wording)


# --- layer 3: the schema validator -----------------------------------------------------------


def _type_error(param: str, expected: str, value: object) -> NoReturn:
    raise err.invalid_type(param, expected, value)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_number(param: str, value: object, rule: NumberRule) -> None:
    _check_number_type(param, value, rule)
    _check_range(param, value, rule)


def _check_number_type(param: str, value: object, rule: NumberRule) -> None:
    if rule.integer:
        if not _is_integer(value):
            _type_error(param, "an integer", value)
    elif not _is_number(value):
        _type_error(param, "a decimal", value)


def _check_range(param: str, value: object, rule: NumberRule) -> None:
    assert isinstance(value, (int, float))
    if rule.maximum is not None and value > rule.maximum:
        raise err.out_of_range(param, value, rule.maximum, above=True, integer=rule.integer)
    if rule.minimum is not None and value < rule.minimum:
        raise err.out_of_range(param, value, rule.minimum, above=False, integer=rule.integer)


def _require_string(param: str, value: object) -> str:
    if not isinstance(value, str):
        _type_error(param, "a string", value)
    return value


def _require_object(param: str, value: object) -> Mapping[str, Any]:
    # A parsed body's objects are dicts: checking the exact type first skips ABCMeta.
    if type(value) is not dict and not isinstance(value, Mapping):
        _type_error(param, "an object", value)
    return value


def _require_list(param: str, value: object, expected: str = "an array") -> list[Any]:
    if not isinstance(value, list):
        _type_error(param, expected, value)
    return value


def _require_bool(param: str, value: object) -> None:
    if not isinstance(value, bool):
        _type_error(param, "a boolean", value)


def _require_field(obj: Mapping[str, Any], key: str, path: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise err.missing_parameter(f"{path}.{key}")
    return value


def _check_enum(
    param: str, value: object, supported: tuple[str, ...], profile: ModelProfile
) -> str:
    if not isinstance(value, str):
        _type_error(param, err.one_of(supported), value)
    text = value
    if text not in supported:
        raise err.invalid_enum(param, text, supported, profile.validation.echo_abbreviate_over)
    return text


def _check_no_unknown(obj: Mapping[str, Any], path: str, known: tuple[str, ...]) -> None:
    for key in obj:
        if key not in known:
            raise err.unknown_parameter(f"{path}.{key}")


def _check_name(param: str, value: object, profile: ModelProfile) -> None:
    name = _require_string(param, value)
    if len(name) > profile.max_name_length:
        raise err.string_too_long(param, profile.max_name_length, len(name))
    if not _name_matches(name, profile):
        raise err.pattern_mismatch(param, profile.name_pattern)


def _name_matches(name: str, profile: ModelProfile) -> bool:
    return re.fullmatch(profile.name_pattern, name) is not None


def _check_messages(messages: object, profile: ModelProfile) -> None:
    items = _require_list("messages", messages, _ARRAY_OF_OBJECTS)
    if not items:
        raise err.empty_array("messages")
    for index, message in enumerate(items):
        _check_message(index, message, profile)


def _check_message(index: int, message: object, profile: ModelProfile) -> None:
    path = f"messages[{index}]"
    fields = _require_object(path, message)
    role = fields.get("role")
    if type(role) is not str or role not in profile.roles:
        # The common case costs no error path; this reports whichever problem it is.
        role = _check_enum(
            f"{path}.role", _require_field(fields, "role", path), profile.roles, profile
        )
    if (
        "content" not in fields
        and role in ("system", "developer", "user", "tool", "function")
        and profile.validation.require_content
    ):
        raise err.missing_parameter(f"{path}.content")
    content = fields.get("content")
    if content is not None:
        _check_content(index, role, content, profile)
    # Tool messages' ``name`` is not part of the API's schema: it is ignored, not checked.
    if role == "function":
        _check_name(f"{path}.name", _require_field(fields, "name", path), profile)
    elif role != "tool" and fields.get("name") is not None:
        _check_name(f"{path}.name", fields["name"], profile)
    if role == "assistant":
        _check_assistant_calls(path, fields, profile)
    elif role == "tool":
        _require_string(f"{path}.tool_call_id", _require_field(fields, "tool_call_id", path))


def _check_content(index: int, role: str, content: object, profile: ModelProfile) -> None:
    if isinstance(content, str):
        if len(content) > profile.max_string_length:
            param = f"messages[{index}].content"
            raise err.string_too_long(param, profile.max_string_length, len(content))
        return
    param = f"messages[{index}].content"
    if not isinstance(content, list):
        _type_error(param, _EXPECTED_CONTENT, content)
    if not content:
        raise err.empty_array(param)
    for position, part in enumerate(content):
        _check_part(index, role, f"{param}[{position}]", part, profile)


def _check_part(index: int, role: str, path: str, part: object, profile: ModelProfile) -> None:
    fields = _require_object(path, part)
    kind = _check_enum(
        f"{path}.type",
        _require_field(fields, "type", path),
        profile.validation.content_part_types,
        profile,
    )
    (payload_key,) = _PART_FIELDS[kind]
    payload = _require_field(fields, payload_key, path)
    # Extra keys beside the payload are ignored (19 recorded requests carry
    # "additional_properties"); extra keys inside it are refused ("file.data", recorded).
    payload_path = f"{path}.{payload_key}"
    if kind in ("text", "refusal"):
        text = _require_string(payload_path, payload)
        if len(text) > profile.max_string_length:
            raise err.string_too_long(payload_path, profile.max_string_length, len(text))
    elif kind == "image_url":
        image = _require_object(payload_path, payload)
        url = image.get("url")
        if "url" not in image:
            raise err.missing_parameter(f"{payload_path}.url")
        if not isinstance(url, str):
            _type_error(f"{payload_path}.url", "a base64-encoded data URL", url)
        if image.get("detail") is not None:
            _check_enum(
                f"{payload_path}.detail", image["detail"], profile.validation.image_details, profile
            )
        _check_no_unknown(image, payload_path, ("url", "detail"))
    elif kind == "input_audio":
        audio = _require_object(payload_path, payload)
        _require_string(f"{payload_path}.data", _require_field(audio, "data", payload_path))
        _check_enum(
            f"{payload_path}.format",
            _require_field(audio, "format", payload_path),
            profile.validation.audio_formats,
            profile,
        )
        _check_no_unknown(audio, payload_path, ("data", "format"))
    elif kind == "file":
        file = _require_object(payload_path, payload)
        for key in ("file_id", "file_data", "filename"):
            if file.get(key) is not None:
                _require_string(f"{payload_path}.{key}", file[key])
        _check_no_unknown(file, payload_path, ("file_id", "file_data", "filename"))
    else:  # audio: a reference to an earlier audio reply
        audio_ref = _require_object(payload_path, payload)
        _require_string(f"{payload_path}.id", _require_field(audio_ref, "id", payload_path))
    allowed = _PART_ROLES.get(kind)
    if allowed is not None and allowed[0] != role:
        only_role, what, an_item = allowed
        raise err.part_not_allowed_for_role(index, what, an_item, only_role, role)


def _check_assistant_calls(path: str, fields: Mapping[str, Any], profile: ModelProfile) -> None:
    if fields.get("refusal") is not None:
        _require_string(f"{path}.refusal", fields["refusal"])
    calls = fields.get("tool_calls")
    if calls is not None:
        call_list = _require_list(f"{path}.tool_calls", calls, _ARRAY_OF_OBJECTS)
        if not call_list:
            raise err.empty_array(f"{path}.tool_calls")
        for position, call in enumerate(call_list):
            call_path = f"{path}.tool_calls[{position}]"
            call_fields = _require_object(call_path, call)
            _require_string(f"{call_path}.id", _require_field(call_fields, "id", call_path))
            _check_enum(
                f"{call_path}.type",
                _require_field(call_fields, "type", call_path),
                profile.validation.tool_types,
                profile,
            )
            _check_function_call(f"{call_path}.function", call_fields.get("function"))
    legacy = fields.get("function_call")
    if legacy is not None:
        _check_function_call(f"{path}.function_call", legacy)


def _check_function_call(path: str, value: object) -> None:
    if value is None:
        raise err.missing_parameter(path)
    function = _require_object(path, value)
    _require_string(f"{path}.name", _require_field(function, "name", path))
    _require_string(f"{path}.arguments", _require_field(function, "arguments", path))


def _check_model_field(value: object, profile: ModelProfile) -> None:
    """Checked by the gateway (layer 1)."""


def _check_metadata(value: object, profile: ModelProfile) -> None:
    metadata = _require_object("metadata", value)
    if len(metadata) > profile.max_metadata_pairs:
        raise err.too_many_properties("metadata", profile.max_metadata_pairs, len(metadata))
    for raw_key, item in metadata.items():
        key = str(raw_key)
        if len(key) > profile.max_metadata_key_length:
            raise err.property_name_too_long(
                "metadata",
                key,
                profile.max_metadata_key_length,
                profile.validation.echo_abbreviate_over,
            )
        text = _require_string(f"metadata.{key}", item)
        if len(text) > profile.max_metadata_value_length:
            raise err.string_too_long(
                f"metadata.{key}", profile.max_metadata_value_length, len(text)
            )


def _check_logit_bias(value: object, profile: ModelProfile) -> None:
    bias = _require_object("logit_bias", value)
    highest = profile.validation.logit_bias_max_token_id
    rule = profile.numbers["logit_bias_value"]
    for raw_key, weight in bias.items():
        key = str(raw_key)
        if not (key.isascii() and key.isdigit()):
            raise err.invalid_logit_bias_key(key, None)
        if int(key) > highest:
            raise err.invalid_logit_bias_key(key, highest)
        _check_number(f"logit_bias.{key}", weight, rule)


def _check_modalities(value: object, profile: ModelProfile) -> None:
    items = _require_list("modalities", value)
    for position, item in enumerate(items):
        modality = _check_enum(
            f"modalities[{position}]", item, profile.validation.modalities, profile
        )
        if modality == "audio" and not profile.validation.supports_audio:
            raise err.audio_unsupported("modalities")


def _check_prediction(value: object, profile: ModelProfile) -> None:
    prediction = _require_object("prediction", value)
    _check_enum(
        "prediction.type", _require_field(prediction, "type", "prediction"), ("content",), profile
    )
    content = _require_field(prediction, "content", "prediction")
    if isinstance(content, str):
        return
    parts = _require_list("prediction.content", content, _EXPECTED_CONTENT)
    if not parts:
        raise err.empty_array("prediction.content")
    for position, part in enumerate(parts):
        path = f"prediction.content[{position}]"
        fields = _require_object(path, part)
        _check_enum(f"{path}.type", _require_field(fields, "type", path), ("text",), profile)
        _require_string(f"{path}.text", _require_field(fields, "text", path))


def _check_audio(value: object, profile: ModelProfile) -> None:
    # Accepted and ignored without audio in ``modalities`` (one recorded request did this).
    _require_object("audio", value)


def _check_response_format(value: object, profile: ModelProfile) -> None:
    response_format = _require_object("response_format", value)
    kind = _check_enum(
        "response_format.type",
        _require_field(response_format, "type", "response_format"),
        profile.validation.response_format_types,
        profile,
    )
    if kind != "json_schema":
        return
    path = "response_format.json_schema"
    spec = _require_object(path, _require_field(response_format, "json_schema", "response_format"))
    name = _require_field(spec, "name", path)
    _check_name(f"{path}.name", name, profile)
    if spec.get("description") is not None:
        _require_string(f"{path}.description", spec["description"])
    if spec.get("schema") is not None:
        _require_object(f"{path}.schema", spec["schema"])
    if spec.get("strict") is not None:
        _require_bool(f"{path}.strict", spec["strict"])
    _check_no_unknown(spec, path, ("name", "description", "schema", "strict"))
    if spec.get("strict") is True:
        from minidouble._model._strict_schema import check_strict_schema

        check_strict_schema(
            spec.get("schema") or {},
            owner=f"response_format '{name}'",
            param="response_format",
            code=None,
            profile=profile,
        )


def _check_service_tier(value: object, profile: ModelProfile) -> None:
    _check_enum("service_tier", value, profile.service_tiers, profile)


def _check_stop(value: object, profile: ModelProfile) -> None:
    if isinstance(value, str):
        return
    items = _require_list("stop", value, "one of a string or array of strings")
    if len(items) < profile.validation.min_stop_sequences:
        raise err.empty_array("stop")
    if len(items) > profile.max_stop_sequences:
        raise err.array_too_long("stop", profile.max_stop_sequences, len(items))
    for position, item in enumerate(items):
        _require_string(f"stop[{position}]", item)


def _check_stream_options(value: object, profile: ModelProfile) -> None:
    options = _require_object("stream_options", value)
    for key in ("include_usage", "include_obfuscation"):
        if options.get(key) is not None:
            _require_bool(f"stream_options.{key}", options[key])
    _check_no_unknown(options, "stream_options", ("include_usage", "include_obfuscation"))


def _check_tools(value: object, profile: ModelProfile) -> None:
    tools = _require_list("tools", value, _ARRAY_OF_OBJECTS)
    if not tools:
        raise err.empty_array("tools")
    if len(tools) > profile.max_tools:
        raise err.array_too_long("tools", profile.max_tools, len(tools))
    for position, tool in enumerate(tools):
        path = f"tools[{position}]"
        fields = _require_object(path, tool)
        _check_enum(
            f"{path}.type",
            _require_field(fields, "type", path),
            profile.validation.tool_types,
            profile,
        )
        _check_function_definition(
            f"{path}.function", _require_field(fields, "function", path), profile
        )


def _check_functions(value: object, profile: ModelProfile) -> None:
    functions = _require_list("functions", value, _ARRAY_OF_OBJECTS)
    if not functions:
        raise err.empty_array("functions")
    if len(functions) > profile.max_functions:
        raise err.array_too_long("functions", profile.max_functions, len(functions))
    for position, function in enumerate(functions):
        _check_function_definition(f"functions[{position}]", function, profile)


def _check_function_definition(path: str, value: object, profile: ModelProfile) -> None:
    function = _require_object(path, value)
    name = _require_field(function, "name", path)
    _check_name(f"{path}.name", name, profile)
    if function.get("description") is not None:
        _require_string(f"{path}.description", function["description"])
    parameters = function.get("parameters")
    if parameters is not None:
        _require_object(f"{path}.parameters", parameters)
    strict = function.get("strict")
    if strict is not None:
        _require_bool(f"{path}.strict", strict)
    from minidouble._model._strict_schema import check_function_parameters

    check_function_parameters(
        parameters, name=name, strict=strict is True, param=f"{path}.parameters", profile=profile
    )


def _check_tool_choice(value: object, profile: ModelProfile) -> None:
    if isinstance(value, str):
        _check_enum("tool_choice", value, profile.validation.tool_choice_modes, profile)
        return
    if not isinstance(value, Mapping):
        modes = err.one_of(profile.validation.tool_choice_modes)
        _type_error("tool_choice", f"one of {modes} or object", value)
    # The function is required whatever the type says (measured: {"type": "bogus"} is refused
    # for its missing function).
    function = _require_object(
        "tool_choice.function", _require_field(value, "function", "tool_choice")
    )
    _require_string(
        "tool_choice.function.name", _require_field(function, "name", "tool_choice.function")
    )
    _check_enum(
        "tool_choice.type",
        _require_field(value, "type", "tool_choice"),
        profile.validation.tool_types,
        profile,
    )


def _check_function_call_choice(value: object, profile: ModelProfile) -> None:
    if isinstance(value, str):
        _check_enum("function_call", value, profile.validation.function_call_modes, profile)
        return
    if not isinstance(value, Mapping):
        _type_error("function_call", "one of a string or object", value)
    _require_string("function_call.name", _require_field(value, "name", "function_call"))


def _check_safety_identifier(value: object, profile: ModelProfile) -> None:
    text = _require_string("safety_identifier", value)
    limit = profile.validation.max_safety_identifier_length
    if len(text) > limit:
        raise err.string_too_long("safety_identifier", limit, len(text))


def _check_web_search_options(value: object, profile: ModelProfile) -> None:
    _require_object("web_search_options", value)


_Check = Callable[[Any, ModelProfile], None]


def _number_check(name: str) -> _Check:
    def check(value: object, profile: ModelProfile) -> None:
        if name in _RANGE_CHECKED_LATE:
            _check_number_type(name, value, profile.numbers[name])
        else:
            _check_number(name, value, profile.numbers[name])

    return check


def _bool_check(name: str) -> _Check:
    def check(value: object, profile: ModelProfile) -> None:
        _require_bool(name, value)

    return check


def _string_check(name: str) -> _Check:
    def check(value: object, profile: ModelProfile) -> None:
        _require_string(name, value)

    return check


_SCHEMA_CHECKS: dict[str, _Check] = {
    "messages": _check_messages,
    "model": _check_model_field,
    "metadata": _check_metadata,
    "logit_bias": _check_logit_bias,
    "modalities": _check_modalities,
    "prediction": _check_prediction,
    "audio": _check_audio,
    "response_format": _check_response_format,
    "service_tier": _check_service_tier,
    "stop": _check_stop,
    "stream_options": _check_stream_options,
    "tools": _check_tools,
    "tool_choice": _check_tool_choice,
    "safety_identifier": _check_safety_identifier,
    "web_search_options": _check_web_search_options,
    "function_call": _check_function_call_choice,
    "functions": _check_functions,
    **{name: _bool_check(name) for name in _BOOLEANS},
    **{name: _string_check(name) for name in _STRINGS},
    **{
        name: _number_check(name)
        for name in (
            "frequency_penalty",
            "presence_penalty",
            "temperature",
            "top_p",
            "n",
            "top_logprobs",
            "max_tokens",
            "max_completion_tokens",
            "seed",
        )
    },
}
assert set(_SCHEMA_CHECKS) == set(_SCHEMA_ORDER)


# --- layer 4: semantic checks ----------------------------------------------------------------


def _check_semantics(
    body: Mapping[str, Any], profile: ModelProfile, *, plain: bool = False
) -> tuple[str, int] | None:
    messages: list[Any] = body["messages"]
    if not plain:  # plain messages have string contents and no tool calls
        if profile.validation.require_content:
            _check_null_contents(messages)
        _check_tool_order(messages, profile)
        _check_parts_semantics(messages, profile)
    if not _OPTION_FIELDS.isdisjoint(body):
        _check_option_semantics(body, messages, profile)
    return _completion_cap(body, profile)


# The parameters whose presence the semantic layer checks against others: most requests
# carry none of them, and then there is nothing to check.
_OPTION_FIELDS = frozenset(
    {
        "tool_choice",
        "parallel_tool_calls",
        "function_call",
        "stream_options",
        "top_logprobs",
        "web_search_options",
        "response_format",
    }
)


def _check_option_semantics(
    body: Mapping[str, Any], messages: list[Any], profile: ModelProfile
) -> None:
    tools = body.get("tools")
    if body.get("tool_choice") is not None:
        if tools is None:
            raise err.only_allowed_when("tool_choice", "'tools' are specified")
        choice = body["tool_choice"]
        if isinstance(choice, Mapping):
            wanted = choice["function"]["name"]
            if all(tool["function"]["name"] != wanted for tool in tools):
                raise err.tool_choice_not_found(wanted)
    if body.get("parallel_tool_calls") is not None and tools is None:
        raise err.only_allowed_when("parallel_tool_calls", "'tools' are specified")
    function_call = body.get("function_call")
    if function_call is not None:
        functions = body.get("functions")
        if functions is None:
            raise err.only_allowed_when("function_call", "'functions' are specified")
        if isinstance(function_call, Mapping):
            wanted = function_call["name"]
            if all(function["name"] != wanted for function in functions):
                raise err.function_call_not_found(wanted)
    if body.get("stream_options") is not None and body.get("stream") is not True:
        raise err.stream_options_without_stream()
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        raise err.top_logprobs_without_logprobs()
    if body.get("web_search_options") is not None and not profile.validation.supports_web_search:
        raise err.web_search_unsupported()
    response_format = body.get("response_format")
    if (
        response_format is not None
        and response_format["type"] == "json_object"
        and not _mentions(messages, profile.validation.json_object_word)
    ):
        raise err.json_word_missing()


def _check_null_contents(messages: list[Any]) -> None:
    for index, message in enumerate(messages):
        if message.get("content") is not None:
            continue
        role = message["role"]
        if role == "function":
            continue
        if role == "assistant" and any(
            message.get(key) is not None
            for key in ("tool_calls", "function_call", "refusal", "audio")
        ):
            continue
        raise err.null_content(index)


def _check_tool_order(messages: list[Any], profile: ModelProfile) -> None:
    offered: set[str] = set()  # ids of the latest assistant tool-call block
    unanswered: list[str] = []
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            call_id = message["tool_call_id"]
            if call_id not in offered:
                raise err.orphan_tool_message(index, profile.tool_order_spelling)
            if call_id in unanswered:
                unanswered.remove(call_id)
            continue
        if unanswered:
            raise err.unanswered_tool_calls(index, unanswered)
        offered = set()
        if role == "assistant" and message.get("tool_calls"):
            unanswered = [call["id"] for call in message["tool_calls"]]
            offered = set(unanswered)
    if unanswered and profile.validation.reject_trailing_tool_calls:
        raise err.unanswered_tool_calls(len(messages) - 1, unanswered)


def _check_parts_semantics(messages: list[Any], profile: ModelProfile) -> None:
    formats = profile.tokens.image.formats
    for index, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for position, part in enumerate(content):
            kind = part["type"]
            if kind == "input_audio" and not profile.validation.supports_audio:
                raise err.audio_unsupported(f"messages[{index}].content[{position}]")
            if kind == "image_url" and not _is_supported_image(part["image_url"]["url"], formats):
                raise err.unsupported_image(formats)


def _is_supported_image(url: str, formats: tuple[str, ...]) -> bool:
    """Whether a data URL holds an image the API decodes; remote URLs are fetched, not checked."""
    if url[:5].lower() != "data:":
        return True
    header = _DATA_URL.match(url)
    if header is None or not header.group(2):
        return False
    # Enough base64 for the longest signature (12 bytes); the rest of the image is not read.
    head = url[header.end() : header.end() + 24]
    try:
        prefix = base64.b64decode(head + "=" * (-len(head) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return _image_format(prefix) in formats


def _image_format(prefix: bytes) -> str | None:
    for signature, name in _IMAGE_SIGNATURES:
        if prefix.startswith(signature):
            return name
    if prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        return "webp"
    return None


def _mentions(messages: list[Any], word: str) -> bool:
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            if word in content.lower():
                return True
        elif isinstance(content, list):
            for part in content:
                text = part.get("text")
                if isinstance(text, str) and word in text.lower():
                    return True
    return False


def _completion_cap(body: Mapping[str, Any], profile: ModelProfile) -> tuple[str, int] | None:
    max_tokens = body.get("max_tokens")
    max_completion_tokens = body.get("max_completion_tokens")
    if max_tokens is not None and max_completion_tokens is not None:
        raise err.parameter_combination("max_tokens", "max_completion_tokens")
    field = "max_tokens" if max_tokens is not None else "max_completion_tokens"
    value = max_tokens if max_tokens is not None else max_completion_tokens
    if value is None:
        return None
    if value > profile.max_output_tokens:
        raise err.max_tokens_too_large(
            field, value, profile.max_output_tokens, profile.over_cap_wording
        )
    return field, value


# --- layer 5: lengths -----------------------------------------------------------------------


def _check_lengths(
    prompt_tokens: int, completion_cap: tuple[str, int] | None, profile: ModelProfile
) -> None:
    window = profile.context_window
    if prompt_tokens > window:
        raise err.context_exceeded(window, prompt_tokens, None)
    if (
        completion_cap is not None
        and profile.reject_prompt_plus_max_over_context
        and prompt_tokens + completion_cap[1] > window
    ):
        raise err.context_exceeded(window, prompt_tokens, completion_cap[1])
