"""The drift report: a one-minute read for people, a JSON document for CI."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from minidouble._drift._run import DriftResult

__all__ = ["render_json_report", "render_text_report"]

_WIDTH = 70


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def _sides(real: Any, fake: Any) -> tuple[str, str]:
    """Both values, cut around where two long strings first differ."""
    if isinstance(real, str) and isinstance(fake, str) and max(len(real), len(fake)) > _WIDTH:
        start = next((i for i, (a, b) in enumerate(zip(real, fake, strict=False)) if a != b), 0)
        start = max(0, start - _WIDTH // 3)
        ellipsis = "…" if start else ""
        return ellipsis + _short(real[start:]), ellipsis + _short(fake[start:])
    return _short(real), _short(fake)


def render_text_report(result: DriftResult) -> str:
    profile = result.profile
    probes = len(result.outcomes)
    drifted = len({d.probe for d in result.differences})
    lines = [
        f"minidouble drift: {probes} probes against {result.upstream} "
        f"(profile {profile.profile_version}, last verified {profile.verified_on.isoformat()})",
    ]
    families = Counter(o.probe.family for o in result.outcomes)
    drifted_families = Counter(
        o.probe.family for o in result.outcomes
        if o.probe.name in {d.probe for d in result.differences}
    )  # fmt: skip
    lines.append("")
    for family, count in families.items():
        bad = drifted_families.get(family, 0)
        mark = "ok   " if not bad else "DRIFT"
        lines.append(f"  {mark} {family}: {count - bad}/{count} probes match")
    if result.skipped:
        lines.append("")
        lines.append(f"Skipped {len(result.skipped)} probe(s), not compared:")
        for name, why in result.skipped:
            lines.append(f"  {name}: {_short(why) if len(why) > 200 else why}")
    lines.append("")
    if not result.drifted:
        lines.append(
            f"No drift: {result.compared} comparisons (status, error type/code/param/message, "
            "prompt tokens, shapes, headers) agree."
        )
        return "\n".join(lines) + "\n"
    lines.append(
        f"DRIFT in {drifted} of {probes} probes ({len(result.differences)} differences). "
        "Grouped by what to update:"
    )
    groups: dict[str, list[Any]] = {}
    for difference in result.differences:
        groups.setdefault(difference.update, []).append(difference)
    proposals = {c.path: c for c in result.changes}
    for update, differences in groups.items():
        lines.append("")
        lines.append(f"* {update}")
        for change in proposals.values():
            if update.endswith(change.path.rsplit(".", 1)[-1]):
                lines.append(f"    proposed: {change.path} = {change.new!r} (was {change.old!r})")
        for d in differences:
            lines.append(f"    {d.probe} [{d.aspect}]")
            real, fake = _sides(d.real, d.fake)
            if d.aspect == "prompt_tokens" and isinstance(d.real, int) and isinstance(d.fake, int):
                real += f" ({d.real - d.fake:+d} tokens)"
            lines.append(f"      real: {real}")
            lines.append(f"      fake: {fake}")
    lines.append("")
    lines.append(
        "Update the profile (src/minidouble/_model/_profile.py) or the named rule, then run the "
        "check again; `--write-profile PATH` writes the proposed values for review."
    )
    return "\n".join(lines) + "\n"


def render_json_report(result: DriftResult) -> str:
    document = {
        "upstream": result.upstream,
        "checked_on": result.checked_on.isoformat(),
        "profile_version": result.profile.profile_version,
        "profile_verified_on": result.profile.verified_on.isoformat(),
        "drift": result.drifted,
        "probes": len(result.outcomes),
        "comparisons": result.compared,
        "matching": result.matching_probes,
        "skipped": [{"probe": name, "reason": why} for name, why in result.skipped],
        "differences": [d.as_dict() for d in result.differences],
        "proposed_changes": [
            {"field": c.path, "old": c.old, "new": c.new, "evidence": c.evidence}
            for c in result.changes
        ],
    }
    return json.dumps(document, indent=2, default=str) + "\n"
