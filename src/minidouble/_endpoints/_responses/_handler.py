"""``POST /v1/responses`` and ``GET``/``DELETE /v1/responses/{id}`` as endpoint modules.

The request is validated with the Responses rules, rewritten as the equivalent chat request
(:func:`~minidouble._endpoints._responses._mapping.to_chat_body`), answered by the chat engine
(scripted reply or the seeded default), and written back in Responses shapes. Stored responses
(``store`` defaults to true, as for real) let a later request continue them through
``previous_response_id``: the model then reads the stored input and output before the new
input, which is also what the real API bills (verified on the recorded chains). They live in
the fake's state (``service.store("responses")``), so ``reset()`` forgets them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minidouble._endpoints._protocol import Answer, Exchange, Service
from minidouble._endpoints._responses._mapping import to_chat_body
from minidouble._endpoints._responses._tokens import count_output_tokens
from minidouble._endpoints._responses._validate import (
    as_items,
    check_responses_request,
    previous_response_not_found,
)
from minidouble._endpoints._responses._wire import (
    ResponseIds,
    output_items,
    response_bytes,
    response_object,
    stream_events,
    usage_block,
)
from minidouble._engine._replies import default_intent, render, request_rng
from minidouble._http import HttpResponse
from minidouble._model._errors import invalid_request
from minidouble._wire._writers import EVENT_STREAM, JSON, error_response, json_response

__all__ = ["RESPONSES", "STORED_RESPONSE", "Responses", "StoredResponse", "StoredResponses"]

STORE = "responses"


@dataclass(frozen=True)
class StoredResponse:
    """What a later ``previous_response_id`` continues: everything the model read and said."""

    conversation: tuple[Mapping[str, Any], ...]
    document: Mapping[str, Any]


def _history(
    service: Service, exchange: Exchange, body: Any
) -> tuple[Mapping[str, Any], ...] | None:
    """The stored conversation ``body`` continues; None when a replay continues a response
    the recorded upstream holds (the cassette answers it; there is nothing to check here)."""
    previous = body.get("previous_response_id") if isinstance(body, Mapping) else None
    if not isinstance(previous, str):
        return ()
    stored: StoredResponse | None = service.store(STORE).get(previous)
    if stored is None:
        if exchange.source == "cassette":
            return None
        raise previous_response_not_found(previous)
    return stored.conversation


class Responses:
    def validate(self, service: Service, exchange: Exchange, body: Any) -> int | None:
        history = _history(service, exchange, body)
        if history is None:
            return None
        return check_responses_request(
            body, history=history, azure=exchange.flavor.azure, profile=service.profile
        )

    def respond(
        self, service: Service, exchange: Exchange, body: dict[str, Any], prompt_tokens: int
    ) -> Answer:
        profile = service.profile
        input_tokens = prompt_tokens
        conversation = (*(_history(service, exchange, body) or ()), *as_items(body.get("input")))
        chat = to_chat_body({**body, "input": list(conversation)})
        rng = request_rng(chat)
        intent = service.scripted_intent(exchange, chat)
        if intent is None:
            intent = default_intent(chat, rng)
        choice = render(intent, chat, prompt_tokens=input_tokens, rng=rng, profile=profile)
        output_tokens = count_output_tokens(choice, chat, profile=profile)
        created_at = int(time.time()) if exchange.created is None else exchange.created
        cached = service.cached_tokens(body, input_tokens, chat_body=chat)
        answering = profile.for_model(body.get("model"))  # a fine-tuned model echoes its id
        ids = ResponseIds.new(created_at)
        response_id = ids.make("resp")
        output = output_items(choice, ids)
        status = "incomplete" if choice.finish_reason == "length" else "completed"
        azure = exchange.flavor.azure
        final = response_object(
            body,
            response_id=response_id,
            created_at=created_at,
            output=output,
            usage=usage_block(input_tokens, output_tokens, cached),
            status=status,
            completed_at=None if status == "incomplete" else created_at,
            azure=azure,
            profile=answering,
        )
        # A batch line's response is not kept: only the output file holds it.
        if body.get("store") is not False and not exchange.batch_line:
            service.store(STORE).put(response_id, StoredResponse((*conversation, *output), final))
        headers = service.headers(exchange, spent_tokens=input_tokens + output_tokens)
        if body.get("stream") is True:
            snapshot = response_object(
                body,
                response_id=response_id,
                created_at=created_at,
                output=(),
                usage=None,
                status="in_progress",
                completed_at=None,
                azure=azure,
                profile=answering,
            )
            obfuscate = service.obfuscate(exchange, body)
            events = list(stream_events(snapshot, final, choice, obfuscate=obfuscate))
            response = HttpResponse(200, [("content-type", EVENT_STREAM), *headers], b"", events)
        else:
            response = json_response(200, response_bytes(final), JSON, headers)
        return Answer(response, final, cached_tokens=cached)


class StoredResponses:
    """``GET`` / ``DELETE /v1/responses/{id}``: a stored response, or the real 404."""

    def handle(self, service: Service, exchange: Exchange) -> Answer:
        assert exchange.route is not None
        response_id = exchange.route.params["id"]
        store = service.store(STORE)
        stored: StoredResponse | None = store.get(response_id) if "/" not in response_id else None
        headers = service.headers(exchange, spent_tokens=0)
        if stored is None:
            missing = invalid_request(f"Response with id '{response_id}' not found.", status=404)
            return Answer(error_response(missing, headers))
        if exchange.request.method == "DELETE":
            store.delete(response_id)
            document: Mapping[str, Any] = {"id": response_id, "object": "response", "deleted": True}
        else:
            document = stored.document
        return Answer(json_response(200, response_bytes(document), JSON, headers))


RESPONSES = Responses()
STORED_RESPONSE = StoredResponses()
