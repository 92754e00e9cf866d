"""Every reproducible recorded refusal is reproduced; no recorded answer is refused.

Reads ``real_gpt4o_mini.jsonl`` (real gpt-4o-mini traffic). A recorded error is reproducible
from the body alone unless it depends on something the body does not carry:

* ``/v1/responses`` items belong to the Responses API (its own fidelity test);
* 401s depend on the key, which the server checks (not the validator);
* ``invalid_image_url`` depends on a remote download;
* Azure ``content_filter`` depends on Azure's content classifiers.

Everything else must be rejected with the same status, type, code and param; and every
answered (200) chat item must pass, since a false rejection is as bad as a missed one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minidouble import OpenAIError, validate_request

NOT_REPRODUCIBLE_CODES = {
    "invalid_image_url": "needs a remote download",
    "content_filter": "needs Azure's content classifiers",
}


def _chat_items(
    fidelity_dir: Path, name: str = "real_gpt4o_mini.jsonl"
) -> Iterator[dict[str, Any]]:
    with (fidelity_dir / name).open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if item["endpoint"].endswith("/chat/completions"):
                yield item


def _why_not_reproducible(item: dict[str, Any]) -> str | None:
    if item["status"] == 401:
        return "authentication belongs to the server"
    return NOT_REPRODUCIBLE_CODES.get((item["error"] or {}).get("code"))


def _outcome(item: dict[str, Any]) -> OpenAIError | None:
    try:
        validate_request(item["request"], path=item["endpoint"])
    except OpenAIError as exc:
        return exc
    return None


def _key(status: int, error: dict[str, Any]) -> tuple[Any, ...]:
    return (status, error.get("type"), error.get("code"), error.get("param"))


def test_recorded_refusals_are_reproduced(fidelity_dir: Path) -> None:
    rows: Counter[tuple[str, ...]] = Counter()
    mismatches = []
    verbatim = reproduced = 0
    skipped: Counter[str] = Counter()
    for item in _chat_items(fidelity_dir):
        if item["error"] is None:
            continue
        reason = _why_not_reproducible(item)
        if reason is not None:
            skipped[reason] += 1
            continue
        reproduced += 1
        expected = _key(item["status"], item["error"])
        exc = _outcome(item)
        got = None if exc is None else _key(exc.status, exc.error)
        match = got == expected
        verbatim += exc is not None and exc.message == item["error"]["message"]
        rows[(str(expected[2]), str(expected[3]), "match" if match else f"got {got}")] += 1
        if not match:
            mismatches.append((item["source"], expected, got))
    print(f"\n{'n':>3}  {'code':<30} {'param':<40} result")
    for (code, param, result), count in sorted(rows.items()):
        print(f"{count:>3}  {code:<30} {param:<40} {result}")
    print(f"reproduced {reproduced - len(mismatches)}/{reproduced}; verbatim messages {verbatim}")
    print("not reproducible: " + ", ".join(f"{n} ({why})" for why, n in skipped.items()))
    assert reproduced >= 19
    assert not mismatches, mismatches


def test_recorded_answers_are_not_refused(fidelity_dir: Path) -> None:
    answered = 0
    refused = []
    for item in _chat_items(fidelity_dir):
        if item["error"] is not None or item["status"] != 200:
            continue
        answered += 1
        exc = _outcome(item)
        if exc is not None:
            refused.append((item["source"], exc.param, exc.message[:160]))
    print(f"\nanswered chat items accepted: {answered - len(refused)}/{answered}")
    assert answered > 2000
    assert not refused, refused[:10]


def test_gpt4o_answers_are_valid_for_mini_too(fidelity_dir: Path) -> None:
    # gpt-4o is served by the same validator: its 3,000+ answered requests, with the model
    # renamed, are more evidence that nothing valid is refused.
    answered = 0
    refused = []
    for item in _chat_items(fidelity_dir, "real_gpt4o.jsonl"):
        if item["error"] is not None or item["status"] != 200:
            continue
        answered += 1
        body = dict(item["request"])
        if "model" in body:
            body["model"] = "gpt-4o-mini"
        exc = _outcome({**item, "request": body})
        if exc is not None:
            refused.append((item["source"], exc.param, exc.message[:160]))
    accepted = answered - len(refused)
    print(f"\nanswered gpt-4o chat items accepted as mini requests: {accepted}/{answered}")
    assert answered > 3000
    assert not refused, refused[:10]


@pytest.mark.parametrize("code", sorted(NOT_REPRODUCIBLE_CODES))
def test_the_not_reproducible_codes_really_occur(fidelity_dir: Path, code: str) -> None:
    # Guards the skip list against rot: every exclusion names something in the recordings.
    assert any((item["error"] or {}).get("code") == code for item in _chat_items(fidelity_dir))
