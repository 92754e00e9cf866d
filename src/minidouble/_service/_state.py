"""Everything a fake remembers, in one object that ``reset()`` clears.

Scripts (queued replies, queued and standing failures), the request log and the script
errors live per *session*: a request names its session with the ``X-Minidouble-Session``
header (none: the default session), so parallel test workers sharing one loopback server
each script and inspect their own traffic. What the API itself stores (Responses kept for
``previous_response_id``; later files and batches) is keyed by id across sessions, as an
account's objects are.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from minidouble._service._budget import ApartLedger
from minidouble._service._script import (
    RecordedRequest,
    ScriptedFailure,
    ScriptedReply,
    ScriptError,
)

__all__ = ["SESSION_HEADER", "Session", "State", "Store"]

# Lower case: HttpRequest headers are looked up case-insensitively in lower case.
SESSION_HEADER = "x-minidouble-session"


@dataclass(eq=False)
class Session:
    """One session's scripts and log. Mutated only under the owning :class:`State`'s lock."""

    name: str | None
    replies: deque[ScriptedReply] = field(default_factory=deque)
    failures: deque[ScriptedFailure] = field(default_factory=deque)
    standing: list[ScriptedFailure] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    # Scripted replies that did not fit the request they answered: the plugin fails the
    # test with these even if the code under test swallowed the HTTP error.
    script_errors: list[ScriptError] = field(default_factory=list)
    # Scripts a test aimed at one batch line (``reply(..., custom_id=...)``), by custom_id.
    aimed_replies: dict[str, ScriptedReply] = field(default_factory=dict)
    aimed_failures: dict[str, ScriptedFailure] = field(default_factory=dict)
    # What is billed outside the request log: batch lines (not requests of their own) and
    # the fine-tuned price of logged answers (docs/batch.md), as token counts per price
    # (see budget.ApartLedger), priced only when usage is asked for.
    apart: ApartLedger = field(default_factory=dict)

    def clear(self) -> None:
        # Cleared in place: callers holding ``fake.requests`` see the reset.
        self.replies.clear()
        self.failures.clear()
        self.standing.clear()
        self.requests.clear()
        self.script_errors.clear()
        self.aimed_replies.clear()
        self.aimed_failures.clear()
        self.apart = {}


class Store:
    """Objects the API keeps by id (stored Responses, later files and batches)."""

    def __init__(self, lock: threading.Lock) -> None:
        self._items: dict[str, Any] = {}
        self._lock = lock

    def get(self, key: str) -> Any:
        with self._lock:
            return self._items.get(key)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._items.pop(key, None) is not None

    def setdefault(self, key: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = make()
            return item

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class State:
    """Sessions and stores of one fake, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.default = Session(None)
        self._sessions: dict[str, Session] = {}
        self._stores: dict[str, Store] = {}

    def session(self, name: str | None) -> Session:
        """The session a request names (created on first use); None is the default one."""
        if not name:
            return self.default
        session = self._sessions.get(name)
        if session is None:
            with self.lock:
                session = self._sessions.setdefault(name, Session(name))
        return session

    def sessions(self) -> Iterator[Session]:
        yield self.default
        with self.lock:
            named = list(self._sessions.values())
        yield from named

    def store(self, kind: str) -> Store:
        """The store for one kind of object (``"responses"``...), created on first use."""
        store = self._stores.get(kind)
        if store is None:
            with self.lock:
                store = self._stores.setdefault(kind, Store(threading.Lock()))
        return store

    def reset(self) -> None:
        """Forget every session's scripts and log, and every stored object."""
        with self.lock:
            self.default.clear()
            named = list(self._sessions.values())
            self._sessions.clear()
            stores = list(self._stores.values())
        for session in named:
            session.clear()
        for store in stores:
            store.clear()
