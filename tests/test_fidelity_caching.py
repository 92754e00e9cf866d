"""Prompt caching against the recordings: each recorded session replayed through one fake.

A *session* is one recorded file (the ``source`` field: one cassette or fixture file, often
several runs of one test, sometimes a whole agent loop), replayed in the order and at the
times it was recorded (``recorded``) through one fake whose clock is that time. The recorded
``cached_tokens`` of every item of 1,024 prompt tokens or more is compared with the fake's.
Shorter prompts are sent too but neither cached nor read, as on the real API.

Counted: items recorded while the API reported the counter (their usage carries
``prompt_tokens_details`` / ``input_tokens_details``; before 2024-10 it did not exist) that
the fake answers (GPT-4o's with the model replaced). Every miss is reported by kind, not
hidden (``docs/caching.md``): *no writer*, a hit on a prefix written by a request the corpus
does not hold (the cache is per organization: another run of the suite, a merged duplicate);
*real miss*, a request that missed although its prefix was just sent; *shorter*, a hit on
less than the prefix the session shows was sent (the service's cache is spread over
machines, and a request may land on one that holds an older prefix); *longer*, a hit on more
than any earlier prompt shares (the reply cached with its prompt, or the fake's count of the
prompt off, e.g. images of a model replaced). The first two no replay can know; the rate
without them is reported too. Refusals are counted apart: the hosted tools and inputs the
fake does not emulate, and anything else.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from minidouble._http import HttpRequest
from minidouble._service._app import GPT4oMiniApp

FILES = ("real_gpt4o_mini.jsonl", "real_gpt4o.jsonl", "real_more_2026-12.jsonl")
# What the replay reaches (exact cached_tokens on items of 1,024+ tokens); the fake that
# always said 0 matched 64%, 66% and 91% of the same items.
# Mini: 228/306 with the reply's priming cached, 230/306 without (PromptCaching.uncached_tail).
FLOORS = {"real_gpt4o_mini.jsonl": 0.75, "real_gpt4o.jsonl": 0.65, "real_more_2026-12.jsonl": 0.90}
# The same, leaving out the items no replay can know (a writer outside the corpus, a miss of
# a prefix just sent).
KNOWABLE_FLOORS = {
    "real_gpt4o_mini.jsonl": 0.795,
    "real_gpt4o.jsonl": 0.975,
    "real_more_2026-12.jsonl": 0.985,
}
KEY = "sk-replay"


class RecordedClock:
    """The fake's clock during a replay: the time the current item was recorded."""

    now = 0.0

    def __call__(self) -> float:
        return self.now


def _when(stamp: str | None) -> float | None:
    if not stamp:
        return None
    if stamp[0].isdigit():
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    try:
        return parsedate_to_datetime(stamp).timestamp()
    except ValueError:
        return None  # a recorder's "Sanitized" date: no time to replay it at


def _usage(item: Mapping[str, Any]) -> tuple[int, int | None]:
    """The recorded prompt tokens and cached tokens (None: the counter did not exist yet)."""
    usage = item["usage"]
    responses = item["endpoint"].endswith("/responses")
    prompt = usage.get("input_tokens" if responses else "prompt_tokens") or 0
    details = usage.get("input_tokens_details" if responses else "prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    return prompt, cached if isinstance(cached, int) else None


def _sessions(fidelity_dir: Path, name: str) -> Iterator[list[tuple[float, dict[str, Any]]]]:
    sessions: dict[str, list[tuple[float, int, dict[str, Any]]]] = defaultdict(list)
    with (fidelity_dir / name).open(encoding="utf-8") as lines:
        for index, line in enumerate(lines):
            item = json.loads(line)
            when = _when(item.get("recorded"))
            if item["usage"] is None or item["status"] != 200 or when is None:
                continue
            if _usage(item)[0] < 1024:
                continue  # neither cached nor read: it cannot change the replay
            sessions[item["source"]].append((when, index, item))
    for recorded in sessions.values():
        recorded.sort(key=lambda entry: (entry[0], entry[1]))
        yield [(when, item) for when, _, item in recorded]


def _send(app: GPT4oMiniApp, item: Mapping[str, Any]) -> tuple[int, int] | str:
    """The fake's prompt and cached tokens for this recorded request, or why it refused it."""
    body = {**item["request"], "model": "gpt-4o-mini"}
    # Streams carry the same usage (tests/test_caching_app.py); the replay reads bodies.
    body.pop("stream", None)
    body.pop("stream_options", None)
    responses = item["endpoint"].endswith("/responses")
    path = "/v1/responses" if responses else "/v1/chat/completions"
    request = HttpRequest(
        "POST",
        f"https://api.openai.com{path}",
        {"authorization": f"Bearer {KEY}", "content-type": "application/json"},
        json.dumps(body).encode(),
    )
    response = app.handle(request)
    if response.status != 200:
        return str(json.loads(response.body)["error"]["message"])
    usage = json.loads(response.body)["usage"]
    details = usage["input_tokens_details" if responses else "prompt_tokens_details"]
    prompt = usage["input_tokens" if responses else "prompt_tokens"]
    return int(prompt), int(details["cached_tokens"])


def _kind(real: int, fake: int) -> str:
    """Which way a replayed item's cached_tokens agrees with the recording (docs/caching.md)."""
    if real == fake:
        return "exact"
    if fake == 0:
        return "no writer"  # the request that wrote the prefix is not in the corpus
    if real == 0:
        return "real miss"  # the service missed a prefix the corpus shows was just sent
    return "shorter" if real < fake else "longer"


def test_cached_tokens_of_replayed_sessions(fidelity_dir: Path) -> None:
    print(
        "\nPrompt caching, each recorded file replayed through one fake at its recorded times"
        "\n| file                    | exact | items | rate   | always 0 | no writer | real miss "
        "| shorter | longer | rate where knowable | count off | refused (not emulated) |"
    )
    for name in FILES:
        tally: Counter[str] = Counter()
        for session in _sessions(fidelity_dir, name):
            clock = RecordedClock()
            app = GPT4oMiniApp(clock=clock)
            for when, item in session:
                clock.now = when
                got = _send(app, item)
                recorded_prompt, real = _usage(item)
                if isinstance(got, str):
                    tally["refused"] += 1
                    tally["not emulated"] += "is not emulated" in got
                    continue
                if real is None:
                    continue  # recorded before the counter existed
                prompt, fake = got
                tally["items"] += 1
                tally[_kind(real, fake)] += 1
                tally["zero"] += real == 0
                # The fake counted another prompt (the model replaced: gpt-4o's images cost
                # 33 times fewer tokens than gpt-4o-mini's), so its blocks differ too.
                tally["count off"] += prompt != recorded_prompt
        exact, items = tally["exact"], tally["items"]
        # What a replay cannot know: a writer outside the corpus, and the service's misses.
        knowable = items - tally["no writer"] - tally["real miss"]
        print(
            f"| {name:<23} | {exact:>5} | {items:>5} | {exact / items:>6.1%} "
            f"| {tally['zero'] / items:>8.1%} | {tally['no writer']:>9} "
            f"| {tally['real miss']:>9} | {tally['shorter']:>7} | {tally['longer']:>6} "
            f"| {exact / knowable:>19.1%} | {tally['count off']:>9} "
            f"| {tally['refused']:>7} ({tally['not emulated']:>3})          |"
        )
        assert exact / items >= FLOORS[name], (name, exact, items)
        assert exact / knowable >= KNOWABLE_FLOORS[name], (name, exact, knowable)
