"""httpx clients (openai 1.x/2.x and most Python LLM libraries), intercepted through respx.

One catch-all route decides per request: OpenAI and Azure hosts get the handler's answer; any
other host goes to the next respx router the test has started (so a user's own ``respx.mock``
keeps working beside the fake) or, when there is none, out to the network untouched.

While the fake's router is the only one, OpenAI-bound requests skip respx: the pools answer
them directly, as for httpx2. respx rebuilds each request and response for its routers and
records every call, which cost a small request about as much as the handler itself. With a
test's own router also started, every request goes through respx, so its routes keep the
precedence respx gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx
import respx

from minidouble._http import Handler
from minidouble._transports import is_openai_host
from minidouble._transports._common import (
    CoreModule,
    FaultTypes,
    HandlerStream,
    build_request,
    patched_pools,
    translated_faults,
)

__all__ = ["intercept_httpx"]

_FAULTS = FaultTypes(timeout=httpcore.ReadTimeout, disconnect=httpcore.RemoteProtocolError)
_CORE = CoreModule(
    sync_pool=httpcore.ConnectionPool,
    async_pool=httpcore.AsyncConnectionPool,
    response=httpcore.Response,
    faults=_FAULTS,
)


def _route_to(
    handler: Handler, router: respx.MockRouter
) -> Callable[[httpx.Request], httpx.Response | httpx.Request | None]:
    def side_effect(request: httpx.Request) -> httpx.Response | httpx.Request | None:
        url = request.url
        if not is_openai_host(url.host):
            return _elsewhere(request, router)
        http_request = build_request(
            request.method,
            url.raw_scheme,
            url.raw_host,
            url.port,
            url.raw_path,
            request.headers.raw,
            request.content,
        )
        with translated_faults(_FAULTS):
            response = handler(http_request)
        if response.stream is None:
            return httpx.Response(response.status, headers=response.headers, content=response.body)
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=HandlerStream(response.stream, _FAULTS),  # type: ignore[arg-type]
        )

    return side_effect


def _elsewhere(request: httpx.Request, router: respx.MockRouter) -> httpx.Request | None:
    mocker = router.Mocker
    others = [other for other in (mocker.routers if mocker else ()) if other is not router]
    # None means "not mine": respx then asks the test's own routers. The request itself
    # means pass it through to the network.
    return None if others else request


class _HandlerRoute(respx.Route):
    """A catch-all route that calls the answer directly.

    A plain ``side_effect`` would do, but respx inspects a side effect's signature on every
    call; on the hot path that is a measurable share of a small request.
    """

    def __init__(
        self, answer: Callable[[httpx.Request], httpx.Response | httpx.Request | None]
    ) -> None:
        super().__init__()
        self._answer = answer

    def resolve(self, request: httpx.Request, **kwargs: Any) -> Any:
        return self._answer(request)


@contextmanager
def intercept_httpx(handler: Handler) -> Iterator[None]:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True, using="httpcore")
    router.add(_HandlerRoute(_route_to(handler, router)))

    def alone() -> bool:
        routers = router.Mocker.routers if router.Mocker else ()
        return len(routers) == 1 and routers[0] is router

    # The router first: it starts respx's patches, which the pools' patch then wraps.
    with router, patched_pools(handler, _CORE, answers=alone):
        yield
