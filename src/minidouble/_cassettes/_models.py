"""The cassette file's shape as pydantic models: loading validates every field against them.

Imported only when a cassette is read, so pydantic stays out of the start-up path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CassetteDocument"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoredRequest(_Model):
    method: str
    path: str = Field(pattern=r"^/")
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    body_text: str | None = None
    body_base64: str | None = None


class StoredResponse(_Model):
    status: int = Field(ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    body_style: str | None = None
    body_text: str | None = None
    body_base64: str | None = None
    events: list[Any] | None = None


class StoredInteraction(_Model):
    seq: int = Field(ge=1)
    key: str
    summary: dict[str, Any] = Field(default_factory=dict)
    request: StoredRequest
    response: StoredResponse
    timing: dict[str, Any] | None = None
    # Which test (or server session) recorded it, when several share the file.
    recorded_by: str | None = None


class CassetteDocument(_Model):
    format: Literal["minidouble-cassette"]
    version: int
    recorded_with: dict[str, str] = Field(default_factory=dict)
    upstream: str | None = None
    interactions: list[StoredInteraction]
