"""A handler whose stream notes each event as it is made, for tests that a client library
reads an SSE stream event by event rather than buffered to the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from minidouble._http import HttpRequest, HttpResponse


def sse_recorder(events: list[str], count: int) -> Any:
    """A handler answering ``count`` SSE events, noting "made N" as each is produced and
    "closed" when the stream ends, into ``events``."""

    def answer(request: HttpRequest) -> HttpResponse:
        def chunks() -> Iterator[bytes]:
            for index in range(count):
                events.append(f"made {index}")
                yield f"data: {index}\n\n".encode()
            events.append("closed")

        return HttpResponse(200, [("content-type", "text/event-stream")], stream=chunks())

    return answer
