"""The catalogue of failures the real service produces, with its real bodies and headers.

Authentication, routing and scripted ``fake.fail(...)`` errors all come from here so that a
failure looks the same however it is triggered. Azure OpenAI's differently shaped errors live
next to their OpenAI counterparts.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from minidouble._http import HttpResponse
from minidouble._model._errors import OpenAIError, invalid_request
from minidouble._model._gateway import invalid_api_key
from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._service._ratelimit import Rejection, go_duration, wait_millis
from minidouble._wire._writers import azure_filter_results

__all__ = [
    "FAULT_STATUSES",
    "Fault",
    "scripted_fault",
]


_HELP = "help center at help.openai.com"


def azure_rate_limit(api_version: str, retry_after: float) -> Fault:
    """Azure's own 429: the operation, the API version and the pricing tier, in prose."""
    seconds = max(1, math.ceil(retry_after))
    message = (
        f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        f"{api_version} have exceeded token rate limit of your current OpenAI S0 pricing tier. "
        f"Please retry after {seconds} seconds. Please go here: https://aka.ms/oai/quotaincrease "
        "if you would like to further increase the default rate limit."
    )
    error = OpenAIError(429, {"error": {"code": "429", "message": message}}, style="gateway")
    return Fault(429, error, [("retry-after", str(seconds))])


# ---------------------------------------------------------------------------------------------
# Scripted failures


@dataclass
class Fault:
    """A failure ready to send: status, the error, extra headers, and an optional raw body."""

    status: int
    error: OpenAIError | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Failures that do not come from OpenAI's application (a proxy's 502 page) are raw bytes.
    raw_body: bytes | None = None
    content_type: str | None = None
    with_rate_limits: bool = True
    # For a 429: the limiter state it reports (drives the x-ratelimit-* headers).
    rejection: Rejection | None = None


_CLOUDFLARE_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def _server_error(message: str) -> dict[str, Any]:
    return {"message": message, "type": "server_error", "param": None, "code": None}


_RATE_LIMITS_URL = "https://platform.openai.com/account/rate-limits"
# A scripted 429's advertised wait when the test names none: real token-limit waits are
# often this short ("Please try again in 20ms"), and a short one keeps retrying tests fast.
SCRIPTED_RETRY_AFTER = 0.02


def rate_limit_error(rejection: Rejection, profile: ModelProfile = GPT4O_MINI) -> Fault:
    """The 429 the real limiter sends for ``rejection``, with ``retry-after`` headers."""
    limits = profile.rate_limits
    where = f"for {limits.limited_model} in organization {limits.organization}"
    if rejection.kind == "too_large":
        message = (
            f"Request too large {where} on tokens per min (TPM): Limit {rejection.limit}, "
            f"Requested {rejection.requested}. The input or output tokens must be reduced in "
            f"order to run successfully. Visit {_RATE_LIMITS_URL} to learn more."
        )
        kind = "tokens"
    else:
        unit = "requests per min (RPM)" if rejection.kind == "requests" else "tokens per min (TPM)"
        wait = go_duration(rejection.retry_after or 0.0)
        message = (
            f"Rate limit reached {where} on {unit}: Limit {rejection.limit}, Used "
            f"{rejection.used}, Requested {rejection.requested}. Please try again in {wait}. "
            f"Visit {_RATE_LIMITS_URL} to learn more."
        )
        kind = rejection.kind
    error = {"message": message, "type": kind, "param": None, "code": "rate_limit_exceeded"}
    return Fault(
        429,
        OpenAIError(429, {"error": error}, style="gateway"),
        retry_after_headers(rejection.retry_after),
        rejection=rejection,
    )


def retry_after_headers(seconds: float | None) -> list[tuple[str, str]]:
    """``retry-after`` (whole seconds, rounded up) and ``retry-after-ms``, as on real 429s."""
    if seconds is None:
        return []
    return [
        ("retry-after", str(max(1, math.ceil(seconds)))),
        ("retry-after-ms", str(wait_millis(seconds))),
    ]


def scripted_rejection(
    kind: str, requested: int, wait: float, *, requests_per_minute: int, tokens_per_minute: int
) -> Rejection:
    """The limiter state a scripted 429 reports: full enough that ``wait`` is the cure."""
    if kind == "requests":
        return Rejection("requests", requests_per_minute, requests_per_minute, 1, wait)
    limit = tokens_per_minute
    if requested > limit:
        return Rejection("too_large", limit, 0, requested, None)
    used = limit - requested + math.ceil(wait * limit / 60)
    return Rejection("tokens", limit, min(max(used, 0), limit), requested, wait)


FAULT_STATUSES = (400, 401, 403, 404, 409, 429, 500, 502, 503)


def scripted_fault(
    status: int,
    *,
    request_id: str,
    requested_tokens: int = 0,
    profile: ModelProfile = GPT4O_MINI,
    limits: tuple[int, int] | None = None,
    message: str | None = None,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
) -> Fault:
    """The failure the real API sends for ``status``; keyword details override its fields.

    ``code="insufficient_quota"`` turns a 429 into the out-of-credit error, and
    ``type="requests"`` a token-limit 429 into a requests-limit one. ``limits`` are the
    account's (requests, tokens) per minute that a rate-limit message quotes.
    """
    extra = list((headers or {}).items())
    if status == 502:
        return Fault(
            502,
            None,
            extra,
            raw_body=_CLOUDFLARE_502,
            content_type="text/html",
            with_rate_limits=False,
        )
    gateway = True
    with_rate_limits = True
    rejection: Rejection | None = None
    if status == 400:
        error = {
            "message": "Invalid request.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
        gateway = False
    elif status == 401:
        key_error = invalid_api_key("sk-minidouble-scripted-key")
        error = dict(key_error.error)
        with_rate_limits = False
    elif status == 403:
        error = {
            "message": "Country, region, or territory not supported",
            "type": "request_forbidden",
            "param": None,
            "code": "unsupported_country_region_territory",
        }
        with_rate_limits = False
    elif status == 404:
        error = dict(
            invalid_request(
                "The model `gpt-4o-mini` does not exist or you do not have access to it.",
                code="model_not_found",
            ).error
        )
        with_rate_limits = False
    elif status == 409:
        error = {
            "message": "The request could not be completed due to a conflict with another "
            "request. Please retry.",
            "type": "invalid_request_error",
            "param": None,
            "code": "conflict",
        }
    elif status == 429:
        if code == "insufficient_quota":
            error = {
                "message": "You exceeded your current quota, please check your plan and billing "
                "details. For more information on this error, read the docs: "
                "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        else:
            kind = type if type in ("requests", "tokens") else "tokens"
            wait = SCRIPTED_RETRY_AFTER if retry_after is None else retry_after
            rpm, tpm = limits or (
                profile.rate_limits.requests_per_minute,
                profile.rate_limits.tokens_per_minute,
            )
            rejected = scripted_rejection(
                kind, requested_tokens, wait, requests_per_minute=rpm, tokens_per_minute=tpm
            )
            limited = rate_limit_error(rejected, profile)
            error = dict(limited.error.error) if limited.error is not None else {}
            extra = [*limited.headers, *extra]
            rejection = limited.rejection
    elif status == 503:
        error = _server_error(
            "That model is currently overloaded with other requests. You can retry your "
            f"request, or contact us through our {_HELP} if the error persists. (Please include "
            f"the request ID {request_id} in your message.)"
        )
    elif status >= 500:
        error = _server_error(
            "The server had an error processing your request. Sorry about that! You can retry "
            f"your request, or contact us through our {_HELP} if you keep seeing this error. "
            f"(Please include the request ID {request_id} in your email.)"
        )
    else:
        error = {
            "message": message or f"Request failed with status {status}.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    if retry_after is not None and rejection is None:
        # Real 5xx carry no retry-after; a test may add one to steer the client's wait.
        extra = [*retry_after_headers(retry_after), *extra]
    overrides = {"message": message, "type": type, "code": code, "param": param}
    for key, value in overrides.items():
        if value is not None and not (key == "type" and status == 429):
            error[key] = value
    body = {"error": {k: error[k] for k in ("message", "type", "param", "code")}}
    return Fault(
        status,
        OpenAIError(status, body, style="gateway" if gateway else "validator"),
        extra,
        with_rate_limits=with_rate_limits,
        rejection=rejection,
    )


# ---------------------------------------------------------------------------------------------
# Transport and stream faults
#
# The handler signals a dead connection with the built-in exceptions (the transports turn
# them into the client library's own: ``httpx.ReadTimeout``, ``httpcore.RemoteProtocolError``
# and so ``openai.APITimeoutError`` / ``APIConnectionError``), and a broken stream by the
# bytes it sends.


class SimulatedTimeout(TimeoutError):
    """The server never answers. In-process the client's own timeout fires at once; on a
    loopback socket the server stalls until the client gives up (at most ``stall`` s)."""

    def __init__(self, stall: float) -> None:
        super().__init__("timed out")
        self.stall = stall


class SimulatedReset(ConnectionResetError):
    """The server drops the connection before answering (TCP reset)."""

    def __init__(self) -> None:
        super().__init__(104, "Connection reset by peer")


class StreamCut(ConnectionError):
    """The server closes the connection in the middle of the body."""

    def __init__(self) -> None:
        # h11's wording, which is what httpx raises for a real cut.
        super().__init__(
            "peer closed connection without sending complete message body (incomplete chunked read)"
        )


# How long a loopback timeout stalls by default: longer than any test's client timeout
# should be, short enough that a forgotten timeout does not hang the suite for ten minutes.
DEFAULT_STALL = 10.0

# Each transport/stream fault and the details it takes.
TRANSPORT_FAULTS: dict[str, frozenset[str]] = {
    "timeout": frozenset({"stall"}),
    "connection_reset": frozenset(),
    "stream_cut": frozenset({"after_chunks"}),
    "stream_error": frozenset({"after_chunks", "message", "type", "code", "param"}),
    "malformed_chunk": frozenset({"after_chunks"}),
    "filtered_prompt": frozenset({"category", "severity"}),
    "filtered_completion": frozenset({"category", "severity"}),
}
# Faults that shape a successful answer rather than replace it.
SHAPING_FAULTS = frozenset({"stream_cut", "stream_error", "malformed_chunk", "filtered_completion"})

# The mid-stream error recorded from the real API (HTTP 200, then this event, then nothing).
_STREAM_ERROR = {
    "message": "The model produced invalid content. Consider modifying your prompt if you are "
    "seeing this error persistently.",
    "type": "model_error",
    "param": None,
    "code": None,
}


def raise_transport_fault(kind: str, details: Mapping[str, Any]) -> NoReturn:
    if kind == "timeout":
        raise SimulatedTimeout(float(details.get("stall", DEFAULT_STALL)))
    raise SimulatedReset()


def _split_point(count: int, after: Any) -> int:
    """Where a stream of ``count`` pieces breaks: after ``after`` pieces, else halfway."""
    if after is None:
        return max(1, count // 2)
    return min(int(after), max(count - 1, 0))


def _events(response: HttpResponse) -> list[bytes]:
    return list(response.stream) if response.stream is not None else []


def shape_response(response: HttpResponse, kind: str, details: Mapping[str, Any]) -> bool:
    """Break ``response`` in place the way ``kind`` says; False if it cannot apply here.

    A stream is cut, poisoned with an error event or given a malformed chunk after
    ``after_chunks`` events (default: half of them). A non-streamed body can be cut or
    malformed too; an error event only exists in a stream.
    """
    after = details.get("after_chunks")
    if response.stream is None:
        if kind == "stream_error":
            return False
        body = response.body
        half = body[: len(body) // 2]
        if kind == "stream_cut":
            response.headers = [(k, v) for k, v in response.headers if k != "content-length"]
            response.stream = _then_cut([half])
            response.body = b""
        else:
            response.body = half
        return True
    events = _events(response)
    split = _split_point(len(events), after)
    head, tail = events[:split], events[split:]
    if kind == "stream_cut":
        response.stream = _then_cut(head)
    elif kind == "stream_error":
        error = {key: details.get(key, default) for key, default in _STREAM_ERROR.items()}
        response.stream = [*head, _error_event(error, head)]
    else:
        broken = tail[0] if tail else b'data: {"id":"chatcmpl-0","object":"chat.completion.chunk"}'
        # Half of an event's JSON, as when a proxy splits and mangles a chunk.
        cut = broken.rstrip(b"\n")
        response.stream = [
            *head,
            cut[: max(len(b"data: ") + 1, len(cut) // 2)] + b"\n\n",
            *tail[1:],
        ]
    return True


def _error_event(error: Mapping[str, Any], head: Sequence[bytes]) -> bytes:
    """The error event in the stream's own dialect: Chat Completions' bare ``data:`` line,
    or the Responses API's typed ``event: error``."""
    if head and head[0].startswith(b"event:"):
        typed = {
            "type": "error",
            "code": error.get("code") or error.get("type"),
            "message": error.get("message"),
            "param": error.get("param"),
            "sequence_number": len(head),
        }
        return b"event: error\ndata: " + json.dumps(typed, separators=(",", ":")).encode() + b"\n\n"
    return b"data: " + json.dumps({"error": error}, separators=(",", ":")).encode() + b"\n\n"


def _then_cut(pieces: Sequence[bytes]) -> Iterator[bytes]:
    yield from pieces
    raise StreamCut()


# ---------------------------------------------------------------------------------------------
# Azure OpenAI content filtering

AZURE_FILTER_CATEGORIES = ("hate", "jailbreak", "self_harm", "sexual", "violence")
AZURE_SEVERITIES = ("safe", "low", "medium", "high")
_FILTER_DOCS = "https://go.microsoft.com/fwlink/?linkid=2198766"


def filtered_prompt(category: str, severity: str) -> Fault:
    """Azure's 400 for a prompt its content filter blocked (its own key order, compact)."""
    error = {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
        "content management policy. Please modify your prompt and retry. To learn more about "
        f"our content filtering policies please read our documentation: {_FILTER_DOCS}",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": azure_filter_results(category, severity, prompt=True),
        },
    }
    body = json.dumps({"error": error}, separators=(",", ":")).encode()
    return Fault(400, None, raw_body=body, content_type="application/json")


def check_filter_details(details: Mapping[str, Any]) -> None:
    category = details.get("category", "violence")
    severity = details.get("severity", "medium")
    if category not in AZURE_FILTER_CATEGORIES:
        raise ValueError(
            f"minidouble: category={category!r} is not one of Azure's content filter "
            f"categories {list(AZURE_FILTER_CATEGORIES)}."
        )
    if severity not in AZURE_SEVERITIES[1:]:
        raise ValueError(
            f"minidouble: severity={severity!r} cannot trigger a filter; use one of "
            f"{list(AZURE_SEVERITIES[1:])}."
        )


# ---------------------------------------------------------------------------------------------
# fake.fail(...) arguments

_HTTP_DETAILS = frozenset({"message", "type", "code", "param", "retry_after", "headers"})


def check_fail_arguments(
    status: Any, times: Any, probability: Any, details: Mapping[str, Any]
) -> None:
    """Refuse a ``fail(...)`` call the fake could not honour, naming the fix."""
    kinds = [*FAULT_STATUSES, *TRANSPORT_FAULTS]
    if isinstance(status, bool) or status not in kinds:
        raise ValueError(
            f"minidouble: fail() knows the statuses {list(FAULT_STATUSES)} and the faults "
            f"{list(TRANSPORT_FAULTS)}, got {status!r}."
        )
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"minidouble: fail(times=...) must be an int >= 1, got {times!r}.")
    if times is None and probability is None:
        raise ValueError(
            "minidouble: fail(times=None) fails every request forever, which only makes sense "
            "with a probability; give times=N, or probability=p for a standing failure."
        )
    if probability is not None and (
        isinstance(probability, bool)
        or not isinstance(probability, (int, float))
        or not 0 < probability <= 1
    ):
        raise ValueError(
            f"minidouble: fail(probability=...) must be a number in (0, 1], got {probability!r}."
        )
    allowed = (
        TRANSPORT_FAULTS.get(status, _HTTP_DETAILS) if isinstance(status, str) else (_HTTP_DETAILS)
    )
    unknown = sorted(set(details) - allowed)
    if unknown:
        raise TypeError(
            f"minidouble: fail({status!r}) got unknown details {unknown}; it accepts "
            f"{sorted(allowed) or 'none'}."
        )
    if status in ("filtered_prompt", "filtered_completion"):
        check_filter_details(details)
    after = details.get("after_chunks")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
        raise ValueError(f"minidouble: after_chunks must be an int >= 0, got {after!r}.")
    stall = details.get("stall")
    if stall is not None and (
        isinstance(stall, bool) or not isinstance(stall, (int, float)) or stall <= 0
    ):
        raise ValueError(f"minidouble: stall must be a number of seconds > 0, got {stall!r}.")


def filter_reply(reply: Any, category: str, severity: str) -> Any:
    """``reply`` as Azure returns it when its filter stops the output: the text so far
    (the first half), ``finish_reason: "content_filter"`` and the category's verdict."""
    from minidouble._model._tokenizer import encoding

    choices = []
    for choice in reply.choices:
        tokens = tuple(choice.tokens[: len(choice.tokens) // 2])
        content = choice.content
        if content is not None:
            content = encoding().decode_bytes(list(tokens)).decode("utf-8", "ignore")
        logprobs = None if choice.logprobs is None else choice.logprobs[: len(tokens)]
        choices.append(
            dataclasses.replace(
                choice,
                content=content,
                tokens=tokens,
                logprobs=logprobs,
                completion_tokens=len(tokens) if content is not None else choice.completion_tokens,
                finish_reason="content_filter",
                content_filter=(category, severity),
            )
        )
    return type(reply)(tuple(choices))
