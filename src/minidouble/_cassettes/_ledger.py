"""Which interactions of a shared cassette anybody used: judged once, across all its users.

One cassette file often serves many tests (``cassette="cassettes/shared.json"`` on a module's
marker), on several xdist workers, or many sessions of one ``minidouble serve``. Each user
replays only what it sends, so one user's view says nothing about the rest of the file: the
judgement "never replayed" belongs to the end of the run, over the union of what every user
replayed or recorded. :class:`CassetteLedger` is that union: users add what they used, xdist
workers ship theirs to the controller as plain JSON, and :meth:`CassetteLedger.judge` reads
each file once at the end and names what nobody used.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CassetteLedger", "SharedCassetteVerdict", "interaction_id"]

_LISTED = 10


def interaction_id(interaction: Mapping[str, Any]) -> str:
    """A stable name for one stored interaction: its content without its position.

    ``seq`` is left out because another user recording into the file renumbers it; the
    content is what identifies an interaction across the users of one run.
    """
    content = {k: v for k, v in interaction.items() if k != "seq"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=12).hexdigest()


@dataclass
class SharedCassetteVerdict:
    """What the end of a run found in one cassette file."""

    path: str
    users: int
    strict: bool = False
    unused: list[str] = field(default_factory=list)
    message: str | None = None


@dataclass
class _Entry:
    users: set[str] = field(default_factory=set)
    used: Counter[str] = field(default_factory=Counter)
    strict: bool = False


class CassetteLedger:
    """The union, over a run, of the interactions each cassette's users replayed or recorded."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def add(
        self, path: Path | str, user: str, used: Iterable[str], *, strict: bool = False
    ) -> None:
        """``strict``: this user wants unused interactions to fail the run, not warn."""
        entry = self._entries.setdefault(str(Path(path).resolve()), _Entry())
        entry.users.add(user)
        entry.used.update(used)
        entry.strict = entry.strict or strict

    def __bool__(self) -> bool:
        return bool(self._entries)

    def to_json(self) -> dict[str, Any]:
        """Plain data for an xdist worker to hand to the controller."""
        return {
            path: {"users": sorted(entry.users), "used": dict(entry.used), "strict": entry.strict}
            for path, entry in self._entries.items()
        }

    def merge(self, data: Mapping[str, Any]) -> None:
        for path, entry in data.items():
            mine = self._entries.setdefault(path, _Entry())
            mine.users.update(entry["users"])
            mine.used.update({key: int(count) for key, count in entry["used"].items()})
            mine.strict = mine.strict or bool(entry.get("strict"))

    def judge(self) -> list[SharedCassetteVerdict]:
        """Each file read once: the interactions that none of this run's users replayed.

        An interaction recorded by a test that did not use the file in this run (``-k`` chose
        other tests) is not judged: nobody asked for it, so its absence says nothing.
        """
        from minidouble._cassettes._errors import CassetteError
        from minidouble._cassettes._format import parse_document

        verdicts = []
        for path, entry in sorted(self._entries.items()):
            try:
                interactions = parse_document(Path(path).read_bytes(), path)["interactions"]
            except (OSError, CassetteError):
                continue  # the user that broke or removed it has already said so
            verdict = SharedCassetteVerdict(path, len(entry.users), entry.strict)
            left = Counter(entry.used)
            for interaction in interactions:
                owner = interaction.get("recorded_by")
                ident = interaction_id(interaction)
                if left[ident] > 0:
                    left[ident] -= 1
                elif owner is None or owner in entry.users:
                    request = interaction["request"]
                    by = f", recorded by {owner}" if owner else ""
                    verdict.unused.append(
                        f"#{interaction['seq']} {request['method']} {request['path']}{by}"
                    )
            if verdict.unused:
                verdict.message = _unused_message(verdict)
            verdicts.append(verdict)
        return verdicts


def _unused_message(verdict: SharedCassetteVerdict) -> str:
    listed = "; ".join(verdict.unused[:_LISTED])
    more = f" and {len(verdict.unused) - _LISTED} more" if len(verdict.unused) > _LISTED else ""
    return (
        f"minidouble: {len(verdict.unused)} interaction(s) of {verdict.path} were replayed by "
        f"none of the {verdict.users} test(s) that used it in this run: {listed}{more}. Those "
        "requests are no longer sent. To drop an interaction, re-run the test that recorded "
        "it with --minidouble-record-mode=all (a test re-recording a shared cassette replaces "
        'only its own interactions), or delete it from the file\'s "interactions" by its seq.'
    )
