"""Prompt caching against the recordings: each recorded session replayed through one fake.

A *session* is one recorded file (the ``source`` field: one cassette or fixture file, often
several runs of one test, sometimes a whole agent loop), replayed in the order and at the
times it was recorded (``recorded``) through one fake whose clock is that time. The recorded
``cached_tokens`` of every item of 1,024 prompt tokens or more is compared with the fake's.
Shorter prompts are sent too but neither cached nor read, as on the real API.

Counted: items recorded while the API reported the counter (their usage carries
``prompt_tokens_details`` / ``input_tokens_details``; before 2024-10 it did not exist) that
the fake answers (GPT-4o's with the model replaced). What the fake cannot know is
reported, not hidden: a hit on a prefix written by a request the corpus does not hold (the
cache is per organization: another run of the suite, a merged duplicate), a request that
missed although its prefix was just sent (the service's cache is spread over machines), and
hits shorter than the shared prefix (``docs/caching.md``).
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


def _send(app: GPT4oMiniApp, item: Mapping[str, Any]) -> int | None:
    """The fake's cached_tokens for this recorded request (None if the fake refused it)."""
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
        return None
    usage = json.loads(response.body)["usage"]
    details = usage["input_tokens_details" if responses else "prompt_tokens_details"]
    return int(details["cached_tokens"])


def test_cached_tokens_of_replayed_sessions(fidelity_dir: Path) -> None:
    print(
        "\nPrompt caching, each recorded file replayed through one fake at its recorded times"
        "\n| file                    | exact | items | rate   | always 0 | real hits "
        "| fake hits | no writer | rate with a writer | refused |"
    )
    for name in FILES:
        tally: Counter[str] = Counter()
        for session in _sessions(fidelity_dir, name):
            clock = RecordedClock()
            app = GPT4oMiniApp(clock=clock)
            for when, item in session:
                clock.now = when
                got = _send(app, item)
                real = _usage(item)[1]
                if got is None:
                    tally["refused"] += 1
                    continue
                if real is None:
                    continue  # recorded before the counter existed
                tally["items"] += 1
                tally["exact"] += got == real
                tally["zero"] += real == 0
                tally["real hits"] += real > 0
                tally["fake hits"] += got > 0
                # A hit where the fake held no cached prefix: the request that wrote it is
                # not in the session (another run, a merged duplicate) or came too long ago.
                tally["no writer"] += real > 0 and got == 0
        exact, items = tally["exact"], tally["items"]
        with_writer = exact / (items - tally["no writer"])
        print(
            f"| {name:<23} | {exact:>5} | {items:>5} | {exact / items:>6.1%} "
            f"| {tally['zero'] / items:>8.1%} | {tally['real hits']:>9} "
            f"| {tally['fake hits']:>9} | {tally['no writer']:>9} | {with_writer:>18.1%} "
            f"| {tally['refused']:>7} |"
        )
        assert exact / items >= FLOORS[name], (name, exact, items)
