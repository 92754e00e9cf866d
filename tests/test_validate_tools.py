"""Tools, tool_choice, legacy functions, response_format and the strict-schema rules."""

from __future__ import annotations

from typing import Any

import pytest
from _validation_support import chat, error_of, tool, user

from minidouble import GPT4O_MINI, validate_request

LIMITS = GPT4O_MINI.strict_schema


def strict_object(**properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def strict_tool(parameters: Any, name: str = "get_weather") -> dict[str, Any]:
    return tool(name, parameters=parameters, strict=True)


def json_schema(schema: Any, name: str = "answer", strict: bool = True) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema, "strict": strict},
    }


def nested(depth: int) -> dict[str, Any]:
    """An object schema ``depth`` objects deep (the root counts as one)."""
    schema = strict_object(leaf={"type": "string"})
    for _ in range(depth - 1):
        schema = strict_object(child=schema)
    return schema


def test_tools_count() -> None:
    validate_request(chat(tools=[tool(f"t{i}") for i in range(GPT4O_MINI.max_tools)]))
    too_many = [tool(f"t{i}") for i in range(GPT4O_MINI.max_tools + 1)]
    assert error_of(chat(tools=too_many)) == (
        400,
        "tools",
        "array_above_max_length",
        "Invalid 'tools': array too long. Expected an array with maximum length 128, but got an "
        "array with length 129 instead.",
    )
    assert error_of(chat(tools=[])) == (
        400,
        "tools",
        "empty_array",
        "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty "
        "array instead.",
    )
    assert error_of(chat(tools="none"))[1:] == (
        "tools",
        "invalid_type",
        "Invalid type for 'tools': expected an array of objects, but got a string instead.",
    )


def test_tool_shape() -> None:
    flat = {"name": "add", "parameters": {"type": "object", "properties": {}}}
    assert error_of(chat(tools=[flat])) == (
        400,
        "tools[0].type",
        "missing_required_parameter",
        "Missing required parameter: 'tools[0].type'.",
    )
    assert error_of(chat(tools=[{"type": "function"}])) == (
        400,
        "tools[0].function",
        "missing_required_parameter",
        "Missing required parameter: 'tools[0].function'.",
    )
    assert error_of(chat(tools=[tool() | {"type": "retrieval"}]))[1:3] == (
        "tools[0].type",
        "invalid_value",
    )
    assert error_of(chat(tools=[{"type": "function", "function": {}}]))[1:3] == (
        "tools[0].function.name",
        "missing_required_parameter",
    )


def test_descriptions_are_strings() -> None:
    assert error_of(chat(tools=[tool(description=5)]))[1:3] == (
        "tools[0].function.description",
        "invalid_type",
    )


def test_tool_names() -> None:
    validate_request(chat(tools=[tool("a" * 64)]))
    assert error_of(chat(tools=[tool("a" * 65)]))[1:3] == (
        "tools[0].function.name",
        "string_above_max_length",
    )
    assert error_of(chat(tools=[tool("get weather")])) == (
        400,
        "tools[0].function.name",
        "invalid_value",
        "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that "
        "matches the pattern '^[a-zA-Z0-9_-]+$'.",
    )


def test_parameters_must_be_an_object_schema() -> None:
    validate_request(chat(tools=[{"type": "function", "function": {"name": "noargs"}}]))
    # An empty schema means "no arguments", like an omitted one: strict still asks for
    # additionalProperties, as the omitted one does.
    validate_request(chat(tools=[tool("noargs", parameters={})]))
    assert error_of(chat(tools=[tool("noargs", parameters={}, strict=True)]))[3].endswith(
        "'additionalProperties' is required to be supplied and to be false."
    )
    assert error_of(chat(tools=[tool(parameters={"type": "string"})])) == (
        400,
        "tools[0].function.parameters",
        "invalid_function_parameters",
        "Invalid schema for function 'get_weather': schema must be a JSON Schema of "
        "'type: \"object\"', got 'type: \"string\"'.",
    )
    assert error_of(chat(tools=[tool(parameters={"properties": {}})]))[3].endswith(
        "got 'type: \"None\"'."
    )
    assert error_of(chat(tools=[tool("get_temperature", parameters={"type": "object"})])) == (
        400,
        "tools[0].function.parameters",
        "invalid_function_parameters",
        "Invalid schema for function 'get_temperature': In context=(), object schema missing "
        "properties.",
    )
    assert error_of(chat(tools=[tool(parameters="{}")]))[1:3] == (
        "tools[0].function.parameters",
        "invalid_type",
    )


def test_non_strict_schemas_are_not_held_to_strict_rules() -> None:
    loose = {"type": "object", "properties": {"a": {"type": "string", "uniqueItems": True}}}
    validate_request(chat(tools=[tool(parameters=loose)]))


def test_strict_tool_rules() -> None:
    validate_request(chat(tools=[strict_tool(strict_object(city={"type": "string"}))]))
    no_additional = {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    }
    assert error_of(chat(tools=[strict_tool(no_additional, "get_current_weather")])) == (
        400,
        "tools[0].function.parameters",
        "invalid_function_parameters",
        "Invalid schema for function 'get_current_weather': In context=(), "
        "'additionalProperties' is required to be supplied and to be false.",
    )
    # No parameters at all under strict: the implied empty object lacks additionalProperties.
    bare = {"type": "function", "function": {"name": "f", "strict": True}}
    assert error_of(chat(tools=[bare]))[3].endswith(
        "In context=(), 'additionalProperties' is required to be supplied and to be false."
    )
    optional = strict_object(location={"type": "string"}, unit={"type": "string"})
    optional["required"] = ["location"]
    assert error_of(chat(tools=[strict_tool(optional)]))[3] == (
        "Invalid schema for function 'get_weather': In context=(), 'required' is required to be "
        "supplied and to be an array including every key in properties. Missing 'unit'."
    )
    assert error_of(chat(tools=[tool(strict="yes")]))[1:3] == (
        "tools[0].function.strict",
        "invalid_type",
    )


def test_nested_problems_are_reported_before_the_roots() -> None:
    people = strict_object(name={"type": "string"}, role={"type": "string"})
    people["required"] = ["name"]
    schema = strict_object(topic={"type": "string"}, key_people={"type": "array", "items": people})
    schema["required"] = ["topic"]
    body = chat(user("x"), response_format=json_schema(schema, "research_findings"))
    assert error_of(body) == (
        400,
        "response_format",
        None,
        "Invalid schema for response_format 'research_findings': In context=('properties', "
        "'key_people', 'items'), 'required' is required to be supplied and to be an array "
        "including every key in properties. Missing 'role'.",
    )


@pytest.mark.parametrize("keyword", LIMITS.forbidden_keywords)
def test_forbidden_keywords(keyword: str) -> None:
    schema = strict_object(tags={"type": "array", "items": {"type": "string"}, keyword: 1})
    assert error_of(chat(response_format=json_schema(schema)))[3] == (
        f"Invalid schema for response_format 'answer': In context=('properties', 'tags'), "
        f"'{keyword}' is not permitted."
    )


def test_supported_keywords_pass_strict_mode() -> None:
    schema = strict_object(
        name={"type": "string", "minLength": 2, "maxLength": 100, "pattern": "^[A-Z]"},
        age={"type": "integer", "minimum": 18, "exclusiveMaximum": 120},
        email={"type": "string", "format": "email"},
        tags={"type": "array", "items": {"type": "string"}, "minItems": 1},
        choice={"anyOf": [{"type": "string"}, {"type": "null"}]},
        ref={"$ref": "#/$defs/Item"},
    )
    schema["$defs"] = {"Item": strict_object(value={"type": "number"})}
    validate_request(chat(response_format=json_schema(schema)))


def test_nesting_limit() -> None:
    validate_request(chat(response_format=json_schema(nested(LIMITS.max_nesting))))
    message = error_of(chat(response_format=json_schema(nested(LIMITS.max_nesting + 1))))[3]
    assert message.endswith(
        f"{LIMITS.max_nesting + 1} levels of nesting exceeds limit of {LIMITS.max_nesting}."
    )


def test_total_properties_limit() -> None:
    def wide(count: int) -> dict[str, Any]:
        return strict_object(**{f"p{i}": {"type": "string"} for i in range(count)})

    validate_request(chat(response_format=json_schema(wide(LIMITS.max_properties))))
    assert (
        "exceeds limit of 5000"
        in error_of(chat(response_format=json_schema(wide(LIMITS.max_properties + 1))))[3]
    )


def test_enum_limits() -> None:
    def with_enum(values: list[str]) -> dict[str, Any]:
        return strict_object(choice={"type": "string", "enum": values})

    at = [f"v{i}" for i in range(LIMITS.max_enum_values)]
    validate_request(chat(response_format=json_schema(with_enum(at))))
    assert (
        "enum values exceeds limit"
        in error_of(chat(response_format=json_schema(with_enum([*at, "one_more"]))))[3]
    )
    # Over 250 values, their total length is capped too.
    long_values = LIMITS.large_enum_threshold + 1
    size = LIMITS.large_enum_max_chars // long_values
    fits = [f"{i:0{size}d}" for i in range(long_values)]
    validate_request(chat(response_format=json_schema(with_enum(fits))))
    too_long = [f"{i:0{size + 1}d}" for i in range(long_values)]
    assert (
        "for enums with more than 250 values"
        in error_of(chat(response_format=json_schema(with_enum(too_long))))[3]
    )


def test_total_string_limit() -> None:
    def named(length: int) -> dict[str, Any]:
        return strict_object(**{"k" * length: {"type": "string"}})

    validate_request(chat(response_format=json_schema(named(LIMITS.max_total_string_chars))))
    assert (
        "characters of property names"
        in error_of(chat(response_format=json_schema(named(LIMITS.max_total_string_chars + 1))))[3]
    )


def test_tool_choice() -> None:
    for mode in ("none", "auto", "required"):
        validate_request(chat(tools=[tool()], tool_choice=mode))
    named = {"type": "function", "function": {"name": "get_weather"}}
    validate_request(chat(tools=[tool()], tool_choice=named))
    assert error_of(chat(tools=[tool()], tool_choice="bogus")) == (
        400,
        "tool_choice",
        "invalid_value",
        "Invalid value: 'bogus'. Supported values are: 'none', 'auto', and 'required'.",
    )
    assert error_of(chat(tool_choice="auto")) == (
        400,
        "tool_choice",
        None,
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
        "specified.",
    )
    other = {"type": "function", "function": {"name": "other"}}
    assert error_of(chat(tools=[tool()], tool_choice=other)) == (
        400,
        "tool_choice",
        None,
        "Tool choice 'other' not found in 'tools' parameter.",
    )
    assert error_of(chat(tools=[tool()], tool_choice={"type": "function"}))[1:3] == (
        "tool_choice.function",
        "missing_required_parameter",
    )
    assert error_of(chat(tools=[tool()], tool_choice=7))[1:] == (
        "tool_choice",
        "invalid_type",
        "Invalid type for 'tool_choice': expected one of one of 'none', 'auto', or 'required' "
        "or object, but got an integer instead.",
    )
    # The function is required whatever the type says.
    assert error_of(chat(tools=[tool()], tool_choice={"type": "bogus"}))[1:3] == (
        "tool_choice.function",
        "missing_required_parameter",
    )
    bad_type = {"type": "bogus", "function": {"name": "get_weather"}}
    assert error_of(chat(tools=[tool()], tool_choice=bad_type))[1:3] == (
        "tool_choice.type",
        "invalid_value",
    )


def test_legacy_functions() -> None:
    function = {"name": "f", "parameters": {"type": "object", "properties": {}}}
    validate_request(chat(functions=[function], function_call="auto"))
    validate_request(chat(functions=[function], function_call={"name": "f"}))
    validate_request(chat(functions=[{**function, "name": f"f{i}"} for i in range(128)]))
    assert error_of(chat(functions=[]))[1:3] == ("functions", "empty_array")
    assert error_of(chat(functions=[function] * 129))[1:3] == (
        "functions",
        "array_above_max_length",
    )
    assert error_of(chat(functions=[{"name": "a b"}]))[1:3] == (
        "functions[0].name",
        "invalid_value",
    )
    assert error_of(chat(function_call="auto"))[1] == "function_call"
    assert error_of(chat(functions=[function], function_call="required"))[1:3] == (
        "function_call",
        "invalid_value",
    )
    assert error_of(chat(functions=[function], function_call={"name": "g"}))[3] == (
        "Function 'g' not found in 'functions' parameter."
    )


def test_response_format_types() -> None:
    validate_request(chat(response_format={"type": "text"}))
    validate_request(chat(user("Answer in JSON"), response_format={"type": "json_object"}))
    assert error_of(chat(response_format={"type": "xml"})) == (
        400,
        "response_format.type",
        "invalid_value",
        "Invalid value: 'xml'. Supported values are: 'json_object', 'json_schema', and 'text'.",
    )
    assert error_of(chat(response_format={}))[1:3] == (
        "response_format.type",
        "missing_required_parameter",
    )


@pytest.mark.parametrize("content", ["reply in json", "JSON please", "{Json}"])
def test_json_object_word_is_case_insensitive(content: str) -> None:
    validate_request(chat(user(content), response_format={"type": "json_object"}))


def test_json_object_word_in_text_parts_or_system() -> None:
    parts = [{"type": "text", "text": "use "}, {"type": "text", "text": "json"}]
    validate_request(chat(user(parts), response_format={"type": "json_object"}))
    system = {"role": "system", "content": "Output JSON."}
    validate_request(chat(system, user("hi"), response_format={"type": "json_object"}))


def test_json_object_without_the_word() -> None:
    assert error_of(chat(user("Give me data"), response_format={"type": "json_object"})) == (
        400,
        "messages",
        None,
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
        "'json_object'.",
    )


def test_json_schema_shape() -> None:
    schema = strict_object(a={"type": "string"})
    validate_request(chat(response_format=json_schema(schema, strict=False)))
    validate_request(chat(response_format=json_schema({"type": "object"}, strict=False)))
    unnamed = {"type": "json_schema", "json_schema": {**schema, "strict": True}}
    assert error_of(chat(response_format=unnamed)) == (
        400,
        "response_format.json_schema.name",
        "missing_required_parameter",
        "Missing required parameter: 'response_format.json_schema.name'.",
    )
    assert error_of(chat(response_format={"type": "json_schema"}))[1:3] == (
        "response_format.json_schema",
        "missing_required_parameter",
    )
    validate_request(chat(response_format=json_schema(schema, name="n" * 64)))
    assert error_of(chat(response_format=json_schema(schema, name="n" * 65)))[1:3] == (
        "response_format.json_schema.name",
        "string_above_max_length",
    )
    assert error_of(chat(response_format=json_schema(schema, name="my schema")))[1:3] == (
        "response_format.json_schema.name",
        "invalid_value",
    )
    extra = json_schema(schema)
    extra["json_schema"]["type"] = "object"
    assert error_of(chat(response_format=extra))[1:3] == (
        "response_format.json_schema.type",
        "unknown_parameter",
    )


def test_strict_json_schema_root() -> None:
    assert error_of(chat(response_format=json_schema({"type": "array", "items": {}})))[3] == (
        "Invalid schema for response_format 'answer': schema must be a JSON Schema of "
        "'type: \"object\"', got 'type: \"array\"'."
    )
    assert error_of(chat(response_format=json_schema({"anyOf": []})))[3].endswith(
        "got 'type: \"None\"'."
    )
