"""What a test tells the fake to say next, and what the fake saw.

Scripted replies are checked against the request they answer: a test that scripts a call to a
tool the code under test never offered has a bug, and hearing about it as a clear
``minidouble:`` error beats a green test that proves nothing.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from minidouble._engine._replies import (
    Intent,
    ToolCallIntent,
    compact_json,
    forced_tool,
    offered_tools,
    response_schema,
    tool_mode,
    uses_legacy_functions,
    wants_json_object,
)
from minidouble._engine._schema_values import first_violation
from minidouble._http import HttpResponse, RawHeaders
from minidouble._service._ratelimit import Rejection

__all__ = [
    "RecordedRequest",
    "ScriptError",
    "ScriptedFailure",
    "ScriptedReply",
    "make_reply",
]


class ScriptError(Exception):
    """A test scripted something the request it answered cannot receive."""


@dataclass(frozen=True)
class ScriptedReply:
    """One queued ``fake.reply(...)``: exactly one of text, tool calls, json or refusal."""

    text: str | None = None
    tool_calls: tuple[tuple[str, Any], ...] = ()
    json_value: Any = None
    has_json: bool = False
    refusal: str | None = None

    def describe(self) -> str:
        if self.tool_calls:
            names = ", ".join(name for name, _ in self.tool_calls)
            return f"reply(tool_calls=[{names}])"
        if self.has_json:
            return f"reply(json={_short(self.json_value)})"
        if self.refusal is not None:
            return f"reply(refusal={_short(self.refusal)})"
        return f"reply({_short(self.text)})"

    def intent_for(self, body: Mapping[str, Any]) -> Intent:
        """The intent this reply becomes for ``body``; ScriptError if the request forbids it."""
        if self.tool_calls:
            return _tool_intent(self, body)
        mode = tool_mode(body)
        if mode in ("required", "named"):
            demanded = (
                f"a call to {forced_tool(body)!r}" if mode == "named" else "at least one tool call"
            )
            raise ScriptError(
                f"minidouble: the test scripted {self.describe()}, but the request's "
                f"tool_choice demands {demanded}, so the real model cannot answer with "
                'text. Script fake.reply(tool_calls=[{"name": ..., "arguments": {...}}]) '
                "instead, or change the code under test's tool_choice."
            )
        if self.refusal is not None:
            return Intent(refusal=self.refusal)
        if self.has_json:
            return Intent(text=_json_text(self, body))
        assert self.text is not None
        _check_text_format(self, body)
        return Intent(text=self.text)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _tool_intent(script: ScriptedReply, body: Mapping[str, Any]) -> Intent:
    offered = offered_tools(body)
    names = [name for name, _ in script.tool_calls]
    if not offered:
        raise ScriptError(
            f"minidouble: the test scripted {script.describe()}, but the request offered no "
            "tools (no 'tools' or 'functions'), so the real model cannot call any. Pass the "
            'tools in the request, or script fake.reply("text") for this turn.'
        )
    mode = tool_mode(body)
    if mode == "none":
        raise ScriptError(
            f"minidouble: the test scripted {script.describe()}, but the request says "
            "tool_choice='none', which forbids tool calls. Script fake.reply(\"text\") for this "
            "turn, or let the code under test allow tool calls."
        )
    for name in names:
        if name not in offered:
            raise ScriptError(
                f"minidouble: the test scripted a call to tool {name!r}, but the request offered "
                f"only {sorted(offered)}. Fix the scripted name or offer the tool in the request."
            )
    forced = forced_tool(body)
    if forced is not None and names != [forced]:
        raise ScriptError(
            f"minidouble: the request forces exactly one call to {forced!r} (named "
            f"tool_choice), but the test scripted {script.describe()}. Script "
            f'fake.reply(tool_calls=[{{"name": {forced!r}, "arguments": {{...}}}}]).'
        )
    legacy = uses_legacy_functions(body)
    if len(names) > 1 and (legacy or body.get("parallel_tool_calls") is False):
        rule = "legacy 'functions' allow" if legacy else "parallel_tool_calls=false allows"
        raise ScriptError(
            f"minidouble: the test scripted {len(names)} tool calls, but the request's "
            f"{rule} one call per reply. Script one call per reply, queued in order."
        )
    calls = []
    for name, arguments in script.tool_calls:
        function = offered[name]
        if isinstance(arguments, str):
            text = arguments
        else:
            text = compact_json(arguments)
            if function.get("strict") is True:
                reason = first_violation(arguments, function.get("parameters") or {})
                if reason is not None:
                    raise ScriptError(
                        f"minidouble: the scripted arguments for strict tool {name!r} break its "
                        f"parameters schema ({reason}); the real model cannot produce them. "
                        "Fix the scripted arguments, or pass them as a JSON string to send them "
                        "unchecked."
                    )
        calls.append(ToolCallIntent(name, text))
    return Intent(tool_calls=tuple(calls), legacy_function=legacy)


def _json_text(script: ScriptedReply, body: Mapping[str, Any]) -> str:
    schema = response_schema(body)
    if schema is None and not wants_json_object(body):
        raise ScriptError(
            f"minidouble: the test scripted {script.describe()}, but the request has no JSON "
            "response_format (json_schema or json_object). Script "
            "fake.reply(json.dumps(...)) to send JSON as plain text."
        )
    if schema is not None:
        reason = first_violation(script.json_value, schema)
        if reason is not None:
            raise ScriptError(
                f"minidouble: the scripted json does not match the request's response_format "
                f"schema: {reason}. Fix the scripted value (the real model only answers "
                "schema-valid JSON)."
            )
    elif not isinstance(script.json_value, dict):
        raise ScriptError(
            "minidouble: response_format json_object always yields a JSON object, but the "
            f"test scripted {script.describe()}. Script a dict."
        )
    return compact_json(script.json_value)


def _check_text_format(script: ScriptedReply, body: Mapping[str, Any]) -> None:
    schema = response_schema(body)
    if schema is None and not wants_json_object(body):
        return
    assert script.text is not None
    try:
        value = json.loads(script.text)
    except ValueError:
        raise ScriptError(
            f"minidouble: the test scripted {script.describe()}, but the request asks for "
            "JSON (response_format) and that text is not JSON. Script fake.reply(json={...})."
        ) from None
    if schema is not None:
        reason = first_violation(value, schema)
        if reason is not None:
            raise ScriptError(
                "minidouble: the scripted text does not match the request's response_format "
                f"schema: {reason}. Fix the scripted value."
            )
    elif not isinstance(value, dict):
        raise ScriptError(
            "minidouble: response_format json_object always yields a JSON object, but the "
            f"test scripted {script.describe()}. Script a JSON object."
        )


def make_reply(
    text: str | None,
    tool_calls: Sequence[Mapping[str, Any]] | None,
    json_value: Any,
    has_json: bool,
    refusal: str | None,
) -> ScriptedReply:
    """Check ``fake.reply(...)``'s arguments on their own, at the call site."""
    given = [
        name
        for name, present in (
            ("text", text is not None),
            ("tool_calls", tool_calls is not None),
            ("json", has_json),
            ("refusal", refusal is not None),
        )
        if present
    ]
    if len(given) != 1:
        raise TypeError(
            "minidouble: fake.reply() takes exactly one of text, tool_calls=, json= or "
            f"refusal=; got {given or 'none'}. Queue several replies with several calls."
        )
    if text is not None and not isinstance(text, str):
        raise TypeError(f"minidouble: fake.reply(text) takes a str, got {type(text).__name__}.")
    if refusal is not None and not isinstance(refusal, str):
        raise TypeError(f"minidouble: refusal= takes a str, got {type(refusal).__name__}.")
    calls: list[tuple[str, Any]] = []
    if tool_calls is not None:
        if isinstance(tool_calls, (str, bytes)) or not isinstance(tool_calls, Sequence):  # type: ignore[unreachable]
            raise TypeError(
                'minidouble: tool_calls= takes a list of {"name": str, "arguments": dict} '
                f"objects, got {type(tool_calls).__name__}."
            )
        if not tool_calls:
            raise TypeError("minidouble: tool_calls= needs at least one call.")
        for call in tool_calls:
            if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
                raise TypeError(
                    'minidouble: each scripted tool call is {"name": str, "arguments": '
                    f"dict}}, got {call!r}."
                )
            arguments = call.get("arguments", {})
            if not isinstance(arguments, str):
                try:
                    compact_json(arguments)
                except (TypeError, ValueError) as exc:
                    raise TypeError(
                        f"minidouble: the arguments for tool {call['name']!r} are not JSON "
                        f"serializable ({exc}). Pass a dict of JSON values or a JSON string."
                    ) from None
            calls.append((call["name"], arguments))
    if has_json:
        try:
            compact_json(json_value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"minidouble: json= must be JSON serializable ({exc}).") from None
    return ScriptedReply(
        text=text,
        tool_calls=tuple(calls),
        json_value=json_value,
        has_json=has_json,
        refusal=refusal,
    )


@dataclass
class ScriptedFailure:
    """One ``fake.fail(...)``; ``remaining`` counts down per failed request.

    ``status`` is an HTTP status or a transport fault's name (``"timeout"``...). With a
    ``probability`` the failure stands instead of queueing: each request fails with that
    chance, drawn from ``rng`` (seeded, so a run repeats), at most ``remaining`` times
    (None: no limit). A failure the fake's rate limiter decided has a ``rejection``.
    """

    status: int | str
    remaining: int | None
    details: dict[str, Any] = field(default_factory=dict)
    probability: float | None = None
    rng: random.Random | None = None
    seed: int | None = None
    # Requests that reached a standing failure, and how many it failed.
    seen: int = 0
    fired: int = 0
    rejection: Rejection | None = None
    # Where a failure that is not the session's own came from ("fixtures[2]"): such a
    # failure is made per request and never queued, so it is never put back either.
    origin: str | None = None

    def describe(self) -> str:
        if self.origin is not None:
            extra = "".join(f", {k}={v!r}" for k, v in self.details.items())
            return f"{self.origin}: fail(status={self.status!r}{extra})"
        extra = "".join(f", {k}={v!r}" for k, v in self.details.items())
        if self.probability is not None:
            times = "" if self.remaining is None else f", times={self.remaining}"
            return (
                f"fail(status={self.status!r}, probability={self.probability!r}, seed={self.seed!r}"
                f"{times}{extra})"
            )
        return f"fail(status={self.status!r}, times={self.remaining}{extra})"


class _KeptCompact:
    """A record's field the log holds in a compact form until someone reads it.

    A fake keeps every request it answers, and the garbage collector walks every object it
    tracks again in each full collection of a long run: held as parsed trees and header
    mappings, the log was most of that work. So a body or completion is held as its JSON
    bytes (no JSON value is ever bytes), and headers as their raw pairs (exact tuples of
    bytes, which the collector stops tracking); the first read expands the value, once.
    The value lives in a private attribute, never through ``__dict__``, which would give
    each record one more object to track.
    """

    def __init__(
        self,
        compact: type,
        expand: Callable[[Any], Any],
        keep: Callable[[Any], Any] | None = None,
    ) -> None:
        self._compact = compact
        self._expand = expand
        self._keep = keep  # what is stored for a value given (None: the value itself)

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = "_" + name

    def __get__(self, record: object, owner: type | None = None) -> Any:
        if record is None:
            return None  # the dataclass asks for the field's default
        value = getattr(record, self._slot)
        if type(value) is self._compact:
            value = self._expand(value)
            setattr(record, self._slot, value)
        return value

    def __set__(self, record: object, value: Any) -> None:
        setattr(record, self._slot, value if self._keep is None else self._keep(value))


def _kept_headers(headers: Mapping[str, str]) -> Any:
    """Raw pairs while nobody has read them; a read RawHeaders is immutable and shared, and
    any other mapping is copied, so the log never sees it change."""
    if type(headers) is RawHeaders:
        return headers if headers.decoded else headers.pairs
    return dict(headers)


@dataclass
class RecordedRequest:
    """One request the fake received and what it answered."""

    method: str
    path: str
    headers: Mapping[str, str]  # kept compact too: see the end of the class
    # None when the request failed before counting (auth, malformed JSON, invalid body).
    prompt_tokens: int | None
    response: HttpResponse
    # The parsed request body (None when it was not JSON).
    body: _KeptCompact = _KeptCompact(bytes, json.loads)
    # The completion the fake answered (for a stream, the equivalent chat.completion object).
    completion: _KeptCompact = _KeptCompact(bytes, json.loads)
    # The scripted reply or failure that answered it, if any.
    scripted: str | None = None
    # A transport or stream fault the client met instead of a clean answer ("timeout",
    # "connection_reset", "stream_cut", "stream_error", "malformed_chunk"); for the first
    # two the client got no HTTP answer at all and ``status`` is 0.
    fault: str | None = None
    # When it arrived (time.monotonic), to measure a client's waits between attempts.
    received_at: float = field(default_factory=time.monotonic)
    # How a cassette answered instead of the fake (docs/cassettes.md): "replayed" from the
    # file, "recorded" from the upstream, "missed" (no recording matched: an error).
    cassette: Literal["replayed", "recorded", "missed"] | None = None
    # The completion tokens billed, noted when the fake answered, so usage totals (budgets,
    # the end-of-run summary) need not parse the logged completion.
    _completion_tokens: int | None = field(default=None, repr=False, compare=False)
    # The prompt tokens the prompt cache served, noted likewise (None: read the completion).
    _cached_tokens: int | None = field(default=None, repr=False, compare=False)

    # Written out rather than generated (dataclass keeps an __init__ the class defines): one
    # is made per request, and the generated one stores the three compact fields through
    # their descriptors, which cost more than the other ten fields together. Same
    # parameters, same order, same stored forms (see _KeptCompact).
    def __init__(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        prompt_tokens: int | None,
        response: HttpResponse,
        body: Any = None,
        completion: Any = None,
        scripted: str | None = None,
        fault: str | None = None,
        received_at: float | None = None,
        cassette: Literal["replayed", "recorded", "missed"] | None = None,
        _completion_tokens: int | None = None,
        _cached_tokens: int | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self._headers = _kept_headers(headers)
        self.prompt_tokens = prompt_tokens
        self.response = response
        self._body = body
        self._completion = completion
        self.scripted = scripted
        self.fault = fault
        self.received_at = time.monotonic() if received_at is None else received_at
        self.cassette = cassette
        self._completion_tokens = _completion_tokens
        self._cached_tokens = _cached_tokens

    @property
    def status(self) -> int:
        return self.response.status

    @property
    def answered(self) -> bool:
        """Whether the log holds a completion for it (read without parsing the completion)."""
        held: Any = getattr(self, "_completion")  # noqa: B009 (the field's storage)
        return held is not None

    @property
    def completion_tokens(self) -> int | None:
        if self._completion_tokens is not None:
            return self._completion_tokens
        usage = None if self.completion is None else self.completion.get("usage")
        if not isinstance(usage, Mapping):
            return None  # a recording made without usage (a stream without include_usage)
        # A Responses API answer (``response`` object) names them ``output_tokens``.
        return int(
            usage["completion_tokens"] if "completion_tokens" in usage else usage["output_tokens"]
        )

    @property
    def cached_tokens(self) -> int:
        """The prompt tokens billed at the cached price (``cached_tokens`` in the usage)."""
        if self._cached_tokens is not None:
            return self._cached_tokens
        usage = None if self.completion is None else self.completion.get("usage")
        if not isinstance(usage, Mapping):
            return 0
        details = usage.get("prompt_tokens_details", usage.get("input_tokens_details"))
        cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
        return cached if isinstance(cached, int) and not isinstance(cached, bool) else 0

    @property
    def messages(self) -> list[Any]:
        body = self.body if isinstance(self.body, Mapping) else {}
        messages = body.get("messages")
        return list(messages) if isinstance(messages, list) else []


# Installed once the dataclass is made, so that ``headers`` stays a required field.
_KEPT_HEADERS = _KeptCompact(tuple, RawHeaders, keep=_kept_headers)
_KEPT_HEADERS.__set_name__(RecordedRequest, "headers")
RecordedRequest.headers = _KEPT_HEADERS  # type: ignore[assignment]
