"""Small readers for the fake's responses, shared by the behaviour tests."""

from __future__ import annotations

import json
from typing import Any

from minidouble._http import HttpRequest, HttpResponse

BASE = "https://api.openai.com"
KEY_HEADERS = {"authorization": "Bearer sk-test-key-123456", "content-type": "application/json"}


def chat_request(
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    path: str = "/v1/chat/completions",
    base: str = BASE,
) -> HttpRequest:
    payload = raw if raw is not None else json.dumps(body).encode()
    return HttpRequest(
        "POST", base + path, dict(KEY_HEADERS if headers is None else headers), payload
    )


def get_request(path: str, *, headers: dict[str, str] | None = None) -> HttpRequest:
    return HttpRequest("GET", BASE + path, dict(KEY_HEADERS if headers is None else headers))


def body_bytes(response: HttpResponse) -> bytes:
    if response.stream is not None:
        return b"".join(response.stream)
    return response.body


def as_json(response: HttpResponse) -> Any:
    return json.loads(body_bytes(response))


def events(response: HttpResponse) -> list[Any]:
    """The SSE data payloads, parsed; the final ``[DONE]`` stays a string."""
    raw = body_bytes(response).decode()
    assert raw.endswith("\n\n"), raw[-50:]
    out: list[Any] = []
    for block in raw.split("\n\n")[:-1]:
        assert block.startswith("data: "), block
        data = block[len("data: ") :]
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


def user(text: str = "Say hello.", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}
