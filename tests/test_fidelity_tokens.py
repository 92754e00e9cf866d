"""``count_prompt_tokens`` against 2,200 real recorded gpt-4o-mini Chat Completions.

Every chat item of ``real_gpt4o_mini.jsonl`` with a recorded ``usage`` is counted and compared
with its ``usage.prompt_tokens``. "Reproducible" (docs/token-accounting.md, "Evidence") is a
rule, never a list of items:

* Chat Completions only (Responses API items belong to the Responses fidelity test);
* no remote-URL or file-id images, no file parts: their pixels or pages are not in the
  recording, or cannot be read offline (a PDF's text and page images);
* one response is one interaction: items of the same cassette with the same ``created``
  second and the same usage, recorded under different bodies, are a cassette edited after
  recording (a typo fixed, a tool renamed); only one of the bodies was sent, so the
  interaction counts once, exact when one of its bodies counts exactly;
* the fake is pinned to the API's current behaviour; where the recordings show the API
  charged more for the same body in an earlier period (README "Time drift"), an item of that
  period is exact when it matches the current count or the current count plus that drift:
  tool requests before 2024-11-08 (+2), and tools whose schema has a ``type`` list with
  ``"null"`` before 2026-08 (+33 per such property; the identical Responses request dropped
  from 150 to 116 input tokens between 2025-11 and 2026-08).

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

from minidouble._model._tokens import count_prompt_tokens

CHAT = "chat/completions"
NOT_REPRODUCIBLE = frozenset({"image_remote_url", "image_file_id", "file"})
# Tool requests recorded before this date carry the older, 2-token larger tools overhead.
TOOL_DRIFT_UNTIL = "2024-11-08"
TOOL_DRIFT_TOKENS = 2
# Before this month a `"type": [..., "null"]` property cost 33 tokens more (34-36 in 2025).
NULLABLE_DRIFT_UNTIL = "2026-08"
NULLABLE_DRIFT_TOKENS = 33
# Issue 2 asks for 99.5%. This floor guards what is reached: raise it as rules improve, never
# lower it.
REQUIRED_SHARE = 0.995


@dataclass(frozen=True)
class Recording:
    """One recorded body of an interaction, with the count it got and ours."""

    recorded: int
    counted: int
    drifts: frozenset[int] = frozenset({0})

    @property
    def exact(self) -> bool:
        return self.recorded - self.counted in self.drifts


@dataclass(frozen=True)
class Outcome:
    """One real interaction: usually one body, several when the cassette was edited."""

    categories: frozenset[str]
    source: str
    bodies: tuple[Recording, ...]

    @property
    def exact(self) -> bool:
        return any(body.exact for body in self.bodies)


def reproducible_chat_items(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if item["usage"] is None or not item["endpoint"].endswith(CHAT):
                continue
            if NOT_REPRODUCIBLE & set(item["categories"]):
                continue
            yield item


def _nullable_type_lists(schema: Any) -> int:
    if isinstance(schema, list):
        return sum(_nullable_type_lists(value) for value in schema)
    if not isinstance(schema, Mapping):
        return 0
    kind = schema.get("type")
    own = int(isinstance(kind, list) and "null" in kind)
    return own + sum(_nullable_type_lists(value) for value in schema.values())


def allowed_drifts(item: Mapping[str, Any]) -> frozenset[int]:
    drifts = {0}
    if "tools" in item["categories"] and item["recorded"] < TOOL_DRIFT_UNTIL:
        drifts.add(TOOL_DRIFT_TOKENS)
    request = item["request"]
    nullable = _nullable_type_lists([request.get("tools"), request.get("functions")])
    if nullable and item["recorded"] < NULLABLE_DRIFT_UNTIL:
        drifts.add(NULLABLE_DRIFT_TOKENS * nullable)
    return frozenset(drifts)


def outcomes(path: Path) -> list[Outcome]:
    interactions: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for item in reproducible_chat_items(path):
        usage = json.dumps(item["usage"], sort_keys=True)
        interactions[item["source"], item["recorded"], usage].append(item)
    return [
        Outcome(
            frozenset(category for item in items for category in item["categories"]),
            items[0]["source"],
            tuple(
                Recording(
                    int(item["usage"]["prompt_tokens"]),
                    count_prompt_tokens(item["request"]),
                    allowed_drifts(item),
                )
                for item in items
            ),
        )
        for items in interactions.values()
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
        rows.append(f"{category:<16}{exact[category]:>7}/{total[category]:<6}{share:>8.1%}")
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
    assert not misses, [(o.source, o.bodies) for o in misses[:10]]


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
    # One gpt-4o text item carries a `prediction`, which gpt-4o (unlike mini) bills.
    assert sum(o.exact for o in text_only) >= len(text_only) - 1
