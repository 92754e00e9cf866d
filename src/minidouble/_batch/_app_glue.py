"""TEMPORARY: a LineRunner over today's ``GPT4oMiniApp``, until the house's service call.

The router and pipeline will offer "run one chat-completions or responses body through the
core" as a service; this module does that job with the app's own pieces meanwhile, and is
meant to be deleted then (only :func:`app_line_runner` is used, by ``_app.py``).

Chat lines run validate -> count -> engine directly: no request log, no rate limiter (batch
lines do not use the synchronous limits). Responses lines go through the app's handler on a
synthetic request whose log record is then taken back out; they do pass the limiter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from minidouble._errors import OpenAIError
from minidouble._faults import scripted_fault
from minidouble._http import HttpRequest
from minidouble._script import ScriptedFailure, ScriptedReply, ScriptError
from minidouble._validate import check_request
from minidouble._wire import (
    OPENAI,
    Flavor,
    completion_body,
    new_completion_id,
    new_request_id,
    served_tier,
)

if TYPE_CHECKING:
    from minidouble._app import GPT4oMiniApp
    from minidouble._batch._store import LineRunner

__all__ = ["AimedScripts", "app_line_runner"]


class AimedScripts:
    """Replies and failures a test aimed at one ``custom_id`` (``fake.reply(..., custom_id=)``)."""

    def __init__(self) -> None:
        self.replies: dict[str, ScriptedReply] = {}
        self.failures: dict[str, ScriptedFailure] = {}

    def unused(self) -> list[str]:
        return [
            *(f"{f.describe()} for custom_id={cid!r}" for cid, f in self.failures.items()),
            *(f"{r.describe()} for custom_id={cid!r}" for cid, r in self.replies.items()),
        ]


def app_line_runner(app: GPT4oMiniApp, aimed: AimedScripts, *, azure: bool) -> LineRunner:
    def run(url: str, body: dict[str, Any], custom_id: str) -> tuple[int, dict[str, Any]]:
        failure = aimed.failures.pop(custom_id, None)
        if failure is None:
            failure = app._scripted_failure()
            if failure is not None and isinstance(failure.status, str):
                # A transport or stream fault cannot happen inside a batch: it waits for a
                # direct request.
                app._return_failure(failure)
                failure = None
        if failure is not None and not isinstance(failure.status, str):
            fault = scripted_fault(
                failure.status,
                request_id=new_request_id(),
                profile=app.profile,
                limits=(app.limiter.requests_per_minute, app.limiter.tokens_per_minute),
                **failure.details,
            )
            if fault.error is not None:
                return fault.status, fault.error.body
            return fault.status, {
                "error": {
                    "message": "Bad gateway.",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        if url.rstrip("/").endswith("/responses"):
            return _responses_line(app, body, azure)
        return _chat_line(app, aimed.replies.pop(custom_id, None), body, azure)

    return run


def _chat_line(
    app: GPT4oMiniApp, scripted: ScriptedReply | None, body: dict[str, Any], azure: bool
) -> tuple[int, dict[str, Any]]:
    path = "/openai/v1/chat/completions" if azure else "/v1/chat/completions"
    try:
        prompt_tokens = check_request(body, path=path, profile=app.profile)
    except OpenAIError as error:
        return error.status, error.body
    if scripted is None:
        with app._lock:
            scripted = app._replies.popleft() if app._replies else None
    try:
        reply = app._generate(body, prompt_tokens, scripted)
    except ScriptError as mistake:
        app.script_errors.append(mistake)
        from minidouble._app import _script_error_response

        response = _script_error_response(mistake, new_request_id())
        return response.status, json.loads(response.body)
    model = body.get("model")
    flavor = (
        Flavor(azure=True, deployment=model if isinstance(model, str) else "") if azure else OPENAI
    )
    # The document completion_bytes would serialize, built as a dict: the batch writes it
    # on one line itself.
    document = completion_body(
        reply,
        completion_id=new_completion_id(),
        created=app.batch_state.unix(app.batch_state.running_at),
        prompt_tokens=prompt_tokens,
        profile=app.profile.for_model(model),
        flavor=flavor,
        service_tier=served_tier(body),
    )
    return 200, document


def _responses_line(
    app: GPT4oMiniApp, body: dict[str, Any], azure: bool
) -> tuple[int, dict[str, Any]]:
    key = app.api_key or "sk-minidouble-batch"
    headers = {"api-key": key} if azure else {"authorization": f"Bearer {key}"}
    url = "https://batch.local" + ("/openai/v1/responses" if azure else "/v1/responses")
    request = HttpRequest("POST", url, headers, json.dumps(body).encode())
    response = app.handle(request)
    with app._lock:
        for index in range(len(app.requests) - 1, -1, -1):
            if app.requests[index].response is response:
                del app.requests[index]
                break
    try:
        document = json.loads(response.body)
    except ValueError:
        document = {
            "error": {
                "message": response.body.decode("utf-8", "replace"),
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    return response.status, document if isinstance(document, Mapping) else {}  # type: ignore[return-value]
