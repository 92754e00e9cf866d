"""The bytes the real API writes: ``chat.completion`` JSON, SSE chunks, headers, error bodies.

Everything here is presentation: :mod:`minidouble._engine._replies` decides what the model says,
this module says it the way api.openai.com (or Azure OpenAI) serializes it, down to key order,
indentation and the trailing newline, because code under test and cassettes compare bytes.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_string
from typing import TYPE_CHECKING, Any

from minidouble._engine._ids import _BASE62_TABLE, new_call_id, new_completion_id, new_request_id
from minidouble._http import HttpResponse
from minidouble._model._errors import OpenAIError
from minidouble._model._profile import GPT4O_MINI, ModelProfile

if TYPE_CHECKING:  # types only: writing a reply needs no engine code at run time
    from minidouble._engine._replies import Choice, Piece, Reply, TokenLogprob, ToolCall

__all__ = [
    "ChunkWriter",
    "Flavor",
    "api_headers",
    "azure_filter_results",
    "completion_body",
    "completion_bytes",
    "error_response",
    "json_response",
    "new_call_id",
    "new_completion_id",
    "new_request_id",
    "stream_events",
]

# Obfuscation padding lengths must differ between requests, not be reproducible: a private
# generator keeps them off the seeded one the engine uses for the reply itself.
_ids = random.Random()


JSON = "application/json"
JSON_UTF8 = "application/json; charset=utf-8"
EVENT_STREAM = "text/event-stream; charset=utf-8"


@dataclass(frozen=True)
class Flavor:
    """Which service the response imitates: api.openai.com or an Azure OpenAI deployment."""

    azure: bool = False
    deployment: str = ""


OPENAI = Flavor()


# ---------------------------------------------------------------------------------------------
# Serialization styles


def pretty(document: Any) -> bytes:
    """api.openai.com's completion style: 2-space indent, raw UTF-8, a trailing newline.

    Byte-identical to ``json.dumps(document, indent=2, ensure_ascii=False) + "\\n"``, which
    falls back to the pure-Python encoder whenever an indent is set: this walker escapes
    strings with the C encoder instead.
    """
    parts: list[str] = []
    _pretty_into(document, "\n", parts)
    parts.append("\n")
    return "".join(parts).encode()


_SCALARS: dict[Any, str] = {True: "true", False: "false", None: "null"}


def _pretty_into(value: Any, newline: str, parts: list[str]) -> None:
    kind = type(value)
    if kind is str:
        parts.append(_encode_string(value))
    elif kind is int:
        parts.append(int.__repr__(value))
    elif kind is bool or value is None:
        parts.append(_SCALARS[value])
    elif isinstance(value, dict):
        if not value:
            parts.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            parts.append(separator)
            parts.append(_encode_string(key if isinstance(key, str) else json.dumps(key)))
            parts.append(": ")
            _pretty_into(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "}")
    elif isinstance(value, (list, tuple)):  # json.dumps writes tuples as lists too
        if not value:
            parts.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            parts.append(separator)
            _pretty_into(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "]")
    else:
        parts.append(json.dumps(value))


# The layout of a plain completion (text or refusal choices, no tool calls or logprobs), the
# answer to nearly every request: only its scalars change between requests, so the text
# around them is rendered once per choice count, by the walker above, and filled with ``%``.
# The keys are completion_body's, in its order (tests/test_wire.py holds the two together).
_COMPLETION_KEYS = (
    "id",
    "object",
    "created",
    "model",
    "choices",
    "usage",
    "service_tier",
    "system_fingerprint",
)
_CHOICE_KEYS = ("index", "message", "logprobs", "finish_reason")
_MESSAGE_KEYS = ("role", "content", "refusal", "annotations")
_USAGE_KEYS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
)
_PROMPT_DETAILS_KEYS = ("cached_tokens", "audio_tokens")
_COMPLETION_DETAILS_KEYS = (
    "reasoning_tokens",
    "audio_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens",
)
_completion_templates: dict[tuple[int, str, str | None], str] = {}
_MARKER = "\ue000"


def _completion_template(choices: int, model: str, fingerprint: str | None) -> str:
    key = (choices, model, fingerprint)
    template = _completion_templates.get(key)
    if template is None:
        # The walker renders a completion whose every varying scalar is a marker (the
        # constants, the model's among them, are written in): the text between the markers
        # is the layout, and each marker becomes a %s.
        marker = _MARKER
        usage: dict[str, Any] = dict.fromkeys(_USAGE_KEYS, marker)
        usage["prompt_tokens_details"] = dict.fromkeys(_PROMPT_DETAILS_KEYS, 0)
        usage["prompt_tokens_details"]["cached_tokens"] = marker
        details = usage["completion_tokens_details"] = dict.fromkeys(_COMPLETION_DETAILS_KEYS, 0)
        details["accepted_prediction_tokens"] = details["rejected_prediction_tokens"] = marker
        listed = []
        for index in range(choices):
            message: dict[str, Any] = dict.fromkeys(_MESSAGE_KEYS, marker)
            message["role"], message["annotations"] = "assistant", []
            choice: dict[str, Any] = dict.fromkeys(_CHOICE_KEYS, marker)
            choice["index"], choice["message"], choice["logprobs"] = index, message, None
            listed.append(choice)
        sample: dict[str, Any] = dict.fromkeys(_COMPLETION_KEYS, marker)
        sample["object"], sample["model"] = "chat.completion", model
        sample["system_fingerprint"] = fingerprint
        sample["choices"] = listed
        sample["usage"] = usage
        parts: list[str] = []
        _pretty_into(sample, "\n", parts)
        parts.append("\n")
        layout = "".join(parts).replace("%", "%%")
        template = layout.replace(_encode_string(marker), "%s")
        if len(_completion_templates) < 256:
            _completion_templates[key] = template
    return template


def _json_text(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def completion_bytes(
    reply: Reply,
    *,
    completion_id: str,
    created: int,
    prompt_tokens: int,
    profile: ModelProfile = GPT4O_MINI,
    flavor: Flavor = OPENAI,
    service_tier: str = "default",
    cached_tokens: int = 0,
) -> bytes:
    """The ``chat.completion`` of :func:`completion_body` as the service writes it:
    api.openai.com pretty-prints it, Azure compacts it with sorted keys."""
    if not flavor.azure:
        filled = _plain_completion_bytes(
            reply, completion_id, created, prompt_tokens, profile, service_tier, cached_tokens
        )
        if filled is not None:
            return filled
    document = completion_body(
        reply,
        completion_id=completion_id,
        created=created,
        prompt_tokens=prompt_tokens,
        profile=profile,
        flavor=flavor,
        service_tier=service_tier,
        cached_tokens=cached_tokens,
    )
    return azure_compact(document) if flavor.azure else pretty(document)


def _plain_completion_bytes(
    reply: Reply,
    completion_id: str,
    created: int,
    prompt_tokens: int,
    profile: ModelProfile,
    service_tier: str,
    cached_tokens: int = 0,
) -> bytes | None:
    """``pretty(completion_body(...))`` of a plain reply, the answer to nearly every request,
    filled into its template without building the document; None when a choice has tool
    calls or logprobs."""
    model, fingerprint = profile.response_model, profile.system_fingerprint
    if _MARKER in model or (fingerprint is not None and _MARKER in fingerprint):
        return None  # the template could not tell them from its markers
    scalars: list[str] = [_encode_string(completion_id), str(created)]
    for choice in reply.choices:
        if choice.tool_calls or choice.function_call is not None or choice.logprobs is not None:
            return None
        scalars += (
            _json_text(choice.content),
            _json_text(choice.refusal),
            _encode_string(choice.finish_reason),
        )
    completion_tokens = reply.completion_tokens
    scalars += (
        str(prompt_tokens),
        str(completion_tokens),
        str(prompt_tokens + completion_tokens),
        str(cached_tokens),
        str(reply.accepted_prediction_tokens),
        str(reply.rejected_prediction_tokens),
        _encode_string(service_tier),
    )
    text: str = _completion_template(len(reply.choices), model, fingerprint) % tuple(scalars)
    return text.encode()


def _compact_writer(*, sort_keys: bool) -> Callable[[Any], str]:
    """``json.dumps(document, separators=(",", ":"), ensure_ascii=False, sort_keys=...)``.

    json.dumps makes a new encoder, and the encoder a new C scanner, for every document;
    a stream writes one per event. This is the C encoder json.dumps ends up calling, made
    once, without the circular-reference check (the fake writes documents it built).
    """
    encoder = json.JSONEncoder(
        separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys, check_circular=False
    )
    try:
        from _json import make_encoder
    except ImportError:  # an interpreter without the C accelerator
        return encoder.encode
    write = make_encoder(
        None, encoder.default, _encode_string, None, ":", ",", sort_keys, False, True
    )

    def text(document: Any) -> str:
        return "".join(write(document, 0))

    return text


_compact_text = _compact_writer(sort_keys=False)
_sorted_compact_text = _compact_writer(sort_keys=True)


def compact(document: Any) -> bytes:
    return _compact_text(document).encode()


def azure_compact(document: Any) -> bytes:
    """Azure re-serializes every body compactly with its keys sorted."""
    return _sorted_compact_text(document).encode()


def error_bytes(error: OpenAIError) -> tuple[bytes, str]:
    """An error body in the style of the layer that produced it, and its content type."""
    if error.style == "gateway":
        return (json.dumps(error.body, indent=4, ensure_ascii=False) + "\n").encode(), JSON_UTF8
    return json.dumps(error.body, indent=2, ensure_ascii=False).encode(), JSON


# ---------------------------------------------------------------------------------------------
# Headers


def api_headers(
    request_id: str,
    *,
    processing_ms: int,
    rate_limits: dict[str, str] | None,
    flavor: Flavor = OPENAI,
) -> list[tuple[str, str]]:
    """The service headers of a response; ``rate_limits`` None means the layer sends none.

    Auth and model-lookup failures come from layers in front of the rate limiter, so they
    carry only ``x-request-id`` (reference §9); everything behind it carries the full set.
    """
    if flavor.azure:
        # Azure's request ids are UUIDs; the same 128 bits keep one request's ids related.
        try:
            azure_id = str(uuid.UUID(hex=request_id.removeprefix("req_")))
        except ValueError:
            azure_id = request_id
        headers = [
            ("apim-request-id", azure_id),
            ("x-request-id", azure_id),
            ("x-ms-region", "East US"),
            ("x-ms-client-request-id", azure_id),
        ]
        if rate_limits is not None:
            headers += [
                ("azureml-model-session", "d001-20250101000000"),
                ("x-ms-deployment-name", flavor.deployment),
                ("x-ms-rai-invoked", "true"),
            ]
            headers += [(k, v) for k, v in rate_limits.items() if "-reset-" not in k]
        return headers
    if rate_limits is None:
        return [("x-request-id", request_id)]
    return [
        ("access-control-expose-headers", "X-Request-ID"),
        ("openai-organization", "user-minidouble"),
        ("openai-processing-ms", str(processing_ms)),
        ("openai-project", "proj_minidouble"),
        ("openai-version", GPT4O_MINI.openai_version),
        *rate_limits.items(),
        ("x-request-id", request_id),
    ]


def json_response(
    status: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[str, str]],
) -> HttpResponse:
    return HttpResponse(status, (("content-type", content_type), *headers), body)


def error_response(
    error: OpenAIError,
    headers: list[tuple[str, str]],
    *,
    flavor: Flavor = OPENAI,
) -> HttpResponse:
    body, content_type = error_bytes(error)
    if flavor.azure and error.style == "gateway":
        body, content_type = azure_compact(error.body), JSON
    return json_response(error.status, body, content_type, headers)


# ---------------------------------------------------------------------------------------------
# chat.completion


def _message(choice: Choice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.content}
    if choice.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in choice.tool_calls
        ]
    if choice.function_call is not None:
        message["function_call"] = {
            "name": choice.function_call.name,
            "arguments": choice.function_call.arguments,
        }
    message["refusal"] = choice.refusal
    message["annotations"] = []
    return message


def _logprob_entry(token: TokenLogprob) -> dict[str, Any]:
    return {
        "token": token.token,
        "logprob": token.logprob,
        "bytes": list(token.bytes),
        "top_logprobs": [
            {"token": alt.token, "logprob": alt.logprob, "bytes": list(alt.bytes)}
            for alt in token.top_logprobs
        ],
    }


def _logprobs_block(
    tokens: Sequence[TokenLogprob] | None, *, refusal: bool = False
) -> dict[str, Any] | None:
    if tokens is None:
        return None
    entries = [_logprob_entry(t) for t in tokens]
    return (
        {"content": None, "refusal": entries} if refusal else {"content": entries, "refusal": None}
    )


def usage_block(prompt_tokens: int, reply: Reply, *, cached_tokens: int = 0) -> dict[str, Any]:
    completion_tokens = reply.completion_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": reply.accepted_prediction_tokens,
            "rejected_prediction_tokens": reply.rejected_prediction_tokens,
        },
    }


def _azure_choice_filters(choice: Any = None) -> dict[str, Any]:
    hit = getattr(choice, "content_filter", None)
    if hit is None:
        return azure_filter_results(None, "safe", prompt=False)
    return azure_filter_results(hit[0], hit[1], prompt=False)


def _azure_prompt_filters() -> list[dict[str, Any]]:
    results = azure_filter_results(None, "safe", prompt=True)
    return [{"prompt_index": 0, "content_filter_results": results}]


def completion_body(
    reply: Reply,
    *,
    completion_id: str,
    created: int,
    prompt_tokens: int,
    profile: ModelProfile = GPT4O_MINI,
    flavor: Flavor = OPENAI,
    service_tier: str = "default",
    system_fingerprint: str | None = None,
    cached_tokens: int = 0,
) -> dict[str, Any]:
    """The ``chat.completion`` object, keys in the order api.openai.com serves them.

    ``system_fingerprint`` (default: the profile's) and ``cached_tokens`` are for callers
    that draw those values (``minidouble.strategies``); the fake serves the defaults.
    """
    choices = []
    for index, choice in enumerate(reply.choices):
        entry: dict[str, Any] = {
            "index": index,
            "message": _message(choice),
            "logprobs": _logprobs_block(choice.logprobs, refusal=choice.refusal is not None),
            "finish_reason": choice.finish_reason,
        }
        if flavor.azure:
            entry["content_filter_results"] = _azure_choice_filters(choice)
        choices.append(entry)
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": profile.response_model,
        "choices": choices,
        "usage": usage_block(prompt_tokens, reply, cached_tokens=cached_tokens),
    }
    if flavor.azure:
        body["prompt_filter_results"] = _azure_prompt_filters()
    else:
        body["service_tier"] = service_tier
    body["system_fingerprint"] = (
        profile.system_fingerprint if system_fingerprint is None else system_fingerprint
    )
    return body


def served_tier(body: Any) -> str:
    """The tier a response reports: the one asked for, ``default`` for ``auto`` or none."""
    tier = body.get("service_tier") if isinstance(body, dict) else None
    return tier if isinstance(tier, str) and tier != "auto" else "default"


# ---------------------------------------------------------------------------------------------
# Server-Sent Events


# Noise drawn at a time for a stream's paddings (about 120 events' worth).
_NOISE_BLOCK = 1024


def _obfuscation() -> str:
    # Real padding is random noise that evens out chunk sizes; its length varies per chunk
    # (1 to 16 base62 characters). One draw for the length and one for the characters,
    # mapped through the id table: every event of a stream carries one.
    length = _ids.getrandbits(4) + 1
    noise = _ids.getrandbits(8 * length).to_bytes(length, "little")
    return noise.translate(_BASE62_TABLE).decode("ascii")


class ChunkWriter:
    """Serializes chunks of one stream: shared id/created, the usage and obfuscation rules."""

    def __init__(
        self,
        *,
        include_usage: bool,
        obfuscate: bool,
        profile: ModelProfile,
        flavor: Flavor,
        service_tier: str = "default",
        completion_id: str | None = None,
        created: int | None = None,
        system_fingerprint: str | None = None,
    ) -> None:
        self.service_tier = service_tier
        self.id = completion_id or new_completion_id()
        self.created = int(time.time()) if created is None else created
        self.include_usage = include_usage
        self.obfuscate = obfuscate
        self.profile = profile
        self.flavor = flavor
        self.system_fingerprint = (
            profile.system_fingerprint if system_fingerprint is None else system_fingerprint
        )
        # The fields every chunk of the stream opens with, written once (OpenAI's chunks
        # keep body()'s key order; Azure's are sorted, so they take the general way).
        self._head: str | None = None
        self._noise, self._noise_lengths, self._noise_at = "", b"", 0
        if not flavor.azure:
            opening = _compact_text(self.body([]))
            self._head = opening[: opening.rindex(',"choices":')]

    def chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        if self._head is None:
            obfuscation = _obfuscation() if self.obfuscate else None
            return self.event(self.body(choices, usage, obfuscation))
        return self._around_head(_compact_text(choices), usage)

    def delta_chunk(self, index: int, delta: dict[str, Any], finish_reason: str | None) -> bytes:
        """``chunk([choice(index, delta, finish_reason=...)])``: one step of a choice without
        logprobs, the bulk of every stream, its entry written without a walk."""
        if self._head is None:
            return self.chunk([self.choice(index, delta, finish_reason=finish_reason)])
        finish = "null" if finish_reason is None else _encode_string(finish_reason)
        if len(delta) == 1:
            ((key, value),) = delta.items()
            # One piece of text ({"content": ...}): its JSON without a walk.
            written = (
                f"{{{_encode_string(key)}:{_encode_string(value)}}}"
                if type(value) is str
                else _compact_text(delta)
            )
        else:
            written = _compact_text(delta)
        entry = f'[{{"index":{index},"delta":{written},"logprobs":null,'
        return self._around_head(f'{entry}"finish_reason":{finish}}}]', None)

    def _padding(self) -> str:
        """:func:`_obfuscation`'s padding, cut from a block of noise drawn once for many
        events: a byte of it for the length (1 to 16), the next ones for the characters."""
        at = self._noise_at
        if at + 17 > len(self._noise):
            raw = _ids.randbytes(_NOISE_BLOCK)
            self._noise_lengths, self._noise = raw, raw.translate(_BASE62_TABLE).decode("ascii")
            at = 0
        length = (self._noise_lengths[at] & 15) + 1
        self._noise_at = at + 1 + length
        return self._noise[at + 1 : at + 1 + length]

    def _around_head(self, choices: str, usage: dict[str, Any] | None) -> bytes:
        # sse_event(self.body(...)) written around the constant head: the same bytes.
        parts = [self._head or "", ',"choices":', choices]
        if self.include_usage:
            parts += (',"usage":', "null" if usage is None else _compact_text(usage))
        if self.obfuscate:
            parts += (',"obfuscation":"', self._padding(), '"')  # base62: nothing to escape
        parts.append("}\n\n")
        return b"data: " + "".join(parts).encode()

    def body(
        self,
        choices: list[dict[str, Any]],
        usage: dict[str, Any] | None = None,
        obfuscation: str | None = None,
    ) -> dict[str, Any]:
        """One chunk object; ``obfuscation`` None leaves the padding field out."""
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.profile.response_model,
        }
        if not self.flavor.azure:
            body["service_tier"] = self.service_tier
        body["system_fingerprint"] = self.system_fingerprint
        body["choices"] = choices
        if self.include_usage:
            body["usage"] = usage
        if obfuscation is not None:
            body["obfuscation"] = obfuscation
        return body

    def event(self, body: dict[str, Any]) -> bytes:
        return sse_event(body, self.flavor)

    def choice(
        self,
        index: int,
        delta: dict[str, Any],
        *,
        logprobs: Sequence[TokenLogprob] | None = None,
        finish_reason: str | None = None,
        refusal: bool = False,
        choice: Any = None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "index": index,
            "delta": delta,
            "logprobs": _logprobs_block(logprobs, refusal=refusal),
            "finish_reason": finish_reason,
        }
        if self.flavor.azure:
            # The verdict rides on the chunk that ends a filtered choice; others carry {}.
            filtered = finish_reason == "content_filter"
            entry["content_filter_results"] = _azure_choice_filters(choice) if filtered else {}
        return entry


DONE_EVENT = b"data: [DONE]\n\n"


def sse_event(body: dict[str, Any], flavor: Flavor = OPENAI) -> bytes:
    """One ``data:`` event: compact JSON, raw UTF-8 (Azure also sorts the keys)."""
    data = azure_compact(body) if flavor.azure else compact(body)
    return b"data: " + data + b"\n\n"


_Delta = tuple[dict[str, Any], "Sequence[TokenLogprob] | None", "str | None"]


def choice_deltas(
    choice: Choice,
    *,
    pieces: Sequence[Piece] | None = None,
    call_fragments: Sequence[Sequence[str]] | None = None,
) -> Iterator[_Delta]:
    """One choice as (delta, logprobs, finish_reason) steps: opening, fragments, finish.

    The text streams as ``choice.pieces()`` and each call's arguments as its ``fragments()``
    (token boundaries) unless ``pieces`` / ``call_fragments`` (one list per call) cut them
    elsewhere, as the strategies do at drawn points.
    """
    opening: dict[str, Any] = {"role": "assistant"}
    calls = choice.tool_calls
    if calls:
        # The first call opens in the role chunk itself, as gpt-4o-mini streams it.
        opening["content"] = None
        opening["tool_calls"] = [_call_opening(0, calls[0])]
    elif choice.function_call is not None:
        opening["content"] = None
        opening["function_call"] = {"name": choice.function_call.name, "arguments": ""}
    elif choice.refusal is not None:
        opening["content"] = None
    else:
        opening["content"] = ""
    opening["refusal"] = None if choice.refusal is None else ""
    yield opening, None, None

    if calls:
        for call_index, call in enumerate(calls):
            if call_index:
                yield {"tool_calls": [_call_opening(call_index, call)]}, None, None
            fragments = call.fragments() if call_fragments is None else call_fragments[call_index]
            for fragment in fragments:
                call_delta = {"index": call_index, "function": {"arguments": fragment}}
                yield {"tool_calls": [call_delta]}, None, None
    elif choice.function_call is not None:
        for fragment in choice.function_call.fragments():
            yield {"function_call": {"arguments": fragment}}, None, None
    else:
        key = "content" if choice.refusal is None else "refusal"
        for piece in choice.pieces() if pieces is None else pieces:
            logprobs = piece.logprobs if choice.logprobs is not None else None
            yield {key: piece.text}, logprobs, None
    yield {}, None, choice.finish_reason


def _call_opening(call_index: int, call: ToolCall) -> dict[str, Any]:
    return {
        "index": call_index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }


def stream_events(
    reply: Reply,
    *,
    prompt_tokens: int,
    include_usage: bool,
    obfuscate: bool,
    profile: ModelProfile = GPT4O_MINI,
    flavor: Flavor = OPENAI,
    service_tier: str = "default",
    completion_id: str | None = None,
    created: int | None = None,
    cached_tokens: int = 0,
) -> Iterator[bytes]:
    """Every SSE event of a streamed completion, ``data: [DONE]`` last.

    With n > 1 the choices' chunks interleave, one choice per chunk, as the API sends them.
    """
    writer = ChunkWriter(
        include_usage=include_usage,
        obfuscate=obfuscate,
        profile=profile,
        flavor=flavor,
        service_tier=service_tier,
        completion_id=completion_id,
        created=created,
    )
    if flavor.azure:
        # Azure opens with a bare chunk reporting the prompt filter verdicts.
        yield writer.event(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": _azure_prompt_filters(),
            }
        )
    # With n > 1 the API interleaves the choices' chunks; round-robin reproduces that.
    pending = [(index, choice_deltas(choice)) for index, choice in enumerate(reply.choices)]
    while pending:
        still_open = []
        for index, deltas in pending:
            step = next(deltas, None)
            if step is None:
                continue
            delta, logprobs, finish_reason = step
            if logprobs is None and not flavor.azure:
                yield writer.delta_chunk(index, delta, finish_reason)
                still_open.append((index, deltas))
                continue
            refusal = reply.choices[index].refusal is not None
            entry = writer.choice(
                index,
                delta,
                logprobs=logprobs,
                finish_reason=finish_reason,
                refusal=refusal,
                choice=reply.choices[index],
            )
            yield writer.chunk([entry])
            still_open.append((index, deltas))
        pending = still_open
    if include_usage:
        yield writer.chunk([], usage_block(prompt_tokens, reply, cached_tokens=cached_tokens))
    yield DONE_EVENT


def azure_filter_results(category: str | None, severity: str, *, prompt: bool) -> dict[str, Any]:
    """Azure's per-category verdicts with ``category`` filtered (``None``: all safe).

    Prompt verdicts include the jailbreak detector; completion verdicts include the
    protected-material detectors instead.
    """
    results: dict[str, Any] = {}
    for name in ("hate", "jailbreak", "protected_material_code", "protected_material_text",
                 "self_harm", "sexual", "violence"):  # fmt: skip
        detector = name == "jailbreak" or name.startswith("protected_material")
        if (name == "jailbreak") != prompt and detector:
            continue
        hit = name == category
        if detector:
            results[name] = {"filtered": hit, "detected": hit}
        else:
            results[name] = {"filtered": hit, "severity": severity if hit else "safe"}
    return results
