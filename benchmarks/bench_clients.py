"""What one in-process request costs through each client minidouble answers.

    python benchmarks/bench_clients.py            # 300 requests per client
    python benchmarks/bench_clients.py -n 2000

A small chat completion (and the same request streamed, read event by event) is sent N times
through the handler alone, httpx and httpx2 (answered at the connection pools), and requests
and aiohttp (answered by an in-memory HTTP/1.1 connection under their own HTTP code, which
parses and frames each message as on a real socket). Each client reuses one session, as an
application does. Prints the median microseconds per request and the ratio to httpx.
requests spends most of its time on its own per-request work (merging settings, reading the
proxy environment), not on the connection: profile before blaming the interception.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import time
from collections.abc import Callable

from minidouble import FakeGPT4oMini
from minidouble._http import HttpRequest, HttpResponse

URL = "https://api.openai.com/v1/chat/completions"
HEADERS = {"authorization": "Bearer sk-bench-0123456789abcdef", "content-type": "application/json"}
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
STREAM = {**BODY, "stream": True}


def _median_us(send: Callable[[], object], count: int) -> float:
    for _ in range(min(20, count)):  # warm: imports, pools, caches
        send()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        send()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def _consume(response: HttpResponse) -> object:
    return list(response.stream) if response.stream is not None else response.body


def _httpx_like(module: str, body: dict[str, object]) -> Callable[[], object]:
    lib = importlib.import_module(module)
    client = lib.Client()
    content = json.dumps(body).encode()

    def send() -> object:
        with client.stream("POST", URL, headers=HEADERS, content=content) as response:
            return list(response.iter_raw())

    return send


def _requests(body: dict[str, object]) -> Callable[[], object]:
    import requests

    session = requests.Session()
    content = json.dumps(body).encode()

    def send() -> object:
        with session.post(URL, data=content, headers=HEADERS, stream=True) as response:
            return list(response.iter_content(chunk_size=None))

    return send


def _aiohttp(body: dict[str, object], count: int) -> float:
    import aiohttp

    content = json.dumps(body).encode()

    async def run() -> float:
        async with aiohttp.ClientSession() as session:

            async def send() -> None:
                async with session.post(URL, data=content, headers=HEADERS) as response:
                    async for _ in response.content.iter_any():
                        pass

            for _ in range(min(20, count)):
                await send()
            samples = []
            for _ in range(count):
                start = time.perf_counter()
                await send()
                samples.append(time.perf_counter() - start)
            return statistics.median(samples) * 1e6

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="requests per client (default 300)")
    count = parser.parse_args().n
    for label, body in (("plain", BODY), ("streamed", STREAM)):
        results: dict[str, float] = {}
        with FakeGPT4oMini() as fake:
            raw = json.dumps(body).encode()
            request = HttpRequest("POST", URL, HEADERS, raw)
            results["handler alone"] = _median_us(
                lambda request=request: _consume(fake.handle(request)),
                count,
            )
            results["httpx"] = _median_us(_httpx_like("httpx", body), count)
            if importlib.util.find_spec("httpx2"):
                results["httpx2"] = _median_us(_httpx_like("httpx2", body), count)
            if importlib.util.find_spec("requests"):
                results["requests"] = _median_us(_requests(body), count)
            if importlib.util.find_spec("aiohttp"):
                results["aiohttp"] = _aiohttp(body, count)
            fake.reset()
        base = results["httpx"]
        print(f"{label} chat completion, median of {count} requests:")
        for name, micros in results.items():
            print(f"  {name:14s} {micros:9.0f} us  {micros / base:5.2f}x httpx")


if __name__ == "__main__":
    main()
