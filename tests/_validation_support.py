"""Shared helpers for the validator's tests: build bodies, and catch what they are refused with."""

from __future__ import annotations

from typing import Any

import pytest

from minidouble import OpenAIError, validate_request


def chat(*messages: dict[str, Any], **params: Any) -> dict[str, Any]:
    """A Chat Completions body; a single user "Hi" when no message is given."""
    return {
        "model": "gpt-4o-mini",
        "messages": list(messages) or [{"role": "user", "content": "Hi"}],
        **params,
    }


def user(content: Any = "Hi", **fields: Any) -> dict[str, Any]:
    return {"role": "user", "content": content, **fields}


def tool(name: str = "get_weather", **function: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {"type": "object", "properties": {}},
            **function,
        },
    }


def rejected(body: Any, **kwargs: Any) -> OpenAIError:
    """The error ``body`` is refused with; fails the test if it is accepted."""
    with pytest.raises(OpenAIError) as caught:
        validate_request(body, **kwargs)
    return caught.value


def error_of(body: Any, **kwargs: Any) -> tuple[int, str | None, str | None, str]:
    """``(status, param, code, message)`` of the refusal."""
    exc = rejected(body, **kwargs)
    assert exc.type == "invalid_request_error"
    return exc.status, exc.param, exc.code, exc.message
