"""urllib3 clients (requests, and code on urllib3 directly), intercepted at the connection.

``HTTPConnection.connect`` / ``HTTPSConnection.connect`` to an OpenAI or Azure host get a
:class:`HandlerSocket` instead of a TCP (and TLS) socket; every other host connects as usual.
Everything above the socket is urllib3's and http.client's own code: so a stream is read
chunk by chunk (``iter_content``, ``iter_lines``), a timeout is ``ReadTimeoutError`` and so
``requests.ReadTimeout``, a reset is ``ProtocolError('Connection aborted.')``, a cut stream
``ProtocolError('Response ended prematurely')`` and so ``ChunkedEncodingError``, and retries,
redirects and pooling behave as against the real API.

Mocks that live above urllib3 (``responses`` patches requests' ``HTTPAdapter.send``) answer
first: a request reaches the fake only when the test's own mock lets it through.
"""

from __future__ import annotations

import io
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# ``from`` the package: this may run while urllib3 is still importing (patched at its first
# import), before the package has the submodule as an attribute.
from urllib3 import connection as urllib3_connection

from minidouble._http import Handler, HttpRequest
from minidouble._transports import is_openai_host
from minidouble._transports._exchange import Exchange, respond

__all__ = ["HandlerSocket", "intercept_urllib3"]


class HandlerSocket:
    """The socket an intercepted connection holds: what is sent goes to the handler, what is
    received is its answer as HTTP/1.1, produced as the client reads."""

    def __init__(self, handler: Handler, scheme: str, host: str, port: int | None) -> None:
        self._handler = handler
        self._exchange = Exchange(scheme, host, port)
        self._request: HttpRequest | None = None
        self._pieces: Iterator[bytes] | None = None
        self._pending = b""
        self._timeout: float | None = None
        # False once the interception ended, the peer dropped the connection or it closed:
        # the pool then discards this connection instead of reusing it.
        self.alive = True

    # --- what http.client and urllib3 call on a socket -----------------------------------

    def sendall(self, data: bytes) -> None:
        if not self.alive:
            raise BrokenPipeError(32, "Broken pipe")
        request = self._exchange.feed(bytes(data))
        if request is not None:
            self._finish_answer()
            self._request = request

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self))

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def setsockopt(self, *args: Any) -> None:
        return None

    def shutdown(self, how: int) -> None:
        return None

    def close(self) -> None:
        self.alive = False
        self._finish_answer()

    # --- the answer ------------------------------------------------------------------------

    def read_some(self, size: int) -> bytes:
        """Up to ``size`` bytes of the answer: what one piece has left, never waiting for more."""
        if not self._pending:
            self._pending = self._next_piece()
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def _next_piece(self) -> bytes:
        if self._pieces is None:
            request, self._request = self._request, None
            if request is None:
                return b""
            try:
                response = self._handler(request)
            except (TimeoutError, ConnectionError):
                # A simulated timeout or reset: raised where the socket read would raise it.
                self.alive = False
                raise
            self._pieces = respond(response)
        try:
            return next(self._pieces)
        except StopIteration:
            self._pieces = None
            return b""
        except ConnectionError:
            # A cut: the server closes the connection with the body unfinished.
            self._pieces = None
            self.alive = False
            return b""

    def _finish_answer(self) -> None:
        pieces, self._pieces = self._pieces, None
        self._pending = b""
        if pieces is not None and hasattr(pieces, "close"):
            pieces.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: HandlerSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._sock.read_some(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _connect(
    original: Callable[[Any], None], handler: Handler, opened: weakref.WeakSet[Any]
) -> Callable[[Any], None]:
    def connect(conn: Any) -> None:
        tunnel_host = getattr(conn, "_tunnel_host", None)
        host = tunnel_host or conn.host
        if not is_openai_host(host):
            original(conn)
            return
        port = getattr(conn, "_tunnel_port", None) if tunnel_host else conn.port
        https = isinstance(conn, urllib3_connection.HTTPSConnection)
        conn.sock = HandlerSocket(handler, "https" if https else "http", host, port)
        if https:
            conn.is_verified = True  # the fake is the host it claims to be
        opened.add(conn)

    return connect


def _is_connected(original: property) -> property:
    def is_connected(conn: Any) -> bool:
        sock = conn.sock
        if isinstance(sock, HandlerSocket):
            return sock.alive
        return bool(original.__get__(conn))

    return property(is_connected)


@contextmanager
def intercept_urllib3(handler: Handler) -> Iterator[None]:
    plain = urllib3_connection.HTTPConnection
    secure = urllib3_connection.HTTPSConnection
    if "is_connected" not in plain.__dict__:
        # urllib3 1.x checks a pooled connection with select() on its socket, which an
        # in-memory one has not: left unpatched, its requests meet the network guard.
        yield
        return
    # What each class itself holds (a patch made before, say), not an inherited method.
    originals = {
        (plain, "connect"): plain.__dict__["connect"],
        (secure, "connect"): secure.__dict__["connect"],
        (plain, "is_connected"): plain.__dict__["is_connected"],
    }
    opened: weakref.WeakSet[Any] = weakref.WeakSet()
    plain.connect = _connect(originals[plain, "connect"], handler, opened)  # type: ignore[method-assign,assignment]
    secure.connect = _connect(originals[secure, "connect"], handler, opened)  # type: ignore[method-assign,assignment]
    plain.is_connected = _is_connected(originals[plain, "is_connected"])  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        for (cls, name), original in originals.items():
            setattr(cls, name, original)
        # Pooled connections to the fake must not outlive it: closed, they reconnect for real.
        for conn in list(opened):
            if isinstance(conn.sock, HandlerSocket):
                conn.close()
