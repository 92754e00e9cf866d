"""The pipeline every request goes through, and the service endpoints are written against.

``GPT4oMiniApp.handle`` takes a transport-neutral :class:`~minidouble._http.HttpRequest` and
answers as api.openai.com (or an Azure OpenAI deployment) would, in the order the real
service checks things (reference §2.1), written once here for every endpoint:

    route → auth → parse → draw failure / charge limiter → validate
          → answer (cassette or engine) → shape → pace → log

Endpoints (``minidouble._endpoints``) supply validate and answer through the narrow
:class:`~minidouble._endpoints._protocol.Service` interface this class implements; the route
table (``minidouble._service._routes``) says which endpoint a request reaches. Per-request
state travels in an explicit :class:`~minidouble._endpoints._protocol.Exchange`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from minidouble._endpoints._batch._store import BatchTimingOption, timing_from
from minidouble._endpoints._protocol import Answer, Exchange, ModelEndpoint, PlainEndpoint
from minidouble._engine._replies import Intent, Reply
from minidouble._http import HttpRequest, HttpResponse
from minidouble._model._body_key import KEYED_BYTES, body_key
from minidouble._model._errors import SERVER_ERROR_BODY, OpenAIError
from minidouble._model._gateway import azure_error, invalid_api_key, missing_api_key
from minidouble._model._profile import GPT4O_MINI, ModelProfile, Prices
from minidouble._model._validate import parse_json_body
from minidouble._service._budget import Budget, Usage, billed_apart, usage_of
from minidouble._service._caching import PromptCache, chat_sequence
from minidouble._service._clock import Clock
from minidouble._service._faults import (
    SHAPING_FAULTS,
    azure_rate_limit,
    check_fail_arguments,
    filter_reply,
    filtered_prompt,
    raise_transport_fault,
    rate_limit_error,
    scripted_fault,
    shape_response,
)
from minidouble._service._fixtures import Fixture, Fixtures
from minidouble._service._latency import LatencyModel
from minidouble._service._ratelimit import (
    RateLimiter,
    Rejection,
    estimate_tokens,
    keyed_estimate,
)
from minidouble._service._resilience import ResilienceReport
from minidouble._service._routes import blocking as routes_blocking
from minidouble._service._routes import route
from minidouble._service._script import (
    RecordedRequest,
    ScriptedFailure,
    ScriptError,
    make_reply,
)
from minidouble._service._state import SESSION_HEADER, Session, State, Store
from minidouble._wire._writers import (
    JSON,
    OPENAI,
    Flavor,
    api_headers,
    error_response,
    json_response,
    new_request_id,
)

if TYPE_CHECKING:
    from minidouble._cassettes import CassetteLayer

__all__ = ["GPT4oMiniApp", "Scripts"]

_UNSET: Any = object()
# One line per request at INFO (``minidouble serve --log-level info``); silent by default.
_traffic = logging.getLogger("minidouble.requests")
Answered = Literal["replayed", "recorded", "missed"]


class Scripts:
    """``reply`` / ``fail`` and the log of one session (the default one: ``fake.reply``...)."""

    def __init__(self, app: GPT4oMiniApp, session: Session) -> None:
        self._app = app
        self._session = session

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._session.requests

    @property
    def script_errors(self) -> list[ScriptError]:
        return self._session.script_errors

    def reply(
        self,
        text: str | None = None,
        *,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        json: Any = _UNSET,
        refusal: str | None = None,
        custom_id: str | None = None,
    ) -> None:
        """Queue the next completion: text, tool calls, a structured output or a refusal;
        ``custom_id=`` aims it at the batch line with that id instead of the queue."""
        has_json = json is not _UNSET
        scripted = make_reply(text, tool_calls, json if has_json else None, has_json, refusal)
        with self._app.state.lock:
            if custom_id is not None:
                self._session.aimed_replies[custom_id] = scripted
            else:
                self._session.replies.append(scripted)

    def fail(
        self,
        status: int | str = 429,
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int = 0,
        custom_id: str | None = None,
        **details: Any,
    ) -> None:
        """Make the next ``times`` requests of this session fail (see ``GPT4oMiniApp.fail``)."""
        check_fail_arguments(status, times, probability, details)
        if custom_id is not None and (isinstance(status, str) or probability is not None):
            raise TypeError(
                f"minidouble: fail(custom_id={custom_id!r}) aims one HTTP failure at one batch "
                f"line, got status={status!r}, probability={probability!r}. A batch line can "
                "only fail with an HTTP status (e.g. fail(500, custom_id=...)); transport "
                "faults and probabilities apply to direct requests."
            )
        failure = ScriptedFailure(status, times, dict(details))
        with self._app.state.lock:
            if custom_id is not None:
                self._session.aimed_failures[custom_id] = failure
            elif probability is None:
                self._session.failures.append(failure)
            else:
                failure.probability = float(probability)
                failure.seed = seed
                failure.rng = random.Random(seed)
                self._session.standing.append(failure)

    def unused_scripts(self) -> list[str]:
        """Queued replies and failures no request consumed, described as they were scripted."""
        session = self._session
        with self._app.state.lock:
            # A standing failure no request ever reached tested nothing; one that was
            # reached and happened not to fire is the luck of its draw.
            idle = [f.describe() for f in session.standing if f.seen == 0]
            aimed = [
                *(f"{f.describe()} for custom_id={c!r}" for c, f in session.aimed_failures.items()),
                *(f"{r.describe()} for custom_id={c!r}" for c, r in session.aimed_replies.items()),
            ]
            return (
                [f.describe() for f in session.failures]
                + idle
                + [r.describe() for r in session.replies]
                + aimed
            )

    def usage(self) -> Usage:
        """The log's requests and tokens, plus what was billed apart from it (batch lines,
        fine-tuned prices)."""
        with self._app.state.lock:
            apart = billed_apart(self._session.apart)
            return usage_of(list(self._session.requests)) + apart

    def resilience(self) -> ResilienceReport:
        with self._app.state.lock:
            recorded = list(self._session.requests)
        return ResilienceReport.of(recorded)


class GPT4oMiniApp:
    """GPT-4o mini as a request handler, plus the scripting API tests drive it with.

    Options (all keyword-only):

    * ``api_key``: the only key accepted; other keys get the real masked-key 401. By default
      any non-empty key is accepted (a missing key is still a 401, as for real).
    * ``azure_deployments``: deployment names that exist on the fake Azure resource; others
      get Azure's ``DeploymentNotFound``. By default every name exists.
    * ``stream_obfuscation``: whether stream chunks carry the ``obfuscation`` padding field
      when the request does not say (``stream_options.include_obfuscation``). The real API
      pads by default, so this defaults to True.
    * ``requests_per_minute``, ``tokens_per_minute``: enforce the account's rate limits
      (either one turns enforcement on; the other keeps the profile's tier-1 value). Without
      them the buckets only drive the ``x-ratelimit-*`` headers. ``clock``: the limiter's
      time source in seconds (default ``time.monotonic``), for deterministic tests.
    * ``latency``: ``"instant"`` (default) or ``"realistic"`` (time to first token, then the
      model's output speed); ``latency_speedup`` divides every simulated wait.
    * ``budget_usd``, ``budget_tokens``: what this fake's requests may cost and use; see
      :meth:`budget_overruns`.
    * ``prompt_caching``: report ``cached_tokens`` as the real API's automatic prompt cache
      does (default True), on the fake's clock; False always reports 0.
    * ``batch_timing``: how long batches take on the fake's clock: ``"fast"`` (the default on
      the wall clock), ``"realistic"`` (the default on an injected clock) or a dict of phase
      seconds (docs/batch.md).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        azure_deployments: Iterable[str] | None = None,
        stream_obfuscation: bool = True,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        clock: Clock | Callable[[], float] | None = None,
        latency: str = "instant",
        latency_speedup: float = 1.0,
        budget_usd: float | str | Decimal | None = None,
        budget_tokens: int | None = None,
        prompt_caching: bool = True,
        batch_timing: BatchTimingOption | None = None,
        profile: ModelProfile = GPT4O_MINI,
    ) -> None:
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise TypeError(
                f"minidouble: api_key must be a non-empty str (the one key the fake accepts), "
                f"got {api_key!r}. Leave it out to accept any key."
            )
        self.api_key = api_key
        self.azure_deployments = None if azure_deployments is None else frozenset(azure_deployments)
        self.stream_obfuscation = stream_obfuscation
        self._profile = profile
        self.clock = clock if isinstance(clock, Clock) else Clock(now=clock or time.monotonic)
        # A test's own clock moves only when the test moves it: batches then take their
        # realistic time by default (docs/batch.md).
        self.manual_clock = clock is not None
        self.batch_timing = timing_from(batch_timing, manual_clock=self.manual_clock)
        # The prices tokens billed apart are charged at, by (model, price factor).
        self._prices_apart: dict[tuple[str | None, Decimal], Prices] = {}
        # Scripts, the log and stored objects: one state, per session, cleared by reset().
        self.state = State()
        self._default = Scripts(self, self.state.default)
        self.limiter = RateLimiter(
            requests_per_minute=_limit("requests_per_minute", requests_per_minute)
            or profile.rate_limits.requests_per_minute,
            tokens_per_minute=_limit("tokens_per_minute", tokens_per_minute)
            or profile.rate_limits.tokens_per_minute,
            enforce=requests_per_minute is not None or tokens_per_minute is not None,
            clock=self.clock.now,
            profile=profile,
        )
        self.latency = LatencyModel.from_options(latency, latency_speedup, profile, self.clock)
        self.budget = Budget.from_options(budget_usd, budget_tokens)
        self.prompt_cache = PromptCache(self.clock.now, profile.caching, enabled=prompt_caching)
        # The answer source that replaces the engine when a cassette is on (set by the fake).
        self.cassette: CassetteLayer | None = None
        # Standing rules (``minidouble serve --fixtures``): below the session's scripts, above
        # the cassette and the engine's default reply.
        self.fixtures: Fixtures | None = None

    @property
    def profile(self) -> ModelProfile:
        return self._profile

    @property
    def requests(self) -> list[RecordedRequest]:
        """The default session's request log."""
        return self.state.default.requests

    @property
    def script_errors(self) -> list[ScriptError]:
        return self.state.default.script_errors

    def scripts(self, session: str | None = None) -> Scripts:
        """Scripting and log of the session named ``session`` (``X-Minidouble-Session``)."""
        if session is None:
            return self._default
        return Scripts(self, self.state.session(session))

    # -----------------------------------------------------------------------------------------
    # Scripting (the default session)

    def reply(
        self,
        text: str | None = None,
        *,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        json: Any = _UNSET,
        refusal: str | None = None,
        custom_id: str | None = None,
    ) -> None:
        """Queue the next completion: text, tool calls, a structured output or a refusal
        (``custom_id=``: for the batch line with that id)."""
        self._default.reply(
            text, tool_calls=tool_calls, json=json, refusal=refusal, custom_id=custom_id
        )

    def fail(
        self,
        status: int | str = 429,
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int = 0,
        custom_id: str | None = None,
        **details: Any,
    ) -> None:
        """Make the next ``times`` completion requests fail as the real service fails.

        ``status`` is an HTTP status (400, 401, 403, 404, 409, 429, 500, 502, 503) answered
        with the real body and headers, or a fault: ``"timeout"``, ``"connection_reset"``,
        ``"stream_cut"``, ``"stream_error"``, ``"malformed_chunk"`` (``after_chunks=N``),
        ``"filtered_prompt"``, ``"filtered_completion"`` (Azure's content filter:
        ``category=``, ``severity=``). ``details`` override the error body (``message``,
        ``type``, ``code``, ``param``) or add behaviour (``retry_after`` seconds, extra
        ``headers``); ``fail(429, code="insufficient_quota")`` is the out-of-credit error.

        With ``probability=p`` the failure stands instead of queueing: every request fails
        with chance ``p``, drawn from a generator seeded with ``seed`` (the same run fails the
        same requests), at most ``times`` times (``times=None``: without end).

        ``custom_id=`` aims an HTTP status at the batch line with that id instead.
        """
        self._default.fail(
            status, times=times, probability=probability, seed=seed, custom_id=custom_id, **details
        )

    def unused_scripts(self) -> list[str]:
        """Queued replies and failures no request consumed, described as they were scripted."""
        return self._default.unused_scripts()

    def reset(self) -> None:
        """Forget every session's scripts, recorded requests and script errors, and every
        stored object (Responses kept for ``previous_response_id``...) and cached prompt."""
        self.state.reset()
        self.prompt_cache.clear()

    def usage(self) -> Usage:
        """Requests received so far and the tokens billed for them."""
        return self._default.usage()

    def budget_overruns(self) -> list[str]:
        """A sentence per budget (``budget_usd``, ``budget_tokens``) the requests exceeded."""
        if not self.budget.limits:
            return []  # nothing to exceed: the log need not be totalled
        return self.budget.overruns(self.usage(), self.profile)

    def resilience(self) -> ResilienceReport:
        """How the client coped with the failures it met (see ``ResilienceReport``)."""
        return self._default.resilience()

    # -----------------------------------------------------------------------------------------
    # The service endpoints see (minidouble._endpoints._protocol.Service)

    def headers(
        self, exchange: Exchange, *, spent_tokens: int | None, rate_limited: bool = True
    ) -> list[tuple[str, str]]:
        """Service headers; ``spent_tokens`` None means a layer in front of the rate limiter.

        Behind it, the ``x-ratelimit-*`` values are the limiter's buckets, which were charged
        the request's estimate when it was admitted (the exact count no longer matters).
        A batch line has no HTTP answer, so no headers.
        """
        if exchange.batch_line:
            return []
        limits = None
        if not rate_limited:
            limits = {}
        elif spent_tokens is not None:
            limits = exchange.limits or self.limiter.headers()
        elapsed = round((time.perf_counter() - exchange.started) * 1000)
        return api_headers(
            exchange.request_id, processing_ms=elapsed, rate_limits=limits, flavor=exchange.flavor
        )

    def scripted_intent(self, exchange: Exchange, body: Mapping[str, Any]) -> Intent | None:
        session = self.state.session(exchange.session)
        aimed = exchange.custom_id is not None and session.aimed_replies
        scripted = None
        if session.replies or aimed:
            with self.state.lock:
                if aimed:
                    scripted = session.aimed_replies.pop(str(exchange.custom_id), None)
                if scripted is None and session.replies:
                    scripted = session.replies.popleft()
        if scripted is None:
            fixture: Fixture | None = exchange.fixture
            if fixture is None or fixture.reply is None:
                return None
            exchange.scripted = fixture.describe()
            return fixture.reply.intent_for(body)
        exchange.scripted = scripted.describe()
        return scripted.intent_for(body)

    def shape_reply(self, exchange: Exchange, reply: Reply) -> Reply:
        shaping: ScriptedFailure | None = exchange.shaping
        if shaping is not None and shaping.status == "filtered_completion":
            details = shaping.details
            category = details.get("category", "violence")
            reply = filter_reply(reply, category, details.get("severity", "medium"))
            exchange.filtered = True
        return reply

    def obfuscate(self, exchange: Exchange, body: Mapping[str, Any]) -> bool:
        # One rule for every endpoint and flavour: the request's stream_options decide, else
        # the fake's option (the real API, Azure included, pads by default: docs/azure.md).
        options = body.get("stream_options")
        asked = options.get("include_obfuscation") if isinstance(options, Mapping) else None
        return self.stream_obfuscation if asked is None else asked is True

    def cached_tokens(
        self,
        body: Mapping[str, Any],
        prompt_tokens: int,
        *,
        chat_body: Mapping[str, Any] | None = None,
    ) -> int:
        key = body.get("prompt_cache_key")
        read = body if chat_body is None else chat_body
        return self.prompt_cache.cached_tokens(
            prompt_tokens,
            lambda: chat_sequence(read, self._profile),
            key=key if isinstance(key, str) else None,
            extended=body.get("prompt_cache_retention") == "24h",
        )

    def store(self, kind: str) -> Store:
        return self.state.store(kind)

    def estimate_tokens(self, body: Any) -> int:
        return estimate_tokens(body, self._profile)

    # -----------------------------------------------------------------------------------------
    # The pipeline

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.handle(request)

    def blocks(self, request: HttpRequest) -> bool:
        """Whether ``request``'s route may run long (``Rule.blocking``: the Batch API)."""
        return routes_blocking(request.method, request.path)

    def handle(self, request: HttpRequest, *, loopback: bool = False) -> HttpResponse:
        """Answer ``request``; ``loopback`` is True when it came through the loopback server
        (the only way to reach loopback-only routes such as a control API)."""
        exchange = Exchange(
            request,
            new_request_id(),
            time.perf_counter(),
            self.clock.now(),
            request.headers.get(SESSION_HEADER) or None,
        )
        session = self.state.session(exchange.session)
        routed = route(request, loopback=loopback)
        if isinstance(routed, tuple):
            error, exchange.flavor = routed
            if self.cassette is not None:
                # A recording may hold paths the fake does not serve: the cassette answers.
                return self._from_cassette(exchange, session, None)
            return self._finish(exchange, session, Answer(self._refusal(exchange, error)))
        exchange.route = routed
        exchange.flavor = routed.flavor
        if routed.control:
            # The service's own API: guarded only when a key is configured, answered before
            # any cassette, and not traffic (the log it serves must not list itself).
            refused = None if self.api_key is None else self._authenticate(request, OPENAI)
            if refused is not None:
                return self._refusal(exchange, refused)
            control: PlainEndpoint = routed.endpoint  # type: ignore[assignment]
            return control.handle(self, exchange).response
        endpoint = routed.endpoint
        handle = getattr(endpoint, "handle", None)
        if routed.flavor.azure and routed.deployment is None and handle is None:
            # The body's "model" names the deployment; a body that does not parse is refused
            # by the JSON layer below, after auth.
            try:
                exchange.body = parse_json_body(request.body)
            except OpenAIError:
                exchange.body = None
            model = exchange.body.get("model") if isinstance(exchange.body, Mapping) else None
            exchange.flavor = Flavor(azure=True, deployment=model if isinstance(model, str) else "")
        if routed.auth:
            refused = self._authenticate(request, exchange.flavor)
            deployments = self.azure_deployments
            flavor = exchange.flavor
            if refused is None and flavor.azure and deployments is not None and handle is None:
                refused = (
                    None if flavor.deployment in deployments else azure_error("DeploymentNotFound")
                )
            if refused is not None:
                return self._finish(exchange, session, Answer(self._refusal(exchange, refused)))
        if handle is not None:
            if self.cassette is not None:
                return self._from_cassette(exchange, session, None)
            plain: PlainEndpoint = endpoint  # type: ignore[assignment]
            return self._finish(exchange, session, plain.handle(self, exchange))
        model_endpoint: ModelEndpoint = endpoint  # type: ignore[assignment]
        return self._model_request(model_endpoint, exchange, session)

    def _model_request(
        self, endpoint: ModelEndpoint, exchange: Exchange, session: Session
    ) -> HttpResponse:
        # A scripted reply answers before a cassette does: fake.reply() always fires.
        if self.cassette is not None and not session.replies:
            exchange.source = "cassette"
        try:
            body = exchange.body = parse_json_body(exchange.request.body)
            if self.fixtures is not None and not session.replies:
                assert exchange.route is not None
                path = exchange.request.path
                exchange.fixture = self.fixtures.match(exchange.route.endpoint, path, body)
                if exchange.fixture is not None:
                    exchange.source = "engine"  # a rule answers before the cassette
            # Once: the limiter, validation and the engine each remember what they derive
            # from the body by it (nothing changes a parsed body). The bytes it was parsed
            # from are such a key, and cost nothing to build.
            raw = exchange.request.body
            if type(raw) is bytes and len(raw) <= KEYED_BYTES:
                exchange.body_key = raw
            else:
                exchange.body_key = body_key(body)
            failure = self._next_failure(exchange, session, body)
            if failure is not None:
                return self._failure(exchange, session, body, failure)
            prompt_tokens = endpoint.validate(self, exchange, body)
        except OpenAIError as error:
            if exchange.source == "cassette":
                return self._from_cassette(exchange, session, error)
            spent = None if error.style == "gateway" else 0
            headers = self.headers(exchange, spent_tokens=spent)
            response = error_response(error, headers, flavor=exchange.flavor)
            return self._finish(exchange, session, Answer(response))
        exchange.prompt_tokens = prompt_tokens
        if exchange.source == "cassette":
            return self._from_cassette(exchange, session, None)
        assert prompt_tokens is not None  # only a replay leaves a request uncounted
        try:
            answer = endpoint.respond(self, exchange, body, prompt_tokens)
        except ScriptError as mistake:
            with self.state.lock:
                session.script_errors.append(mistake)
            answer = Answer(_script_error_response(mistake, exchange.request_id))
        return self._finish(exchange, session, answer)

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
        """One Chat Completions or Responses body through the core, without HTTP.

        For the Batch API: validation with the real errors, exact counting, the engine with
        the session's scripted replies (one aimed at ``custom_id`` first) and failures (an
        HTTP status; a transport fault waits for a direct request), the prompt cache, and
        the bill at ``price_factor`` of the model's price. Not rate limited (batches have
        their own queue), not logged as a request, and a Responses answer is not stored.
        Returns the status and the response object, or the error body.
        """
        from minidouble._endpoints._chat import CHAT
        from minidouble._endpoints._responses._handler import RESPONSES

        chosen: ModelEndpoint = CHAT if endpoint == "chat" else RESPONSES
        path = "/v1/chat/completions" if endpoint == "chat" else "/v1/responses"
        if azure_deployment is not None:
            path = "/openai/v1" + path[3:]
        request = HttpRequest("POST", "https://api.openai.com" + path, {}, b"")
        exchange = Exchange(
            request, new_request_id(), time.perf_counter(), self.clock.now(), session
        )
        exchange.flavor = Flavor() if azure_deployment is None else Flavor(True, azure_deployment)
        exchange.body, exchange.batch_line, exchange.custom_id = body, True, custom_id
        exchange.body_key = body_key(body)
        exchange.created = created
        state_session = self.state.session(session)
        failure = self._line_failure(state_session, custom_id)
        if failure is not None and not isinstance(failure.status, str):
            fault = scripted_fault(
                failure.status,
                request_id=exchange.request_id,
                profile=self.profile,
                limits=(self.limiter.requests_per_minute, self.limiter.tokens_per_minute),
                **failure.details,
            )
            error_body = fault.error.body if fault.error is not None else SERVER_ERROR_BODY
            return fault.status, error_body
        try:
            prompt_tokens = chosen.validate(self, exchange, body)
        except OpenAIError as error:
            return error.status, error.body
        assert prompt_tokens is not None  # only a replay leaves a request uncounted
        exchange.prompt_tokens = prompt_tokens
        try:
            answer = chosen.respond(self, exchange, dict(body), prompt_tokens)
        except ScriptError as mistake:
            with self.state.lock:
                state_session.script_errors.append(mistake)
            refused = _script_error_response(mistake, exchange.request_id)
            return refused.status, _json_or_none(refused.body)
        completion = answer.completion
        document = _json_or_none(completion) if isinstance(completion, bytes) else completion
        status = answer.response.status
        if status == 200 and isinstance(document, Mapping):
            completion_tokens = answer.completion_tokens
            if completion_tokens is None:
                completion_tokens = _billed_completion_tokens(document)
            self._bill_apart(
                state_session,
                body.get("model"),
                prompt_tokens,
                completion_tokens,
                answer.cached_tokens or 0,
                price_factor,
                logged=False,
            )
        return status, dict(document) if isinstance(document, Mapping) else document

    def _line_failure(self, session: Session, custom_id: str | None) -> ScriptedFailure | None:
        """The HTTP failure a batch line meets: one aimed at its custom_id, else the
        session's next queued or standing one. A fault that needs a connection or a stream
        cannot happen to a line: it is put back for the next direct request."""
        if custom_id is not None and session.aimed_failures:
            with self.state.lock:
                aimed = session.aimed_failures.pop(custom_id, None)
            if aimed is not None:
                return aimed
        failure = self._scripted_failure(session)
        if failure is not None and isinstance(failure.status, str):
            self._return_failure(session, failure)
            return None
        return failure

    def _bill_recorded_batches(self, session: Session, response: HttpResponse) -> None:
        """Bill a batch a cassette shows finished, once: its lines ran upstream when it was
        recorded, and its ``usage`` is what they cost, at the batch price (docs/batch.md)."""
        if response.status != 200 or response.stream is not None:
            return
        document = _json_or_none(response.body)
        if not isinstance(document, Mapping):
            return
        listed = document.get("data") if document.get("object") == "list" else [document]
        billed = self.store("cassette-batches")
        for batch in listed if isinstance(listed, list) else ():
            usage = batch.get("usage") if isinstance(batch, Mapping) else None
            if (
                not isinstance(usage, Mapping)
                or batch.get("object") != "batch"
                or batch.get("status") not in ("completed", "expired", "cancelled")
                or not isinstance(batch.get("id"), str)
                or billed.get(batch["id"]) is not None
            ):
                continue
            billed.put(batch["id"], True)
            details = usage.get("input_tokens_details")
            cached = details.get("cached_tokens", 0) if isinstance(details, Mapping) else 0
            counts = batch.get("request_counts")
            lines = counts.get("completed", 0) if isinstance(counts, Mapping) else 0
            self._bill_apart(
                session,
                batch.get("model"),
                int(usage.get("input_tokens", 0) or 0),
                int(usage.get("output_tokens", 0) or 0),
                int(cached or 0),
                self._profile.batch.price_factor,
                logged=False,
                lines=int(lines or 0),
            )

    def _bill_apart(
        self,
        session: Session,
        model: object,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int,
        price_factor: Decimal,
        *,
        logged: bool,
        lines: int = 1,
    ) -> None:
        """Bill tokens at their own price: a batch line (not in the log, ``logged=False``,
        at ``price_factor``), or a logged answer of a fine-tuned model."""
        key = (model if isinstance(model, str) else None, price_factor)
        prices = self._prices_apart.get(key)
        if prices is None:
            prices = self._profile.prices_for(key[0])
            if price_factor != 1:
                prices = prices.scaled(price_factor)
            if len(self._prices_apart) < 256:
                self._prices_apart[key] = prices
        with self.state.lock:
            counts = session.apart.get((prices, logged))
            if counts is None:
                counts = session.apart[(prices, logged)] = [0, 0, 0, 0]
            counts[0] += prompt_tokens
            counts[1] += completion_tokens
            counts[2] += cached_tokens
            counts[3] += 0 if logged else lines

    def _refusal(self, exchange: Exchange, error: OpenAIError) -> HttpResponse:
        """A refusal from in front of the model: OpenAI's gateway sends only a request id,
        Azure's its service headers (without rate limits)."""
        if not exchange.flavor.azure:
            return error_response(error, [("x-request-id", exchange.request_id)])
        headers = self.headers(exchange, spent_tokens=None)
        return error_response(error, headers, flavor=exchange.flavor)

    def _from_cassette(
        self, exchange: Exchange, session: Session, refusal: OpenAIError | None
    ) -> HttpResponse:
        """The cassette answers in place of the engine (after auth, faults and validation)."""
        assert self.cassette is not None

        def log(response: HttpResponse, how: Answered) -> RecordedRequest:
            record = self._log(exchange, session, Answer(response), cassette=how)
            if how != "missed" and "/batches" in exchange.request.path:
                self._bill_recorded_batches(session, response)
            return record

        return self.cassette.answer(
            exchange.request,
            body=exchange.body,
            refusal=refusal,
            prompt_tokens=exchange.prompt_tokens,
            log=log,
        )

    def _finish(
        self, exchange: Exchange, session: Session, answer: Answer, *, fault: str | None = None
    ) -> HttpResponse:
        self._log(exchange, session, answer, fault=fault)
        return answer.response

    def _log(
        self,
        exchange: Exchange,
        session: Session,
        answer: Answer,
        *,
        fault: str | None = None,
        cassette: Answered | None = None,
    ) -> RecordedRequest:
        """Shape, pace and log: the last steps of every request, written once."""
        response = answer.response
        scripted = exchange.scripted
        shaping: ScriptedFailure | None = exchange.shaping
        exchange.shaping = None
        if shaping is not None:
            kind = str(shaping.status)
            if kind == "filtered_completion":
                # Only the chat path renders a filtered reply (Azure filters chat only).
                applies = response.status == 200 and exchange.filtered
            else:
                applies = response.status == 200 and shape_response(response, kind, shaping.details)
            if applies:
                fault = None if kind == "filtered_completion" else kind
                scripted = "; ".join(filter(None, (scripted, shaping.describe())))
            else:
                # Spent on a request it cannot break (an error, a non-streamed answer for an
                # error event): it waits for the next answer it can.
                self._return_failure(session, shaping)
        completion = answer.completion
        completion_tokens = answer.completion_tokens
        # An endpoint's completion is nearly always its bytes: no Mapping check for those.
        is_document = type(completion) is not bytes and isinstance(completion, Mapping)
        if completion_tokens is None and is_document:
            assert isinstance(completion, Mapping)
            completion_tokens = _billed_completion_tokens(completion)
        if self.latency is not None and response.status == 200 and completion_tokens is not None:
            self.latency.pace(response, completion_tokens)
        # The log keeps bytes, not parsed trees (see _KeptCompact): every body here was parsed
        # from the request's bytes, and an unbroken answer's bytes are its completion.
        request = exchange.request
        logged_body = request.body if exchange.body is not None else None
        if cassette is not None and exchange.body is None:
            logged_body = _json_or_none(request.body)
        logged_completion: Any = completion
        if is_document and shaping is None and response.stream is None:
            logged_completion = response.body
        # Positional, in the order of RecordedRequest's fields: a dozen keywords cost more
        # than building the record.
        record = RecordedRequest(
            request.method,
            request.path,
            request.headers,
            exchange.prompt_tokens,
            response,
            logged_body,
            logged_completion,
            scripted,
            fault,
            exchange.received_at,
            cassette,
            completion_tokens,
            answer.cached_tokens,
        )
        with self.state.lock:
            session.requests.append(record)
        if _traffic.isEnabledFor(logging.INFO):
            _log_request(exchange, record)
        body = exchange.body
        if (
            response.status == 200
            and cassette is None
            and exchange.prompt_tokens is not None
            and completion_tokens is not None
            and (type(body) is dict or isinstance(body, Mapping))
            and self._profile.fine_tuned_pattern is not None
            and isinstance(body.get("model"), str)
            and self._profile.is_fine_tuned(body["model"])
        ):
            # A fine-tuned model's answer: in the log's totals, at the fine-tuned price.
            cached = answer.cached_tokens or 0
            self._bill_apart(
                session,
                body["model"],
                exchange.prompt_tokens,
                completion_tokens,
                cached,
                Decimal(1),
                logged=True,
            )
        return record

    def _authenticate(self, request: HttpRequest, flavor: Flavor) -> OpenAIError | None:
        key = None
        if flavor.azure:
            key = request.headers.get("api-key") or None
        if key is None:
            key = _credential(request.headers.get("authorization", ""))
        if key is None:
            return azure_error("401") if flavor.azure else missing_api_key()
        if self.api_key is not None and key != self.api_key:
            return azure_error("401") if flavor.azure else invalid_api_key(key)
        return None

    def _next_failure(
        self, exchange: Exchange, session: Session, body: Any
    ) -> ScriptedFailure | None:
        """The failure this request meets, in the real order: scripts, then rate limits.

        A fault that breaks the answer rather than replacing it (a cut stream...) is kept
        on the exchange for :meth:`_log` and None returned, so the request is answered
        first. The rate limiter charges the body's estimate (or refuses with a 429).
        """
        failure = self._scripted_failure(session)
        fixture: Fixture | None = exchange.fixture
        if failure is None and fixture is not None and fixture.fail is not None:
            failure = fixture.failure()
        if failure is not None and failure.status in SHAPING_FAULTS:
            exchange.shaping = failure
            failure = None
        if failure is None and body is not None:
            estimate = keyed_estimate(body, self._profile, exchange.body_key)
            outcome = self.limiter.charge(estimate)
            if isinstance(outcome, Rejection):
                return ScriptedFailure(429, None, rejection=outcome)
            # The headers tell the state right after this request's charge, however long
            # the answer then takes.
            exchange.limits = outcome
        return failure

    def _scripted_failure(self, session: Session) -> ScriptedFailure | None:
        if not session.failures and not session.standing:
            return None  # nothing scripted: the common case needs no lock
        with self.state.lock:
            if session.failures:
                failure = session.failures[0]
                assert failure.remaining is not None
                failure.remaining -= 1
                if failure.remaining == 0:
                    session.failures.popleft()
                return failure
            for standing in session.standing:
                standing.seen += 1
                assert standing.rng is not None and standing.probability is not None
                if standing.rng.random() < standing.probability:
                    standing.fired += 1
                    if standing.remaining is not None:
                        standing.remaining -= 1
                        if standing.remaining == 0:
                            session.standing.remove(standing)
                    return standing
            return None

    def _return_failure(self, session: Session, failure: ScriptedFailure) -> None:
        """Put back a failure drawn for a request it could not apply to."""
        if failure.origin is not None:
            return  # a fixture's: made for this request, the rule itself still stands
        with self.state.lock:
            if failure.probability is not None:
                failure.fired -= 1
                if failure.remaining is not None:
                    failure.remaining += 1
                    if failure not in session.standing:
                        session.standing.append(failure)
            elif session.failures and session.failures[0] is failure:
                assert failure.remaining is not None
                failure.remaining += 1
            else:
                failure.remaining = 1
                session.failures.appendleft(failure)

    def _failure(
        self, exchange: Exchange, session: Session, body: Any, failure: ScriptedFailure
    ) -> HttpResponse:
        description = None if failure.rejection is not None else failure.describe()
        request, flavor = exchange.request, exchange.flavor
        if isinstance(failure.status, str):
            return self._transport_failure(exchange, session, body, failure)
        estimate = estimate_tokens(body, self.profile)
        details = failure.details
        if failure.rejection is not None and flavor.azure:
            version = request.query.get("api-version", "v1")
            fault = azure_rate_limit(version, failure.rejection.retry_after or 60.0)
        elif failure.rejection is not None:
            fault = rate_limit_error(failure.rejection, self.profile)
        elif flavor.azure and failure.status == 429 and details.get("code") != "insufficient_quota":
            version = request.query.get("api-version", "v1")
            fault = azure_rate_limit(version, details.get("retry_after", 1.0))
        else:
            fault = scripted_fault(
                failure.status,
                request_id=exchange.request_id,
                requested_tokens=estimate,
                profile=self.profile,
                limits=(self.limiter.requests_per_minute, self.limiter.tokens_per_minute),
                **failure.details,
            )
            if fault.with_rate_limits and fault.status != 429:
                # Failures from behind the limiter were admitted (and charged) first.
                self.limiter.admit(estimate)
        limits = None
        if fault.with_rate_limits:
            limits = self.limiter.headers(fault.rejection)
            if fault.rejection is not None and failure.rejection is None:
                # A scripted 429 reports the bucket its message describes, not the real one.
                rejected = fault.rejection
                bucket = "requests" if rejected.kind == "requests" else "tokens"
                remaining = max(rejected.limit - rejected.used, 0)
                limits[f"x-ratelimit-remaining-{bucket}"] = str(remaining)
        elapsed = round((time.perf_counter() - exchange.started) * 1000)
        headers = api_headers(
            exchange.request_id, processing_ms=elapsed, rate_limits=limits, flavor=flavor
        )
        headers += fault.headers
        if fault.error is None:
            raw = fault.raw_body or b""
            response = json_response(fault.status, raw, fault.content_type or JSON, headers)
        else:
            response = error_response(fault.error, headers, flavor=flavor)
        exchange.scripted = description
        return self._finish(exchange, session, Answer(response))

    def _transport_failure(
        self, exchange: Exchange, session: Session, body: Any, failure: ScriptedFailure
    ) -> HttpResponse:
        """A fault that replaces the answer: a filtered prompt, or no answer at all."""
        self.limiter.admit(estimate_tokens(body, self.profile))
        kind = str(failure.status)
        exchange.scripted = failure.describe()
        if kind == "filtered_prompt":
            fault = filtered_prompt(
                failure.details.get("category", "violence"),
                failure.details.get("severity", "medium"),
            )
            headers = [*self.headers(exchange, spent_tokens=0), *fault.headers]
            response = json_response(400, fault.raw_body or b"", JSON, headers)
            return self._finish(exchange, session, Answer(response))
        self._finish(exchange, session, Answer(HttpResponse(0)), fault=kind)
        raise_transport_fault(kind, failure.details)


def _credential(authorization: str) -> str | None:
    """The key in an Authorization header: Bearer, or Basic with a blank user (as browsers do)."""
    if authorization[:7] == "Bearer ":
        # What SDKs send; the general reading below gives the same for it.
        return authorization[7:].strip() or None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic" and value:
        import base64
        import binascii

        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if user:
            return None
        return password or None
    return None


def _limit(name: str, value: Any) -> int | None:
    """A rate limit option, checked (strings are parsed where they enter: ``_options``)."""
    if value is None:
        return None
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if number is None or number < 1:
        raise ValueError(
            f"minidouble: {name}={value!r} is not a rate limit; expected a whole number >= 1 "
            "(the real tier-1 limits are 500 requests and 200000 tokens per minute)."
        )
    return number


def _billed_completion_tokens(completion: Mapping[str, Any]) -> int:
    usage = completion.get("usage") or {}
    return int(usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0)


def _script_error_response(mistake: ScriptError, request_id: str) -> HttpResponse:
    """The test's own mistake, sent so that no SDK retries it and the message is in plain view."""
    error = OpenAIError(
        400,
        {
            "error": {
                "message": str(mistake),
                "type": "minidouble_script_error",
                "param": None,
                "code": "minidouble_script_mismatch",
            }
        },
    )
    headers = [("x-request-id", request_id), ("x-should-retry", "false")]
    return error_response(error, headers)


def _json_or_none(raw: bytes) -> Any:
    import json

    try:
        return json.loads(raw)
    except ValueError:
        return None


def _log_request(exchange: Exchange, record: RecordedRequest) -> None:
    elapsed = (time.perf_counter() - exchange.started) * 1000
    status = record.fault or record.status
    _traffic.info(
        "minidouble: %s %s %s session=%s prompt_tokens=%s %.1fms",
        record.method,
        record.path,
        status,
        exchange.session or "-",
        "-" if record.prompt_tokens is None else record.prompt_tokens,
        elapsed,
    )
