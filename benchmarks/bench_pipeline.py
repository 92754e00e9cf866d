"""What the pipeline itself costs per request: µs of CPU per ``GPT4oMiniApp.handle`` call.

No transport and no client: one ``HttpRequest`` as the openai SDK sends it (its headers, its
JSON bytes) straight into the handler, for a small chat completion, the same streamed (the
events drained, as a client reads them) and a small Responses request. Then the same small
chat completion stage by stage, each stage called on its own with the inputs the pipeline
gives it, so a change can be traced to the step it made cheaper:

    python benchmarks/bench_pipeline.py [--quick] [--profile CASE]

Times are process CPU time (``time.process_time``), the median of several rounds; the log is
cleared between rounds so every round starts from the same state. ``--profile chat`` prints
a cProfile of the small chat case instead.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

from minidouble._endpoints._chat import CHAT
from minidouble._endpoints._protocol import Exchange
from minidouble._http import HttpRequest, RawHeaders
from minidouble._model._validate import check_request, parse_json_body
from minidouble._service._app import GPT4oMiniApp
from minidouble._service._ratelimit import estimate_tokens
from minidouble._service._routes import route
from minidouble._wire._writers import new_request_id

KEY = "sk-minidouble-bench"
SMALL_CHAT: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
        {"role": "user", "content": "What is the capital of France, and why is it famous?"},
    ],
    "model": "gpt-4o-mini",
    "max_tokens": 64,
}
STREAMED_CHAT = {**SMALL_CHAT, "stream": True, "stream_options": {"include_usage": True}}
SMALL_RESPONSES = {
    "input": "What is the capital of France, and why is it famous?",
    "instructions": "You are a helpful assistant. Answer briefly.",
    "model": "gpt-4o-mini",
    "max_output_tokens": 64,
    "store": False,
}
# What openai 3.x sends with every request (values as of 3.63 on Linux).
SDK_HEADERS = [
    (b"Host", b"api.openai.com"),
    (b"Accept-Encoding", b"gzip, deflate, zstd"),
    (b"Connection", b"keep-alive"),
    (b"Accept", b"application/json"),
    (b"Content-Type", b"application/json"),
    (b"User-Agent", b"OpenAI/Python 3.63.0"),
    (b"X-Stainless-Lang", b"python"),
    (b"X-Stainless-Package-Version", b"3.63.0"),
    (b"X-Stainless-OS", b"Linux"),
    (b"X-Stainless-Arch", b"x64"),
    (b"X-Stainless-Runtime", b"CPython"),
    (b"X-Stainless-Runtime-Version", b"3.12.3"),
    (b"Authorization", f"Bearer {KEY}".encode()),
    (b"X-Stainless-Async", b"false"),
    (b"x-stainless-retry-count", b"0"),
    (b"x-stainless-read-timeout", b"600"),
    (b"Content-Length", b"200"),
]


def sdk_request(path: str, body: dict[str, Any]) -> HttpRequest:
    """A fresh request, as a transport builds one per call (nothing cached on it)."""
    raw = json.dumps(body).encode()
    return HttpRequest("POST", "https://api.openai.com" + path, RawHeaders(SDK_HEADERS), raw)


def cpu_per_call(
    call: Callable[[], object], rounds: int, number: int, reset: Callable[[], None]
) -> float:
    """Median µs of process CPU per call over ``rounds`` rounds of ``number`` calls."""
    for _ in range(min(number, 200)):
        call()  # warm: caches, the tokenizer, first-use imports
    reset()
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(number):
            call()
        samples.append((time.process_time() - started) / number * 1e6)
        reset()
    return statistics.median(samples)


def _drain(response: Any) -> None:
    if response.stream is not None:
        for _ in response.stream:
            pass


def handle_cases(app: GPT4oMiniApp) -> dict[str, Callable[[], object]]:
    chat_path, responses_path = "/v1/chat/completions", "/v1/responses"
    asked = iter(range(1 << 62))

    def new_question() -> object:
        # A question never asked before: nothing the fake remembers of earlier requests
        # (token counts of short texts...) helps, as for a suite's varied prompts.
        messages = [SMALL_CHAT["messages"][0], {"role": "user", "content": f"Q{next(asked)}?"}]
        return app.handle(sdk_request(chat_path, {**SMALL_CHAT, "messages": messages}))

    return {
        "chat": lambda: app.handle(sdk_request(chat_path, SMALL_CHAT)),
        "chat, new question": new_question,
        "chat streamed": lambda: _drain(app.handle(sdk_request(chat_path, STREAMED_CHAT))),
        "responses": lambda: app.handle(sdk_request(responses_path, SMALL_RESPONSES)),
    }


def stage_cases(app: GPT4oMiniApp) -> dict[str, Callable[[], object]]:
    """The small chat completion's steps, each on its own (the sum is not the whole: the
    pipeline's glue between them is the difference)."""
    raw = json.dumps(SMALL_CHAT).encode()
    request = sdk_request("/v1/chat/completions", SMALL_CHAT)
    body = parse_json_body(raw)
    profile = app.profile

    def exchange() -> Exchange:
        ex = Exchange(request, new_request_id(), time.perf_counter(), app.clock.now(), None)
        routed = route(request)
        assert not isinstance(routed, tuple)
        ex.route, ex.flavor, ex.body = routed, routed.flavor, body
        return ex

    prompt_tokens = check_request(body, path=request.path, profile=profile)
    return {
        "request + exchange + route": lambda: (
            exchange(),
            sdk_request("/v1/chat/completions", SMALL_CHAT),
        ),
        "auth": lambda: app._authenticate(request, exchange().flavor),
        "parse json": lambda: parse_json_body(raw),
        "limiter (estimate + charge)": lambda: app.limiter.charge(estimate_tokens(body, profile)),
        "validate + count": lambda: check_request(body, path=request.path, profile=profile),
        "respond (engine + wire)": lambda: CHAT.respond(app, exchange(), body, prompt_tokens),
        "respond streamed": lambda: _drain(
            CHAT.respond(app, exchange(), dict(STREAMED_CHAT), prompt_tokens).response
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", choices=["chat", "chat streamed", "responses"])
    parser.add_argument("--handle-only", action="store_true", help="skip the stages")
    args = parser.parse_args()
    rounds, number = (5, 500) if args.quick else (9, 2000)
    app = GPT4oMiniApp()
    if args.profile:
        call = handle_cases(app)[args.profile]
        for _ in range(200):
            call()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(number * 2):
            call()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return
    print("µs of process CPU per GPT4oMiniApp.handle call (median of rounds):")
    for label, call in handle_cases(app).items():
        print(f"  {label:<28} {cpu_per_call(call, rounds, number, app.reset):7.1f}")
    if args.handle_only:
        return
    print("small chat completion, stage by stage:")
    for label, call in stage_cases(app).items():
        print(f"  {label:<28} {cpu_per_call(call, rounds, number, app.reset):7.1f}")


if __name__ == "__main__":
    main()
