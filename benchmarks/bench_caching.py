"""What the prompt cache adds to a request: nothing below 1,024 tokens, little above.

The fake counts every prompt; for one of 1,024 tokens or more it then reads the prompt's
tokens (the tokenizer kept them from the count), hashes them in 128-token blocks and looks
them up. This script times count alone against count plus a cache lookup and write (a fresh
cache each time: the first sight of a prompt, the dearest case) and prints the ratios.

    python benchmarks/bench_caching.py
"""

from __future__ import annotations

import functools
import time
from typing import Any

from bench_tokens import full_context_request_with_tools
from bench_validate import full_context_request, paired, small_request

from minidouble import count_prompt_tokens
from minidouble._service._caching import PromptCache, chat_sequence

CASES = [
    ("small request", small_request, 9, 2_000),
    ("128K-token request", full_context_request, 9, 3),
    ("128K + tools", full_context_request_with_tools, 9, 3),
]


# One fake's cache; emptied before each long prompt so that every measured call writes.
CACHE = PromptCache(time.monotonic)


def count_and_cache(body: dict[str, Any]) -> int:
    prompt_tokens = count_prompt_tokens(body)
    if prompt_tokens >= CACHE.rules.minimum_tokens:
        CACHE.clear()
    return CACHE.cached_tokens(prompt_tokens, lambda: chat_sequence(body))


def main() -> None:
    print(f"{'case':<22} {'prompt':>8} {'count':>12} {'count + cache':>16} {'ratio':>7}")
    for label, build, repeat, number in CASES:
        body, _ = build()
        prompt_tokens = count_prompt_tokens(body)
        counted, cached, ratio = paired(
            functools.partial(count_prompt_tokens, body),
            functools.partial(count_and_cache, body),
            repeat,
            number,
        )
        print(
            f"{label:<22} {prompt_tokens:>8} {counted * 1e3:>10.3f}ms {cached * 1e3:>14.3f}ms "
            f"{ratio:>6.2f}x"
        )


if __name__ == "__main__":
    main()
