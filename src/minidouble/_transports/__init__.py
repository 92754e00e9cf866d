"""In-process interception: OpenAI-bound requests of every client minidouble knows go to one
handler, and the network guard refuses any other way out to OpenAI.

httpx clients (openai 1.x/2.x, LangChain, LiteLLM...) are intercepted through respx; httpx2
clients (openai 3.x) through a patch of httpcore2's connection pools, the layer respx patches in
httpcore; aiohttp (LiteLLM's async path) and urllib3 (requests) at the connection, below their
own HTTP code; lm15 (DSPy's default engine) at its transports' ``stream``. Only OpenAI and
Azure OpenAI hosts are routed to the handler; every other request goes out untouched. A client
library that is not installed is simply not patched, and one not imported yet is patched at its
first import if a fake is active then, never imported by it.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

from minidouble._http import Handler

__all__ = ["AZURE_HOST_SUFFIXES", "OPENAI_HOST", "intercept", "is_openai_host"]

OPENAI_HOST = "api.openai.com"
AZURE_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com")


def is_openai_host(host: str) -> bool:
    """Whether a request to ``host`` is one the fake answers in-process."""
    host = host.lower()
    return host == OPENAI_HOST or host.endswith(AZURE_HOST_SUFFIXES)


@functools.cache
def _installed(module: str) -> bool:
    # Asked at every fake's start; what is installed does not change while a process runs.
    return importlib.util.find_spec(module) is not None


def _httpx_patch(handler: Handler) -> Callable[[], AbstractContextManager[None]]:
    def patch() -> AbstractContextManager[None]:
        from minidouble._transports._httpx import intercept_httpx

        return intercept_httpx(handler)

    return patch


def _httpx2_patch(handler: Handler) -> Callable[[], AbstractContextManager[None]]:
    def patch() -> AbstractContextManager[None]:
        from minidouble._transports._httpx2 import intercept_httpx2

        return intercept_httpx2(handler)

    return patch


def _aiohttp_patch(handler: Handler) -> Callable[[], AbstractContextManager[None]]:
    def patch() -> AbstractContextManager[None]:
        from minidouble._transports._aiohttp import intercept_aiohttp

        return intercept_aiohttp(handler)

    return patch


def _urllib3_patch(handler: Handler) -> Callable[[], AbstractContextManager[None]]:
    def patch() -> AbstractContextManager[None]:
        from minidouble._transports._urllib3 import intercept_urllib3

        return intercept_urllib3(handler)

    return patch


def _lm15_patch(handler: Handler, package: str) -> Callable[[], AbstractContextManager[None]]:
    def patch() -> AbstractContextManager[None]:
        from minidouble._transports._lm15 import intercept_lm15

        return intercept_lm15(handler, package)

    return patch


def _responses_patch() -> AbstractContextManager[None]:
    from minidouble._transports._responses import intercept_responses

    return intercept_responses()


@contextmanager
def intercept(handler: Handler) -> Iterator[None]:
    """Route OpenAI-bound requests of every installed client library to ``handler``, and
    refuse every other way to reach OpenAI meanwhile (see ``_guard``)."""
    # Patched now if imported, else at their first import: a fake never imports them. A
    # process on openai 3.x (httpx2) need not import httpx and respx (about 200 ms) nor start
    # respx's patches at every fake (about 0.7 ms) for a library nothing uses.
    from minidouble._transports._lazy import patched_on_import

    with ExitStack() as patches:
        if _installed("httpx") and _installed("respx"):
            patches.enter_context(patched_on_import("httpx", _httpx_patch(handler)))
        if _installed("httpx2") and _installed("httpcore2"):
            patches.enter_context(patched_on_import("httpx2", _httpx2_patch(handler)))
        if _installed("aiohttp"):
            patches.enter_context(patched_on_import("aiohttp.connector", _aiohttp_patch(handler)))
        if _installed("urllib3"):
            patches.enter_context(patched_on_import("urllib3.connection", _urllib3_patch(handler)))
        if _installed("dspy"):
            # DSPy's vendored lm15 (its default engine since 3.4): only its transports
            # package, so an older DSPy without it is never patched.
            lm15 = "dspy._vendor.lm15.transports"
            patches.enter_context(patched_on_import(lm15, _lm15_patch(handler, lm15)))
        if _installed("responses"):
            patches.enter_context(patched_on_import("responses", _responses_patch))
        from minidouble._transports._guard import network_guard

        patches.enter_context(network_guard())
        yield
