"""The cassette file: a versioned JSON document written to be read in code review.

Layout (``docs/cassettes.md`` shows a whole file): a header, then one object per interaction
with its fields in a fixed order (``seq``, ``key``, ``summary``, ``request``, ``response``).
Request bodies are stored as structured JSON with sorted keys, so a changed prompt is a small
diff. Response bodies are stored as structured JSON *and* the name of the serialisation style
that reproduces the upstream's bytes exactly, so a replay is byte-identical to the recording.
A stream is stored as its events, one per line: an object is the payload of a ``data:`` line,
a string is a frame kept verbatim (``"data: [DONE]\\n\\n"``, ``event:`` lines, comments).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from minidouble._cassettes._errors import CassetteError

__all__ = [
    "FORMAT",
    "VERSION",
    "CassetteFormatError",
    "decode_body",
    "decode_event",
    "encode_event",
    "encode_request_body",
    "encode_response_body",
    "parse_document",
    "render_document",
    "split_frames",
    "summarize",
]

FORMAT = "minidouble-cassette"
VERSION = 1

BodyFields = dict[str, Any]


class CassetteFormatError(CassetteError):
    """A cassette file that minidouble cannot read; the message says how to fix it."""


# ---------------------------------------------------------------------------------------------
# Bodies

# The serialisations seen from OpenAI, Azure and proxies in front of them. The first one that
# reproduces the upstream's bytes is stored by name; otherwise the body is kept as text.
_STYLES: dict[str, dict[str, Any]] = {
    "indent2": {"indent": 2},
    "compact": {"separators": (",", ":")},
    "indent4": {"indent": 4},
    "spaced": {},
}


def _style_dumps(value: Any, style: str) -> str:
    base, _, newline = style.partition("+")
    base, _, ascii_flag = base.partition("-")
    text = json.dumps(value, ensure_ascii=ascii_flag == "ascii", **_STYLES[base])
    return text + "\n" if newline else text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads_strict(raw: bytes) -> Any:
    return json.loads(raw, parse_constant=_reject_constant)


def _text_or_base64(raw: bytes) -> BodyFields:
    try:
        return {"body_text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(raw).decode("ascii")}


def encode_response_body(raw: bytes) -> BodyFields:
    """Structured JSON plus the style that gives back ``raw`` exactly, or the text itself."""
    if not raw:
        return {}
    try:
        value = _loads_strict(raw)
        text = raw.decode("utf-8")
    except ValueError:
        return _text_or_base64(raw)
    if value is None:  # a stored null means "no body"
        return {"body_text": text}
    newline = "+newline" if text.endswith("\n") else ""
    flavours = ("", "-ascii") if "\\u" in text else ("",)
    for base in _STYLES:
        for flavour in flavours:
            style = f"{base}{flavour}{newline}"
            if _style_dumps(value, style) == text:
                return {"body": value, "body_style": style}
    return {"body_text": text}


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def encode_request_body(raw: bytes) -> BodyFields:
    """Request bodies are never resent, so they are stored sorted for small review diffs."""
    if not raw:
        return {}
    try:
        value = _loads_strict(raw)
    except ValueError:
        return _text_or_base64(raw)
    if value is None:
        return {"body_text": "null"}
    return {"body": _sorted(value)}


def decode_body(fields: Mapping[str, Any]) -> bytes:
    """The exact bytes a stored request or response body stands for."""
    if fields.get("body_base64") is not None:
        return base64.b64decode(fields["body_base64"])
    if fields.get("body_text") is not None:
        text: str = fields["body_text"]
        return text.encode("utf-8")
    value = fields.get("body")
    if value is None:
        return b""
    style = fields.get("body_style")
    if style is None:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _style_dumps(value, style).encode("utf-8")


def check_body_style(style: str) -> bool:
    base, _, newline = style.partition("+")
    base, _, flavour = base.partition("-")
    return base in _STYLES and flavour in ("", "ascii") and newline in ("", "newline")


# ---------------------------------------------------------------------------------------------
# Streams


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete SSE frames (each with its blank-line terminator) and the incomplete rest."""
    frames: list[bytes] = []
    start = 0
    while True:
        end_lf = buffer.find(b"\n\n", start)
        end_crlf = buffer.find(b"\r\n\r\n", start)
        if end_lf < 0 and end_crlf < 0:
            return frames, buffer[start:]
        crlf_first = end_crlf >= 0 and (end_lf < 0 or end_crlf < end_lf)
        stop = end_crlf + 4 if crlf_first else end_lf + 2
        frames.append(buffer[start:stop])
        start = stop


def encode_event(frame: bytes) -> Any:
    """One stream event for the file: the ``data:`` object when that is lossless, else the text."""
    text = frame.decode("utf-8", errors="replace")
    if text.startswith("data: {") and text.endswith("}\n\n") and text.count("\n") == 2:
        payload = text[6:-2]
        try:
            value = json.loads(payload, parse_constant=_reject_constant)
        except ValueError:
            return text
        if json.dumps(value, separators=(",", ":"), ensure_ascii=False) == payload:
            return value
    return text


def decode_event(event: Any) -> bytes:
    if isinstance(event, str):
        return event.encode("utf-8")
    payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


def event_payloads(events: Iterable[Any]) -> Iterable[Any]:
    """The JSON payloads of a stored stream's ``data:`` events, in order."""
    for event in events:
        if isinstance(event, dict):
            yield event
        elif isinstance(event, str):
            for line in event.splitlines():
                if line.startswith("data:"):
                    data = line[5:].strip()
                    if data.startswith("{"):
                        try:
                            value = json.loads(data)
                        except ValueError:
                            continue
                        yield value


# ---------------------------------------------------------------------------------------------
# The derived summary: what the model answered, so a reviewer need not read 300 deltas.


def _assemble(payloads: Iterable[Any]) -> dict[str, Any]:
    """A chat.completion-like document assembled from stream chunks."""
    choices: dict[int, dict[str, Any]] = {}
    document: dict[str, Any] = {}
    for chunk in payloads:
        if not isinstance(chunk, dict):
            continue
        if "error" in chunk:
            document["error"] = chunk["error"]
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            document["model"] = chunk["model"]
        if isinstance(chunk.get("usage"), dict):
            document["usage"] = chunk["usage"]
        for delta_choice in chunk.get("choices") or ():
            if not isinstance(delta_choice, dict):
                continue
            index = delta_choice.get("index", 0)
            choice = choices.setdefault(index, {"message": {}, "finish_reason": None})
            message = choice["message"]
            delta = delta_choice.get("delta") or {}
            for field in ("content", "refusal"):
                if isinstance(delta.get(field), str):
                    message[field] = message.get(field, "") + delta[field]
            for call in delta.get("tool_calls") or ():
                calls = message.setdefault("tool_calls", {})
                slot = calls.setdefault(call.get("index", 0), {"function": {"arguments": ""}})
                function = call.get("function") or {}
                if function.get("name"):
                    slot["function"]["name"] = function["name"]
                slot["function"]["arguments"] += function.get("arguments") or ""
            if delta_choice.get("finish_reason"):
                choice["finish_reason"] = delta_choice["finish_reason"]
    assembled = []
    for index in sorted(choices):
        choice = choices[index]
        calls = choice["message"].pop("tool_calls", None)
        if calls:
            choice["message"]["tool_calls"] = [calls[i] for i in sorted(calls)]
        assembled.append(choice)
    document["choices"] = assembled
    return document


def _choice_summary(choice: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    if not isinstance(choice, dict):
        return summary
    message = choice.get("message") or {}
    if isinstance(message.get("content"), str):
        summary["content"] = message["content"]
    if isinstance(message.get("refusal"), str):
        summary["refusal"] = message["refusal"]
    calls = message.get("tool_calls")
    if calls:
        summary["tool_calls"] = [
            {
                "name": (call.get("function") or {}).get("name"),
                "arguments": (call.get("function") or {}).get("arguments"),
            }
            for call in calls
            if isinstance(call, dict)
        ]
    if choice.get("finish_reason") is not None:
        summary["finish_reason"] = choice["finish_reason"]
    return summary


def summarize(response: Mapping[str, Any]) -> dict[str, Any]:
    """What the model answered, derived from a stored response (never read back as truth)."""
    summary: dict[str, Any] = {"derived": True, "status": response["status"]}
    events = response.get("events")
    document: Any
    if events is not None:
        summary["stream"] = True
        document = _assemble(event_payloads(events))
    else:
        document = response.get("body")
    if not isinstance(document, dict):
        return summary
    if isinstance(document.get("error"), dict):
        error = document["error"]
        summary["error"] = {k: error.get(k) for k in ("type", "code", "param", "message")}
        return summary
    if isinstance(document.get("model"), str):
        summary["model"] = document["model"]
    choices = document.get("choices")
    if isinstance(choices, list):
        if len(choices) == 1:
            summary.update(_choice_summary(choices[0]))
        elif choices:
            summary["choices"] = [_choice_summary(c) for c in choices]
    if isinstance(document.get("usage"), dict):
        summary["usage"] = document["usage"]
    return summary


def recorded_answer(response: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the upstream answered in a stored response, as one document with its ``usage``.

    A body as it stands; a Chat Completions stream assembled into a chat.completion-like
    document; a Responses API stream as its last ``response`` object (the one with usage).
    """
    events = response.get("events")
    if events is None:
        body = response.get("body")
        return body if isinstance(body, dict) else None
    payloads = list(event_payloads(events))
    finals = [p["response"] for p in payloads if isinstance(p.get("response"), dict)]
    if finals:
        final: dict[str, Any] = finals[-1]
        return final
    return _assemble(payloads)


def recorded_prompt_tokens(response: Mapping[str, Any]) -> int | None:
    """``usage.prompt_tokens`` of a stored successful response, if it reported usage."""
    answer = recorded_answer(response)
    usage = answer.get("usage") if answer is not None else None
    if isinstance(usage, dict):
        # Chat Completions says prompt_tokens; the Responses API says input_tokens.
        for key in ("prompt_tokens", "input_tokens"):
            if isinstance(usage.get(key), int):
                tokens: int = usage[key]
                return tokens
    return None


# ---------------------------------------------------------------------------------------------
# Whole documents


def _load_json(data: bytes | str) -> Any:
    """The parsed file: pydantic's JSON parser reads it twice as fast as json, from the bytes.

    What that parser refuses (lone surrogates, deep nesting, a byte order mark) goes to json,
    which decides as it always did: the same documents load, with the same errors.
    """
    from pydantic_core import from_json

    try:
        return from_json(data)
    except ValueError:
        return json.loads(data if isinstance(data, str) else data.decode("utf-8"))


def parse_document(data: bytes | str, where: str) -> dict[str, Any]:
    """The document, once its format, version and shape are checked; errors say the cure."""
    # The garbage collector is left alone: pausing it (gc.disable) would be process-wide and
    # race with other threads, a price a library must not charge its host for a faster load.
    return _parse_document(data, where)


def _parse_document(data: bytes | str, where: str) -> dict[str, Any]:
    try:
        raw = _load_json(data)
    except ValueError as exc:
        text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
        hint = ""
        if text.lstrip().startswith("interactions:") or "\ninteractions:" in text:
            hint = (
                " It looks like a vcrpy / pytest-recording YAML cassette: convert it with "
                f"`minidouble cassette import {where}`."
            )
        raise CassetteFormatError(
            f"minidouble: {where} is not a minidouble cassette: it is not JSON ({exc}).{hint}"
        ) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        hint = ""
        if isinstance(raw, dict) and "interactions" in raw and "format" not in raw:
            hint = (
                " It looks like a vcrpy JSON cassette: convert it with "
                f"`minidouble cassette import {where}`."
            )
        raise CassetteFormatError(
            f'minidouble: {where} is not a minidouble cassette: expected "format": "{FORMAT}" '
            f"at the top of the file.{hint} Delete it and record again, or import it."
        )
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CassetteFormatError(
            f'minidouble: {where} has no integer "version"; this minidouble writes version '
            f"{VERSION}. Re-record the cassette or restore the field."
        )
    if version > VERSION:
        raise CassetteFormatError(
            f"minidouble: {where} is cassette format version {version}, newer than the "
            f"version {VERSION} this minidouble reads. Upgrade minidouble "
            "(pip install -U minidouble) to replay it."
        )
    if version < 1:
        raise CassetteFormatError(
            f"minidouble: {where} has format version {version}; versions start at 1. "
            "Re-record the cassette."
        )
    from pydantic import ValidationError

    from minidouble._cassettes._models import CassetteDocument

    try:
        document = CassetteDocument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        raise CassetteFormatError(
            f"minidouble: {where} is not a valid cassette: {location}: {first['msg']} "
            f"({exc.error_count()} problem(s) in all). Fix the field by hand or re-record "
            "the cassette."
        ) from None
    for interaction in document.interactions:
        style = interaction.response.body_style
        if style is not None and not check_body_style(style):
            raise CassetteFormatError(
                f"minidouble: {where} interaction #{interaction.seq} has an unknown "
                f"body_style {style!r}. Re-record the cassette."
            )
    # The checked dict itself, not the models: replay reads a few fields of a few interactions.
    return raw


def render_document(document: Mapping[str, Any]) -> str:
    """The file text: 2-space indent, one line per stream event and for the timing."""
    nonce = secrets.token_hex(8)
    inlined: list[str] = []

    def one_line(value: Any) -> str:
        inlined.append(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
        return f"@@inline-{nonce}-{len(inlined) - 1}@@"

    shaped = dict(document)
    shaped["interactions"] = [
        _with_one_line_parts(interaction, one_line) for interaction in document["interactions"]
    ]
    text = json.dumps(shaped, indent=2, ensure_ascii=False)
    if inlined:
        parts = text.split(f'"@@inline-{nonce}-')
        rebuilt = [parts[0]]
        for part in parts[1:]:
            number, _, rest = part.partition('@@"')
            rebuilt.append(inlined[int(number)] + rest)
        text = "".join(rebuilt)
    return text + "\n"


def _with_one_line_parts(interaction: Mapping[str, Any], one_line: Any) -> dict[str, Any]:
    shaped = dict(interaction)
    if interaction.get("timing") is not None:
        shaped["timing"] = one_line(interaction["timing"])
    response = interaction["response"]
    if response.get("events") is not None:
        shaped["response"] = {**response, "events": [one_line(e) for e in response["events"]]}
    return shaped
