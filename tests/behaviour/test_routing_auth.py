"""Routing, authentication and the layers' error shapes (reference §2.1, §9, §10, §12)."""

from __future__ import annotations

import json
import re

from minidouble._http import HttpRequest
from minidouble._service._app import GPT4oMiniApp

from .conftest import Send
from .helpers import BASE, as_json, chat_request, get_request, user

MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)


def test_missing_key_is_the_verbatim_401_without_rate_limit_headers(send: Send) -> None:
    response = send(chat_request(user(), headers={"content-type": "application/json"}))
    assert response.status == 401
    assert (
        response.body
        == (
            json.dumps(
                {
                    "error": {
                        "message": MISSING_KEY,
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
                indent=4,
            )
            + "\n"
        ).encode()
    )
    assert response.header("content-type") == "application/json; charset=utf-8"
    assert re.fullmatch(r"req_[0-9a-f]{32}", response.header("x-request-id") or "")
    assert response.header("x-ratelimit-limit-requests") is None
    assert response.header("openai-version") is None


def test_empty_bearer_counts_as_missing(send: Send) -> None:
    response = send(chat_request(user(), headers={"authorization": "Bearer "}))
    assert response.status == 401
    assert as_json(response)["error"]["message"] == MISSING_KEY


def test_any_key_is_accepted_by_default(send: Send) -> None:
    response = send(chat_request(user(), headers={"authorization": "Bearer whatever"}))
    assert response.status == 200


def test_configured_key_rejects_others_with_the_masked_key() -> None:
    app = GPT4oMiniApp(api_key="sk-right-key-000000")
    wrong = app.handle(chat_request(user(), headers={"authorization": "Bearer sk-not-a-real-key"}))
    assert wrong.status == 401
    error = as_json(wrong)["error"]
    assert error == {
        "message": "Incorrect API key provided: sk-not-a*****-key. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    short = app.handle(chat_request(user(), headers={"authorization": "Bearer API_KEY"}))
    assert "provided: API_KEY." in as_json(short)["error"]["message"]
    right = app.handle(
        chat_request(user(), headers={"authorization": "Bearer sk-right-key-000000"})
    )
    assert right.status == 200


def test_unknown_path_is_invalid_url(send: Send) -> None:
    response = send(chat_request(user(), path="/v1/chat/completion"))
    assert response.status == 404
    assert as_json(response)["error"] == {
        "message": "Invalid URL (POST /v1/chat/completion)",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    wrong_method = send(get_request("/v1/chat/completions"))
    assert wrong_method.status == 404
    assert as_json(wrong_method)["error"]["message"] == "Invalid URL (GET /v1/chat/completions)"


def test_malformed_json_is_the_gateway_error(send: Send) -> None:
    response = send(chat_request(None, raw=b"{not json"))
    assert response.status == 400
    assert response.body.startswith(b'{\n    "error": {\n        "message": "We could not parse')
    assert response.body.endswith(b"\n")


def test_auth_comes_before_json_parsing(send: Send) -> None:
    response = send(chat_request(None, raw=b"{not json", headers={}))
    assert response.status == 401


def test_models_list_and_retrieve(send: Send) -> None:
    listing = send(get_request("/v1/models"))
    assert listing.status == 200
    document = as_json(listing)
    assert document["object"] == "list"
    ids = [m["id"] for m in document["data"]]
    assert ids == ["gpt-4o-mini", "gpt-4o-mini-2024-07-18"]
    assert list(document["data"][0]) == ["id", "object", "created", "owned_by"]
    one = send(get_request("/v1/models/gpt-4o-mini-2024-07-18"))
    assert as_json(one) == {
        "id": "gpt-4o-mini-2024-07-18",
        "object": "model",
        "created": 1721172717,
        "owned_by": "system",
    }
    assert one.header("openai-version") == "2020-10-01"
    missing = send(get_request("/v1/models/gpt-5"))
    assert missing.status == 404
    assert as_json(missing)["error"] == {
        "message": "The model 'gpt-5' does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


def test_models_need_a_key(send: Send) -> None:
    assert send(get_request("/v1/models", headers={})).status == 401


def test_success_headers(send: Send) -> None:
    response = send(chat_request(user()))
    assert response.header("content-type") == "application/json"
    assert re.fullmatch(r"req_[0-9a-f]{32}", response.header("x-request-id") or "")
    assert response.header("openai-version") == "2020-10-01"
    assert (response.header("openai-processing-ms") or "").isdigit()
    assert response.header("x-ratelimit-limit-requests") == "500"
    assert response.header("x-ratelimit-limit-tokens") == "200000"
    assert response.header("x-ratelimit-remaining-requests") == "499"
    remaining = int(response.header("x-ratelimit-remaining-tokens") or "-1")
    assert 0 < remaining < 200_000
    assert response.header("x-ratelimit-reset-requests") is not None


def test_validation_errors_carry_rate_limit_headers(send: Send) -> None:
    response = send(chat_request({"model": "gpt-4o-mini", "messages": []}))
    assert response.status == 400
    assert as_json(response)["error"]["code"] == "empty_array"
    assert response.header("x-ratelimit-limit-requests") == "500"


def test_unknown_model_is_404_before_validation(send: Send) -> None:
    response = send(chat_request({"model": "gpt-4o-mini-nope", "messages": []}))
    assert response.status == 404
    assert as_json(response)["error"]["code"] == "model_not_found"
    assert response.header("x-ratelimit-limit-requests") is None


AZURE = "https://res.openai.azure.com"
AZURE_PATH = "/openai/deployments/mini/chat/completions?api-version=2024-12-01-preview"


def azure_request(
    body: object, *, headers: dict[str, str] | None = None, path: str = AZURE_PATH
) -> HttpRequest:
    return chat_request(
        body, headers=headers if headers is not None else {"api-key": "k"}, path=path, base=AZURE
    )


def test_azure_completion_extras(send: Send) -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    response = send(azure_request(body))
    assert response.status == 200
    raw = response.body
    document = json.loads(raw)
    assert (
        raw
        == json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    )
    assert "service_tier" not in document
    assert document["model"] == "gpt-4o-mini-2024-07-18"
    assert document["prompt_filter_results"][0]["prompt_index"] == 0
    filters = document["choices"][0]["content_filter_results"]
    assert filters["hate"] == {"filtered": False, "severity": "safe"}
    assert response.header("x-ms-deployment-name") == "mini"
    uuid_shape = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(uuid_shape, response.header("apim-request-id") or "")
    assert response.header("x-request-id") == response.header("apim-request-id")
    assert response.header("x-ratelimit-remaining-tokens") is not None
    assert response.header("x-ratelimit-reset-tokens") is None


def test_azure_accepts_bearer_too(send: Send) -> None:
    response = send(azure_request(user(), headers={"authorization": "Bearer entra-token"}))
    assert response.status == 200


def test_azure_errors() -> None:
    app = GPT4oMiniApp(azure_deployments=["mini"])
    no_key = app.handle(azure_request(user(), headers={}))
    assert no_key.status == 401
    assert as_json(no_key)["error"]["code"] == "401"
    assert as_json(no_key)["error"]["message"].startswith("Access denied due to invalid")
    missing = app.handle(
        azure_request(
            user(), path="/openai/deployments/other/chat/completions?api-version=2024-10-21"
        )
    )
    assert missing.status == 404
    assert as_json(missing) == {
        "error": {
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist. If you created the "
            "deployment within the last 5 minutes, please wait a moment and try again.",
        }
    }
    wrong = app.handle(azure_request(user(), path="/openai/deployments/mini/completions"))
    assert wrong.status == 404
    assert as_json(wrong) == {"error": {"code": "404", "message": "Resource not found"}}
    no_version = app.handle(azure_request(user(), path="/openai/deployments/mini/chat/completions"))
    assert no_version.status == 404


def test_azure_stream_opens_with_prompt_filters(send: Send) -> None:
    from .helpers import events

    response = send(azure_request(user(stream=True, stream_options={"include_usage": True})))
    chunks = events(response)
    assert chunks[0] == {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": chunks[0]["prompt_filter_results"],
    }
    # Azure pads its gpt-4o-mini chunks too (seen in 2026 traffic); keys stay sorted.
    assert all("obfuscation" in c for c in chunks[1:-2])
    assert all(list(c) == sorted(c) for c in chunks[1:-1])
    assert all("service_tier" not in c for c in chunks[1:-1])
    assert chunks[-1] == "[DONE]"
    assert chunks[-2]["usage"]["prompt_tokens"] > 0


def test_the_handler_answers_whatever_the_host() -> None:
    # Which hosts reach the handler is the transports' business; the handler itself routes
    # on the path alone, so a loopback URL gets the same answer as api.openai.com.
    app = GPT4oMiniApp()
    assert app.handle(chat_request(user(), base="http://127.0.0.1:8000")).status == 200
    assert app.handle(chat_request(user(), base=BASE)).status == 200


def test_azure_v1_path_takes_the_deployment_from_the_body(send: Send) -> None:
    body = {"model": "my-mini", "messages": [{"role": "user", "content": "Hi"}]}
    response = send(azure_request(body, path="/openai/v1/chat/completions"))
    assert response.status == 200
    assert response.header("x-ms-deployment-name") == "my-mini"
    assert json.loads(response.body)["model"] == "gpt-4o-mini-2024-07-18"
    app = GPT4oMiniApp(azure_deployments=["mini"])
    missing = app.handle(azure_request(body, path="/openai/v1/chat/completions"))
    assert as_json(missing)["error"]["code"] == "DeploymentNotFound"


def test_azure_rate_limit_is_azures_own_429(app: GPT4oMiniApp, send: Send) -> None:
    app.fail(429, retry_after=12)
    response = send(azure_request(user()))
    assert response.status == 429
    assert response.header("retry-after") == "12"
    error = as_json(response)["error"]
    assert error["code"] == "429"
    assert error["message"].startswith(
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        "2024-12-01-preview have exceeded token rate limit"
    )
    assert "Please retry after 12 seconds." in error["message"]


def test_basic_auth_with_a_blank_user_carries_the_key(send: Send) -> None:
    import base64

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"authorization": f"Basic {token}"}

    assert send(chat_request(user(), headers=basic("", "sk-in-the-password"))).status == 200
    assert send(chat_request(user(), headers=basic("someone", "sk-x"))).status == 401
    assert send(chat_request(user(), headers={"authorization": "Basic !!!"})).status == 401
    assert send(chat_request(user(), headers={"authorization": "Token sk-x"})).status == 401
