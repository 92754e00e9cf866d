"""Replay cost of minidouble cassettes, and against vcrpy on the same recordings.

    python benchmarks/bench_cassettes.py              # N = 10, 1,000, 10,000; vcrpy at 1,000
    python benchmarks/bench_cassettes.py --vcr-every 1   # replay every vcrpy request (slow)

1. Layer cost: a cassette of N chat completions (distinct bodies) is replayed in recorded
   order through the cassette handler alone, each request matched, validated, recounted,
   answered and logged as the fake logs it. Median microseconds per request at each N;
   target: N=10,000 within 1.2x of N=10.
2. Loading: opening a cassette of N interactions (read, parse, check every field, key every
   request), median of several loads, and vcrpy's load of the same recordings at 1,000.
   Target: 10,000 interactions in under 500 ms.
3. Against vcrpy: the same 1,000 interactions, written by vcrpy's own YAML serializer, are
   replayed through the openai SDK by vcrpy (match on method, uri and body: the default
   ignores the body and would replay stale answers) and by FakeGPT4oMini(cassette=...), which
   is what a test suite pays per request. vcrpy scans its cassette linearly, so by default
   every 10th request is timed (the cost depends on the position, so a stride keeps the
   median honest); minidouble replays all 1,000. Target: at least 50x faster.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from minidouble._cassettes import CassetteLayer
from minidouble._cassettes._commands import convert_vcr
from minidouble._cassettes._format import render_document
from minidouble._http import HttpRequest, HttpResponse

URL = "https://api.openai.com/v1/chat/completions"
KEY = "sk-bench-FAKE-0123456789abcdef"


def question(i: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You are a terse assistant used in a replay benchmark."},
        {"role": "user", "content": f"Question number {i}: what is {i} plus {i}?"},
    ]


def request_body(i: int) -> dict[str, Any]:
    return {"messages": question(i), "model": "gpt-4o-mini", "temperature": 0}


def completion(i: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-bench{i:06d}",
        "object": "chat.completion",
        "created": 1_700_000_000 + i,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer(i), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 8, "total_tokens": 8},
        "system_fingerprint": "fp_bench",
    }


def answer(i: int) -> str:
    return f"{i} plus {i} is {2 * i}."


def vcr_document(n: int) -> dict[str, Any]:
    """N interactions exactly as vcrpy stores them (bodies as strings, headers as lists)."""
    from minidouble import count_prompt_tokens

    interactions = []
    for i in range(n):
        body = completion(i)
        prompt = count_prompt_tokens(request_body(i))
        body["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": 8,
            "total_tokens": prompt + 8,
        }
        interactions.append(
            {
                "request": {
                    "body": json.dumps(request_body(i)),
                    "headers": {
                        "authorization": [f"Bearer {KEY}"],
                        "content-type": ["application/json"],
                    },
                    "method": "POST",
                    "uri": URL,
                },
                "response": {
                    "body": {"string": json.dumps(body, indent=2) + "\n"},
                    "headers": {"content-type": ["application/json"]},
                    "status": {"code": 200, "message": "OK"},
                },
            }
        )
    return {"interactions": interactions, "version": 1}


def write_cassettes(directory: Path, n: int) -> tuple[Path, Path]:
    from vcr.serializers import yamlserializer

    vcr_path = directory / f"vcr_{n}.yaml"
    vcr_path.write_text(yamlserializer.serialize(vcr_document(n)), encoding="utf-8")
    ours = directory / f"minidouble_{n}.json"
    ours.write_text(render_document(convert_vcr(vcr_path)), encoding="utf-8")
    return vcr_path, ours


def refuse(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the cassette did not answer")


def layer_cost(path: Path, n: int, samples: int = 3000) -> float:
    """Median µs per replayed request through the cassette handler alone.

    Small cassettes are replayed in several passes (a fresh layer each) so that every size
    is judged on a few thousand requests rather than on ten.
    """
    requests = [
        HttpRequest(
            "POST", URL, {"authorization": f"Bearer {KEY}"}, json.dumps(request_body(i)).encode()
        )
        for i in range(n)
    ]
    times: list[float] = []
    for _ in range(max(1, samples // n)):
        layer = CassetteLayer(path)
        log: list[Any] = []
        handler = layer.wrap(refuse, log=log.append)
        for i, request in enumerate(requests):
            t = time.perf_counter_ns()
            response = handler(request)
            times.append((time.perf_counter_ns() - t) / 1e3)
            if response.status != 200 or answer(i).encode() not in response.body:
                raise AssertionError(f"wrong replay for {i}: {response.status}")
        report = layer.close()
        assert report.replayed == n and not report.unused and not report.warnings, report
        assert len(log) == n and log[-1].cassette == "replayed" and log[-1].prompt_tokens
    return statistics.median(times)


def load_ms(path: Path, repeats: int = 5) -> float:
    """Median ms to open the cassette ready to replay."""
    loads = []
    for _ in range(repeats):
        started = time.perf_counter()
        layer = CassetteLayer(path)
        loads.append((time.perf_counter() - started) * 1e3)
        del layer  # freeing it is not part of loading the next one
    return statistics.median(loads)


def vcrpy_load_ms(path: Path, repeats: int = 3) -> float:
    import vcr

    recorder = vcr.VCR(record_mode="none", match_on=["method", "uri", "body"])
    loads = []
    for _ in range(repeats):
        started = time.perf_counter()
        with recorder.use_cassette(str(path)):
            loads.append((time.perf_counter() - started) * 1e3)
    return statistics.median(loads)


def sdk_call(client: Any, i: int) -> None:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=question(i), temperature=0)
    if reply.choices[0].message.content != answer(i):
        raise AssertionError(f"wrong replay for {i}: {reply.choices[0].message.content!r}")


def sdk_minidouble(path: Path, indices: list[int]) -> float:
    import openai

    from minidouble._fake import FakeGPT4oMini

    client = openai.OpenAI(api_key=KEY, max_retries=0)
    times = []
    with FakeGPT4oMini(cassette=path, cassette_strict=False):
        sdk_call(client, indices[0])  # warm the client and the interception
        for i in indices[1:]:
            t = time.perf_counter()
            sdk_call(client, i)
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def _httpx_module() -> Any:
    import importlib

    base = importlib.import_module("openai._base_client")
    return getattr(base, "httpx2", None) or base.httpx


def sdk_vcrpy(path: Path, indices: list[int]) -> float:
    import openai
    import vcr

    hx = _httpx_module()

    def unreachable(request: Any) -> Any:
        raise AssertionError("vcrpy did not replay the request")

    client = openai.OpenAI(
        api_key=KEY,
        base_url="https://api.openai.com/v1",
        max_retries=0,
        http_client=hx.Client(transport=hx.MockTransport(unreachable)),
    )
    recorder = vcr.VCR(record_mode="none", match_on=["method", "uri", "body"])
    times = []
    with recorder.use_cassette(str(path)):
        for i in indices:
            t = time.perf_counter()
            sdk_call(client, i)
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--vcr-size", type=int, default=1000)
    parser.add_argument("--vcr-every", type=int, default=10, help="time every k-th request")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        print("replay through the cassette handler (match, validate, recount, answer, log)")
        print(f"{'N':>7} {'file':>9} {'median/request':>15}")
        medians = {}
        paths = {}
        layer_cost(write_cassettes(directory, 10)[1], 10, samples=200)  # imports, caches
        for n in sizes:
            paths[n] = write_cassettes(directory, n)
            median_us = layer_cost(paths[n][1], n)
            medians[n] = median_us
            size = paths[n][1].stat().st_size / 1e6
            print(f"{n:>7} {size:>7.2f}MB {median_us:>12.1f} µs")
        if len(sizes) > 1:
            small, large = min(sizes), max(sizes)
            ratio = medians[large] / medians[small]
            verdict = "meets" if ratio <= 1.2 else "MISSES"
            print(f"ratio N={large:,} / N={small:,}: {ratio:.2f}x ({verdict} the 1.2x target)")

        print("\nloading a cassette (read, parse, check every field, key every request)")
        loads = {n: load_ms(paths[n][1]) for n in sizes if n >= 1000}
        for n, ms in loads.items():
            print(f"{n:>7} {ms:>9.1f} ms")
        if 10_000 in loads:
            verdict = "meets" if loads[10_000] < 500 else "MISSES"
            print(f"N=10,000 loads in {loads[10_000]:.0f} ms ({verdict} the 500 ms target)")

        n = args.vcr_size
        vcr_path, ours = paths[n] if n in paths else write_cassettes(directory, n)
        vcr_load = vcrpy_load_ms(vcr_path)
        ours_load = load_ms(ours)
        print(
            f"at N={n:,}: vcrpy loads in {vcr_load:.1f} ms, minidouble in {ours_load:.1f} ms "
            f"({vcr_load / ours_load:.1f}x faster)"
        )
        strided = list(range(0, n, args.vcr_every))
        print(f"\nthrough the openai SDK at N={n:,} (median ms per request)")
        ours_ms = sdk_minidouble(ours, list(range(n)))
        print(f"  minidouble  {ours_ms:8.3f} ms  (all {n:,} requests)")
        vcr_ms = sdk_vcrpy(vcr_path, strided)
        print(f"  vcrpy       {vcr_ms:8.3f} ms  (every {args.vcr_every}th request, body matching)")
        speedup = vcr_ms / ours_ms
        verdict = "meets" if speedup >= 50 else "MISSES"
        print(f"minidouble is {speedup:.1f}x faster than vcrpy ({verdict} the 50x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
