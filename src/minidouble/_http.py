"""The transport-neutral request and response every adapter speaks.

respx (httpx), the httpx2 patch and the loopback server all turn their native request into an
:class:`HttpRequest`, call one handler, and turn the :class:`HttpResponse` back. Keeping this
boundary tiny is what makes in-process and loopback modes behave identically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Handler", "HttpRequest", "HttpResponse"]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]  # keys lower-case
    body: bytes = b""

    # The handler asks for the path several times per request; the URL never changes.
    @cached_property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # A streamed body: each item is sent as it comes (one SSE event, or a fault's fragment).
    stream: Iterable[bytes] | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


Handler = Callable[[HttpRequest], HttpResponse]
