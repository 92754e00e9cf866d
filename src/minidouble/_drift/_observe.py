"""What an answer shows, reduced to what must agree between the upstream and the fake.

Values that legitimately differ (reply text, ids, timestamps, account quotas) become their
shape: a JSON value's signature keeps key order and types, an id keeps its prefix, length and
alphabet, a header keeps its presence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from minidouble._http import HttpResponse

__all__ = ["Observation", "id_format", "observe", "signature"]

# Headers OpenAI's SDKs and retry logic read: compared by value (content-type, version) or by
# presence and format (the rest).
VALUE_HEADERS = ("content-type", "openai-version")
PRESENCE_HEADERS = (
    "x-request-id",
    "openai-processing-ms",
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "retry-after",
    "x-should-retry",
)
_ID_KEYS = frozenset({"id", "system_fingerprint"})
_ID_SHAPE = re.compile(r"^([A-Za-z]+[-_])(.*)$", re.DOTALL)


def id_format(value: str) -> str:
    """``chatcmpl-`` + 29 alphanumerics -> ``chatcmpl-<29 alnum>``: what a client may parse."""
    match = _ID_SHAPE.match(value)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", value)
    if re.fullmatch(r"[0-9a-f]*", rest):
        alphabet = "hex"
    elif re.fullmatch(r"[A-Za-z0-9]*", rest):
        alphabet = "alnum"
    else:
        alphabet = "text"
    return f"{prefix}<{len(rest)} {alphabet}>"


def signature(value: Any, key: str = "") -> Any:
    """The shape of a JSON value: keys in order, scalar types, id formats, first list item."""
    if isinstance(value, dict):
        return [[k, signature(v, k)] for k, v in value.items()]
    if isinstance(value, list):
        return ["list", signature(value[0], key)] if value else ["list"]
    if isinstance(value, str):
        return id_format(value) if key in _ID_KEYS else "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null"


@dataclass
class Observation:
    status: int
    error: dict[str, Any] | None = None
    prompt_tokens: int | None = None
    shape: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Replayed from a cassette: only the headers the cassette keeps are known.
    known_headers: frozenset[str] | None = None
    text: str = ""  # the raw body, abbreviated, for the report of an unexpected answer

    def header_view(self) -> dict[str, str]:
        view: dict[str, str] = {}
        for name in VALUE_HEADERS:
            if name in self.headers:
                view[name] = self.headers[name]
        for name in PRESENCE_HEADERS:
            if name in self.headers:
                view[name] = id_format(self.headers[name]) if name == "x-request-id" else "present"
        return view


def observe(response: HttpResponse, *, known_headers: frozenset[str] | None = None) -> Observation:
    """Read the whole answer (draining a stream) and keep what is compared."""
    headers = {name.lower(): value for name, value in response.headers}
    if response.stream is not None:
        frames = b"".join(_chunks(response.stream))
        return _observe_stream(response.status, headers, frames, known_headers)
    observation = Observation(response.status, headers=headers, known_headers=known_headers)
    observation.text = response.body[:300].decode("utf-8", errors="replace")
    try:
        document = json.loads(response.body)
    except ValueError:
        return observation
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict):
            observation.error = error
        observation.prompt_tokens = _prompt_tokens(document.get("usage"))
    observation.shape = signature(document)
    return observation


def _prompt_tokens(usage: Any) -> int | None:
    """The billed prompt: ``prompt_tokens`` on Chat Completions, ``input_tokens`` on Responses."""
    if not isinstance(usage, dict):
        return None
    for name in ("prompt_tokens", "input_tokens"):
        if isinstance(usage.get(name), int):
            return int(usage[name])
    return None


def _chunks(stream: Iterable[bytes]) -> Iterable[bytes]:
    try:
        yield from stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _observe_stream(
    status: int, headers: dict[str, str], raw: bytes, known: frozenset[str] | None
) -> Observation:
    """A stream's shape: each distinct chunk signature in order (repeats collapsed), then
    the terminator; the usage chunk gives the prompt tokens."""
    observation = Observation(status, headers=headers, known_headers=known)
    observation.text = raw[:300].decode("utf-8", errors="replace")
    sequence: list[Any] = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            entry: Any = "[DONE]"
        else:
            try:
                chunk = json.loads(data)
            except ValueError:
                entry = "malformed"
            else:
                entry = signature(chunk)
                usage = chunk.get("usage") if isinstance(chunk, dict) else None
                tokens = _prompt_tokens(usage)
                if tokens is not None:
                    observation.prompt_tokens = tokens
        if not sequence or sequence[-1] != entry:
            sequence.append(entry)
    observation.shape = ["stream", *sequence]
    return observation
