"""The transport-neutral request and response every adapter speaks.

respx (httpx), the httpx2 patch and the loopback server all turn their native request into an
:class:`HttpRequest`, call one handler, and turn the :class:`HttpResponse` back. Keeping this
boundary tiny is what makes in-process and loopback modes behave identically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Handler", "HttpRequest", "HttpResponse", "RawHeaders"]

_Default = TypeVar("_Default")
_Value = TypeVar("_Value")


class RawHeaders(Mapping[str, str]):
    """Request headers kept as the latin-1 pairs the client or server holds, read as a
    read-only mapping with lower-case names (the last of repeated names wins, as in a dict).

    A request carries a dozen headers and the fake reads one of them (the key): decoding
    them all up front was a tenth of a small request's cost. They are decoded on the first
    read of anything else, once; the request log keeps the object as it is.
    """

    __slots__ = ("_decoded", "_pairs")

    def __init__(self, pairs: Iterable[tuple[bytes, bytes]]) -> None:
        self._pairs = tuple(pairs)
        self._decoded: dict[str, str] | None = None

    @property
    def pairs(self) -> tuple[tuple[bytes, bytes], ...]:
        return self._pairs

    @property
    def decoded(self) -> bool:
        """Whether a read has decoded the pairs yet."""
        return self._decoded is not None

    def _mapping(self) -> dict[str, str]:
        decoded = self._decoded
        if decoded is None:
            decoded = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self._pairs}
            self._decoded = decoded
        return decoded

    def __getitem__(self, name: str) -> str:
        return self._mapping()[name]

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | _Default) -> str | _Default: ...

    def get(self, name: str, /, default: object = None) -> object:
        if self._decoded is None:
            wanted = name.encode("latin-1")
            size = len(wanted)
            for key, value in reversed(self._pairs):
                # Lengths first: most names differ in length, and lower() copies.
                if len(key) == size and key.lower() == wanted:
                    return value.decode("latin-1")
            return default
        return self._decoded.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())

    def __repr__(self) -> str:
        return repr(self._mapping())


class _remembered(Generic[_Value]):
    """``functools.cached_property`` without the lock it takes on every first read before
    Python 3.12: a request is read by one thread, and the value is the same either way."""

    def __init__(self, compute: Callable[[Any], _Value]) -> None:
        self._compute = compute
        self._name = compute.__name__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _remembered[_Value]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _Value: ...

    def __get__(self, instance: object, owner: type | None = None) -> object:
        if instance is None:
            return self
        value = instance.__dict__[self._name] = self._compute(instance)
        return value


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]  # keys lower-case
    body: bytes = b""

    # The handler asks for the path several times per request; the URL never changes.
    @_remembered
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
    # A tuple where it can be (json_response's): tuples of strings are not tracked by the
    # garbage collector, and the request log keeps every response.
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    # A streamed body: each item is sent as it comes (one SSE event, or a fault's fragment).
    stream: Iterable[bytes] | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


Handler = Callable[[HttpRequest], HttpResponse]
