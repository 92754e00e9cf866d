"""The one request handler behind every transport: routing, auth, validation, replies.

``GPT4oMiniApp.handle`` takes a transport-neutral :class:`~minidouble._http.HttpRequest` and
answers as api.openai.com (or an Azure OpenAI deployment) would, in the order the real
service checks things (reference §2.1): route, authentication, JSON parsing, scripted
failures (where the rate limiter sits), model lookup and body validation, generation.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from minidouble._batch import is_batch_path
from minidouble._budget import Budget, Usage, usage_of, whole_number
from minidouble._engine import (
    Reply,
    assemble,
    choice_count,
    completion_limit,
    default_intent,
    render,
    request_digest,
    rng_for,
)
from minidouble._errors import OpenAIError
from minidouble._faults import (
    SHAPING_FAULTS,
    azure_error,
    azure_rate_limit,
    check_fail_arguments,
    filter_reply,
    filtered_prompt,
    invalid_api_key,
    invalid_url,
    missing_api_key,
    model_not_found,
    raise_transport_fault,
    rate_limit_error,
    scripted_fault,
    shape_response,
)
from minidouble._http import HttpRequest, HttpResponse
from minidouble._latency import LatencyModel
from minidouble._profile import GPT4O_MINI, ModelProfile
from minidouble._ratelimit import Clock, RateLimiter, Rejection, estimate_tokens
from minidouble._resilience import ResilienceReport
from minidouble._script import (
    RecordedRequest,
    ScriptedFailure,
    ScriptedReply,
    ScriptError,
    make_reply,
)
from minidouble._validate import check_request, parse_json_body
from minidouble._wire import (
    EVENT_STREAM,
    JSON,
    OPENAI,
    Flavor,
    api_headers,
    completion_bytes,
    error_response,
    json_response,
    new_completion_id,
    new_request_id,
    pretty,
    served_tier,
    stream_events,
)

__all__ = ["GPT4oMiniApp"]

CHAT_PATH = "/v1/chat/completions"
RESPONSES_PATH = "/v1/responses"
_AZURE_CHAT = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")
# Azure's newer v1 API: no api-version, and the body's "model" names the deployment.
_AZURE_V1_CHAT = "/openai/v1/chat/completions"
# Azure's Responses API: the dated path needs ?api-version=, the v1 path does not.
_AZURE_RESPONSES = ("/openai/responses", "/openai/v1/responses")
_MODEL_PATH = re.compile(r"^/v1/models/([^/]+)$")
_UNSET: Any = object()


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
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        azure_deployments: Iterable[str] | None = None,
        stream_obfuscation: bool = True,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        clock: Clock | None = None,
        latency: str = "instant",
        latency_speedup: float = 1.0,
        budget_usd: float | str | Decimal | None = None,
        budget_tokens: int | None = None,
        profile: ModelProfile = GPT4O_MINI,
        batch_timing: str | Mapping[str, float] | None = None,
    ) -> None:
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise TypeError(
                f"minidouble: api_key must be a non-empty str (the one key the fake accepts), "
                f"got {api_key!r}. Leave it out to accept any key."
            )
        self.api_key = api_key
        self.azure_deployments = None if azure_deployments is None else frozenset(azure_deployments)
        self.stream_obfuscation = stream_obfuscation
        self.profile = profile
        self.requests: list[RecordedRequest] = []
        # Scripted replies that did not fit the request they answered: the plugin fails the
        # test with these even if the code under test swallowed the HTTP error.
        self.script_errors: list[ScriptError] = []
        self._replies: deque[ScriptedReply] = deque()
        self._failures: deque[ScriptedFailure] = deque()
        self._standing: list[ScriptedFailure] = []
        self._lock = threading.Lock()
        self.limiter = RateLimiter(
            requests_per_minute=_limit("requests_per_minute", requests_per_minute)
            or profile.rate_limits.requests_per_minute,
            tokens_per_minute=_limit("tokens_per_minute", tokens_per_minute)
            or profile.rate_limits.tokens_per_minute,
            enforce=requests_per_minute is not None or tokens_per_minute is not None,
            clock=time.monotonic if clock is None else clock,
            profile=profile,
        )
        self.latency = LatencyModel.from_options(latency, latency_speedup, profile)
        self.budget = Budget.from_options(budget_usd, budget_tokens)
        # The request this thread is handling: when it arrived, and its shaping fault (cut
        # stream, filtered completion...), drawn before validation and applied to the answer.
        self._current = threading.local()
        # TEMPORARY wiring of the Batch API (docs/batch.md) until the router mounts it.
        self._batch_options = (clock, batch_timing)
        self._new_batch_state()
        # Answers of fine-tuned models: tokens at the fine-tuned prices (see usage()).
        self._fine_tuned = Usage()

    def _new_batch_state(self) -> None:
        from minidouble._batch import BatchState
        from minidouble._batch._app_glue import AimedScripts

        clock, timing = self._batch_options
        self.batch_state = BatchState(
            self.profile,
            clock=clock,
            timing=timing,
            azure_deployments=self.azure_deployments,
        )
        self._aimed = AimedScripts()

    def bill_apart(self, profile: ModelProfile, prompt_tokens: int, completion_tokens: int) -> None:
        """Note a direct answer priced apart from ``self.profile`` (a fine-tuned model)."""
        cost = profile.prices.cost(prompt_tokens, completion_tokens)
        noted = Usage(
            apart_prompt_tokens=prompt_tokens,
            apart_completion_tokens=completion_tokens,
            apart_cost=cost,
        )
        with self._lock:
            self._fine_tuned += noted

    # -----------------------------------------------------------------------------------------
    # Scripting

    def reply(
        self,
        text: str | None = None,
        *,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        json: Any = _UNSET,
        refusal: str | None = None,
        custom_id: str | None = None,
    ) -> None:
        """Queue the next completion: text, tool calls, a structured output or a refusal.

        ``custom_id=`` aims it at the batch line with that id instead of the queue."""
        has_json = json is not _UNSET
        scripted = make_reply(text, tool_calls, json if has_json else None, has_json, refusal)
        with self._lock:
            if custom_id is not None:
                self._aimed.replies[custom_id] = scripted
            else:
                self._replies.append(scripted)

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
        """
        check_fail_arguments(status, times, probability, details)
        if custom_id is not None and (isinstance(status, str) or probability is not None):
            raise TypeError(
                f"minidouble: fail(custom_id={custom_id!r}) aims one HTTP failure at one batch "
                f"line, got status={status!r}, probability={probability!r}. A batch line can "
                "only fail with an HTTP status (e.g. fail(500, custom_id=...)); transport "
                "faults and probabilities apply to direct requests."
            )
        failure = ScriptedFailure(status, times, dict(details))
        with self._lock:
            if custom_id is not None:  # aimed at one batch line (an HTTP status only)
                self._aimed.failures[custom_id] = failure
            elif probability is None:
                self._failures.append(failure)
            else:
                failure.probability = float(probability)
                failure.seed = seed
                failure.rng = random.Random(seed)
                self._standing.append(failure)

    def unused_scripts(self) -> list[str]:
        """Queued replies and failures no request consumed, described as they were scripted."""
        with self._lock:
            # A standing failure no request ever reached tested nothing; one that was
            # reached and happened not to fire is the luck of its draw.
            idle = [f.describe() for f in self._standing if f.seen == 0]
            return (
                [f.describe() for f in self._failures]
                + idle
                + [r.describe() for r in self._replies]
                + self._aimed.unused()
            )

    def reset(self) -> None:
        """Forget queued scripts, recorded requests and script errors."""
        with self._lock:
            self._replies.clear()
            self._failures.clear()
            self._standing.clear()
            self.requests.clear()
            self.script_errors.clear()
            self._new_batch_state()
            self._fine_tuned = Usage()

    def usage(self) -> Usage:
        """Requests received so far and the tokens billed for them."""
        with self._lock:
            direct = usage_of(list(self.requests))
        state = self.batch_state
        with state.lock:
            lines, prompt, completion = state.lines_billed()
            cost = state.cost()
        batch = Usage(
            0,
            prompt,
            completion,
            batch_lines=lines,
            apart_prompt_tokens=prompt,
            apart_completion_tokens=completion,
            apart_cost=cost,
        )
        return direct + batch + self._fine_tuned

    def budget_overruns(self) -> list[str]:
        """A sentence per budget (``budget_usd``, ``budget_tokens``) the requests exceeded."""
        if not self.budget.limits:
            return []  # nothing to exceed: the log need not be totalled
        return self.budget.overruns(self.usage(), self.profile)

    def resilience(self) -> ResilienceReport:
        """How the client coped with the failures it met (see ``ResilienceReport``)."""
        with self._lock:
            recorded = list(self.requests)
        return ResilienceReport.of(recorded)

    # -----------------------------------------------------------------------------------------
    # Handling

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.handle(request)

    def handle(self, request: HttpRequest) -> HttpResponse:
        self._current.failure = None
        self._current.filtered = False
        self._current.limits = None
        self._current.received_at = time.monotonic()
        started = time.perf_counter()
        request_id = new_request_id()
        path = request.path
        if is_batch_path(path):
            return self._batch_api(request, request_id)
        if path.startswith("/openai/"):  # every Azure path, and only those
            return self._azure(request, _AZURE_CHAT.match(path), request_id, started)
        if path == CHAT_PATH and request.method == "POST":
            return self._chat(request, request_id, started, OPENAI, CHAT_PATH)
        if path == RESPONSES_PATH and request.method == "POST":
            # Imported on first use: chat-only suites never pay for the Responses package.
            from minidouble._responses import handle_responses

            return handle_responses(self, request, request_id, started)
        if path.startswith(RESPONSES_PATH + "/") and request.method in ("GET", "DELETE"):
            from minidouble._responses import handle_stored_response

            return handle_stored_response(self, request, request_id, started)
        if request.method == "GET" and (path == "/v1/models" or _MODEL_PATH.match(path)):
            return self._models(request, request_id, started)
        not_found = error_response(
            invalid_url(request.method, path), [("x-request-id", request_id)]
        )
        return self._finish(request, None, not_found)

    def _batch_api(self, request: HttpRequest, request_id: str) -> HttpResponse:
        """TEMPORARY: Files and Batches (minidouble._batch) until the router mounts them."""
        from minidouble._batch import handle
        from minidouble._batch._app_glue import app_line_runner

        azure = request.path.startswith("/openai/")
        refused = self._authenticate(request, Flavor(azure=True) if azure else OPENAI)
        if refused is not None:
            return self._finish(
                request, None, error_response(refused, [("x-request-id", request_id)])
            )
        run = app_line_runner(self, self._aimed, azure=azure)
        response = handle(request, self.batch_state, run)
        assert response is not None  # is_batch_path said so
        return self._finish(request, None, response)

    def _finish(
        self,
        request: HttpRequest,
        body: Any,
        response: HttpResponse,
        *,
        prompt_tokens: int | None = None,
        completion: dict[str, Any] | bytes | None = None,
        completion_tokens: int | None = None,
        scripted: str | None = None,
        fault: str | None = None,
    ) -> HttpResponse:
        shaping: ScriptedFailure | None = getattr(self._current, "failure", None)
        self._current.failure = None
        if shaping is not None:
            kind = str(shaping.status)
            if kind == "filtered_completion":
                # Only the chat path renders a filtered reply (Azure filters chat only).
                applies = response.status == 200 and getattr(self._current, "filtered", False)
            else:
                applies = response.status == 200 and shape_response(response, kind, shaping.details)
            if applies:
                fault = None if kind == "filtered_completion" else kind
                scripted = "; ".join(filter(None, (scripted, shaping.describe())))
            else:
                # Spent on a request it cannot break (an error, a non-streamed answer for an
                # error event): it waits for the next answer it can.
                self._return_failure(shaping)
        if completion_tokens is None and isinstance(completion, dict):
            completion_tokens = _billed_completion_tokens(completion)
        if self.latency is not None and response.status == 200 and completion_tokens is not None:
            self.latency.pace(response, completion_tokens)
        # The log keeps bytes, not parsed trees (see _KeptCompact): every body here was parsed
        # from the request's bytes, and an unbroken answer's bytes are its completion.
        logged_body = body if body is None else request.body
        logged_completion: Any = completion
        if type(completion) is dict and shaping is None and response.stream is None:
            logged_completion = response.body
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=request.headers,
            body=logged_body,
            prompt_tokens=prompt_tokens,
            response=response,
            completion=logged_completion,
            scripted=scripted,
            fault=fault,
            received_at=getattr(self._current, "received_at", None) or time.monotonic(),
            _completion_tokens=completion_tokens,
        )
        with self._lock:
            self.requests.append(record)
        return response

    def _headers(
        self,
        request_id: str,
        started: float,
        flavor: Flavor,
        *,
        spent_tokens: int | None,
    ) -> list[tuple[str, str]]:
        """Service headers; ``spent_tokens`` None means a layer in front of the rate limiter.

        Behind it, the ``x-ratelimit-*`` values are the limiter's buckets, which were charged
        the request's estimate when it was admitted (the exact count no longer matters).
        """
        limits = None
        if spent_tokens is not None:
            limits = getattr(self._current, "limits", None) or self.limiter.headers()
        elapsed = round((time.perf_counter() - started) * 1000)
        return api_headers(request_id, processing_ms=elapsed, rate_limits=limits, flavor=flavor)

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

    def _models(self, request: HttpRequest, request_id: str, started: float) -> HttpResponse:
        refused = self._authenticate(request, OPENAI)
        if refused is not None:
            return self._finish(
                request, None, error_response(refused, [("x-request-id", request_id)])
            )
        listed = [
            {"id": model_id, "object": "model", "created": created, "owned_by": owner}
            for model_id, created, owner in self.profile.listed_models
        ]
        match = _MODEL_PATH.match(request.path)
        if match is None:
            document: dict[str, Any] = {"object": "list", "data": listed}
        else:
            wanted = match.group(1)
            found = [m for m in listed if m["id"] == wanted]
            if not found:
                headers = [("x-request-id", request_id)]
                return self._finish(request, None, error_response(model_not_found(wanted), headers))
            document = found[0]
        # Model listings come from behind the gateway but are not rate limited.
        elapsed = round((time.perf_counter() - started) * 1000)
        headers = api_headers(request_id, processing_ms=elapsed, rate_limits={})
        return self._finish(request, None, json_response(200, pretty(document), JSON, headers))

    def _azure(
        self,
        request: HttpRequest,
        match: re.Match[str] | None,
        request_id: str,
        started: float,
    ) -> HttpResponse:
        if request.path == _AZURE_V1_CHAT and request.method == "POST":
            return self._azure_deployment(request, "", request_id, started)
        if request.path in _AZURE_RESPONSES and request.method == "POST":
            from minidouble._responses import handle_azure_responses

            return handle_azure_responses(self, request, request_id, started)
        if match is None or request.method != "POST" or "api-version" not in request.query:
            flavor = Flavor(azure=True)
            headers = self._headers(request_id, started, flavor, spent_tokens=None)
            return self._finish(
                request, None, error_response(azure_error("404"), headers, flavor=flavor)
            )
        return self._azure_deployment(request, match.group(1), request_id, started)

    def _azure_deployment(
        self, request: HttpRequest, deployment: str, request_id: str, started: float
    ) -> HttpResponse:
        body: Any = None
        if not deployment:
            # The v1 path names the deployment in the body; a body that does not parse is
            # refused by the JSON layer below.
            try:
                body = parse_json_body(request.body)
            except OpenAIError:
                body = None
            model = body.get("model") if isinstance(body, Mapping) else None
            deployment = model if isinstance(model, str) else ""
        flavor = Flavor(azure=True, deployment=deployment)
        refused = self._authenticate(request, flavor)
        if refused is None and (
            self.azure_deployments is not None and deployment not in self.azure_deployments
        ):
            refused = azure_error("DeploymentNotFound")
        if refused is not None:
            headers = self._headers(request_id, started, flavor, spent_tokens=None)
            return self._finish(request, body, error_response(refused, headers, flavor=flavor))
        return self._chat(request, request_id, started, flavor, request.path)

    def _chat(
        self,
        request: HttpRequest,
        request_id: str,
        started: float,
        flavor: Flavor,
        path: str,
    ) -> HttpResponse:
        if not flavor.azure:
            refused = self._authenticate(request, flavor)
            if refused is not None:
                return self._finish(
                    request, None, error_response(refused, [("x-request-id", request_id)])
                )
        body: Any = None
        try:
            body = parse_json_body(request.body)
            failure = self._next_failure(body)
            if failure is not None:
                return self._failure(request, body, failure, request_id, started, flavor)
            prompt_tokens = check_request(body, path=path, profile=self.profile)
        except OpenAIError as error:
            spent = None if error.style == "gateway" else 0
            headers = self._headers(request_id, started, flavor, spent_tokens=spent)
            return self._finish(request, body, error_response(error, headers, flavor=flavor))
        return self._complete(request, body, prompt_tokens, request_id, started, flavor)

    def _next_failure(self, body: Any = None) -> ScriptedFailure | None:
        """The failure this request meets, in the real order: scripts, then rate limits.

        A fault that breaks the answer rather than replacing it (a cut stream...) is kept
        for :meth:`_finish` and None returned, so the request is answered first. Given the
        parsed ``body``, the rate limiter charges its estimate (or refuses with a 429).
        """
        failure = self._scripted_failure()
        if failure is not None and failure.status in SHAPING_FAULTS:
            self._current.failure = failure
            failure = None
        if failure is None and body is not None:
            outcome = self.limiter.charge(estimate_tokens(body, self.profile))
            if isinstance(outcome, Rejection):
                return ScriptedFailure(429, None, rejection=outcome)
            # The headers tell the state right after this request's charge, however long
            # the answer then takes.
            self._current.limits = outcome
        return failure

    def _scripted_failure(self) -> ScriptedFailure | None:
        if not self._failures and not self._standing:
            return None  # nothing scripted: the common case needs no lock
        with self._lock:
            if self._failures:
                failure = self._failures[0]
                assert failure.remaining is not None
                failure.remaining -= 1
                if failure.remaining == 0:
                    self._failures.popleft()
                return failure
            for standing in self._standing:
                standing.seen += 1
                assert standing.rng is not None and standing.probability is not None
                if standing.rng.random() < standing.probability:
                    standing.fired += 1
                    if standing.remaining is not None:
                        standing.remaining -= 1
                        if standing.remaining == 0:
                            self._standing.remove(standing)
                    return standing
            return None

    def _return_failure(self, failure: ScriptedFailure) -> None:
        """Put back a failure drawn for a request it could not apply to."""
        with self._lock:
            if failure.probability is not None:
                failure.fired -= 1
                if failure.remaining is not None:
                    failure.remaining += 1
                    if failure not in self._standing:
                        self._standing.append(failure)
            elif self._failures and self._failures[0] is failure:
                assert failure.remaining is not None
                failure.remaining += 1
            else:
                failure.remaining = 1
                self._failures.appendleft(failure)

    def _failure(
        self,
        request: HttpRequest,
        body: Any,
        failure: ScriptedFailure,
        request_id: str,
        started: float,
        flavor: Flavor,
    ) -> HttpResponse:
        description = None if failure.rejection is not None else failure.describe()
        if isinstance(failure.status, str):
            return self._transport_failure(request, body, failure, request_id, started, flavor)
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
                request_id=request_id,
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
        elapsed = round((time.perf_counter() - started) * 1000)
        headers = api_headers(request_id, processing_ms=elapsed, rate_limits=limits, flavor=flavor)
        headers += fault.headers
        if fault.error is None:
            raw = fault.raw_body or b""
            response = json_response(fault.status, raw, fault.content_type or JSON, headers)
        else:
            response = error_response(fault.error, headers, flavor=flavor)
        return self._finish(request, body, response, scripted=description)

    def _transport_failure(
        self,
        request: HttpRequest,
        body: Any,
        failure: ScriptedFailure,
        request_id: str,
        started: float,
        flavor: Flavor,
    ) -> HttpResponse:
        """A fault that replaces the answer: a filtered prompt, or no answer at all."""
        self.limiter.admit(estimate_tokens(body, self.profile))
        kind = str(failure.status)
        if kind == "filtered_prompt":
            fault = filtered_prompt(
                failure.details.get("category", "violence"),
                failure.details.get("severity", "medium"),
            )
            headers = [
                *self._headers(request_id, started, flavor, spent_tokens=0),
                *fault.headers,
            ]
            response = json_response(400, fault.raw_body or b"", JSON, headers)
            return self._finish(request, body, response, scripted=failure.describe())
        self._finish(request, body, HttpResponse(0), scripted=failure.describe(), fault=kind)
        raise_transport_fault(kind, failure.details)

    def _complete(
        self,
        request: HttpRequest,
        body: dict[str, Any],
        prompt_tokens: int,
        request_id: str,
        started: float,
        flavor: Flavor,
    ) -> HttpResponse:
        with self._lock:
            scripted = self._replies.popleft() if self._replies else None
        try:
            reply = self._generate(body, prompt_tokens, scripted)
            shaping: ScriptedFailure | None = getattr(self._current, "failure", None)
            if shaping is not None and shaping.status == "filtered_completion":
                details = shaping.details
                category = details.get("category", "violence")
                reply = filter_reply(reply, category, details.get("severity", "medium"))
                self._current.filtered = True
        except ScriptError as mistake:
            self.script_errors.append(mistake)
            return self._finish(
                request,
                body,
                _script_error_response(mistake, request_id),
                prompt_tokens=prompt_tokens,
                scripted=scripted.describe() if scripted else None,
            )
        spent = prompt_tokens + completion_limit(body, prompt_tokens, self.profile)
        headers = self._headers(request_id, started, flavor, spent_tokens=spent)
        description = scripted.describe() if scripted else None
        tier = served_tier(body)
        # A fine-tuned model answers under its own id.
        profile = self.profile.for_model(body.get("model"))
        completion_id, created = new_completion_id(), int(time.time())
        # The log keeps the served bytes as the completion (for a stream, those of the
        # equivalent chat.completion): it reads them only if someone asks.
        raw = completion_bytes(
            reply,
            completion_id=completion_id,
            created=created,
            prompt_tokens=prompt_tokens,
            profile=profile,
            flavor=flavor,
            service_tier=tier,
        )
        if profile is not self.profile:
            self.bill_apart(profile, prompt_tokens, reply.completion_tokens)
        if body.get("stream") is True:
            options = body.get("stream_options")
            options = options if isinstance(options, Mapping) else {}
            obfuscate = options.get("include_obfuscation")
            events = list(
                stream_events(
                    reply,
                    prompt_tokens=prompt_tokens,
                    include_usage=options.get("include_usage") is True,
                    obfuscate=self.stream_obfuscation if obfuscate is None else obfuscate is True,
                    profile=profile,
                    flavor=flavor,
                    service_tier=tier,
                    completion_id=completion_id,
                    created=created,
                )
            )
            response = HttpResponse(200, [("content-type", EVENT_STREAM), *headers], b"", events)
        else:
            response = json_response(200, raw, JSON, headers)
        return self._finish(
            request,
            body,
            response,
            prompt_tokens=prompt_tokens,
            completion=raw,
            completion_tokens=reply.completion_tokens,
            scripted=description,
        )

    def _generate(
        self, body: dict[str, Any], prompt_tokens: int, scripted: ScriptedReply | None
    ) -> Reply:
        intent = scripted.intent_for(body) if scripted is not None else None
        choices = []
        digest = request_digest(body)
        for index in range(choice_count(body)):
            rng = rng_for(digest, index)
            chosen = intent if intent is not None else default_intent(body, rng)
            choices.append(
                render(chosen, body, prompt_tokens=prompt_tokens, rng=rng, profile=self.profile)
            )
        return assemble(choices, body)


def _credential(authorization: str) -> str | None:
    """The key in an Authorization header: Bearer, or Basic with a blank user (as browsers do)."""
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
    """A rate limit option as an int (the command line gives strings), checked."""
    if value is None:
        return None
    number = whole_number(value)
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
