"""The routing table: (method, path pattern, OpenAI or Azure flavour) → endpoint.

The one place that knows which paths exist. :func:`route` turns a request into a
:class:`~minidouble._endpoints._protocol.Route` (endpoint, flavour, deployment, path
parameters) or the error the real gateway answers for a path it does not serve.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from minidouble._endpoints._batch import BATCHES, FILES
from minidouble._endpoints._chat import CHAT
from minidouble._endpoints._models import MODELS
from minidouble._endpoints._protocol import Endpoint, Route
from minidouble._endpoints._responses._handler import RESPONSES, STORED_RESPONSE
from minidouble._http import HttpRequest
from minidouble._model._errors import OpenAIError
from minidouble._model._gateway import azure_error, invalid_url
from minidouble._service._control import CONTROL, CONTROL_METHODS
from minidouble._wire._writers import OPENAI, Flavor

__all__ = ["ROUTES", "Rule", "blocking", "route"]

AZURE = Flavor(azure=True)


@dataclass(frozen=True)
class Rule:
    """One row of the table. ``path`` uses ``{name}`` for one segment, ``{name...}`` for the
    rest of the path; a ``{deployment}`` segment names the Azure deployment."""

    methods: Sequence[str]
    path: str
    endpoint: Endpoint
    azure: bool = False
    # Azure's dated API paths need ``?api-version=``; without it Azure answers 404.
    api_version: bool = False
    auth: bool = True
    # Reachable only through the loopback server, never by in-process interception.
    loopback_only: bool = False
    control: bool = False
    # May run long: the loopback server answers it in a thread (see Route.blocking).
    blocking: bool = False

    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\.\\\.\\\.\\\}", r"(?P<\1>.*)", re.escape(self.path))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(f"^{regex}$")


ROUTES: tuple[Rule, ...] = (
    Rule(("POST",), "/v1/chat/completions", CHAT),
    Rule(("POST",), "/v1/responses", RESPONSES),
    Rule(("GET", "DELETE"), "/v1/responses/{id...}", STORED_RESPONSE),
    Rule(("GET",), "/v1/models", MODELS),
    Rule(("GET",), "/v1/models/{id}", MODELS),
    Rule(("POST",), "/openai/deployments/{deployment}/chat/completions", CHAT, True, True),
    # Azure's newer v1 API: no api-version, and the body's "model" names the deployment.
    Rule(("POST",), "/openai/v1/chat/completions", CHAT, True),
    Rule(("POST",), "/openai/responses", RESPONSES, True, True),
    Rule(("POST",), "/openai/v1/responses", RESPONSES, True),
    # The control API answers every method itself, so a wrong one gets its own 405.
    Rule(
        CONTROL_METHODS,
        "/_minidouble/{call...}",
        CONTROL,
        auth=False,
        loopback_only=True,
        control=True,
    ),
    # The Batch API and its files (docs/batch.md); Azure's dated paths need api-version.
    *(
        row
        for prefix, azure, dated in (
            ("/v1", False, False),
            ("/openai", True, True),
            ("/openai/v1", True, False),
        )
        for row in (
            Rule(("POST", "GET"), f"{prefix}/files", FILES, azure, dated, blocking=True),
            Rule(("GET", "DELETE"), f"{prefix}/files/{{id}}", FILES, azure, dated, blocking=True),
            Rule(("GET",), f"{prefix}/files/{{id}}/content", FILES, azure, dated, blocking=True),
            Rule(("POST", "GET"), f"{prefix}/batches", BATCHES, azure, dated, blocking=True),
            Rule(("GET",), f"{prefix}/batches/{{id}}", BATCHES, azure, dated, blocking=True),
            Rule(
                ("POST",), f"{prefix}/batches/{{id}}/cancel", BATCHES, azure, dated, blocking=True
            ),
        )
    ),
)

_COMPILED = [(rule, rule.pattern()) for rule in ROUTES]
# route() asks for the query only on these paths.
assert all(rule.path.startswith("/openai/") for rule in ROUTES if rule.api_version)


@functools.lru_cache(maxsize=1024)
def blocking(method: str, path: str) -> bool:
    """Whether the route of ``method path`` may run long (``Rule.blocking``).

    Asked by the loopback server for every request before answering it, so remembered per
    path: the chat path is looked up once, not routed twice per request.
    """
    for rule, pattern in _COMPILED:
        if method in rule.methods and pattern.match(path):
            return rule.blocking
    return False


# The routes found, by (method, path, loopback, whether the query has an api-version): a Route
# is immutable and its params are only read, so one serves every request of its path. Only
# routes are kept (a refusal is made per request), and only so many: ids in paths are many.
_found: dict[tuple[str, str, bool, bool], Route] = {}
_FOUND_MAX = 1024


def route(request: HttpRequest, *, loopback: bool = False) -> Route | tuple[OpenAIError, Flavor]:
    """The route ``request`` takes, or the gateway's refusal and the flavour it is sent in."""
    path = request.path
    # Only Azure's dated paths read the query (api-version), and they all start so.
    versioned = path.startswith("/openai/") and "api-version" in request.query
    key = (request.method, path, loopback, versioned)
    known = _found.get(key)
    if known is not None:
        return known
    found = _route(request.method, path, loopback=loopback, versioned=versioned)
    if isinstance(found, Route) and len(_found) < _FOUND_MAX:
        _found[key] = found
    return found


def _route(
    method: str, path: str, *, loopback: bool, versioned: bool
) -> Route | tuple[OpenAIError, Flavor]:
    for rule, pattern in _COMPILED:
        match = pattern.match(path)
        if match is None or method not in rule.methods:
            continue
        if rule.loopback_only and not loopback:
            break
        if rule.api_version and not versioned:
            break
        params = match.groupdict()
        deployment = params.pop("deployment", None)
        if rule.azure:
            flavor = AZURE if deployment is None else Flavor(azure=True, deployment=deployment)
        else:
            flavor = OPENAI
        return Route(
            rule.endpoint, flavor, deployment, params, rule.auth, rule.control, rule.blocking
        )
    if path.startswith("/openai/"):  # every Azure path, and only those
        return azure_error("404"), AZURE
    return invalid_url(method, path), OPENAI
