"""A test's own ``responses`` mock beside the fake: its routes first, then the fake for OpenAI.

``responses`` refuses every request it does not match unless it is on its passthrough list.
respx beside the fake's httpx interception asks the test's routes first and lets the fake
answer the rest; this gives ``responses`` the same rule: an OpenAI or Azure request that the
test's mock does not match passes through (down to urllib3, where the fake answers it) instead
of being refused. A route the test registered for an OpenAI URL still wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import responses

from minidouble._transports import is_openai_host

__all__ = ["intercept_responses"]

FindMatch = Callable[[Any, Any], "tuple[Any, list[str]]"]


def _find_match(original: FindMatch) -> FindMatch:
    def find_match(mock: Any, request: Any) -> tuple[Any, list[str]]:
        match, reasons = original(mock, request)
        if match is None and is_openai_host(urlsplit(request.url).hostname or ""):
            return responses.PassthroughResponse(request.method, request.url), reasons
        return match, reasons

    return find_match


@contextmanager
def intercept_responses() -> Iterator[None]:
    mock = responses.RequestsMock
    # What the class itself holds (a patch made before, say), not an inherited method.
    original = mock.__dict__["_find_match"]
    mock._find_match = _find_match(original)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        mock._find_match = original  # type: ignore[method-assign]
