"""Layer 3 for scalar parameters: types and ranges, each side of each bound."""

from __future__ import annotations

from typing import Any

import pytest
from _validation_support import chat, error_of, tool

from minidouble import GPT4O_MINI, OpenAIError, validate_request

DECIMALS = [(name, rule) for name, rule in GPT4O_MINI.numbers.items() if not rule.integer]
INTEGERS = [
    (name, rule)
    for name, rule in GPT4O_MINI.numbers.items()
    if rule.integer and name != "logit_bias_value"
]


def _accepted(**params: Any) -> None:
    extra: dict[str, Any] = {}
    if "top_logprobs" in params:
        extra["logprobs"] = True
    validate_request(chat(**params, **extra))


@pytest.mark.parametrize(("name", "rule"), DECIMALS, ids=[n for n, _ in DECIMALS])
def test_decimal_bounds(name: str, rule: Any) -> None:
    _accepted(**{name: rule.minimum})
    _accepted(**{name: rule.maximum})
    _accepted(**{name: (rule.minimum + rule.maximum) / 2})
    above = rule.maximum + 0.5
    assert error_of(chat(**{name: above})) == (
        400,
        name,
        "decimal_above_max_value",
        f"Invalid '{name}': decimal above maximum value. Expected a value <= "
        f"{rule.maximum}, but got {above} instead.",
    )
    below = rule.minimum - 1
    assert error_of(chat(**{name: below})) == (
        400,
        name,
        "decimal_below_min_value",
        f"Invalid '{name}': decimal below minimum value. Expected a value >= "
        f"{rule.minimum}, but got {below} instead.",
    )


def test_temperature_texts_verbatim() -> None:
    assert error_of(chat(temperature=2.5))[3] == (
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, "
        "but got 2.5 instead."
    )
    assert error_of(chat(temperature=-1))[3] == (
        "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, "
        "but got -1 instead."
    )
    # Just past the bound is past the bound.
    assert error_of(chat(temperature=2.0000001))[2] == "decimal_above_max_value"


@pytest.mark.parametrize(("name", "rule"), INTEGERS, ids=[n for n, _ in INTEGERS])
def test_integer_bounds(name: str, rule: Any) -> None:
    _accepted(**{name: rule.minimum})
    if rule.maximum is not None:
        _accepted(**{name: rule.maximum})
        assert error_of(chat(**{name: rule.maximum + 1}))[:3] == (
            400,
            name,
            "integer_above_max_value",
        )
    status, param, code, message = error_of(chat(**{name: rule.minimum - 1}))
    assert (status, param, code) == (400, name, "integer_below_min_value")
    assert message == (
        f"Invalid '{name}': integer below minimum value. Expected a value >= {rule.minimum}, "
        f"but got {rule.minimum - 1} instead."
    )


def test_n_above_maximum_verbatim() -> None:
    assert error_of(chat(n=129))[3] == (
        "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 129 instead."
    )


def test_max_tokens_zero_verbatim() -> None:
    assert error_of(chat(max_tokens=0)) == (
        400,
        "max_tokens",
        "integer_below_min_value",
        "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, "
        "but got 0 instead.",
    )


@pytest.mark.parametrize(
    ("name", "value", "got"),
    [
        ("n", 1.5, "a decimal number"),
        ("n", 2.0, "a decimal number"),
        ("n", "2", "a string"),
        ("n", True, "a boolean"),
        ("seed", [1], "an array"),
        ("max_tokens", {"a": 1}, "an object"),
    ],
)
def test_integer_type_errors(name: str, value: Any, got: str) -> None:
    assert error_of(chat(**{name: value})) == (
        400,
        name,
        "invalid_type",
        f"Invalid type for '{name}': expected an integer, but got {got} instead.",
    )


@pytest.mark.parametrize(("value", "got"), [("1", "a string"), (False, "a boolean")])
def test_decimal_type_errors_bool_is_not_a_number(value: Any, got: str) -> None:
    assert error_of(chat(temperature=value))[2:] == (
        "invalid_type",
        f"Invalid type for 'temperature': expected a decimal, but got {got} instead.",
    )


@pytest.mark.parametrize("name", ["stream", "logprobs", "store"])
@pytest.mark.parametrize(("value", "got"), [("true", "a string"), (1, "an integer")])
def test_boolean_type_errors(name: str, value: Any, got: str) -> None:
    assert error_of(chat(**{name: value}))[1:] == (
        name,
        "invalid_type",
        f"Invalid type for '{name}': expected a boolean, but got {got} instead.",
    )


def test_nulls_mean_absent() -> None:
    params = {
        name: None for name in GPT4O_MINI.chat_parameters if name not in ("model", "messages")
    }
    validate_request(chat(**params))


@pytest.mark.parametrize("value", ["STOP", [], ["a"], ["a", "b", "c", "d"]])
def test_stop_forms_accepted(value: Any) -> None:
    validate_request(chat(stop=value))


def test_stop_more_than_four() -> None:
    assert error_of(chat(stop=["a", "b", "c", "d", "e"])) == (
        400,
        "stop",
        "array_above_max_length",
        "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an "
        "array with length 5 instead.",
    )


def test_stop_types() -> None:
    assert error_of(chat(stop=5))[1:3] == ("stop", "invalid_type")
    assert error_of(chat(stop=["a", 1]))[1:3] == ("stop[1]", "invalid_type")


def test_logit_bias() -> None:
    validate_request(chat(logit_bias={"0": -100, "199999": 100, "1234": 5}))
    assert error_of(chat(logit_bias="x")) == (
        400,
        "logit_bias",
        "invalid_type",
        "Invalid type for 'logit_bias': expected an object, but got a string instead.",
    )
    assert error_of(chat(logit_bias={"AI": 1})) == (
        400,
        "logit_bias",
        None,
        "Invalid key in 'logit_bias': AI. You should only be submitting non-negative integers.",
    )
    assert error_of(chat(logit_bias={"-1": 1}))[3].startswith("Invalid key in 'logit_bias': -1.")
    assert error_of(chat(logit_bias={"200000": 1}))[3] == (
        "Invalid key in 'logit_bias': 200000. Maximum value is 199999."
    )
    assert error_of(chat(logit_bias={"5": 101}))[1:3] == ("logit_bias.5", "integer_above_max_value")
    assert error_of(chat(logit_bias={"5": -101}))[1:3] == (
        "logit_bias.5",
        "integer_below_min_value",
    )


def test_metadata_limits() -> None:
    at_limit = {f"k{i}": "v" for i in range(16)}
    validate_request(chat(metadata=at_limit))
    assert error_of(chat(metadata={**at_limit, "one_more": "v"}))[1:3] == (
        "metadata",
        "object_above_max_properties",
    )
    validate_request(chat(metadata={"k" * 64: "v" * 512}))
    assert error_of(chat(metadata={"k" * 70: "v"})) == (
        400,
        "metadata." + "k" * 70,
        "property_name_above_max_length",
        "Invalid property name in 'metadata': 'kkk...kkk' is too long. Expected a string with "
        "maximum length 64, but got a string with length 70 instead.",
    )
    assert error_of(chat(metadata={"k" * 65: "v"}))[2] == "property_name_above_max_length"
    assert error_of(chat(metadata={"k": "v" * 513})) == (
        400,
        "metadata.k",
        "string_above_max_length",
        "Invalid 'metadata.k': string too long. Expected a string with maximum length 512, "
        "but got a string with length 513 instead.",
    )
    assert error_of(chat(metadata={"k": 1}))[1:3] == ("metadata.k", "invalid_type")


@pytest.mark.parametrize("tier", GPT4O_MINI.service_tiers)
def test_service_tiers(tier: str) -> None:
    validate_request(chat(service_tier=tier))


def test_service_tier_enum() -> None:
    assert error_of(chat(service_tier="fast")) == (
        400,
        "service_tier",
        "invalid_value",
        "Invalid value: 'fast'. Supported values are: 'auto', 'default', 'flex', 'scale', and "
        "'priority'.",
    )


def test_enum_type_errors_list_the_values() -> None:
    assert error_of(chat(service_tier={"a": 1}))[2:] == (
        "invalid_type",
        "Invalid type for 'service_tier': expected one of 'auto', 'default', 'flex', 'scale', "
        "or 'priority', but got an object instead.",
    )


def test_temperature_range_is_checked_after_every_other_field() -> None:
    # Recorded: max_tokens 0 is reported before temperature -0.5 (reference §2.1).
    assert error_of(chat(temperature=-0.5, max_tokens=0))[1] == "max_tokens"
    assert error_of(chat(top_p=7, metadata="x"))[1] == "metadata"
    # Its type, though, is checked in its place.
    assert error_of(chat(temperature="hot", metadata="x"))[1] == "temperature"


def test_long_enum_values_are_abbreviated() -> None:
    limit = GPT4O_MINI.validation.echo_abbreviate_over
    assert error_of(chat(service_tier="x" * limit))[3].startswith(
        f"Invalid value: '{'x' * limit}'."
    )
    assert error_of(chat(service_tier="PIN" + "x" * limit + "def"))[3].startswith(
        "Invalid value: 'PIN...def'."
    )


def test_logprobs_and_top_logprobs() -> None:
    validate_request(chat(logprobs=True, top_logprobs=0))
    validate_request(chat(logprobs=True, top_logprobs=20))
    validate_request(chat(logprobs=False))
    assert error_of(chat(logprobs=True, top_logprobs=21))[1:3] == (
        "top_logprobs",
        "integer_above_max_value",
    )
    assert error_of(chat(top_logprobs=2)) == (
        400,
        "top_logprobs",
        None,
        "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.",
    )
    assert error_of(chat(logprobs=False, top_logprobs=2))[1] == "top_logprobs"


def test_stream_options_only_with_stream() -> None:
    validate_request(chat(stream=True, stream_options={"include_usage": True}))
    validate_request(chat(stream=True, stream_options={"include_obfuscation": False}))
    validate_request(chat(stream_options=None))
    for body in (
        chat(stream_options={"include_usage": True}),
        chat(stream=False, stream_options={}),
    ):
        assert error_of(body) == (
            400,
            "stream_options",
            None,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        )
    assert error_of(chat(stream=True, stream_options={"include_usage": "yes"}))[1:3] == (
        "stream_options.include_usage",
        "invalid_type",
    )
    assert error_of(chat(stream=True, stream_options={"usage": True}))[1:3] == (
        "stream_options.usage",
        "unknown_parameter",
    )


def test_parallel_tool_calls_only_with_tools() -> None:
    validate_request(chat(tools=[tool()], parallel_tool_calls=False))
    assert error_of(chat(parallel_tool_calls=True)) == (
        400,
        "parallel_tool_calls",
        None,
        "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when "
        "'tools' are specified.",
    )


def test_web_search_options_not_supported() -> None:
    assert error_of(chat(web_search_options={"search_context_size": "low"})) == (
        400,
        "web_search_options",
        None,
        "Web search options not supported with this model.",
    )


def test_modalities_and_audio() -> None:
    validate_request(chat(modalities=["text"]))
    # Recorded: gpt-4o-mini answered a request carrying `audio` without audio modalities.
    validate_request(chat(audio={"voice": "alloy", "format": "wav"}))
    assert error_of(chat(modalities=["text", "audio"]))[1:3] == ("modalities", "invalid_value")
    assert error_of(chat(modalities=["video"]))[1:3] == ("modalities[0]", "invalid_value")
    assert error_of(chat(modalities="text"))[1:3] == ("modalities", "invalid_type")


def test_prediction() -> None:
    validate_request(chat(prediction={"type": "content", "content": "draft"}))
    validate_request(
        chat(prediction={"type": "content", "content": [{"type": "text", "text": "draft"}]})
    )
    assert error_of(chat(prediction={"content": "x"}))[1:3] == (
        "prediction.type",
        "missing_required_parameter",
    )
    assert error_of(chat(prediction={"type": "code", "content": "x"}))[1:3] == (
        "prediction.type",
        "invalid_value",
    )
    assert error_of(chat(prediction={"type": "content", "content": []}))[1:3] == (
        "prediction.content",
        "empty_array",
    )


def test_string_parameters() -> None:
    validate_request(chat(user="u-1", prompt_cache_key="k", safety_identifier="s" * 64))
    assert error_of(chat(user=5))[1:3] == ("user", "invalid_type")
    assert error_of(chat(safety_identifier="s" * 65))[1:3] == (
        "safety_identifier",
        "string_above_max_length",
    )


def test_seed_is_a_64_bit_integer() -> None:
    validate_request(chat(seed=2**63 - 1))
    validate_request(chat(seed=-(2**63)))
    assert error_of(chat(seed=2**63))[2] == "integer_above_max_value"


def test_empty_stop_is_one_profile_field() -> None:
    import dataclasses

    strict = dataclasses.replace(
        GPT4O_MINI,
        validation=dataclasses.replace(GPT4O_MINI.validation, min_stop_sequences=1),
    )
    validate_request(chat(stop=[]))
    with pytest.raises(OpenAIError) as caught:
        validate_request(chat(stop=[]), profile=strict)
    assert (caught.value.param, caught.value.code) == ("stop", "empty_array")
