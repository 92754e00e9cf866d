"""Re-record the project's own cassettes: ``python cassettes/record.py``.

Every session here is recorded through the loopback fake as the upstream (``minidouble
serve``'s in-process twin, ``FakeGPT4oMini().serve()``), so recording needs no key and no
network, and the recordings show what the fake itself answers. Review ``git diff cassettes/``
before committing, as for any recording.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from minidouble import FakeGPT4oMini

HERE = Path(__file__).resolve().parent
KEY = "sk-minidouble-recording"


def _post(base_url: str, path: str, body: dict[str, Any]) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    response = httpx.post(base_url + path, json=body, headers=headers, timeout=60)
    response.read()


def greeting(base_url: str) -> None:
    """One chat completion and one streamed one (with usage): the docs' and tests' replay."""
    question = {"role": "user", "content": "Say hello in five words."}
    _post(base_url, "/chat/completions", {"model": "gpt-4o-mini", "messages": [question]})
    streamed = {
        "model": "gpt-4o-mini",
        "messages": [question],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    _post(base_url, "/chat/completions", streamed)


SESSIONS: dict[str, Callable[[str], None]] = {"greeting": greeting}


def record(name: str) -> Path:
    path = HERE / f"{name}.json"
    path.unlink(missing_ok=True)
    with FakeGPT4oMini().serve() as upstream:
        # The recording fake sends to the loopback upstream; the client talks to the
        # recording fake over its own loopback socket.
        recorder = FakeGPT4oMini(cassette=path, record_mode="all", upstream=upstream.url)
        with recorder.serve() as server:
            SESSIONS[name](server.base_url)
    json.loads(path.read_text())  # written and well formed
    return path


if __name__ == "__main__":
    for name in SESSIONS:
        print(f"recorded {record(name).relative_to(HERE.parent)}")
