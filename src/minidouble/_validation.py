"""``minidouble.validate_request``: any body against the rules of the endpoint its path names.

Above the endpoints on purpose: the model layer validates Chat Completions bodies, the
Responses endpoint its own, and only this dispatcher knows both.
"""

from __future__ import annotations

from typing import Any

from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._model._validate import CHAT_COMPLETIONS, check_request

__all__ = ["count_request", "validate_request"]


def validate_request(
    body: Any,
    *,
    path: str = CHAT_COMPLETIONS,
    profile: ModelProfile = GPT4O_MINI,
) -> None:
    """Raise :class:`OpenAIError` with the real status and body if the API would refuse ``body``."""
    count_request(body, path=path, profile=profile)


def count_request(
    body: Any,
    *,
    path: str = CHAT_COMPLETIONS,
    profile: ModelProfile = GPT4O_MINI,
) -> int:
    """Validate ``body`` by the rules of ``path`` and return its prompt (input) tokens."""
    if path.rstrip("/").endswith("/responses"):
        from minidouble._endpoints._responses._validate import check_responses_request

        return check_responses_request(body, profile=profile)
    return check_request(body, path=path, profile=profile)
