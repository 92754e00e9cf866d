"""Examples per second for every strategy in ``minidouble.strategies``, in one run.

Each strategy runs as a Hypothesis test would (``@given``, generation only, no database, no
shrinking: a passing test's cost), and the script prints examples per second. Anchors from
issue 5, printed as ratios (below 1.0 meets the target):

- 300 ``chat_requests()`` in under 10 s on 2 cores;
- one ``near_limit_requests()`` example (a 128,000-token prompt) in under 20 ms.

Times are CPU seconds of this process (``time.process_time``): the machines this runs on are
shared, and wall-clock time there measures the neighbours. Wall time is printed beside it.
The near-limit figure is also given with a full token count of every example, which is what
a test that checks the count pays on top.

    python benchmarks/bench_strategies.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import minidouble.strategies as mds
from minidouble import count_prompt_tokens
from minidouble._model._tokenizer import encoding

CHAT_REQUESTS_TARGET = (300, 10.0)  # examples, seconds
NEAR_LIMIT_TARGET = 0.020  # seconds per example

_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
]
_SCHEMA = _TOOLS[0]["function"]["parameters"]


def run(
    strategy: st.SearchStrategy[Any], examples: int, use: Callable[[Any], object]
) -> tuple[float, float]:
    """CPU and wall seconds for ``examples`` generated examples of ``strategy``."""

    @settings(max_examples=examples, database=None, phases=[Phase.generate], deadline=None)
    @given(strategy)
    def test(value: Any) -> None:
        use(value)

    cpu, wall = time.process_time(), time.perf_counter()
    test()
    return time.process_time() - cpu, time.perf_counter() - wall


def _ignore(value: Any) -> None:
    return None


def _count(case: mds.NearLimitRequest) -> None:
    assert count_prompt_tokens(case.body) == case.value


def main() -> None:
    encoding()  # loading o200k once is not any strategy's cost
    for warm in (mds.chat_requests(), mds.tool_schemas(), mds.near_limit_requests()):
        run(warm, 5, _ignore)  # Hypothesis' own first-use costs (unicode tables, etc.)

    cases: list[tuple[str, st.SearchStrategy[Any], int, Callable[[Any], object]]] = [
        ("messages()", mds.messages(), 500, _ignore),
        ("conversations()", mds.conversations(), 300, _ignore),
        ("tool_schemas()", mds.tool_schemas(), 300, _ignore),
        ("tools()", mds.tools(), 200, _ignore),
        ("from_tool_schema(weather)", mds.from_tool_schema(_SCHEMA), 500, _ignore),
        ("tool_calls(weather)", mds.tool_calls(_TOOLS), 500, _ignore),
        ("chat_requests()", mds.chat_requests(), CHAT_REQUESTS_TARGET[0], _ignore),
        ("invalid_requests()", mds.invalid_requests(), 300, _ignore),
        ("near_limit_requests()", mds.near_limit_requests(), 100, _ignore),
        ("near_limit_requests() + count", mds.near_limit_requests(), 100, _count),
        ("chat_completions()", mds.chat_completions(tools=_TOOLS), 500, _ignore),
        ("chat_completion_chunks()", mds.chat_completion_chunks(tools=_TOOLS), 300, _ignore),
    ]
    header = f"{'strategy':34} {'examples':>8} {'cpu s':>7} {'wall s':>7}"
    print(f"{header} {'per cpu s':>10} {'ms each':>8}")
    timings: dict[str, float] = {}
    for name, strategy, examples, use in cases:
        cpu, wall = run(strategy, examples, use)
        timings[name] = cpu / examples
        print(
            f"{name:34} {examples:8d} {cpu:7.2f} {wall:7.2f} {examples / cpu:10.0f} "
            f"{1000 * cpu / examples:8.2f}"
        )

    count, budget = CHAT_REQUESTS_TARGET
    chat_seconds = timings["chat_requests()"] * count
    near = timings["near_limit_requests()"]
    print()
    print(
        f"chat_requests(): {count} examples in {chat_seconds:.2f} cpu s "
        f"(target < {budget:.0f} s, ratio {chat_seconds / budget:.2f})"
    )
    print(
        f"near_limit_requests(): {1000 * near:.2f} ms per 128K-token example "
        f"(target < {1000 * NEAR_LIMIT_TARGET:.0f} ms, ratio {near / NEAR_LIMIT_TARGET:.2f}); "
        f"{1000 * timings['near_limit_requests() + count']:.2f} ms with a full token count"
    )


if __name__ == "__main__":
    main()
