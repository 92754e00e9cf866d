"""What validation adds on the server's hot path: ``check_request`` against one bare encode.

``check_request`` validates a body and returns its prompt tokens, tokenising once. This script
times it, in one run, on a small request and on a 128,000-token request, against a bare
``encode_ordinary`` of the same text with the same loaded encoding, and prints the ratios.
Target (issue 2): the 128K case within 1.2x of the bare encode.

    python benchmarks/bench_validate.py
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from minidouble import GPT4O_MINI, count_prompt_tokens
from minidouble._model._tokenizer import encoding
from minidouble._model._validate import check_request

TARGET_128K = 1.2


def paired(
    first: Callable[[], object], second: Callable[[], object], repeat: int, number: int
) -> tuple[float, float, float]:
    """Median seconds per call of each, and the median of their per-round ratios.

    The two are timed alternately, round by round, so that load from other processes on a
    shared machine hits both alike.
    """
    firsts, seconds, ratios = [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            first()
        middle = time.perf_counter()
        for _ in range(number):
            second()
        ended = time.perf_counter()
        firsts.append((middle - started) / number)
        seconds.append((ended - middle) / number)
        ratios.append((ended - middle) / (middle - started))
    return statistics.median(firsts), statistics.median(seconds), statistics.median(ratios)


def small_request() -> tuple[dict[str, Any], str]:
    system = "You are a helpful assistant. Answer briefly."
    question = "What is the capital of France, and why is it famous?"
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
        ],
        "temperature": 0.2,
        "max_tokens": 200,
    }
    return body, system + question


def full_context_request() -> tuple[dict[str, Any], str]:
    """A prose-like prompt of exactly the context window."""
    words = [
        "the",
        "committee",
        "reviewed",
        "quarterly",
        "figures",
        "noted",
        "modest",
        "rise",
        "in",
        "costs",
        "and",
        "asked",
        "finance",
        "team",
        "to",
        "prepare",
        "revised",
        "forecast",
        "before",
        "next",
        "meeting",
        "while",
        "engineers",
        "shipped",
        "release",
        "notes",
        "customers",
        "praised",
        "latency",
        "budget",
        "2024",
        "Q3",
        "€1,200",
        "naïve",
        "café",
        "résumé",
        "東京",
        "データ",
    ]
    chooser = random.Random(0)
    window = GPT4O_MINI.context_window
    # Seeded pseudo-prose: varied like real text, identical from run to run.
    text = " ".join(chooser.choice(words) for _ in range(window))
    tokens = encoding().encode_ordinary(text)
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ""}]}
    overhead = count_prompt_tokens(body)
    text = encoding().decode(tokens[: window - overhead])
    body["messages"][0]["content"] = text
    # Decoding a cut can merge tokens at the seam; trim until the prompt fits exactly.
    while count_prompt_tokens(body) > window:
        text = text[:-1]
        body["messages"][0]["content"] = text
    return body, text


def compare_to_bare_encode(
    cases: Sequence[tuple[str, Callable[[], tuple[dict[str, Any], str]], int, int]],
    measure: Callable[[dict[str, Any]], int],
) -> None:
    """Time ``measure(body)`` against a bare encode of each case's text and print the ratios."""
    enc = encoding()
    name = getattr(measure, "__name__", "measured")
    print(f"{'case':<22} {'prompt':>8} {'bare encode':>12} {name:>20} {'ratio':>7}")
    for label, build, repeat, number in cases:
        body, text = build()
        prompt_tokens = measure(body)
        bare, measured, ratio = paired(
            lambda text=text: enc.encode_ordinary(text),
            lambda body=body: measure(body),
            repeat,
            number,
        )
        print(
            f"{label:<22} {prompt_tokens:>8} {bare * 1e3:>10.3f}ms {measured * 1e3:>18.3f}ms "
            f"{ratio:>6.2f}x"
        )
        if label.startswith("128K"):
            verdict = "met" if ratio <= TARGET_128K else "MISSED"
            print(f"  target: <= {TARGET_128K}x of the bare encode ({verdict})")


def main() -> None:
    compare_to_bare_encode(
        [
            ("small request", small_request, 9, 2_000),
            ("128K-token request", full_context_request, 9, 3),
        ],
        check_request,
    )


if __name__ == "__main__":
    main()
