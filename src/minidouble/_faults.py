"""The catalogue of failures the real service produces, with its real bodies and headers.

Authentication, routing and scripted ``fake.fail(...)`` errors all come from here so that a
failure looks the same however it is triggered. Azure OpenAI's differently shaped errors live
next to their OpenAI counterparts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from minidouble._errors import OpenAIError, invalid_request
from minidouble._profile import GPT4O_MINI, ModelProfile

__all__ = [
    "FAULT_STATUSES",
    "Fault",
    "azure_error",
    "invalid_api_key",
    "invalid_url",
    "masked_key",
    "missing_api_key",
    "model_not_found",
    "scripted_fault",
]

_KEYS_URL = "https://platform.openai.com/account/api-keys"
_HELP = "help center at help.openai.com"


def masked_key(key: str) -> str:
    """How the 401 message echoes a key: first 8 and last 4 characters around stars."""
    if len(key) <= 12:
        return key
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def missing_api_key() -> OpenAIError:
    return invalid_request(
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "
        "field (with blank username) if you're accessing the API from your browser and are "
        f"prompted for a username and password. You can obtain an API key from {_KEYS_URL}.",
        status=401,
        style="gateway",
    )


def invalid_api_key(key: str) -> OpenAIError:
    return invalid_request(
        f"Incorrect API key provided: {masked_key(key)}. You can find your API key at {_KEYS_URL}.",
        code="invalid_api_key",
        status=401,
        style="gateway",
    )


def invalid_url(method: str, path: str) -> OpenAIError:
    return invalid_request(f"Invalid URL ({method} {path})", status=404, style="gateway")


def model_not_found(model: str) -> OpenAIError:
    """GET /v1/models/{id} for a model the account cannot see."""
    return invalid_request(
        f"The model '{model}' does not exist",
        param="model",
        code="model_not_found",
        status=404,
        style="gateway",
    )


# Azure OpenAI errors in front of the model: {"error": {"code", "message"}} with a string code.
_AZURE_MESSAGES = {
    "DeploymentNotFound": (
        404,
        "The API deployment for this resource does not exist. If you created the deployment "
        "within the last 5 minutes, please wait a moment and try again.",
    ),
    "404": (404, "Resource not found"),
    "401": (
        401,
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
        "provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource.",
    ),
}


def azure_error(code: str) -> OpenAIError:
    status, message = _AZURE_MESSAGES[code]
    return OpenAIError(status, {"error": {"code": code, "message": message}}, style="gateway")


def azure_rate_limit(api_version: str, retry_after: float) -> Fault:
    """Azure's own 429: the operation, the API version and the pricing tier, in prose."""
    seconds = max(1, math.ceil(retry_after))
    message = (
        f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        f"{api_version} have exceeded token rate limit of your current OpenAI S0 pricing tier. "
        f"Please retry after {seconds} seconds. Please go here: https://aka.ms/oai/quotaincrease "
        "if you would like to further increase the default rate limit."
    )
    error = OpenAIError(429, {"error": {"code": "429", "message": message}}, style="gateway")
    return Fault(429, error, [("retry-after", str(seconds))])


# ---------------------------------------------------------------------------------------------
# Scripted failures


@dataclass
class Fault:
    """A failure ready to send: status, the error, extra headers, and an optional raw body."""

    status: int
    error: OpenAIError | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Failures that do not come from OpenAI's application (a proxy's 502 page) are raw bytes.
    raw_body: bytes | None = None
    content_type: str | None = None
    with_rate_limits: bool = True


_CLOUDFLARE_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def _server_error(message: str) -> dict[str, Any]:
    return {"message": message, "type": "server_error", "param": None, "code": None}


def _rate_limit_message(
    profile: ModelProfile, kind: str, retry_after: float, requested: int
) -> str:
    limits = profile.rate_limits
    if kind == "requests":
        limit = limits.requests_per_minute
        return (
            f"Rate limit reached for gpt-4o-mini in organization org-minidouble on requests per "
            f"min (RPM): Limit {limit}, Used {limit}, Requested 1. Please try again in "
            f"{retry_after:g}s. Visit https://platform.openai.com/account/rate-limits to learn "
            "more."
        )
    limit = limits.tokens_per_minute
    used = max(limit - requested + 1, 0)
    return (
        f"Rate limit reached for gpt-4o-mini in organization org-minidouble on tokens per min "
        f"(TPM): Limit {limit}, Used {used}, Requested {requested}. Please try again in "
        f"{retry_after:g}s. Visit https://platform.openai.com/account/rate-limits to learn more."
    )


FAULT_STATUSES = (400, 401, 403, 404, 409, 429, 500, 502, 503)


def scripted_fault(
    status: int,
    *,
    request_id: str,
    requested_tokens: int = 0,
    profile: ModelProfile = GPT4O_MINI,
    message: str | None = None,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
) -> Fault:
    """The failure the real API sends for ``status``; keyword details override its fields.

    ``code="insufficient_quota"`` turns a 429 into the out-of-credit error, and
    ``type="requests"`` a token-limit 429 into a requests-limit one.
    """
    extra = list((headers or {}).items())
    if status == 502:
        return Fault(
            502,
            None,
            extra,
            raw_body=_CLOUDFLARE_502,
            content_type="text/html",
            with_rate_limits=False,
        )
    gateway = True
    with_rate_limits = True
    if status == 400:
        error = {
            "message": "Invalid request.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
        gateway = False
    elif status == 401:
        key_error = invalid_api_key("sk-minidouble-scripted-key")
        error = dict(key_error.error)
        with_rate_limits = False
    elif status == 403:
        error = {
            "message": "Country, region, or territory not supported",
            "type": "request_forbidden",
            "param": None,
            "code": "unsupported_country_region_territory",
        }
        with_rate_limits = False
    elif status == 404:
        error = dict(
            invalid_request(
                "The model `gpt-4o-mini` does not exist or you do not have access to it.",
                code="model_not_found",
            ).error
        )
        with_rate_limits = False
    elif status == 409:
        error = {
            "message": "The request could not be completed due to a conflict with another "
            "request. Please retry.",
            "type": "invalid_request_error",
            "param": None,
            "code": "conflict",
        }
    elif status == 429:
        if code == "insufficient_quota":
            error = {
                "message": "You exceeded your current quota, please check your plan and billing "
                "details. For more information on this error, read the docs: "
                "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        else:
            kind = type if type in ("requests", "tokens") else "tokens"
            wait = 1.0 if retry_after is None else retry_after
            error = {
                "message": _rate_limit_message(profile, kind, wait, requested_tokens),
                "type": kind,
                "param": None,
                "code": "rate_limit_exceeded",
            }
            extra = [
                ("retry-after", str(max(1, math.ceil(wait)))),
                ("retry-after-ms", str(round(wait * 1000))),
                *extra,
            ]
    elif status == 503:
        error = _server_error(
            "That model is currently overloaded with other requests. You can retry your "
            f"request, or contact us through our {_HELP} if the error persists. (Please include "
            f"the request ID {request_id} in your message.)"
        )
    elif status >= 500:
        error = _server_error(
            "The server had an error processing your request. Sorry about that! You can retry "
            f"your request, or contact us through our {_HELP} if you keep seeing this error. "
            f"(Please include the request ID {request_id} in your email.)"
        )
    else:
        error = {
            "message": message or f"Request failed with status {status}.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    if retry_after is not None and status != 429:
        extra = [("retry-after", str(max(1, math.ceil(retry_after)))), *extra]
    overrides = {"message": message, "type": type, "code": code, "param": param}
    for key, value in overrides.items():
        if value is not None and not (key == "type" and status == 429):
            error[key] = value
    body = {"error": {k: error[k] for k in ("message", "type", "param", "code")}}
    return Fault(
        status,
        OpenAIError(status, body, style="gateway" if gateway else "validator"),
        extra,
        with_rate_limits=with_rate_limits,
    )
