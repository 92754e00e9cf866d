"""httpx2 clients (openai 3.x), intercepted at httpcore2's connection pools.

respx does not patch httpx2, so this does for httpcore2 what respx does for httpcore: every
httpx2 transport (sync or async, direct or through a proxy) sends through
``ConnectionPool.handle_request`` / ``AsyncConnectionPool.handle_async_request``. The patched
methods answer OpenAI and Azure hosts from the handler and call the original for any other
host, so unrelated traffic is untouched. Patching the pool rather than ``httpx2.HTTPTransport``
also covers clients that bring their own transport subclass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpcore2

from minidouble._http import Handler
from minidouble._transports._common import CoreModule, FaultTypes, patched_pools

__all__ = ["intercept_httpx2"]

_CORE = CoreModule(
    sync_pool=httpcore2.ConnectionPool,
    async_pool=httpcore2.AsyncConnectionPool,
    response=httpcore2.Response,
    faults=FaultTypes(timeout=httpcore2.ReadTimeout, disconnect=httpcore2.RemoteProtocolError),
)


@contextmanager
def intercept_httpx2(handler: Handler) -> Iterator[None]:
    with patched_pools(handler, _CORE):
        yield
