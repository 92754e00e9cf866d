"""``POST /v1/chat/completions`` (and Azure's chat paths): validate, then answer with the engine."""

from __future__ import annotations

import time
from typing import Any

from minidouble._endpoints._protocol import Answer, Exchange, Service
from minidouble._engine._replies import (
    Reply,
    assemble,
    choice_count,
    completion_limit,
    default_intent,
    keyed_digest,
    remembered_default,
    render,
    rng_for,
)
from minidouble._http import HttpResponse
from minidouble._model._profile import ModelProfile
from minidouble._model._validate import check_chat_body
from minidouble._wire._writers import (
    EVENT_STREAM,
    JSON,
    completion_body,
    completion_bytes,
    json_response,
    new_completion_id,
    served_tier,
    stream_events,
)

__all__ = ["CHAT", "ChatCompletions"]


class ChatCompletions:
    def validate(self, service: Service, exchange: Exchange, body: Any) -> int | None:
        # The pipeline computed the body's key (None: remember nothing).
        return check_chat_body(body, exchange.request.path, service.profile, exchange.body_key)

    def respond(
        self, service: Service, exchange: Exchange, body: dict[str, Any], prompt_tokens: int
    ) -> Answer:
        profile = service.profile
        limit = completion_limit(body, prompt_tokens, profile)
        reply = service.shape_reply(
            exchange, self._generate(service, exchange, body, prompt_tokens, limit, profile)
        )
        spent = prompt_tokens + limit
        headers = service.headers(exchange, spent_tokens=spent)
        tier = served_tier(body)
        completion_id = new_completion_id()
        created = int(time.time()) if exchange.created is None else exchange.created
        # A fine-tuned model answers under its own id.
        answering = profile.for_model(body.get("model"))
        cached = service.cached_tokens(body, prompt_tokens)
        if exchange.batch_line:
            # A batch line's answer is written into the output file as a document: no
            # headers, no stream, no bytes to parse back.
            document = completion_body(
                reply,
                completion_id=completion_id,
                created=created,
                prompt_tokens=prompt_tokens,
                profile=answering,
                flavor=exchange.flavor,
                service_tier=tier,
                cached_tokens=cached,
            )
            return Answer(HttpResponse(200), document, reply.completion_tokens, cached)
        # The log keeps the served bytes as the completion (for a stream, those of the
        # equivalent chat.completion): it reads them only if someone asks.
        raw = completion_bytes(
            reply,
            completion_id=completion_id,
            created=created,
            prompt_tokens=prompt_tokens,
            profile=answering,
            flavor=exchange.flavor,
            service_tier=tier,
            cached_tokens=cached,
        )
        if body.get("stream") is True:
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            events = list(
                stream_events(
                    reply,
                    prompt_tokens=prompt_tokens,
                    include_usage=include_usage,
                    obfuscate=service.obfuscate(exchange, body),
                    profile=answering,
                    flavor=exchange.flavor,
                    service_tier=tier,
                    completion_id=completion_id,
                    created=created,
                    cached_tokens=cached,
                )
            )
            response = HttpResponse(200, [("content-type", EVENT_STREAM), *headers], b"", events)
        else:
            response = json_response(200, raw, JSON, headers)
        return Answer(response, raw, reply.completion_tokens, cached)

    def _generate(
        self,
        service: Service,
        exchange: Exchange,
        body: dict[str, Any],
        prompt_tokens: int,
        limit: int,
        profile: ModelProfile,
    ) -> Reply:
        intent = service.scripted_intent(exchange, body)
        key = exchange.body_key
        if intent is None and key is not None:
            reply = remembered_default(
                body, key, prompt_tokens=prompt_tokens, limit=limit, profile=profile
            )
            if reply is not None:
                return reply
        choices = []
        digest = keyed_digest(body, key)
        for index in range(choice_count(body)):
            rng = rng_for(digest, index)
            chosen = intent if intent is not None else default_intent(body, rng)
            choices.append(
                render(chosen, body, prompt_tokens=prompt_tokens, rng=rng, profile=profile)
            )
        return assemble(choices, body)


CHAT = ChatCompletions()
