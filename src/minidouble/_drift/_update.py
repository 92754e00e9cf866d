"""From observed drift to proposed profile values, written as a snippet for review."""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from minidouble._drift._observe import Observation
from minidouble._drift._probes import Probe
from minidouble._model._profile import ModelProfile

__all__ = ["ProfileChange", "apply_changes", "infer_changes", "render_json", "render_python"]


@dataclass(frozen=True)
class ProfileChange:
    path: str  # dotted attribute path from ModelProfile: "tokens.image.tile_tokens"
    old: Any
    new: Any
    evidence: str


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    real: Observation
    fake: Observation


def read_path(profile: ModelProfile, path: str) -> Any:
    value: Any = profile
    for part in path.split("."):
        value = getattr(value, part)
    return value


def apply_changes(profile: ModelProfile, changes: list[ProfileChange], on: date) -> ModelProfile:
    """``profile`` with every change applied and ``verified_on`` set."""
    updated = profile
    for change in changes:
        updated = _replace_path(updated, change.path.split("."), change.new)
    return dataclasses.replace(updated, verified_on=on)


def _replace_path(obj: Any, parts: list[str], value: Any) -> Any:
    head, rest = parts[0], parts[1:]
    new = value if not rest else _replace_path(getattr(obj, head), rest, value)
    return dataclasses.replace(obj, **{head: new})


def infer_changes(profile: ModelProfile, outcomes: list[Outcome]) -> list[ProfileChange]:
    """The profile values the upstream's answers imply, one change per field."""
    by_name = {o.probe.name: o for o in outcomes}
    shared = _SharedDrift.of(profile, by_name.get(_PER_MESSAGE_PROBE))
    changes: dict[str, ProfileChange] = {}
    for outcome in outcomes:
        for change in (
            _limit_change(profile, outcome),
            _token_change(profile, outcome, by_name, shared),
            _wording_change(profile, outcome),
        ):
            if change is not None and change.path not in changes:
                changes[change.path] = change
    return list(changes.values())


def _limit_change(profile: ModelProfile, outcome: Outcome) -> ProfileChange | None:
    probe, real, fake = outcome.probe, outcome.real, outcome.fake
    if probe.limit is None or real.status == fake.status:
        return None
    path, value = probe.limit
    old = read_path(profile, path)
    if real.status < 400 <= fake.status:
        return ProfileChange(path, old, value, f"{probe.name}: the upstream accepted {value} "
                             f"(the limit is at least {value})")  # fmt: skip
    if fake.status < 400 <= real.status:
        message = str((real.error or {}).get("message", ""))
        smaller = [int(n) for n in re.findall(r"\d+", message.replace(",", "")) if int(n) < value]
        new = max(smaller) if smaller else value - 1
        return ProfileChange(path, old, new, f"{probe.name}: the upstream refused {value}: "
                             f"{message!r}")  # fmt: skip
    return None


def _delta(outcome: Outcome | None) -> int:
    if outcome is None:
        return 0
    real, fake = outcome.real.prompt_tokens, outcome.fake.prompt_tokens
    return real - fake if real is not None and fake is not None else 0


# The probe whose prompt-token difference measures the per-message cost every other token
# probe also pays, once per message.
_PER_MESSAGE_PROBE = "tokens.text"


@dataclass(frozen=True)
class _SharedDrift:
    """How far the real per-message cost moved, to take out of every other token probe.

    A probe pays it once per message it renders, which is how far the fake's own count of
    the probe moves when ``per_message`` moves by one. Without taking it out, one moved
    per-message cost was proposed as a change to every field a token probe measures.
    """

    profile: ModelProfile
    per_message: int = 0

    @classmethod
    def of(cls, profile: ModelProfile, measured: Outcome | None) -> _SharedDrift:
        if measured is None or measured.real.status != measured.fake.status:
            return cls(profile)
        drift, paid = _delta(measured), _messages_paid(profile, measured.probe)
        # A difference that is no whole number per message is not a per-message drift.
        return cls(profile, drift // paid if paid and drift % paid == 0 else 0)

    def residual(self, outcome: Outcome | None) -> int:
        """The probe's prompt-token difference, less the per-message drift it pays."""
        if outcome is None:
            return 0
        if not self.per_message:
            return _delta(outcome)
        return _delta(outcome) - self.per_message * _messages_paid(self.profile, outcome.probe)


def _messages_paid(profile: ModelProfile, probe: Probe) -> int:
    tokens = profile.tokens
    one_more = dataclasses.replace(tokens, per_message=tokens.per_message + 1)
    bumped = dataclasses.replace(profile, tokens=one_more)
    return probe.prompt_tokens(bumped) - probe.prompt_tokens(profile)


def _token_change(
    profile: ModelProfile,
    outcome: Outcome,
    by_name: dict[str, Outcome],
    shared: _SharedDrift,
) -> ProfileChange | None:
    probe = outcome.probe
    if probe.token_field is None or outcome.real.status != outcome.fake.status:
        return None
    if probe.name == _PER_MESSAGE_PROBE:
        delta = _delta(outcome)
    else:
        delta = shared.residual(outcome)
        if probe.token_baseline is not None:
            delta -= shared.residual(by_name.get(probe.token_baseline))
    if delta == 0 or delta % probe.token_divisor:
        return None
    old = read_path(profile, probe.token_field)
    return ProfileChange(
        probe.token_field,
        old,
        old + delta // probe.token_divisor,
        f"{probe.name}: prompt tokens real {outcome.real.prompt_tokens}, fake "
        f"{outcome.fake.prompt_tokens}",
    )


_WORD = re.compile(r"[\w'-]+|\S")


def _wording_change(profile: ModelProfile, outcome: Outcome) -> ProfileChange | None:
    probe = outcome.probe
    if probe.wording is None:
        return None
    real = str((outcome.real.error or {}).get("message", ""))
    fake = str((outcome.fake.error or {}).get("message", ""))
    if not real or not fake or real == fake:
        return None
    old = read_path(profile, probe.wording)
    real_words, fake_words = _WORD.findall(real), _WORD.findall(fake)
    matcher = difflib.SequenceMatcher(a=fake_words, b=real_words, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "replace" and " ".join(fake_words[a0:a1]) == old:
            new = " ".join(real_words[b0:b1])
            return ProfileChange(probe.wording, old, new, f"{probe.name}: {real!r}")
    return None


def render_python(
    profile: ModelProfile, changes: list[ProfileChange], on: date, upstream: str
) -> str:
    """A snippet that builds the updated profile; paste its values into ``_profile.py``."""
    tree: dict[str, Any] = {}
    for change in changes:
        node = tree
        *parents, leaf = change.path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = change
    lines = [
        f"# minidouble drift against {upstream} on {on.isoformat()}: the values the upstream",
        f"# showed, for review. Profile {profile.profile_version} was verified on "
        f"{profile.verified_on.isoformat()}.",
        "# Copy the reviewed values into GPT4O_MINI in src/minidouble/_model/_profile.py.",
        "import dataclasses",
        "import datetime",
        "",
        "from minidouble._model._profile import GPT4O_MINI",
        "",
        "UPDATED_PROFILE = " + _render_replace("GPT4O_MINI", tree, 0, on),
        "",
    ]
    return "\n".join(lines)


def _render_replace(base: str, tree: dict[str, Any], depth: int, on: date | None) -> str:
    pad = "    " * (depth + 1)
    parts = [f"dataclasses.replace(\n{pad}{base},"]
    if on is not None:
        parts.append(f"{pad}verified_on=datetime.date({on.year}, {on.month}, {on.day}),")
    for name, value in tree.items():
        if isinstance(value, ProfileChange):
            parts.append(f"{pad}# was {value.old!r}; {value.evidence}".replace("\n", " "))
            parts.append(f"{pad}{name}={value.new!r},")
        else:
            parts.append(
                f"{pad}{name}={_render_replace(f'{base}.{name}', value, depth + 1, None)},"
            )
    parts.append("    " * depth + ")")
    return "\n".join(parts)


def render_json(
    profile: ModelProfile, changes: list[ProfileChange], on: date, upstream: str
) -> str:
    document = {
        "upstream": upstream,
        "profile_version": profile.profile_version,
        "verified_on": on.isoformat(),
        "previously_verified_on": profile.verified_on.isoformat(),
        "changes": [
            {"field": c.path, "old": c.old, "new": c.new, "evidence": c.evidence} for c in changes
        ],
    }
    return json.dumps(document, indent=2, default=str) + "\n"
