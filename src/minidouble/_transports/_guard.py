"""The network guard: while a fake is active, nothing else reaches OpenAI.

Interception answers the clients minidouble knows (httpx, httpx2, aiohttp, urllib3 and so
requests, DSPy's lm15). Anything else (``urllib``/``http.client``, a raw socket, a library on
its own HTTP stack) would go past the fake to the real API, spend money and pass silently. The
guard closes that door at the socket module: a name lookup of, or a connection to,
api.openai.com or an Azure OpenAI host is refused at once with :class:`NetworkGuardError`, a
``ConnectionRefusedError`` (and for a lookup a ``socket.gaierror``) so that libraries handle it
as the refused connection it is. Every other host is untouched.

The guard is process-wide, like the sockets it watches: a thread that is not the test's own is
refused too. It is counted: each active fake holds it, and the last one to stop removes it.
The fake's own upstream connections while recording a cassette run inside :func:`exempt`.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from minidouble._transports import is_openai_host

__all__ = ["NetworkGuardError", "exempt", "guard_active", "network_guard"]


class NetworkGuardError(ConnectionRefusedError):
    """A connection to OpenAI that would have bypassed the active fake."""

    def __init__(self, host: str, how: str) -> None:
        self.host = host
        self.how = how
        super().__init__(
            errno.ECONNREFUSED,
            f"minidouble: refused {how} {host}: a minidouble fake is active, and this "
            "connection would bypass it and reach the real API. Expected OpenAI requests to "
            "go through a client minidouble answers in-process (the openai SDK, httpx, httpx2, "
            "aiohttp, requests/urllib3, DSPy's lm15). For any other client (urllib, "
            "http.client, raw sockets, another language), run `minidouble serve` (or "
            "`fake.serve()`) and point the client's base URL at it, e.g. "
            "OPENAI_BASE_URL=http://127.0.0.1:PORT/v1.",
        )

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its own arguments (across processes: xdist, multiprocessing).
        return (type(self), (self.host, self.how))


class _LookupRefused(NetworkGuardError, socket.gaierror):
    """A name lookup refused: a ``gaierror`` too, which is what resolvers' callers catch."""


_exempt: ContextVar[bool] = ContextVar("minidouble_guard_exempt", default=False)
_lock = threading.Lock()
_holders = 0
_originals: dict[str, Any] = {}


def _host_of(address: Any) -> str | None:
    host = address[0] if isinstance(address, tuple) and address else None
    if isinstance(host, bytes):
        host = host.decode("idna", "replace")
    return host if isinstance(host, str) else None


def _refused(host: str | None) -> bool:
    return host is not None and is_openai_host(host.rstrip(".")) and not _exempt.get()


def _guarded_getaddrinfo(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = _host_of((host,))
        if _refused(name):
            assert name is not None
            raise _LookupRefused(name, "the name lookup of")
        return original(host, *args, **kwargs)

    return getaddrinfo


def _guarded_create_connection(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        host = _host_of(address)
        if _refused(host):
            assert host is not None
            raise NetworkGuardError(host, "a connection to")
        return original(address, *args, **kwargs)

    return create_connection


def _guarded_connect(original: Callable[..., Any], *, ex: bool) -> Callable[..., Any]:
    def connect(sock: socket.socket, address: Any) -> Any:
        host = _host_of(address)
        if _refused(host):
            assert host is not None
            raise NetworkGuardError(host, "a connection to")
        return original(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> Any:
        host = _host_of(address)
        if _refused(host):
            return errno.ECONNREFUSED  # connect_ex reports instead of raising
        return original(sock, address)

    return connect_ex if ex else connect


def _install() -> None:
    _originals.update(
        getaddrinfo=socket.getaddrinfo,
        create_connection=socket.create_connection,
        # What the class itself holds (a test's patch, say), else the C method it inherits.
        connect=socket.socket.__dict__.get("connect"),
        connect_ex=socket.socket.__dict__.get("connect_ex"),
    )
    socket.getaddrinfo = _guarded_getaddrinfo(_originals["getaddrinfo"])
    socket.create_connection = _guarded_create_connection(_originals["create_connection"])
    socket.socket.connect = _guarded_connect(  # type: ignore[method-assign]
        _originals["connect"] or socket.socket.connect, ex=False
    )
    socket.socket.connect_ex = _guarded_connect(  # type: ignore[method-assign]
        _originals["connect_ex"] or socket.socket.connect_ex, ex=True
    )


def _uninstall() -> None:
    socket.getaddrinfo = _originals["getaddrinfo"]
    socket.create_connection = _originals["create_connection"]
    for name in ("connect", "connect_ex"):
        if _originals[name] is None:
            delattr(socket.socket, name)  # back to the inherited C method
        else:
            setattr(socket.socket, name, _originals[name])
    _originals.clear()


def acquire() -> None:
    global _holders
    with _lock:
        _holders += 1
        if _holders == 1:
            _install()


def release() -> None:
    global _holders
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0:
            _uninstall()


def guard_active() -> bool:
    """Whether any fake holds the guard now."""
    return _holders > 0


@contextmanager
def network_guard() -> Iterator[None]:
    """Hold the guard for the block (nested holders keep it until the last one leaves)."""
    acquire()
    try:
        yield
    finally:
        release()


@contextmanager
def exempt() -> Iterator[None]:
    """Let this thread's (or task's) connections in the block through: the fake's own."""
    token = _exempt.set(True)
    try:
        yield
    finally:
        _exempt.reset(token)
