"""The one exception type for everything the real API would refuse."""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["BodyStyle", "OpenAIError", "invalid_request"]

# OpenAI's validator pretty-prints with 2 spaces and no trailing newline; its gateway (auth,
# model lookup, JSON parsing, rate limits) with 4 spaces, a trailing newline and a charset.
BodyStyle = Literal["validator", "gateway"]


class OpenAIError(Exception):
    """A request the real API rejects, with the status and body it rejects it with.

    ``body`` is the whole JSON document (``{"error": {"message", "type", "param", "code"}}``)
    so that it can be sent on the wire unchanged; ``style`` says how the real service
    formats it.
    """

    def __init__(self, status: int, body: dict[str, Any], *, style: BodyStyle = "validator"):
        self.status = status
        self.body = body
        self.style: BodyStyle = style
        super().__init__(f"{status}: {self.message}")

    @property
    def error(self) -> dict[str, Any]:
        inner = self.body.get("error", self.body)
        return inner if isinstance(inner, dict) else {}

    @property
    def message(self) -> str:
        return str(self.error.get("message", ""))

    @property
    def type(self) -> str | None:
        value = self.error.get("type")
        return value if isinstance(value, str) else None

    @property
    def param(self) -> str | None:
        value = self.error.get("param")
        return value if isinstance(value, str) else None

    @property
    def code(self) -> str | None:
        value = self.error.get("code")
        return value if isinstance(value, str) else None

    def __repr__(self) -> str:
        return f"OpenAIError(status={self.status}, body={self.body!r})"


def invalid_request(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    status: int = 400,
    style: BodyStyle = "validator",
) -> OpenAIError:
    """An ``invalid_request_error`` with the envelope's keys in the order the API serves them."""
    body = {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }
    return OpenAIError(status, body, style=style)
