"""The one request handler behind every transport: routing, auth, validation, replies.

``GPT4oMiniApp.handle`` takes a transport-neutral :class:`~minidouble._http.HttpRequest` and
answers as api.openai.com (or an Azure OpenAI deployment) would, in the order the real
service checks things (reference §2.1): route, authentication, JSON parsing, scripted
failures (where the rate limiter sits), model lookup and body validation, generation.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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
    FAULT_STATUSES,
    azure_error,
    azure_rate_limit,
    invalid_api_key,
    invalid_url,
    missing_api_key,
    model_not_found,
    scripted_fault,
)
from minidouble._http import HttpRequest, HttpResponse
from minidouble._profile import GPT4O_MINI, ModelProfile
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
    completion_body,
    completion_response,
    error_response,
    idle_rate_limits,
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
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        azure_deployments: Iterable[str] | None = None,
        stream_obfuscation: bool = True,
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
        self.profile = profile
        self.requests: list[RecordedRequest] = []
        # Scripted replies that did not fit the request they answered: the plugin fails the
        # test with these even if the code under test swallowed the HTTP error.
        self.script_errors: list[ScriptError] = []
        self._replies: deque[ScriptedReply] = deque()
        self._failures: deque[ScriptedFailure] = deque()
        self._lock = threading.Lock()

    # -----------------------------------------------------------------------------------------
    # Scripting

    def reply(
        self,
        text: str | None = None,
        *,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        json: Any = _UNSET,
        refusal: str | None = None,
    ) -> None:
        """Queue the next completion: text, tool calls, a structured output or a refusal."""
        scripted = make_reply(text, tool_calls, None if json is _UNSET else json,
                              json is not _UNSET, refusal)  # fmt: skip
        with self._lock:
            self._replies.append(scripted)

    def fail(self, status: int = 429, *, times: int = 1, **details: Any) -> None:
        """Make the next ``times`` chat requests fail as the real API fails with ``status``.

        ``details`` override the error body (``message``, ``type``, ``code``, ``param``) or
        add behaviour (``retry_after`` seconds, extra ``headers``);
        ``fail(429, code="insufficient_quota")`` is the out-of-credit error.
        """
        if status not in FAULT_STATUSES:
            raise ValueError(
                f"minidouble: fail() knows the statuses {list(FAULT_STATUSES)}, got {status!r}."
            )
        if not isinstance(times, int) or times < 1:
            raise ValueError(f"minidouble: fail(times=...) must be an int >= 1, got {times!r}.")
        allowed = {"message", "type", "code", "param", "retry_after", "headers"}
        unknown = sorted(set(details) - allowed)
        if unknown:
            raise TypeError(
                f"minidouble: fail() got unknown details {unknown}; it accepts {sorted(allowed)}."
            )
        with self._lock:
            self._failures.append(ScriptedFailure(status, times, dict(details)))

    def unused_scripts(self) -> list[str]:
        """Queued replies and failures no request consumed, described as they were scripted."""
        with self._lock:
            return [f.describe() for f in self._failures] + [r.describe() for r in self._replies]

    def reset(self) -> None:
        """Forget queued scripts, recorded requests and script errors."""
        with self._lock:
            self._replies.clear()
            self._failures.clear()
            self.requests.clear()
            self.script_errors.clear()

    # -----------------------------------------------------------------------------------------
    # Handling

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.handle(request)

    def handle(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = new_request_id()
        path = request.path
        azure = _AZURE_CHAT.match(path)
        if azure is not None or path.startswith("/openai/"):
            return self._azure(request, azure, request_id, started)
        if path == CHAT_PATH and request.method == "POST":
            return self._chat(request, request_id, started, OPENAI, CHAT_PATH)
        if path == RESPONSES_PATH and request.method == "POST":
            # Imported on first use: chat-only suites never pay for the Responses package.
            from minidouble._responses import handle_responses

            return handle_responses(self, request, request_id, started)
        if request.method == "GET" and (path == "/v1/models" or _MODEL_PATH.match(path)):
            return self._models(request, request_id, started)
        return self._finish(
            request, None, error_response(invalid_url(request.method, path), [
                ("x-request-id", request_id)
            ])
        )  # fmt: skip

    def _finish(
        self,
        request: HttpRequest,
        body: Any,
        response: HttpResponse,
        *,
        prompt_tokens: int | None = None,
        completion: dict[str, Any] | None = None,
        scripted: str | None = None,
    ) -> HttpResponse:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            body=body,
            prompt_tokens=prompt_tokens,
            response=response,
            completion=completion,
            scripted=scripted,
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
        """Service headers; ``spent_tokens`` None means a layer in front of the rate limiter."""
        limits = (
            None
            if spent_tokens is None
            else idle_rate_limits(self.profile, spent_tokens=spent_tokens)
        )
        elapsed = round((time.perf_counter() - started) * 1000)
        return api_headers(request_id, processing_ms=elapsed, rate_limits=limits, flavor=flavor)

    def _authenticate(self, request: HttpRequest, flavor: Flavor) -> OpenAIError | None:
        key = None
        if flavor.azure:
            key = request.headers.get("api-key") or None
        authorization = request.headers.get("authorization", "")
        if key is None and authorization[:7].lower() == "bearer ":
            key = authorization[7:].strip() or None
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
            failure = self._next_failure()
            if failure is not None:
                return self._failure(request, body, failure, request_id, started, flavor)
            prompt_tokens = check_request(body, path=path, profile=self.profile)
        except OpenAIError as error:
            spent = None if error.style == "gateway" else 0
            headers = self._headers(request_id, started, flavor, spent_tokens=spent)
            return self._finish(request, body, error_response(error, headers, flavor=flavor))
        return self._complete(request, body, prompt_tokens, request_id, started, flavor)

    def _next_failure(self) -> ScriptedFailure | None:
        with self._lock:
            if not self._failures:
                return None
            failure = self._failures[0]
            failure.remaining -= 1
            if failure.remaining == 0:
                self._failures.popleft()
            return failure

    def _failure(
        self,
        request: HttpRequest,
        body: Any,
        failure: ScriptedFailure,
        request_id: str,
        started: float,
        flavor: Flavor,
    ) -> HttpResponse:
        requested = 0
        if isinstance(body, Mapping):
            requested = completion_limit(body, 0, self.profile)
        details = failure.details
        if flavor.azure and failure.status == 429 and details.get("code") != "insufficient_quota":
            version = request.query.get("api-version", "v1")
            fault = azure_rate_limit(version, details.get("retry_after", 1.0))
        else:
            fault = scripted_fault(
                failure.status,
                request_id=request_id,
                requested_tokens=requested,
                profile=self.profile,
                **details,
            )
        spent = 0 if fault.with_rate_limits else None
        headers = self._headers(request_id, started, flavor, spent_tokens=spent)
        if fault.status == 429 and fault.with_rate_limits:
            headers = [
                (k, "0") if k in ("x-ratelimit-remaining-tokens",) else (k, v) for k, v in headers
            ]
        headers += fault.headers
        description = failure.describe()
        if fault.error is None:
            raw = fault.raw_body or b""
            response = json_response(fault.status, raw, fault.content_type or JSON, headers)
        else:
            response = error_response(fault.error, headers, flavor=flavor)
        return self._finish(request, body, response, scripted=description)

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
                    profile=self.profile,
                    flavor=flavor,
                    service_tier=tier,
                )
            )
            response = HttpResponse(200, [("content-type", EVENT_STREAM), *headers], b"", events)
            completion = completion_body(
                reply,
                completion_id=new_completion_id(),
                created=int(time.time()),
                prompt_tokens=prompt_tokens,
                profile=self.profile,
                flavor=flavor,
                service_tier=tier,
            )
        else:
            response, completion = completion_response(
                reply,
                prompt_tokens=prompt_tokens,
                headers=headers,
                profile=self.profile,
                flavor=flavor,
                service_tier=tier,
            )
        return self._finish(
            request,
            body,
            response,
            prompt_tokens=prompt_tokens,
            completion=completion,
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
