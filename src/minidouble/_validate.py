"""Reject exactly what GPT-4o mini rejects, in the order the real API checks it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minidouble._errors import OpenAIError, invalid_request
from minidouble._profile import GPT4O_MINI, ModelProfile

__all__ = ["validate_request"]

CHAT_COMPLETIONS = "/v1/chat/completions"


def validate_request(
    body: Any,
    *,
    path: str = CHAT_COMPLETIONS,
    profile: ModelProfile = GPT4O_MINI,
) -> None:
    """Raise :class:`OpenAIError` with the real status and body if the API would refuse ``body``."""
    if not isinstance(body, Mapping):
        raise invalid_request("We could not parse the JSON body of your request.", style="gateway")
    model = body.get("model")
    if not isinstance(model, str) or not profile.accepts_model(model):
        raise OpenAIError(
            404,
            {
                "error": {
                    "message": (
                        f"The model `{model}` does not exist or you do not have access to it."
                    ),
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "model_not_found",
                }
            },
            style="gateway",
        )
