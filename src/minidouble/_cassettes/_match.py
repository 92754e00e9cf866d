"""Which recorded interaction answers a request: canonical keys, an O(1) index, miss reports.

A request's key is its method, path, sorted query and *canonical* body: JSON parsed, the
user's ignored fields removed, integral floats turned into integers, strings in NFC, keys
sorted, compact separators. The same function keys a live request and a stored one, so a
recording always matches the request that produced it.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
import unicodedata
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from minidouble._cassettes._format import decode_body

__all__ = [
    "IgnoreRule",
    "MatchKey",
    "RequestIndex",
    "canonical_body",
    "match_key",
    "nearest",
    "stored_key",
]


@dataclass(frozen=True)
class IgnoreRule:
    """A field left out of matching: a JSON pointer whose segments may be ``*``."""

    pattern: str
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, pattern: str) -> IgnoreRule:
        if not isinstance(pattern, str) or not pattern.startswith("/") or pattern == "/":
            raise ValueError(
                f"minidouble: ignore_fields takes JSON pointers such as '/metadata/run_id' or "
                f"'/messages/*/name' ('*' matches any key or index), got {pattern!r}."
            )
        parts = tuple(p.replace("~1", "/").replace("~0", "~") for p in pattern[1:].split("/"))
        return cls(pattern, parts)

    def remove(self, value: Any) -> Any:
        return _remove(value, self.parts)


def _remove(value: Any, parts: tuple[str, ...]) -> Any:
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        names = list(value) if head == "*" else ([head] if head in value else [])
        if not names:
            return value
        copy = dict(value)
        for name in names:
            if rest:
                copy[name] = _remove(copy[name], rest)
            else:
                del copy[name]
        return copy
    if isinstance(value, list):
        if head == "*":
            indices = range(len(value))
        elif head.isdigit() and int(head) < len(value):
            indices = range(int(head), int(head) + 1)
        else:
            return value
        if not rest:
            return [v for i, v in enumerate(value) if i not in indices]
        items = list(value)
        for i in indices:
            items[i] = _remove(items[i], rest)
        return items
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _normalized(value: Any) -> Any:
    """``value`` with integral floats as integers and strings in NFC."""
    if isinstance(value, str):
        return value if value.isascii() else unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_normalized(k): _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# How json.dumps ends an integral float below 2**53 (the only kind _normalized turns into an
# integer): ".0", then the end of the value. Text in strings may match too, which only costs
# the walk; without the leading digit the pattern starts with a literal and scans fast.
_INTEGRAL_FLOAT = re.compile(r"\.0(?:[,\]}]|$)")


def canonical_text(value: Any, ignores: Sequence[IgnoreRule] = ()) -> str:
    """The text a parsed JSON body is compared by: normalised, ignored fields removed, sorted.

    Most bodies hold no integral float and no text outside NFC, and then their plain dump is
    already normalised: a look at that text (C speed) spares walking the value in Python.
    The text being NFC as a whole implies each string is, since quotes compose with nothing.
    """
    text = _dumps(value)
    if _INTEGRAL_FLOAT.search(text) or not (
        text.isascii() or unicodedata.is_normalized("NFC", text)
    ):
        value = _normalized(value)
        text = _dumps(value)
    if ignores:
        for rule in ignores:
            value = rule.remove(value)
        text = _dumps(value)
    return text


def canonical_body(raw: bytes, ignores: Sequence[IgnoreRule] = ()) -> str:
    """The text two bodies are compared by; a multipart form (a file upload) by its fields,
    whatever boundary the client drew; other non-JSON bodies by their exact bytes."""
    if not raw:
        return ""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        form = _canonical_form(raw)
        return "bytes:" + hashlib.sha256(raw).hexdigest() if form is None else form
    return canonical_text(value, ignores)


def _canonical_form(raw: bytes) -> str | None:
    """A ``multipart/form-data`` body as its fields (name, file name, content digest).

    The boundary is random per upload, so the same file sent twice differs in its bytes; the
    body's first line names the boundary, so no Content-Type header is needed here.
    """
    if not raw.startswith(b"--"):
        return None
    end = raw.find(b"\r\n")
    boundary = raw[2:end] if end > 2 else b""
    if not boundary or len(boundary) > 200:
        return None
    from minidouble._endpoints._batch._multipart import parse_form
    from minidouble._model._errors import OpenAIError

    content_type = "multipart/form-data; boundary=" + boundary.decode("latin-1")
    try:
        parts = parse_form(content_type, raw)
    except OpenAIError:
        return None
    fields = {
        name: {"filename": part.filename, "sha256": hashlib.sha256(part.data).hexdigest()}
        for name, part in parts.items()
    }
    return "multipart:" + _dumps(fields)


# Almost every request of a cassette has the same target, and parsing a URL is dear.
@functools.lru_cache(maxsize=512)
def canonical_target(method: str, path_and_query: str) -> str:
    parts = urlsplit(path_and_query)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{method.upper()} {parts.path}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class MatchKey:
    target: str  # "POST /v1/chat/completions"
    body: str  # canonical body

    @property
    def digest(self) -> str:
        """The short id shown in the file and in messages."""
        text = f"{self.target}\n{self.body}".encode()
        return hashlib.sha256(text).hexdigest()[:16]


def match_key(
    method: str, path_and_query: str, raw_body: bytes, ignores: Sequence[IgnoreRule] = ()
) -> MatchKey:
    return MatchKey(canonical_target(method, path_and_query), canonical_body(raw_body, ignores))


def stored_key(request: Mapping[str, Any], ignores: Sequence[IgnoreRule] = ()) -> MatchKey:
    """The key of a request stored in a cassette: the same as that of the request it records.

    A structured body is keyed as it stands rather than through its bytes, which would be
    serialised only to be parsed again (most of what loading a large cassette cost).
    """
    target = canonical_target(request["method"], request["path"])
    body = request.get("body")
    stored_as_text = request.get("body_text") is not None or request.get("body_base64") is not None
    if body is None or stored_as_text:
        return MatchKey(target, canonical_body(decode_body(request), ignores))
    return MatchKey(target, canonical_text(body, ignores))


class RequestIndex:
    """Key → recorded positions, first in first out: identical requests replay in order."""

    def __init__(self, keys: Iterable[MatchKey]) -> None:
        self._queues: dict[MatchKey, deque[int]] = {}
        self._recorded: dict[MatchKey, int] = {}
        for position, key in enumerate(keys):
            self._queues.setdefault(key, deque()).append(position)
            self._recorded[key] = self._recorded.get(key, 0) + 1

    def take(self, key: MatchKey) -> int | None:
        queue = self._queues.get(key)
        if not queue:
            return None
        return queue.popleft()

    def times_recorded(self, key: MatchKey) -> int:
        return self._recorded.get(key, 0)

    def unused(self) -> list[int]:
        return sorted(p for queue in self._queues.values() for p in queue)


def pretty_body(canonical: str) -> list[str]:
    if not canonical or canonical.startswith("bytes:"):
        return [canonical or "(empty body)"]
    value = json.loads(canonical)
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def nearest(key: MatchKey, candidates: Sequence[MatchKey]) -> int | None:
    """Position of the recorded request most like ``key`` (same method and path first)."""
    if not candidates:
        return None
    same_target = [i for i, c in enumerate(candidates) if c.target == key.target]
    pool = same_target or list(range(len(candidates)))
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(key.body)
    best, best_ratio = pool[0], -1.0
    for position in pool:
        matcher.set_seq1(candidates[position].body)
        if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = position, ratio
    return best


def body_diff(recorded: MatchKey, live: MatchKey, recorded_label: str) -> str:
    lines = list(
        difflib.unified_diff(
            pretty_body(recorded.body),
            pretty_body(live.body),
            fromfile=f"{recorded_label} {recorded.target}",
            tofile=f"this request {live.target}",
            lineterm="",
            n=2,
        )
    )
    if recorded.target != live.target and not lines:
        return f"- {recorded.target}\n+ {live.target}"
    return "\n".join(_mark_changes(lines))


def _mark_changes(lines: list[str]) -> Iterable[str]:
    """Unified diff lines, with a caret line under the characters that changed in a 1:1 edit."""
    for index, line in enumerate(lines):
        yield line
        previous = lines[index - 1] if index else ""
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if (
            line.startswith("+")
            and not line.startswith("+++")
            and previous.startswith("-")
            and not previous.startswith("---")
            and not following.startswith("+")
            and (index < 2 or not lines[index - 2].startswith("-"))
        ):
            old, new = previous[1:], line[1:]
            start = 0
            while start < min(len(old), len(new)) and old[start] == new[start]:
                start += 1
            end_old, end_new = len(old), len(new)
            while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
                end_old -= 1
                end_new -= 1
            yield "?" + " " * start + "^" * max(end_new - start, 1)
