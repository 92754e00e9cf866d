"""Shared building blocks: value types, argument checks, names and short texts."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Collection
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from minidouble._model._profile import ModelProfile

JSON = Any
Message = dict[str, Any]
Tool = dict[str, Any]
ToolCall = dict[str, Any]
Schema = dict[str, Any]
Body = dict[str, Any]

# Characters of the API's name pattern ``^[a-zA-Z0-9_-]+$``; tests check that this alphabet and
# the profile's pattern agree.
NAME_ALPHABET = string.ascii_lowercase + string.ascii_uppercase + string.digits + "_-"
_BASE62 = string.digits + string.ascii_letters

# Message texts stay short: prompt size is near_limit_requests()' job, and every character
# costs choices (Hypothesis caps a test case at 8 KiB of choices).
DEFAULT_MAX_TEXT = 40


def fail(message: str) -> InvalidArgument:
    return InvalidArgument(f"minidouble: {message}")


def check_size_bounds(min_size: int, max_size: int, *, what: str, hard_max: int | None) -> None:
    for label, value in (("min_size", min_size), ("max_size", max_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail(f"{what}: {label}={value!r} must be a non-negative integer.")
    if min_size > max_size:
        raise fail(
            f"{what}: min_size={min_size} is larger than max_size={max_size}; "
            "pass min_size <= max_size."
        )
    if hard_max is not None and max_size > hard_max:
        raise fail(
            f"{what}: max_size={max_size} is above the model's limit of {hard_max}; "
            f"pass max_size <= {hard_max} (invalid_requests() covers the over-limit side)."
        )


def check_strategy(value: object, *, name: str, what: str) -> None:
    if value is not None and not isinstance(value, st.SearchStrategy):
        raise fail(
            f"{what}: {name} must be a Hypothesis strategy (e.g. st.just(...)), "
            f"got {type(value).__name__}."
        )


def check_subset(
    values: Collection[str], allowed: Collection[str], *, name: str, what: str
) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Collection):
        raise fail(f"{what}: {name} must be a collection of strings, got {values!r}.")
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise fail(f"{what}: unknown {name} {unknown!r}; expected some of {sorted(allowed)!r}.")
    if not values:
        raise fail(f"{what}: {name} is empty; pass at least one of {sorted(allowed)!r}.")
    # The caller's order is kept only as a set: ours is simplest first, which is how it shrinks.
    return tuple(value for value in allowed if value in values)


def texts(max_size: int = DEFAULT_MAX_TEXT) -> st.SearchStrategy[str]:
    """Short texts of any Unicode that JSON can carry (Hypothesis' default excludes surrogates)."""
    return st.text(max_size=max_size)


def names(max_size: int) -> st.SearchStrategy[str]:
    return st.text(NAME_ALPHABET, min_size=1, max_size=max_size)


def call_id(*position: int) -> str:
    """A realistic ``call_`` + 24 base62 id that depends only on its position.

    Ids from position need no uniqueness filter and stay put while the shrinker deletes
    neighbouring turns.
    """
    digest = int.from_bytes(
        hashlib.blake2b(repr(position).encode(), digest_size=18).digest(), "big"
    )
    chars = []
    for _ in range(24):
        digest, remainder = divmod(digest, 62)
        chars.append(_BASE62[remainder])
    return "call_" + "".join(chars)


def known_model(profile: ModelProfile) -> st.SearchStrategy[str]:
    # The bare alias first: it is what most code sends, so failures shrink to it.
    return st.sampled_from(
        sorted(profile.accepted_model_ids, key=lambda model: (len(model), model))
    )
