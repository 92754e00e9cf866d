"""Layer 1-2: the body must be JSON, name a known model, and use only known arguments."""

from __future__ import annotations

import json

import pytest
from _validation_support import chat, error_of, rejected, user

from minidouble import OpenAIError, validate_request
from minidouble._model._errors import MALFORMED_JSON
from minidouble._model._validate import parse_json_body


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"{'model': 1}", b"\xff\xfe", b'{"a": NaN}', b"[1,]", b'{"a": Infinity}'],
)
def test_malformed_json_is_the_gateway_error(raw: bytes) -> None:
    with pytest.raises(OpenAIError) as caught:
        parse_json_body(raw)
    exc = caught.value
    assert (exc.status, exc.style, exc.message, exc.param, exc.code) == (
        400,
        "gateway",
        MALFORMED_JSON,
        None,
        None,
    )
    assert exc.body == {
        "error": {
            "message": MALFORMED_JSON,
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(OpenAIError):
        parse_json_body(b"[" * 100_000 + b"]" * 100_000)


def test_valid_json_parses() -> None:
    assert parse_json_body(b'{"model": "gpt-4o-mini"}') == {"model": "gpt-4o-mini"}


@pytest.mark.parametrize("body", [[], "text", 3, None, True])
def test_a_body_that_is_not_an_object_is_malformed(body: object) -> None:
    exc = rejected(body)
    assert (exc.status, exc.message, exc.style) == (400, MALFORMED_JSON, "gateway")


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o-mini-2024-07-18"])
def test_both_model_ids_are_accepted(model: str) -> None:
    validate_request({"model": model, "messages": [{"role": "user", "content": "Hi"}]})


@pytest.mark.parametrize(
    "model", ["gpt-4o", "gpt-4o-mini-2024-07-19", "GPT-4o-mini", " gpt-4o-mini"]
)
def test_other_models_are_404_gateway_style(model: str) -> None:
    exc = rejected(chat(model=model))
    assert exc.status == 404
    assert exc.style == "gateway"
    assert exc.body == {
        "error": {
            "message": f"The model `{model}` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


@pytest.mark.parametrize("body", [{"messages": []}, {"model": None}, {"model": ""}])
def test_missing_model(body: dict[str, object]) -> None:
    assert error_of(body) == (400, None, None, "you must provide a model parameter")


@pytest.mark.parametrize("model", [7, 1.5, True, ["gpt-4o-mini"], {"id": "gpt-4o-mini"}])
def test_a_non_string_model_fails_the_gateways_parse(model: object) -> None:
    exc = rejected(chat(model=model))
    assert (exc.status, exc.message, exc.style) == (400, MALFORMED_JSON, "gateway")


def test_model_is_checked_before_anything_in_the_body() -> None:
    exc = rejected({"model": "nope", "messages": [], "temperature": 9, "bogus": 1})
    assert exc.status == 404


def test_azure_deployment_paths_do_not_need_a_model() -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    validate_request(body, path="/openai/deployments/my-mini/chat/completions")
    exc = rejected({**body, "temperature": 3}, path="/openai/deployments/x/chat/completions")
    assert exc.param == "temperature"


def test_azure_v1_path_takes_any_deployment_name_as_model() -> None:
    validate_request(chat(model="my-deployment"), path="/openai/v1/chat/completions")


def test_other_paths_are_a_usage_error_not_an_api_error() -> None:
    with pytest.raises(ValueError, match="minidouble: validate_request"):
        validate_request(chat(), path="/v1/embeddings")


def test_one_unknown_argument_singular() -> None:
    assert error_of(chat(reasoning_effort="low")) == (
        400,
        None,
        None,
        "Unrecognized request argument supplied: reasoning_effort",
    )


def test_several_unknown_arguments_plural_in_body_order() -> None:
    body = chat(maxTokens=5, responseFormat={"type": "text"})
    assert error_of(body)[3] == (
        "Unrecognized request arguments supplied: maxTokens, responseFormat"
    )


@pytest.mark.parametrize("name", ["reasoning_effort", "verbosity"])
def test_refused_parameters_are_accepted_when_null(name: str) -> None:
    validate_request(chat(**{name: None}))


def test_unknown_arguments_come_before_parameter_errors() -> None:
    assert error_of(chat(temperature=5, foo=1))[3].startswith("Unrecognized request argument")
    assert error_of(chat(n="abc", foo=1))[3].startswith("Unrecognized request argument")
    assert error_of(chat(foo=1) | {"messages": []})[3].startswith("Unrecognized request")


def test_missing_messages_come_before_unknown_arguments() -> None:
    assert error_of({"model": "gpt-4o-mini", "foo": 1})[1:3] == (
        "messages",
        "missing_required_parameter",
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Pairs measured on the endpoint (docs/model-profile.md, "order of checks").
        ({"n": "abc"}, {"stop": 5}),
        ({"n": "abc"}, {"temperature": "x"}),
        ({"n": 0}, {"stop": 5}),
        ({"seed": "x"}, {"service_tier": "bogus"}),
        ({"n": 0}, {"metadata": "x"}),
        ({"max_completion_tokens": 0}, {"logprobs": "x"}),
        ({"stream": "x"}, {"store": "x"}),
        ({"tools": "x"}, {"top_logprobs": "x"}),
        ({"functions": "x"}, {"function_call": 5}),
        ({"max_tokens": 0}, {"store": "x"}),
        ({"stop": 5}, {"stream_options": "x"}),
        ({"metadata": "x"}, {"prediction": "x"}),
        ({"metadata": "x"}, {"temperature": 3}),
    ],
)
def test_field_order_either_way_round(first: dict[str, object], second: dict[str, object]) -> None:
    expected = next(iter(first))
    assert rejected(chat(**first, **second)).param == expected
    assert rejected(chat(**second, **first)).param == expected


def test_only_the_first_problem_is_reported_max_tokens_before_content_and_temperature() -> None:
    # The one ordering observed in real traffic (reference §2.1, C-ENVOY).
    body = chat(user(None), max_tokens=0, temperature=-0.5)
    assert error_of(body)[:3] == (400, "max_tokens", "integer_below_min_value")


def test_error_bodies_keep_the_api_key_order() -> None:
    exc = rejected(chat(temperature=3))
    assert list(exc.body["error"]) == ["message", "type", "param", "code"]
    assert exc.style == "validator"
    json.dumps(exc.body)  # wire-ready


def test_responses_bodies_go_to_the_responses_validator() -> None:
    validate_request({"model": "gpt-4o-mini", "input": "Hi"}, path="/v1/responses")
    exc = rejected(
        {"model": "gpt-4o-mini", "input": "Hi", "max_output_tokens": 5}, path="/v1/responses"
    )
    assert (exc.param, exc.code) == ("max_output_tokens", "integer_below_min_value")


def test_the_newer_unknown_parameter_wording_is_one_profile_field() -> None:
    import dataclasses

    from minidouble import GPT4O_MINI

    newer = dataclasses.replace(
        GPT4O_MINI,
        validation=dataclasses.replace(
            GPT4O_MINI.validation, unknown_argument_wording="unknown_parameter"
        ),
    )
    exc = rejected(chat(zzz_unknown=1, other=2), profile=newer)
    assert (exc.param, exc.code, exc.message) == (
        "zzz_unknown",
        "unknown_parameter",
        "Unknown parameter: 'zzz_unknown'.",
    )
