"""In-process interception: OpenAI-bound requests of httpx and httpx2 clients go to one handler.

httpx clients (openai 1.x/2.x, LangChain, LiteLLM...) are intercepted through respx; httpx2
clients (openai 3.x) through a patch of httpcore2's connection pools, the layer respx patches in
httpcore. Only OpenAI and Azure OpenAI hosts are routed to the handler; every other request goes
out untouched. A client library that is not installed is simply not patched.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from minidouble._http import Handler

__all__ = ["AZURE_HOST_SUFFIXES", "OPENAI_HOST", "intercept", "is_openai_host"]

OPENAI_HOST = "api.openai.com"
AZURE_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com")


def is_openai_host(host: str) -> bool:
    """Whether a request to ``host`` is one the fake answers in-process."""
    host = host.lower()
    return host == OPENAI_HOST or host.endswith(AZURE_HOST_SUFFIXES)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@contextmanager
def intercept(handler: Handler) -> Iterator[None]:
    """Route OpenAI-bound requests of every installed httpx generation to ``handler``."""
    with ExitStack() as patches:
        if _installed("httpx") and _installed("respx"):
            from minidouble._transports._httpx import intercept_httpx

            patches.enter_context(intercept_httpx(handler))
        if _installed("httpx2") and _installed("httpcore2"):
            from minidouble._transports._httpx2 import intercept_httpx2

            patches.enter_context(intercept_httpx2(handler))
        yield
