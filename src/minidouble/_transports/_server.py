"""The loopback server: the one request handler behind a real HTTP socket.

Subprocesses, other languages, curl and any OpenAI-compatible client reach the fake through
it. The HTTP layer is :mod:`minidouble._transports._http1` (httptools on asyncio, no framework, no
middleware): it turns each parsed request into an :class:`HttpRequest`, calls the handler
and writes the :class:`HttpResponse` back, one write per stream chunk so that server-sent
events arrive as they are made.

The handler is CPU-bound (validate, count, generate), so it runs on the event loop itself:
a hop to a worker thread per request would cost more than most requests take. A handler that
may wait (a cassette forwarding to its upstream, simulated latency) is declared
``blocking=True`` and then runs in a thread so the server keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import TracebackType

from minidouble._http import Handler, HttpRequest
from minidouble._transports._http1 import Http1Service

__all__ = ["LoopbackServer", "bind_socket", "format_base_url", "serve_forever"]

_STOP_TIMEOUT = 5.0
_START_TIMEOUT = 10.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed (the `server` extra): a third less time per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def format_base_url(host: str, port: int) -> str:
    """The OpenAI-style base URL (ending in ``/v1``) of a server on ``host:port``."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free port chosen by the system)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"minidouble: cannot listen on {host}:{port} ({exc.strerror}). Pick a free port "
            "with --port, or port 0 to let the system choose one.",
        ) from exc


def serve_forever(
    handler: Handler,
    listener: socket.socket,
    *,
    blocking: bool | Callable[[HttpRequest], bool] = False,
) -> None:
    """Serve on ``listener`` in this thread until Ctrl-C or SIGTERM, then close cleanly.

    For a process that does nothing else (``minidouble serve``): it also tunes the garbage
    collector for serving.
    """
    service = Http1Service(handler, blocking=blocking)
    # A request allocates a few dozen short-lived containers, freed by reference counting;
    # with the default threshold (700) the cyclic collector ran every ~50 requests and
    # walked the request log each time: ~5% of the CPU. Objects alive now (modules, the
    # tokenizer) are frozen out of its walks for good.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    loop = new_event_loop()
    try:
        task = loop.create_task(service.serve(listener, started=lambda: None))
        if sys.platform != "win32":
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, task.cancel)
        # Cancelling is the way to stop; serve() closes its connections on the way out.
        with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
            loop.run_until_complete(task)
    finally:
        loop.close()


class LoopbackServer:
    """A server on a background thread (its own event loop) serving ``handler``; stop it with
    ``close()``.

    Starts on construction, so ``.base_url`` is ready at once; as a context manager it
    closes on exit. Errors the handler raised are kept in ``errors`` (the client only saw a
    500) so a test can fail with them.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        blocking: bool | Callable[[HttpRequest], bool] = False,
    ) -> None:
        self.errors: list[BaseException] = []
        self._socket = bind_socket(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        self._service = Http1Service(handler, blocking=blocking, on_error=self.errors.append)
        self._loop = new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._crash: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"minidouble-server-{self.port}", daemon=True
        )
        self._thread.start()
        self._wait_until_started()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass it as the OpenAI client's ``base_url``."""
        return format_base_url(self.host, self.port)

    @property
    def url(self) -> str:
        """The server's root URL, without ``/v1``."""
        return self.base_url.removesuffix("/v1")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        loop = self._loop
        try:
            asyncio.set_event_loop(loop)
            self._task = loop.create_task(self._service.serve(self._socket, self._started.set))
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass  # close() stops the server this way
        except BaseException as exc:  # surfaced by the starting thread
            self._crash = exc
        finally:
            loop.close()

    def _wait_until_started(self) -> None:
        if not self._started.wait(_START_TIMEOUT) or self._crash is not None:
            self._socket.close()
            raise RuntimeError(
                f"minidouble: the loopback server on {self.host}:{self.port} did not start "
                f"({self._crash!r}). Expected it to listen within {_START_TIMEOUT:.0f} s; "
                "check that httptools is installed and the port is free."
            ) from self._crash

    def close(self) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        if self._thread.is_alive() and self._task is not None:
            # RuntimeError: the loop closed meanwhile, the thread is ending on its own.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(_STOP_TIMEOUT)
        self._socket.close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LoopbackServer {self.base_url} {state}>"
