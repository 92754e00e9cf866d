"""Keeping credentials off disk: header allowlists, value replacement, a fail-closed scan.

Three layers, because each alone has let keys into public repositories: only allowlisted
headers are stored (vcrpy's denylist missed response headers, vcrpy#569); the actual key,
organisation and project values are replaced wherever they occur (bodies echo them); and the
final text is scanned for anything shaped like a key, refusing to write and naming the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "REQUEST_HEADERS_KEPT",
    "RESPONSE_HEADERS_KEPT",
    "SecretError",
    "Secrets",
    "find_key_like",
    "kept_headers",
]

REQUEST_HEADERS_KEPT = frozenset({"content-type"})
# Churn (date, x-request-id, processing time, remaining quota) and identity (cookies,
# organisation, project) stay out; what a client may act on stays in.
RESPONSE_HEADERS_KEPT = frozenset(
    {
        "content-type",
        "openai-version",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
    }
)
# A refused request's quota state is the point of recording it.
ERROR_RESPONSE_HEADERS_KEPT = RESPONSE_HEADERS_KEPT | {
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
}

_SECRET_HEADERS = {
    "authorization": "<API_KEY>",
    "api-key": "<API_KEY>",
    "openai-organization": "<ORGANIZATION>",
    "openai-project": "<PROJECT>",
}
_SECRET_ENVIRONMENT = {
    "OPENAI_API_KEY": "<API_KEY>",
    "AZURE_OPENAI_API_KEY": "<API_KEY>",
    "AZURE_OPENAI_AD_TOKEN": "<API_KEY>",
    "OPENAI_ADMIN_KEY": "<API_KEY>",
    "OPENAI_ORG_ID": "<ORGANIZATION>",
    "OPENAI_ORGANIZATION": "<ORGANIZATION>",
    "OPENAI_PROJECT_ID": "<PROJECT>",
}
# Shorter values would turn ordinary words of a prompt into placeholders.
_MIN_SECRET_LENGTH = 8

_KEY_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "an OpenAI-style API key (sk-...)"),
    (re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE), "a Bearer token"),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        "a JSON Web Token",
    ),
    (re.compile(r"\borg-[A-Za-z0-9]{24}\b"), "an OpenAI organisation id (org-...)"),
    (re.compile(r"\bproj_[A-Za-z0-9]{24}\b"), "an OpenAI project id (proj_...)"),
)


class SecretError(RuntimeError):
    """Refused to write a cassette that would hold something shaped like a credential."""


def kept_headers(headers: Iterable[tuple[str, str]], allowed: frozenset[str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers if name.lower() in allowed}


class Secrets:
    """The credential values seen in this session, each with the placeholder that replaces it."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self.add_environment(os.environ)

    def add(self, value: str | None, placeholder: str) -> None:
        if value and len(value) >= _MIN_SECRET_LENGTH and value not in self._values:
            self._values[value] = placeholder
            # Replace longer values first so that a key containing another is not half-replaced.
            self._values = dict(sorted(self._values.items(), key=lambda kv: -len(kv[0])))

    def add_environment(self, environment: Mapping[str, str]) -> None:
        for name, placeholder in _SECRET_ENVIRONMENT.items():
            self.add(environment.get(name), placeholder)

    def add_headers(self, headers: Mapping[str, str]) -> None:
        for name, placeholder in _SECRET_HEADERS.items():
            value = headers.get(name)
            if value is None:
                continue
            if name == "authorization" and value[:7].lower() == "bearer ":
                value = value[7:].strip()
            self.add(value, placeholder)

    def scrub(self, text: str) -> str:
        for value, placeholder in self._values.items():
            if value in text:
                text = text.replace(value, placeholder)
        return text

    def scrub_bytes(self, raw: bytes) -> bytes:
        if not self._values or not raw:
            return raw
        for value, placeholder in self._values.items():
            encoded = value.encode()
            if encoded in raw:
                raw = raw.replace(encoded, placeholder.encode())
        return raw

    def scrub_value(self, value: Any) -> Any:
        """``value`` with every known secret replaced, in strings and in keys alike."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_value(v) for v in value]
        return value


def _walk(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _redacted(found: str) -> str:
    return found[:6] + "…" + found[-4:] if len(found) > 14 else found[:3] + "…"


def find_key_like(document: Any) -> list[str]:
    """Every field of ``document`` holding something shaped like a credential, described."""
    problems: list[str] = []
    for path, text in _walk(document, ""):
        for shape, description in _KEY_SHAPES:
            match = shape.search(text)
            if match is not None:
                problems.append(f"{path} holds {description}: {_redacted(match.group())}")
                break
    return problems
