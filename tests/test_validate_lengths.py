"""Layer 5: the output cap and the context window, which need the prompt's tokens."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from _validation_support import chat, error_of, user

from minidouble import GPT4O_MINI, OpenAIError, count_prompt_tokens, validate_request
from minidouble._model._validate import check_request

CAP = GPT4O_MINI.max_output_tokens
WINDOW = GPT4O_MINI.context_window


def prompt_of(tokens: int) -> dict[str, Any]:
    """A one-message body whose prompt is exactly ``tokens`` tokens ("hi hi hi ...")."""
    overhead = count_prompt_tokens(chat(user("")))
    body = chat(user("hi" + " hi" * (tokens - overhead - 1)))
    assert count_prompt_tokens(body) == tokens
    return body


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_output_cap(field: str) -> None:
    validate_request(chat(**{field: CAP}))
    assert error_of(chat(**{field: CAP + 1})) == (
        400,
        field,
        None,
        f"{field} is too large: {CAP + 1}. This model supports at most {CAP} completion tokens, "
        f"whereas you provided {CAP + 1}.",
    )


def test_the_newer_over_cap_wording_is_one_profile_field() -> None:
    profile = dataclasses.replace(GPT4O_MINI, over_cap_wording="integer_above_max_value")
    with pytest.raises(OpenAIError) as caught:
        validate_request(chat(max_tokens=50000), profile=profile)
    assert caught.value.code == "integer_above_max_value"
    assert caught.value.message == (
        "Invalid 'max_tokens': integer above maximum value. Expected a value <= 16384, "
        "but got 50000 instead."
    )


def test_both_maxima_at_once() -> None:
    assert error_of(chat(max_tokens=10, max_completion_tokens=10)) == (
        400,
        "max_tokens",
        "invalid_parameter_combination",
        "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.",
    )


def test_the_cap_is_checked_before_the_context() -> None:
    assert error_of(prompt_of(WINDOW) | {"max_tokens": CAP + 1})[3].startswith(
        "max_tokens is too large"
    )


def test_prompt_alone_at_and_past_the_window() -> None:
    assert check_request(prompt_of(WINDOW)) == WINDOW
    assert error_of(prompt_of(WINDOW + 1)) == (
        400,
        "messages",
        "context_length_exceeded",
        f"This model's maximum context length is {WINDOW} tokens. However, your messages "
        f"resulted in {WINDOW + 1} tokens. Please reduce the length of the messages.",
    )


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_prompt_plus_requested_completion(field: str) -> None:
    prompt = WINDOW - CAP
    body = prompt_of(prompt)
    assert check_request(body | {field: CAP}) == prompt
    assert error_of(prompt_of(prompt + 1) | {field: CAP}) == (
        400,
        "messages",
        "context_length_exceeded",
        f"This model's maximum context length is {WINDOW} tokens. However, you requested "
        f"{WINDOW + 1} tokens ({prompt + 1} in the messages, {CAP} in the completion). Please "
        "reduce the length of the messages or completion.",
    )


def test_without_a_maximum_only_the_prompt_is_checked() -> None:
    assert check_request(prompt_of(WINDOW - 1)) == WINDOW - 1


def test_the_context_rule_is_one_profile_field() -> None:
    small = dataclasses.replace(
        GPT4O_MINI, context_window=50, reject_prompt_plus_max_over_context=False
    )
    body = chat(max_tokens=100)
    assert check_request(body, profile=small) == count_prompt_tokens(body)


def test_check_request_counts_with_the_token_counter() -> None:
    body = chat({"role": "system", "content": "Be brief."}, user("Hello!"))
    assert check_request(body) == count_prompt_tokens(body)


def test_check_request_tokenises_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import minidouble._model._tokens as tokens

    calls = []
    original = tokens.count_prompt_tokens

    def counting(body: Any, **kwargs: Any) -> int:
        calls.append(body)
        return original(body, **kwargs)

    monkeypatch.setattr(tokens, "count_prompt_tokens", counting)
    check_request(chat(user("Hello!"), max_tokens=5))
    assert len(calls) == 1


def test_structural_errors_never_tokenise(monkeypatch: pytest.MonkeyPatch) -> None:
    import minidouble._model._tokens as tokens

    def refuse(body: Any, **kwargs: Any) -> int:
        raise AssertionError("tokenised a request that was already invalid")

    monkeypatch.setattr(tokens, "count_prompt_tokens", refuse)
    with pytest.raises(OpenAIError):
        check_request(chat(user("x" * 100_000), temperature=7))
