"""``GET /v1/models`` and ``GET /v1/models/{id}``: the models the profile lists."""

from __future__ import annotations

from typing import Any

from minidouble._endpoints._protocol import Answer, Exchange, Service
from minidouble._model._gateway import model_not_found
from minidouble._wire._writers import JSON, error_response, json_response, pretty

__all__ = ["MODELS", "Models"]


class Models:
    def handle(self, service: Service, exchange: Exchange) -> Answer:
        assert exchange.route is not None
        listed = [
            {"id": model_id, "object": "model", "created": created, "owned_by": owner}
            for model_id, created, owner in service.profile.listed_models
        ]
        wanted = exchange.route.params.get("id")
        if wanted is None:
            document: dict[str, Any] = {"object": "list", "data": listed}
        else:
            found = [m for m in listed if m["id"] == wanted]
            if not found:
                headers = [("x-request-id", exchange.request_id)]
                return Answer(error_response(model_not_found(wanted), headers))
            document = found[0]
        # Model listings come from behind the gateway but are not rate limited.
        headers = service.headers(exchange, spent_tokens=0, rate_limited=False)
        return Answer(json_response(200, pretty(document), JSON, headers))


MODELS = Models()
