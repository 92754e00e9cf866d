"""Latency realism and the cost of the fault machinery, measured in one run.

1. ``latency="realistic"``: a long streamed completion read through the real openai SDK
   in-process; the time to first token and the output speed it sees, against the anchors
   (0.35 s, and GPT-4o mini's measured median of 202 tokens/s).
2. The default (instant) path: what the limiter's estimate, charge and headers cost per
   request, against a whole small request through ``GPT4oMiniApp.handle``. Rate limiting
   is always on (it drives the headers), so it must be a small share of a request.

    python benchmarks/bench_faults.py
"""

from __future__ import annotations

import json
import statistics
import time

import openai

from minidouble import GPT4O_MINI, FakeGPT4oMini
from minidouble._http import HttpRequest
from minidouble._service._app import GPT4oMiniApp
from minidouble._service._ratelimit import RateLimiter, estimate_tokens

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Tell me a story."}]}


def realistic_pace() -> tuple[float, float, int]:
    client = openai.OpenAI(api_key="sk-bench")
    with FakeGPT4oMini():
        client.chat.completions.create(**BODY)  # warm the SDK up: time the fake, not imports
    with FakeGPT4oMini(latency="realistic") as fake:
        fake.reply("word " * 400)
        started = time.perf_counter()
        first = None
        for chunk in client.chat.completions.create(**BODY, stream=True):
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
        ended = time.perf_counter()
        tokens = fake.requests[0].completion_tokens or 0
    assert first is not None
    return first - started, tokens / (ended - first), tokens


def per_call(function: object, number: int) -> float:
    assert callable(function)
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(number):
            function()
        runs.append((time.perf_counter() - started) / number)
    return statistics.median(runs)


def main() -> None:
    ttft, speed, tokens = realistic_pace()
    anchor = GPT4O_MINI.latency
    print(f"realistic latency, {tokens} tokens streamed through openai {openai.__version__}:")
    print(f"  time to first token {ttft:.3f} s (anchor {anchor.time_to_first_token} s)")
    print(
        f"  output speed {speed:.1f} tokens/s (anchor {anchor.tokens_per_second:.0f}, "
        f"ratio {speed / anchor.tokens_per_second:.3f})"
    )

    app = GPT4oMiniApp()
    raw = json.dumps(BODY).encode()
    request = HttpRequest(
        "POST", "https://api.openai.com/v1/chat/completions", {"authorization": "Bearer k"}, raw
    )
    app.handle(request)  # load the encoding once
    limiter = RateLimiter(
        requests_per_minute=10**9, tokens_per_minute=10**12, enforce=True, clock=time.monotonic
    )

    def limit_once() -> None:
        limiter.admit(estimate_tokens(BODY))
        limiter.headers()

    def handle_once() -> None:
        app.handle(request)
        app.requests.clear()

    limiting = per_call(limit_once, 2_000)
    handling = per_call(handle_once, 500)
    print("instant path, small chat request:")
    print(f"  whole request {handling * 1e6:.1f} us, limiter {limiting * 1e6:.1f} us")
    print(f"  limiter share of a request: {limiting / handling:.1%}")


if __name__ == "__main__":
    main()
