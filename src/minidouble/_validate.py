"""Reject exactly what GPT-4o mini rejects, in the order the real API checks it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from minidouble._errors import OpenAIError, invalid_request
from minidouble._profile import GPT4O_MINI, ModelProfile

__all__ = ["check_request", "parse_json_body", "validate_request"]

CHAT_COMPLETIONS = "/v1/chat/completions"

_MALFORMED_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
    "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
    "help center at help.openai.com.)"
)


def parse_json_body(raw: bytes) -> Any:
    """The request body as JSON, or the gateway's malformed-JSON error."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid_request(_MALFORMED_JSON, style="gateway") from None


def check_request(
    body: Any,
    *,
    path: str = CHAT_COMPLETIONS,
    profile: ModelProfile = GPT4O_MINI,
) -> int:
    """Validate ``body`` and return its prompt tokens, counting once (the app's hot path)."""
    from minidouble._tokens import count_prompt_tokens

    validate_request(body, path=path, profile=profile)
    return count_prompt_tokens(body, profile=profile)


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
