"""``FakeGPT4oMini``: the fake as a library object, in-process or on a loopback socket.

``with FakeGPT4oMini() as fake:`` routes every httpx and httpx2 request to api.openai.com or
an Azure OpenAI host to the one request handler for the block's duration; ``fake.serve()``
puts the same handler behind a real socket. Scripting (``reply``, ``fail``, ``requests``) is
the handler's own, so both modes see the same queue and the same log.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, ParamSpec

from minidouble._http import HttpRequest, HttpResponse
from minidouble._options import (
    SPECS,
    BatchTimingMode,
    CassetteTiming,
    LatencyMode,
    Options,
    RecordMode,
    check_names,
    check_values,
)
from minidouble._scripting import Scripting
from minidouble._transports._server import LoopbackServer

if TYPE_CHECKING:
    from minidouble._cassettes import CassetteLayer
    from minidouble._model._profile import ModelProfile
    from minidouble._service._app import GPT4oMiniApp
    from minidouble._service._budget import Usage
    from minidouble._service._resilience import ResilienceReport
    from minidouble._service._script import RecordedRequest

__all__ = ["FakeCheckError", "FakeGPT4oMini", "FakeServer", "ResilienceError"]

_claim_lock = threading.Lock()
_intercepting: FakeGPT4oMini | None = None


class FakeCheckError(AssertionError):
    """A test scripted the fake and the run did not match the script."""


class ResilienceError(AssertionError):
    """The client under test did not cope with the failures the fake served."""


def accepted_options() -> list[str]:
    """Every keyword ``FakeGPT4oMini`` (and so the ``gpt4o_mini`` marker) accepts."""
    return sorted(SPECS)


def _build_app(options: Options) -> GPT4oMiniApp:
    from minidouble._model._profile import GPT4O_MINI
    from minidouble._service._app import GPT4oMiniApp

    return GPT4oMiniApp(
        api_key=options.api_key,
        azure_deployments=options.azure_deployments,
        stream_obfuscation=options.stream_obfuscation,
        requests_per_minute=options.requests_per_minute,
        tokens_per_minute=options.tokens_per_minute,
        clock=options.clock,
        latency=options.latency,
        latency_speedup=options.latency_speedup,
        budget_usd=options.budget_usd,
        budget_tokens=options.budget_tokens,
        prompt_caching=options.prompt_caching,
        batch_timing=options.batch_timing,
        profile=GPT4O_MINI if options.profile is None else options.profile,
    )


_P = ParamSpec("_P")


def _named_unknown_options(init: Callable[_P, None]) -> Callable[_P, None]:
    """Refuse a misspelt keyword with minidouble's message (the closest spelling, the list)
    instead of Python's bare TypeError; the signature stays the typed one."""

    @functools.wraps(init)
    def checked(*args: _P.args, **kwargs: _P.kwargs) -> None:
        check_names(kwargs)
        init(*args, **kwargs)

    return checked


class FakeGPT4oMini(Scripting):
    """A fake GPT-4o mini: real limits, real errors, real token counts, scripted answers.

    Use it as a context manager (sync or async) to intercept in-process, or call
    :meth:`serve` for a loopback server. ``allow_unused=True`` lets the block end with
    scripted replies or failures that no request consumed (by default that fails, because
    a test that scripts an answer its code never asks for is usually testing nothing).
    Other keywords configure the handler (``api_key``, ``azure_deployments``, ...).

    ``cassette="cassettes/x.json"`` answers from a recorded session instead (see
    ``docs/cassettes.md``): ``record_mode`` is ``"none"`` (replay only, the default),
    ``"once"``, ``"new_episodes"`` or ``"all"``; ``upstream`` is where recordings are made
    (by default the host the request named); ``cassette_ignore`` lists JSON pointers left out
    of matching; ``cassette_strict=True`` fails on unused interactions and drifted usage;
    ``cassette_timing="recorded"`` replays at the recorded pace instead of instantly.

    Every keyword is typed (mypy and IDEs check them) and checked at once: a misspelt one
    names the closest spelling, a bad value what was expected. ``fake.options`` holds them
    (a frozen :class:`minidouble.Options`); the ``gpt4o_mini`` marker, ``[tool.minidouble]``,
    the ``--minidouble-*`` options and ``minidouble serve``'s flags take the same keywords.
    """

    @_named_unknown_options
    def __init__(
        self,
        *,
        allow_unused: bool = False,
        api_key: str | None = None,
        azure_deployments: Collection[str] | None = None,
        stream_obfuscation: bool = True,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        clock: Callable[[], float] | None = None,
        latency: LatencyMode = "instant",
        latency_speedup: float = 1.0,
        budget_usd: Decimal | float | str | None = None,
        budget_tokens: int | None = None,
        prompt_caching: bool = True,
        batch_timing: BatchTimingMode | Mapping[str, float] | None = None,
        profile: ModelProfile | None = None,
        cassette: str | os.PathLike[str] | None = None,
        record_mode: RecordMode = "none",
        upstream: str | None = None,
        cassette_ignore: Sequence[str] = (),
        cassette_strict: bool = False,
        cassette_timing: CassetteTiming = "off",
        fixtures: str | os.PathLike[str] | None = None,
    ) -> None:
        # The keywords are minidouble._options.Options's fields (a test keeps them equal);
        # checked here so that errors name the constructor.
        given = {name: value for name, value in locals().items() if name in SPECS}
        options = Options(**check_values(given, lambda name: f"FakeGPT4oMini({name}=...)"))
        self.options = options
        self.allow_unused = options.allow_unused
        self.app = _build_app(options)
        # Whether the handler may wait on I/O or a clock (the loopback server then runs it
        # off the event loop). Layers that forward upstream or simulate latency set it.
        self.blocking = False
        self._interception: AbstractContextManager[None] | None = None
        self.cassette: CassetteLayer | None = None
        if options.fixtures is not None:
            from minidouble._service._fixtures import load_fixtures

            # Read and checked now: a mistake in the file fails here, naming rule and key.
            self.app.fixtures = load_fixtures(options.fixtures)
        if options.cassette is not None:
            from minidouble._cassettes import CassetteLayer

            self.cassette = CassetteLayer(
                options.cassette,
                record_mode=options.record_mode,
                upstream=options.upstream,
                ignore_fields=options.cassette_ignore,
                strict=options.cassette_strict,
                timing=options.cassette_timing,
                profile=self.app.profile,
            )
            # The cassette answers inside the fake's pipeline, in place of its engine: after
            # auth, scripted failures and validation, and logged like the fake's own answers.
            self.app.cassette = self.cassette
            self.blocking = self.cassette.blocking

    # --- scripting, delegated to the one handler --------------------------------------------

    # reply() and fail() come from Scripting, typed.

    def _scripted(self) -> GPT4oMiniApp:
        return self.app

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order, with its parsed body and prompt tokens."""
        return self.app.requests

    def unused_scripts(self) -> list[str]:
        return self.app.unused_scripts()

    def reset(self) -> None:
        self.app.reset()

    def check(self) -> None:
        """Raise :class:`FakeCheckError` if the run did not match the script.

        Fails when a scripted reply did not fit the request it answered (even if the code
        under test swallowed the resulting HTTP error), unless ``allow_unused``, when
        scripted replies or failures were never consumed, and when the requests exceeded a
        budget (``budget_usd``, ``budget_tokens``).
        """
        problems: list[str] = list(self.app.budget_overruns())
        cassette_problem = self.close_cassette()
        if cassette_problem is not None:
            problems.append(cassette_problem)
        for mistake in self.app.script_errors:
            problems.append(f"minidouble: a scripted reply did not fit its request: {mistake}")
        unused = [] if self.allow_unused else self.app.unused_scripts()
        if unused:
            problems.append(
                f"minidouble: {len(unused)} scripted answer(s) were never used: "
                f"{', '.join(unused)}. Expected each fake.reply()/fake.fail() to answer a "
                "request. Remove them, make the code send those requests, or allow it with "
                "allow_unused=True (the gpt4o_mini marker's keyword, or "
                "--minidouble-allow-unused)."
            )
        if problems:
            raise FakeCheckError("\n".join(problems))

    def usage(self) -> Usage:
        """Requests so far and the tokens billed for them (``.cost()`` in dollars)."""
        return self.app.usage()

    def resilience(self) -> ResilienceReport:
        """A verdict on how the client coped with the failures it met (see docs/faults.md)."""
        return self.app.resilience()

    def assert_resilient(self, *, ignore: Iterable[str] = ()) -> None:
        """Fail with a plain-language report unless the client coped with every failure.

        ``ignore`` names checks to leave out (``"cut_stream"`` for code that reports a cut
        stream to its caller instead of asking again, ``"backoff"``...).
        """
        from minidouble._service._resilience import CHECKS

        skipped = tuple(ignore)
        unknown = sorted(set(skipped) - set(CHECKS))
        if unknown:
            raise ValueError(
                f"minidouble: assert_resilient(ignore=...) got unknown checks {unknown}; the "
                f"checks are {list(CHECKS)}."
            )
        report = self.app.resilience()
        if not report.judged or report.failures(skipped):
            raise ResilienceError(str(report))

    def close_cassette(self, *, failed: bool = False) -> str | None:
        """Save the cassette (if recording) and return its problems, or None; idempotent."""
        if self.cassette is None:
            return None
        from minidouble._cassettes import CassetteError

        try:
            self.cassette.close(failed=failed)
        except CassetteError as exc:
            return str(exc)
        return None

    # --- handler -------------------------------------------------------------------------

    def handle(self, request: HttpRequest, *, loopback: bool = False) -> HttpResponse:
        """The request handler every transport calls; the loopback server says ``loopback``
        (loopback-only routes, such as a control API, answer nothing else)."""
        return self.app.handle(request, loopback=loopback)

    def blocks(self, request: HttpRequest) -> bool:
        """Whether answering ``request`` may wait or run long (the loopback server then
        answers it in a thread): always with a cassette that forwards or simulated latency,
        and for routes that do long work (a Batch API call runs the lines that are due)."""
        return self.blocking or self.app.blocks(request)

    def _handle_loopback(self, request: HttpRequest) -> HttpResponse:
        return self.app.handle(request, loopback=True)

    # --- in-process interception ---------------------------------------------------------

    def start(self) -> None:
        """Begin intercepting in-process (what ``with`` does); pair it with :meth:`stop`."""
        global _intercepting
        from minidouble._transports import intercept

        with _claim_lock:
            if _intercepting is not None:
                same = _intercepting is self
                raise RuntimeError(
                    "minidouble: "
                    + ("this FakeGPT4oMini is" if same else "another FakeGPT4oMini is")
                    + " already intercepting OpenAI requests in this process (an enclosing "
                    "`with FakeGPT4oMini()` or the gpt4o_mini fixture); two fakes cannot "
                    "share api.openai.com. Script the active one (fake.reply / fake.fail), or "
                    "use fake.serve() for an independent fake on its own loopback port."
                )
            _intercepting = self
        interception = intercept(self.handle)
        try:
            interception.__enter__()
        except BaseException:
            with _claim_lock:
                _intercepting = None
            raise
        self._interception = interception

    def stop(self) -> None:
        """Stop intercepting and undo every patch; safe to call when not started."""
        global _intercepting
        interception, self._interception = self._interception, None
        try:
            if interception is not None:
                interception.__exit__(None, None, None)
        finally:
            with _claim_lock:
                if _intercepting is self:
                    _intercepting = None

    def __enter__(self) -> FakeGPT4oMini:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        # A failing block already has its error; the script check would only bury it.
        if exc_type is None:
            self.check()
        else:
            self.close_cassette(failed=True)  # keep what was recorded, replace nothing

    async def __aenter__(self) -> FakeGPT4oMini:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    @property
    def intercepting(self) -> bool:
        return self._interception is not None

    # --- loopback ------------------------------------------------------------------------

    def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> FakeServer:
        """Serve this fake on a real socket; the handle's ``.base_url`` ends in ``/v1``.

        The server runs until the handle is closed (``with fake.serve() as server:``).
        It shares this fake's script and request log with in-process interception.
        """
        server = LoopbackServer(self._handle_loopback, host=host, port=port, blocking=self.blocks)
        return FakeServer(self, server, owns_server=True)

    def __repr__(self) -> str:
        mode = "intercepting" if self.intercepting else "idle"
        return f"<FakeGPT4oMini {mode}, {len(self.requests)} request(s)>"


class FakeServer(Scripting):
    """A :class:`FakeGPT4oMini` reachable over a loopback socket.

    Scripting (``reply``, ``fail``, ``requests``) goes to the same fake. ``errors`` holds
    exceptions the handler raised while serving (the client saw a 500).
    """

    def __init__(self, fake: FakeGPT4oMini, server: LoopbackServer, *, owns_server: bool) -> None:
        self.fake = fake
        self._server = server
        self._owns_server = owns_server
        self._first_error = len(server.errors)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass it as the OpenAI client's ``base_url``."""
        return self._server.base_url

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def errors(self) -> list[BaseException]:
        return self._server.errors[self._first_error :]

    def _scripted(self) -> GPT4oMiniApp:
        return self.fake.app

    def assert_resilient(self, *, ignore: Iterable[str] = ()) -> None:
        self.fake.assert_resilient(ignore=ignore)

    def resilience(self) -> ResilienceReport:
        return self.fake.resilience()

    def usage(self) -> Usage:
        return self.fake.usage()

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.fake.requests

    def close(self) -> None:
        if self._owns_server:
            self._server.close()
            if not self.fake.intercepting:
                problem = self.fake.close_cassette()
                if problem is not None:
                    raise FakeCheckError(problem)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FakeServer {self.base_url}>"
