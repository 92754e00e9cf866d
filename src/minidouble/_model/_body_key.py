"""A hashable stand-in for a small request body, for what is computed from a body alone.

Bodies recur: a load test sends one body thousands of times, an SDK retries, a suite asks
the same question in several tests. What the fake derives from a body alone (its prompt
tokens under a profile, the seed of its default reply) is then worth remembering, if the
key says exactly when two bodies are the same JSON. :func:`body_key` gives such a key for
the common small body (plain ``{"role", "content"}`` messages, scalar fields) and None for
every other, which is then computed afresh.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

__all__ = ["KEYED_BYTES", "body_key"]

# Past this much message text the work a key saves is the tokenizer's, which remembers texts
# itself; and keys should stay small.
_KEYED_CHARS = 4096
# A request's own bytes are a key as exact as body_key's (the same bytes parse to the same
# body) and cost nothing to build: the pipeline uses them up to this size.
KEYED_BYTES = 8192


def body_key(body: object) -> Hashable | None:
    """A key equal for two bodies exactly when they are the same JSON: the same keys in the
    same order, each value of the same type and value (``1``, ``1.0`` and ``true`` differ,
    and so do ``0.0`` and ``-0.0``). None when the body is not a small dict of plain
    messages and scalars."""
    if type(body) is not dict:
        return None
    key: list[Any] = []
    for name, value in body.items():
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            key.append((name, kind, value))
        elif kind is float:
            key.append((name, kind, repr(value)))
        elif name == "messages" and kind is list:
            chars = 0
            for message in value:
                if type(message) is not dict or len(message) != 2:
                    return None
                role, content = message.get("role"), message.get("content")
                if type(role) is not str or type(content) is not str:
                    return None
                chars += len(content)
                # items(): the two keys in their order, both values strings.
                key.append(tuple(message.items()))
            if chars > _KEYED_CHARS:
                return None
            key.append(len(value))  # where the messages end
        else:
            return None
    return tuple(key)
