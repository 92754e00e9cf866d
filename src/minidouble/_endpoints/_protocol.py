"""The contract between the service's pipeline and the endpoint modules.

The pipeline (``minidouble._service._app``) owns the order every request is handled in:
route → auth → parse → draw failure / charge limiter → validate → answer (cassette or
engine) → shape → pace → log. An endpoint supplies only the steps that differ per endpoint,
against :class:`Service`, and never imports another endpoint or the service's modules.

* A :class:`ModelEndpoint` (chat completions, responses) is a request the model answers:
  ``validate`` returns the prompt tokens (or raises ``OpenAIError``), ``respond`` answers.
* A :class:`PlainEndpoint` (models, stored responses, files and batches; later the
  control API) answers after auth from the service's state, without faults, limiter or engine.

Adding an endpoint is a module implementing one of these and a line in the route table
(``minidouble._service._routes``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

from minidouble._engine._replies import Intent, Reply
from minidouble._http import HttpRequest, HttpResponse
from minidouble._model._profile import ModelProfile
from minidouble._wire._writers import OPENAI, Flavor

if TYPE_CHECKING:
    from minidouble._endpoints._batch._store import BatchTiming
    from minidouble._service._clock import Clock

__all__ = [
    "Answer",
    "Endpoint",
    "Exchange",
    "ModelEndpoint",
    "PlainEndpoint",
    "Route",
    "Service",
    "Store",
]


@dataclass(frozen=True)
class Route:
    """Where a request goes: the endpoint, the service it imitates and what the path named.

    ``deployment`` is the Azure deployment the path names; None for an Azure path whose body's
    ``model`` names it (the v1 API and the Responses API). ``params`` holds the path's other
    parts (``{"id": ...}`` for ``/v1/responses/{id}``).
    """

    endpoint: Endpoint
    flavor: Flavor = OPENAI
    deployment: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    # Whether the request must carry an accepted key (the control API does not).
    auth: bool = True
    # The service's own control API (``/_minidouble/...``): answered before any cassette,
    # guarded only by a configured key, and never logged as traffic.
    control: bool = False
    # Whether answering may run long (a Batch API call runs the lines that are due): the
    # loopback server then answers it in a thread, off its event loop.
    blocking: bool = False


@dataclass(eq=False)
class Exchange:
    """One request on its way through the pipeline, with everything learnt about it.

    Created by the pipeline per request and passed explicitly (never a thread-local), so
    a handler that awaits, or is re-entered, keeps each request's state apart.
    """

    request: HttpRequest
    request_id: str
    # perf_counter at arrival (for ``openai-processing-ms``) and the clock's now (for the log).
    started: float
    received_at: float
    session: str | None = None
    route: Route | None = None
    flavor: Flavor = OPENAI
    body: Any = None
    # A key for the body (its bytes, or its body_key), computed once by the pipeline.
    body_key: Hashable | None = None
    prompt_tokens: int | None = None
    # The scripted reply or failure that answered, as the user wrote it.
    scripted: str | None = None
    # The fixture rule that matched (a ``minidouble._service._fixtures.Fixture``), if any.
    fixture: Any = None
    # Rate-limit headers as they stood right after this request's charge.
    limits: dict[str, str] | None = None
    # Where the answer comes from: the reply engine, or the fake's cassette.
    source: Literal["engine", "cassette"] = "engine"
    # The pipeline's own: a drawn fault that breaks the answer rather than replacing it.
    shaping: Any = None
    filtered: bool = False
    # A Batch API line run by ``Service.run_body``: no HTTP, no limiter, no log, nothing
    # stored; ``custom_id`` aims scripts written with ``custom_id=`` at it.
    batch_line: bool = False
    custom_id: str | None = None
    # The answer's ``created`` (Unix seconds) when the service sets it (a batch line: the
    # batch's clock); None: now.
    created: int | None = None


@dataclass
class Answer:
    """An endpoint's answer and what the log and the bill need to know about it."""

    response: HttpResponse
    # The completion the log keeps (for a stream, the equivalent non-streamed object).
    completion: Mapping[str, Any] | bytes | None = None
    completion_tokens: int | None = None
    # What the prompt cache served of the prompt (billed at the cached price).
    cached_tokens: int | None = None


class Store(Protocol):
    """Objects kept by id (stored Responses; the Batch API's files and batches)."""

    def get(self, key: str) -> Any: ...
    def put(self, key: str, value: Any) -> None: ...
    def delete(self, key: str) -> bool: ...
    def setdefault(self, key: str, make: Callable[[], Any]) -> Any:
        """The object kept under ``key``, made (once, under the store's lock) if absent."""
        ...


class Service(Protocol):
    """What an endpoint may ask of the service: nothing more, so endpoints stay swappable."""

    @property
    def profile(self) -> ModelProfile: ...

    def headers(
        self, exchange: Exchange, *, spent_tokens: int | None, rate_limited: bool = True
    ) -> list[tuple[str, str]]:
        """Service headers for this exchange (``spent_tokens`` None: in front of the limiter;
        ``rate_limited=False``: behind the gateway but without ``x-ratelimit-*`` values)."""
        ...

    def scripted_intent(self, exchange: Exchange, body: Mapping[str, Any]) -> Intent | None:
        """The next scripted reply of the exchange's session, fitted to ``body`` (a chat
        body), or None. A reply that does not fit raises; the pipeline answers that."""
        ...

    def shape_reply(self, exchange: Exchange, reply: Reply) -> Reply:
        """The reply after a drawn content-filter fault (chat only), else ``reply``."""
        ...

    def obfuscate(self, exchange: Exchange, body: Mapping[str, Any]) -> bool:
        """Whether a stream pads its events with ``obfuscation`` (one rule, every flavour)."""
        ...

    def cached_tokens(
        self,
        body: Mapping[str, Any],
        prompt_tokens: int,
        *,
        chat_body: Mapping[str, Any] | None = None,
    ) -> int:
        """What the fake's prompt cache serves of this request's prompt (then cached).

        ``body`` is the request as sent (its ``prompt_cache_key`` and retention);
        ``chat_body`` what the model reads, when that is another body (a Responses request).
        """
        ...

    def store(self, kind: str) -> Store:
        """The fake's store of one kind of object (``"responses"``...), cleared by reset."""
        ...

    def run_body(
        self,
        endpoint: Literal["chat", "responses"],
        body: Mapping[str, Any],
        *,
        price_factor: Decimal = Decimal(1),
        session: str | None = None,
        azure_deployment: str | None = None,
        custom_id: str | None = None,
        created: int | None = None,
    ) -> tuple[int, Any]:
        """One chat or responses body through the core without HTTP (a batch line):
        (status, response body or error body). Validated, counted, answered by the engine
        with the session's scripts (those aimed at ``custom_id`` first), prompt-cached and
        billed at ``price_factor`` of the model's price; not rate limited, not logged, not
        stored. ``created``: the answer's Unix time (the batch's clock), default now."""
        ...

    @property
    def clock(self) -> Clock:
        """The fake's one clock (batches live on it)."""
        ...

    @property
    def batch_timing(self) -> BatchTiming:
        """How long a batch's phases take (the ``batch_timing`` option)."""
        ...

    @property
    def manual_clock(self) -> bool:
        """Whether a test injected the clock (it moves only when the test moves it)."""
        ...

    @property
    def azure_deployments(self) -> frozenset[str] | None:
        """The fake Azure resource's deployment names (None: every name exists)."""
        ...

    def estimate_tokens(self, body: Any) -> int:
        """What the rate limiter would charge for ``body`` (batches' enqueued tokens)."""
        ...


class ModelEndpoint(Protocol):
    """A request the model answers (chat completions, responses)."""

    def validate(self, service: Service, exchange: Exchange, body: Any) -> int | None:
        """The prompt tokens of a valid ``body``; raises ``OpenAIError`` otherwise. None only
        while a cassette answers a request that continues upstream state it cannot check."""
        ...

    def respond(
        self, service: Service, exchange: Exchange, body: dict[str, Any], prompt_tokens: int
    ) -> Answer:
        """The engine's answer to a valid body."""
        ...


class PlainEndpoint(Protocol):
    """A request answered from the service's state after auth (no model, no limiter)."""

    def handle(self, service: Service, exchange: Exchange) -> Answer: ...


Endpoint = ModelEndpoint | PlainEndpoint
