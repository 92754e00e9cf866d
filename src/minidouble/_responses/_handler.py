"""``POST /v1/responses`` on the app's core: same auth, faults, scripts, engine and request log.

The request is validated with the Responses rules, rewritten as the equivalent chat request
(:func:`~minidouble._responses._mapping.to_chat_body`), answered by the chat engine (scripted
reply or the seeded default), and written back in Responses shapes. Stored responses
(``store`` defaults to true, as for real) let a later request continue them through
``previous_response_id``: the model then reads the stored input and output before the new
input, which is also what the real API bills (verified on the recorded chains).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from minidouble._engine import default_intent, render, request_rng
from minidouble._errors import OpenAIError, invalid_request
from minidouble._faults import azure_error
from minidouble._http import HttpRequest, HttpResponse
from minidouble._responses._mapping import to_chat_body
from minidouble._responses._tokens import count_output_tokens
from minidouble._responses._validate import (
    as_items,
    check_responses_request,
    previous_response_not_found,
)
from minidouble._responses._wire import (
    ResponseIds,
    output_items,
    response_bytes,
    response_object,
    stream_events,
    usage_block,
)
from minidouble._script import ScriptError
from minidouble._validate import parse_json_body
from minidouble._wire import EVENT_STREAM, JSON, OPENAI, Flavor, error_response, json_response

if TYPE_CHECKING:
    from minidouble._app import GPT4oMiniApp

__all__ = [
    "handle_azure_responses",
    "handle_responses",
    "handle_stored_response",
    "stored_responses",
]


@dataclass(frozen=True)
class StoredResponse:
    """What a later ``previous_response_id`` continues: everything the model read and said."""

    conversation: tuple[Mapping[str, Any], ...]
    document: Mapping[str, Any]


class ResponseStore:
    def __init__(self) -> None:
        self._responses: dict[str, StoredResponse] = {}
        self._lock = threading.Lock()

    def get(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            return self._responses.get(response_id)

    def put(self, response_id: str, stored: StoredResponse) -> None:
        with self._lock:
            self._responses[response_id] = stored

    def delete(self, response_id: str) -> bool:
        with self._lock:
            return self._responses.pop(response_id, None) is not None

    def __len__(self) -> int:
        return len(self._responses)


_stores: weakref.WeakKeyDictionary[GPT4oMiniApp, ResponseStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def stored_responses(app: GPT4oMiniApp) -> ResponseStore:
    """The responses ``app`` has stored (``store`` not false), by id."""
    with _stores_lock:
        store = _stores.get(app)
        if store is None:
            store = _stores[app] = ResponseStore()
        return store


def _history(app: GPT4oMiniApp, body: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    previous = body.get("previous_response_id")
    if not isinstance(previous, str):
        return ()
    stored = stored_responses(app).get(previous)
    if stored is None:
        raise previous_response_not_found(previous)
    return stored.conversation


def handle_responses(
    app: GPT4oMiniApp, request: HttpRequest, request_id: str, started: float
) -> HttpResponse:
    """``POST /v1/responses`` on api.openai.com."""
    refused = app._authenticate(request, OPENAI)
    if refused is not None:
        return app._finish(request, None, error_response(refused, [("x-request-id", request_id)]))
    return _validated(app, request, request_id, started, OPENAI)


def handle_azure_responses(
    app: GPT4oMiniApp, request: HttpRequest, request_id: str, started: float
) -> HttpResponse:
    """Azure OpenAI's Responses API: the body's ``model`` names the deployment."""
    body: Any = None
    refused: OpenAIError | None = None
    if request.path.endswith("/openai/responses") and "api-version" not in request.query:
        refused = azure_error("404")
    else:
        try:
            body = parse_json_body(request.body)
        except OpenAIError:
            body = None
    model = body.get("model") if isinstance(body, Mapping) else None
    flavor = Flavor(azure=True, deployment=model if isinstance(model, str) else "")
    if refused is None:
        refused = app._authenticate(request, flavor)
    if refused is None and (
        app.azure_deployments is not None and flavor.deployment not in app.azure_deployments
    ):
        refused = azure_error("DeploymentNotFound")
    if refused is not None:
        headers = app._headers(request_id, started, flavor, spent_tokens=None)
        return app._finish(request, body, error_response(refused, headers, flavor=flavor))
    return _validated(app, request, request_id, started, flavor)


def _validated(
    app: GPT4oMiniApp, request: HttpRequest, request_id: str, started: float, flavor: Flavor
) -> HttpResponse:
    body: Any = None
    try:
        body = parse_json_body(request.body)
        failure = app._next_failure(body)
        if failure is not None:
            return app._failure(request, body, failure, request_id, started, flavor)
        history = _history(app, body) if isinstance(body, Mapping) else ()
        input_tokens = check_responses_request(
            body, history=history, azure=flavor.azure, profile=app.profile
        )
    except OpenAIError as error:
        spent = None if error.style == "gateway" else 0
        headers = app._headers(request_id, started, flavor, spent_tokens=spent)
        return app._finish(request, body, error_response(error, headers, flavor=flavor))
    return _respond(app, request, body, history, input_tokens, request_id, started, flavor)


def _respond(
    app: GPT4oMiniApp,
    request: HttpRequest,
    body: dict[str, Any],
    history: Sequence[Mapping[str, Any]],
    input_tokens: int,
    request_id: str,
    started: float,
    flavor: Flavor,
) -> HttpResponse:
    conversation = (*history, *as_items(body.get("input")))
    chat = to_chat_body({**body, "input": list(conversation)})
    with app._lock:
        scripted = app._replies.popleft() if app._replies else None
    description = scripted.describe() if scripted is not None else None
    rng = request_rng(chat)
    try:
        intent = scripted.intent_for(chat) if scripted is not None else default_intent(chat, rng)
    except ScriptError as mistake:
        app.script_errors.append(mistake)
        from minidouble._app import _script_error_response

        response = _script_error_response(mistake, request_id)
        return app._finish(
            request, body, response, prompt_tokens=input_tokens, scripted=description
        )
    choice = render(intent, chat, prompt_tokens=input_tokens, rng=rng, profile=app.profile)
    output_tokens = count_output_tokens(choice, chat, profile=app.profile)
    created_at = int(time.time())
    ids = ResponseIds.new(created_at)
    response_id = ids.make("resp")
    output = output_items(choice, ids)
    status = "incomplete" if choice.finish_reason == "length" else "completed"
    answering = app.profile.for_model(body.get("model"))  # a fine-tuned model echoes its id
    final = response_object(
        body,
        response_id=response_id,
        created_at=created_at,
        output=output,
        usage=usage_block(input_tokens, output_tokens),
        status=status,
        completed_at=None if status == "incomplete" else created_at,
        azure=flavor.azure,
        profile=answering,
    )
    if answering is not app.profile:
        app.bill_apart(answering, input_tokens, output_tokens)
    if body.get("store") is not False:
        stored = StoredResponse((*conversation, *output), final)
        stored_responses(app).put(response_id, stored)
    spent = input_tokens + output_tokens
    headers = app._headers(request_id, started, flavor, spent_tokens=spent)
    if body.get("stream") is True:
        snapshot = response_object(
            body,
            response_id=response_id,
            created_at=created_at,
            output=(),
            usage=None,
            status="in_progress",
            completed_at=None,
            azure=flavor.azure,
            profile=answering,
        )
        options = body.get("stream_options")
        obfuscate = options.get("include_obfuscation") if isinstance(options, Mapping) else None
        events = list(
            stream_events(
                snapshot,
                final,
                choice,
                # Azure sends no obfuscation padding (as on its chat streams).
                obfuscate=not flavor.azure
                and (app.stream_obfuscation if obfuscate is None else obfuscate is True),
            )
        )
        response = HttpResponse(200, [("content-type", EVENT_STREAM), *headers], b"", events)
    else:
        response = json_response(200, response_bytes(final), JSON, headers)
    return app._finish(
        request,
        body,
        response,
        prompt_tokens=input_tokens,
        completion=final,
        scripted=description,
    )


def handle_stored_response(
    app: GPT4oMiniApp, request: HttpRequest, request_id: str, started: float
) -> HttpResponse:
    """``GET`` / ``DELETE /v1/responses/{id}``: a stored response, or the real 404."""
    refused = app._authenticate(request, OPENAI)
    if refused is not None:
        return app._finish(request, None, error_response(refused, [("x-request-id", request_id)]))
    response_id = request.path[len("/v1/responses/") :]
    store = stored_responses(app)
    stored = store.get(response_id) if "/" not in response_id else None
    headers = app._headers(request_id, started, OPENAI, spent_tokens=0)
    if stored is None:
        missing = invalid_request(f"Response with id '{response_id}' not found.", status=404)
        return app._finish(request, None, error_response(missing, headers))
    if request.method == "DELETE":
        store.delete(response_id)
        document: Mapping[str, Any] = {"id": response_id, "object": "response", "deleted": True}
    else:
        document = stored.document
    return app._finish(request, None, json_response(200, response_bytes(document), JSON, headers))
