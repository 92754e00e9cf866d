"""The refusals the service's gateway answers in front of the model: keys, paths, deployments.

OpenAI's and Azure OpenAI's differently shaped bodies side by side, so a refusal looks the
same whichever route, endpoint or transport triggers it.
"""

from __future__ import annotations

from minidouble._model._errors import OpenAIError, invalid_request

__all__ = [
    "azure_error",
    "invalid_api_key",
    "invalid_url",
    "masked_key",
    "missing_api_key",
    "model_not_found",
]

_KEYS_URL = "https://platform.openai.com/account/api-keys"


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
