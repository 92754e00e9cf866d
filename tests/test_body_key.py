"""The keys under which what is derived from a small body is remembered are exact."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidouble import GPT4O_MINI, count_prompt_tokens, validate_request
from minidouble._engine._replies import (
    Reply,
    completion_limit,
    default_intent,
    remembered_default,
    render,
    request_digest,
    request_rng,
)
from minidouble._http import HttpRequest
from minidouble._model._body_key import body_key
from minidouble._model._errors import OpenAIError
from minidouble._model._validate import check_request
from minidouble._service._app import GPT4oMiniApp
from minidouble._service._ratelimit import estimate_tokens, keyed_estimate

# A small alphabet, so that drawn bodies often coincide or nearly do.
_scalars = st.sampled_from([0, 1, 1.0, -0.0, 0.0, True, False, None, "1", "", "a"])
_messages = st.lists(
    st.dictionaries(
        st.sampled_from(["role", "content", "name"]),
        st.sampled_from(["user", "system", "hi", "", 1, None]),
        max_size=3,
    ),
    max_size=3,
)
_bodies = st.dictionaries(
    st.sampled_from(["model", "messages", "n", "temperature", "stream", "user"]),
    _scalars | _messages,
    max_size=4,
)


@given(first=_bodies, second=_bodies)
def test_equal_keys_mean_the_same_json(first: dict[str, Any], second: dict[str, Any]) -> None:
    keys = body_key(first), body_key(second)
    if None in keys:
        return
    assert (keys[0] == keys[1]) == (json.dumps(first) == json.dumps(second))


@settings(deadline=None)  # the first draw loads the tokenizer
@given(body=_bodies)
def test_a_remembered_count_and_seed_are_the_ones_computed(body: dict[str, Any]) -> None:
    copy = json.loads(json.dumps(body))  # the same JSON, other objects
    assert (
        request_digest(copy) == request_digest(body) == request_digest(json.loads(json.dumps(body)))
    )
    assert count_prompt_tokens(copy) == count_prompt_tokens(body)
    body = {"model": "gpt-4o-mini", **body}
    try:
        counted: object = validate_request(body)
    except Exception as error:
        counted = repr(error)
    try:
        again: object = validate_request(json.loads(json.dumps(body)))
    except Exception as error:
        again = repr(error)
    assert counted == again


def test_bodies_the_key_does_not_cover() -> None:
    long = {"messages": [{"role": "user", "content": "x" * 5000}]}
    assert body_key(long) is None
    assert body_key({"messages": [{"role": "user", "content": [{"type": "text"}]}]}) is None
    assert body_key({"metadata": {"a": "b"}}) is None
    assert body_key([1]) is None
    plain = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    assert body_key(plain) is not None
    assert validate_request(plain, profile=GPT4O_MINI) == validate_request(dict(plain))


def test_a_remembered_estimate_follows_the_profiles_numbers() -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 40}]}
    coarse = replace(
        GPT4O_MINI,
        rate_limits=replace(GPT4O_MINI.rate_limits, estimate_chars_per_token=8),
    )
    key = body_key(body)
    for profile in (GPT4O_MINI, coarse, GPT4O_MINI, coarse):
        assert keyed_estimate(body, profile, key) == estimate_tokens(body, profile)
    assert keyed_estimate(body, GPT4O_MINI, key) != keyed_estimate(body, coarse, key)


_plain_bodies = st.fixed_dictionaries(
    {
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.just("user"), "content": st.sampled_from(["hi", "Why?", ""])}
            ),
            min_size=1,
            max_size=2,
        )
    },
    optional={
        "max_tokens": st.integers(1, 40),
        "stop": st.sampled_from([".", "e", "Sure", ""]),
        "n": st.sampled_from([1, 2]),
        "temperature": st.sampled_from([0, 1.0]),
    },
)


@settings(deadline=None)
@given(body=_plain_bodies, prompt_tokens=st.sampled_from([10, 127_990]))
def test_a_remembered_default_reply_is_the_one_rendered(
    body: dict[str, Any], prompt_tokens: int
) -> None:
    key = body_key(body)
    assert key is not None
    limit = completion_limit(body, prompt_tokens, GPT4O_MINI)
    rng = request_rng(body)
    rendered = render(
        default_intent(body, rng), body, prompt_tokens=prompt_tokens, rng=rng, profile=GPT4O_MINI
    )
    for _ in range(2):  # computed, then remembered
        reply = remembered_default(
            body, key, prompt_tokens=prompt_tokens, limit=limit, profile=GPT4O_MINI
        )
        if body.get("n", 1) != 1:
            assert reply is None
        else:
            assert reply == Reply((rendered,))


def test_a_body_that_passed_is_checked_again_under_another_path_or_profile() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    deployment = "/openai/deployments/mini/chat/completions"
    assert check_request(body, path=deployment) == check_request(body, path=deployment)
    with pytest.raises(OpenAIError, match="model"):
        check_request(body)  # no model: only a deployment's path chooses it
    body = {"model": "gpt-4o-mini", **body}
    assert check_request(body) == count_prompt_tokens(body)
    narrow = replace(GPT4O_MINI, context_window=50)
    with pytest.raises(OpenAIError, match="maximum context length"):
        check_request(body, profile=narrow)


def _answer(app: GPT4oMiniApp, raw: bytes) -> tuple[int, Any]:
    headers = {"authorization": "Bearer sk-test"}
    request = HttpRequest("POST", "https://api.openai.com/v1/chat/completions", headers, raw)
    response = app.handle(request)
    document = json.loads(response.body)
    if response.status != 200:
        return response.status, document
    return response.status, (document["choices"], document["usage"])


def test_the_same_json_in_other_bytes_gets_the_same_answer() -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
        "max_tokens": 9,
    }
    app = GPT4oMiniApp()
    compact = json.dumps(body, separators=(",", ":")).encode()
    spaced = json.dumps(body, indent=2).encode()
    first = _answer(app, compact)
    assert first[0] == 200
    assert _answer(app, compact) == first == _answer(app, spaced) == _answer(app, spaced)


def test_bytes_answered_under_one_profile_are_checked_again_under_another() -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi " * 30}]}
    raw = json.dumps(body).encode()
    assert _answer(GPT4oMiniApp(), raw)[0] == 200
    narrow = GPT4oMiniApp(profile=replace(GPT4O_MINI, context_window=20))
    status, error = _answer(narrow, raw)
    assert status == 400
    assert "maximum context length" in error["error"]["message"]
    assert _answer(GPT4oMiniApp(), raw)[0] == 200
