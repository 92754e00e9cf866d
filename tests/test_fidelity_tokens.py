"""``count_prompt_tokens`` against 2,200 real recorded gpt-4o-mini Chat Completions.

Every chat item of ``real_gpt4o_mini.jsonl`` with a recorded ``usage`` is counted and compared
with its ``usage.prompt_tokens``. "Reproducible" (docs/token-accounting.md, "Evidence") is a
rule, never a list of items:

* Chat Completions only (Responses API items belong to the Responses fidelity test);
* no remote-URL or file-id images: their pixels are not in the recording;
* tool requests recorded before 2024-11-08 counted 2 more tokens than the same request counts
  today (README "Time drift"); the fake is pinned to current behaviour, so their expected
  value is the recorded one minus the profile's drift.

The match table is printed per category (``pytest -s`` or the terminal summary).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from minidouble._tokens import count_prompt_tokens

CHAT = "chat/completions"
NOT_REPRODUCIBLE = frozenset({"image_remote_url", "image_file_id"})
# Tool requests recorded before this date carry the older, 2-token larger tools overhead.
TOOL_DRIFT_UNTIL = "2024-11-08"
TOOL_DRIFT_TOKENS = 2
REQUIRED_SHARE = 0.995


@dataclass(frozen=True)
class Outcome:
    categories: frozenset[str]
    expected: int
    counted: int
    source: str

    @property
    def exact(self) -> bool:
        return self.expected == self.counted


def reproducible_chat_items(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if item["usage"] is None or not item["endpoint"].endswith(CHAT):
                continue
            if NOT_REPRODUCIBLE & set(item["categories"]):
                continue
            yield item


def expected_prompt_tokens(item: Mapping[str, Any]) -> int:
    recorded = int(item["usage"]["prompt_tokens"])
    if "tools" in item["categories"] and item["recorded"] < TOOL_DRIFT_UNTIL:
        return recorded - TOOL_DRIFT_TOKENS
    return recorded


def outcomes(path: Path) -> list[Outcome]:
    return [
        Outcome(
            frozenset(item["categories"]),
            expected_prompt_tokens(item),
            count_prompt_tokens(item["request"]),
            item["source"],
        )
        for item in reproducible_chat_items(path)
    ]


def match_table(title: str, results: list[Outcome]) -> str:
    exact: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for outcome in results:
        for category in ("ALL", *sorted(outcome.categories)):
            total[category] += 1
            exact[category] += outcome.exact
    rows = [f"{title}: prompt_tokens exact per category", f"{'category':<16}{'exact':>16}"]
    for category in sorted(total, key=lambda name: (name != "ALL", -total[name], name)):
        share = exact[category] / total[category]
        rows.append(
            f"{category:<16}{exact[category]:>7}/{total[category]:<6}{share:>8.1%}"
        )
    return "\n".join(rows)


@pytest.fixture(scope="module")
def mini_outcomes(fidelity_dir: Path) -> list[Outcome]:
    results = outcomes(fidelity_dir / "real_gpt4o_mini.jsonl")
    print("\n" + match_table("real_gpt4o_mini.jsonl", results))
    return results


def test_every_text_only_chat_item_is_exact(mini_outcomes: list[Outcome]) -> None:
    text_only = [o for o in mini_outcomes if "text_only" in o.categories]
    misses = [o for o in text_only if not o.exact]
    assert len(text_only) > 1_000
    assert not misses, [(o.source, o.expected, o.counted) for o in misses[:10]]


def test_reproducible_chat_items_match(mini_outcomes: list[Outcome]) -> None:
    exact = sum(o.exact for o in mini_outcomes)
    share = exact / len(mini_outcomes)
    assert len(mini_outcomes) > 2_000
    assert share >= REQUIRED_SHARE, f"{exact}/{len(mini_outcomes)} exact"


@pytest.mark.parametrize("category", ["tools", "tool_results", "json_schema", "image_base64"])
def test_each_rule_family_is_mostly_exact(mini_outcomes: list[Outcome], category: str) -> None:
    family = [o for o in mini_outcomes if category in o.categories]
    assert family
    assert sum(o.exact for o in family) / len(family) >= 0.8


def test_gpt4o_rates_are_reported(fidelity_dir: Path) -> None:
    """Same tokenizer and template; reported, not asserted (GPT-4o prices images differently)."""
    results = outcomes(fidelity_dir / "real_gpt4o.jsonl")
    print("\n" + match_table("real_gpt4o.jsonl (report only)", results))
    text_only = [o for o in results if "text_only" in o.categories]
    assert all(o.exact for o in text_only)
