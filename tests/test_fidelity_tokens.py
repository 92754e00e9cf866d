"""``count_prompt_tokens`` against every recorded Chat Completions item of the fidelity files.

Every ``*.jsonl`` file of the fidelity directory is read; each chat item with a recorded
``usage`` is counted and compared with its ``usage.prompt_tokens``, per file, per model family
(gpt-4o-mini, or gpt-4o counted as if it were gpt-4o-mini: same tokenizer and template) and
per category. "Reproducible" (docs/token-accounting.md, "Evidence") is a rule, never a list
of items:

* Chat Completions only (Responses API items belong to the Responses fidelity test);
* no remote-URL or file-id images, no file parts: their pixels or pages are not in the
  recording; gpt-4o items with any image are left out (gpt-4o prices images differently);
* one response is one interaction: items of the same cassette with the same ``created``
  second and the same usage, recorded under different bodies, are a cassette edited after
  recording; the interaction is exact when one of its bodies counts exactly;
  where the recorder normalised ``created`` (the item's ``recorded_from`` says so), the same
  usage and the same response message identify the response instead;
* a cassette that stored the body with sorted keys lost the order of a schema's properties
  (the order is rendered): when a schema's property names are in sorted order and its
  ``required`` list names them in another order, the order of ``required`` is an equally
  likely original and counts as a second body (in `tools` and in a json_schema
  `response_format` alike);
* the fake is pinned to the API's current behaviour; where the recordings show the API
  charged more for the same body in an earlier period (README "Time drift"), an item of that
  period is exact when it matches the current count plus that drift: tool requests before
  2024-11-08 (+2), and tools whose schema has a ``type`` list with ``"null"`` before 2026-08
  (+33 to +36 per such list; the identical Responses request dropped by that much between
  2025-12 and 2026-08 and now counts exactly as rendered); and items recorded before March
  2026 are also counted with the answers to a parallel call ASCII-escaped, as they then were.

The table is printed (``pytest -s``) per file, family and category.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from minidouble._model._profile import GPT4O_MINI
from minidouble._model._tokens import count_prompt_tokens

CHAT = "chat/completions"
NOT_REPRODUCIBLE = frozenset({"image_remote_url", "image_file_id", "file"})
# Tool requests recorded before this date carry the older, 2-token larger tools overhead.
TOOL_DRIFT_UNTIL = "2024-11-08"
TOOL_DRIFT_TOKENS = 2
# Before this month a `"type": [..., "null"]` list cost 33-36 tokens more (the old text is
# not known, only its length range: 32 on crewAI 2026-02/03, 34 and 36 on ellmer 2025-06/07).
NULLABLE_DRIFT_UNTIL = "2026-08"
NULLABLE_DRIFT_TOKENS = range(32, 37)
# Before this month the answers to a parallel call were written with ASCII escapes.
PARALLEL_ASCII_UNTIL = "2026-03"
EARLIER_PARALLEL_ANSWERS = dataclasses.replace(
    GPT4O_MINI, tokens=dataclasses.replace(GPT4O_MINI.tokens, parallel_answers_ascii=True)
)
# Issue 15: >= 99.5% of interactions exact per file and family, 100% of text-only items.
REQUIRED_SHARE = 0.995
# Where the target is not reached yet, the share reached is guarded (raise, never lower).
# The misses are listed in docs/token-accounting.md ("What is still missed").
REACHED_SHARE = {
    ("real_more_2026-12.jsonl", "gpt-4o-mini"): 0.939,
}


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


def family(item: Mapping[str, Any]) -> str:
    """gpt-4o-mini or gpt-4o: the request's model, or the response's for Azure deployments."""
    model = item["request"].get("model")
    if not (isinstance(model, str) and model.startswith("gpt-4o")):
        model = item.get("response_model") or ""
    return "gpt-4o-mini" if "mini" in model else "gpt-4o"


def reproducible_chat_items(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if item["usage"] is None or not item["endpoint"].endswith(CHAT):
                continue
            categories = set(item["categories"])
            if NOT_REPRODUCIBLE & categories:
                continue
            if family(item) == "gpt-4o" and "image" in categories:
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
        drifts.update(tokens * nullable for tokens in NULLABLE_DRIFT_TOKENS)
    return frozenset(drifts)


def _required_order(schema: Any) -> Any:
    """The schema with sorted property names put back in ``required`` order, where that differs."""
    if isinstance(schema, list):
        return [_required_order(value) for value in schema]
    if not isinstance(schema, Mapping):
        return schema
    result = {key: _required_order(value) for key, value in schema.items()}
    properties, required = result.get("properties"), result.get("required")
    if isinstance(properties, dict) and isinstance(required, list):
        names = list(properties)
        wanted = [name for name in required if name in properties]
        order = wanted + [name for name in names if name not in wanted]
        if names == sorted(names) and order != names:
            result["properties"] = {name: properties[name] for name in order}
    return result


def bodies(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The request, and its likely original when the recorder sorted a schema's keys."""
    schemas = {key: request.get(key) for key in ("tools", "response_format") if key in request}
    reordered = _required_order(schemas)
    if json.dumps(reordered) == json.dumps(schemas):
        return [request]
    return [request, {**request, **reordered}]


def counts(item: Mapping[str, Any], body: Mapping[str, Any]) -> set[int]:
    """The current count, and the count under the rules of the item's period where they differ."""
    found = {count_prompt_tokens(body)}
    if item["recorded"] < PARALLEL_ASCII_UNTIL:
        found.add(count_prompt_tokens(body, profile=EARLIER_PARALLEL_ANSWERS))
    return found


def response_identity(item: Mapping[str, Any]) -> str:
    """What identifies the recorded response: its ``created`` time, or its text when that is lost.

    A recorder that normalised the response's ids and timestamps (the item's ``recorded_from``
    says so; ``recorded`` is then the date of the commit that changed the file) leaves the
    response itself as its identity: the same usage and the same message under several bodies
    is one response in a cassette edited after recording (ogx renamed its project and its
    tool in recorded requests, keeping each recorded response). A response that calls tools is
    identified by its call ids, which the API draws at random for each response: where the
    edit renamed the tool in the recorded response too, the ids still show it is the same one.
    """
    if item.get("recorded_from"):
        message = item.get("response_message")
        calls = message.get("tool_calls") if isinstance(message, Mapping) else None
        ids = [call.get("id") for call in calls or [] if isinstance(call, Mapping)]
        if ids and all(isinstance(call_id, str) and call_id for call_id in ids):
            return json.dumps(ids)
        return json.dumps(message, sort_keys=True)
    return str(item["recorded"])


def outcomes(path: Path) -> dict[str, list[Outcome]]:
    """Interactions per model family."""
    interactions: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for item in reproducible_chat_items(path):
        usage = json.dumps(item["usage"], sort_keys=True)
        interactions[family(item), item["source"], response_identity(item), usage].append(item)
    results: dict[str, list[Outcome]] = defaultdict(list)
    for (model, *_), items in interactions.items():
        recordings = tuple(
            Recording(int(item["usage"]["prompt_tokens"]), counted, allowed_drifts(item))
            for item in items
            for body in bodies(item["request"])
            for counted in counts(item, body)
        )
        categories = frozenset(category for item in items for category in item["categories"])
        results[model].append(Outcome(categories, items[0]["source"], recordings))
    return results


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
def every_file(fidelity_dir: Path) -> dict[tuple[str, str], list[Outcome]]:
    results = {}
    for path in sorted(fidelity_dir.glob("*.jsonl")):
        for model, found in sorted(outcomes(path).items()):
            results[path.name, model] = found
            print("\n" + match_table(f"{path.name} / {model}", found))
    return results


def share(results: list[Outcome]) -> float:
    return sum(outcome.exact for outcome in results) / len(results)


def test_every_file_is_measured(every_file: dict[tuple[str, str], list[Outcome]]) -> None:
    files = {name for name, _ in every_file}
    assert {"real_gpt4o_mini.jsonl", "real_gpt4o.jsonl", "real_more_2026-12.jsonl"} <= files
    assert sum(len(found) for found in every_file.values()) > 7_000


def test_every_text_only_chat_item_is_exact(
    every_file: dict[tuple[str, str], list[Outcome]],
) -> None:
    for (name, model), found in every_file.items():
        text_only = [o for o in found if "text_only" in o.categories]
        # One gpt-4o text item carries a `prediction`, which gpt-4o (unlike mini) bills.
        billed_prediction = [o for o in text_only if "prediction" in o.categories]
        misses = [o for o in text_only if not o.exact and o not in billed_prediction]
        assert not misses, (name, model, [(o.source, o.bodies) for o in misses[:10]])


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("real_gpt4o_mini.jsonl", "gpt-4o-mini"),
        ("real_gpt4o.jsonl", "gpt-4o"),
        ("real_more_2026-12.jsonl", "gpt-4o-mini"),
        ("real_more_2026-12.jsonl", "gpt-4o"),
    ],
)
def test_chat_items_match(
    every_file: dict[tuple[str, str], list[Outcome]], name: str, model: str
) -> None:
    found = every_file[name, model]
    reached = share(found)
    exact = sum(o.exact for o in found)
    floor = REACHED_SHARE.get((name, model), REQUIRED_SHARE)
    assert reached >= floor, f"{name} / {model}: {exact}/{len(found)} exact"
    if reached < REQUIRED_SHARE:
        pytest.xfail(f"issue 15 target 99.5% not reached: {exact}/{len(found)} ({reached:.1%})")


@pytest.mark.parametrize("category", ["tools", "tool_results", "json_schema", "image_base64"])
def test_each_rule_family_is_mostly_exact(
    every_file: dict[tuple[str, str], list[Outcome]], category: str
) -> None:
    family_items = [
        o for o in every_file["real_gpt4o_mini.jsonl", "gpt-4o-mini"] if category in o.categories
    ]
    assert family_items
    assert share(family_items) >= 0.8


def test_sorted_keys_body_gets_its_required_order_candidate() -> None:
    # Dicts compare equal whatever their key order: the candidate must still be offered.
    schema = {"properties": {"a": {}, "b": {}}, "required": ["b", "a"], "type": "object"}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    found = bodies({"messages": [], "response_format": fmt})
    assert len(found) == 2
    assert list(found[1]["response_format"]["json_schema"]["schema"]["properties"]) == ["b", "a"]


def test_a_normalised_recording_is_identified_by_its_response() -> None:
    base = {"source": "s", "recorded": "2025-10-15", "response_message": {"content": "hi"}}
    edited = {**base, "recorded": "2025-10-25"}
    assert response_identity(base) != response_identity(edited)
    normalised = "git commit date of the recording"
    assert response_identity({**base, "recorded_from": normalised}) == response_identity(
        {**edited, "recorded_from": normalised}
    )


def test_a_normalised_tool_call_response_is_identified_by_its_call_ids() -> None:
    # ogx renamed a tool in a recorded request and in its recorded response alike: the call
    # ids, drawn by the API for each response, still say it is the same response.
    def item(name: str, call_id: str) -> dict[str, Any]:
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        return {"recorded_from": "commit date", "recorded": "x", "response_message": message}

    original, renamed = item("knowledge_search", "call_1"), item("file_search", "call_1")
    assert response_identity(original) == response_identity(renamed)
    assert response_identity(original) != response_identity(item("knowledge_search", "call_2"))
