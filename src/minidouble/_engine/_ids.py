"""Id minting: a leaf every layer may use (the engine for tool call ids, the wire for the rest)."""

from __future__ import annotations

import os
import string

__all__ = ["new_call_id", "new_completion_id", "new_request_id"]

_BASE62 = string.ascii_letters + string.digits
# Random bytes map onto base62 through a table (a slight bias towards the first 8 letters is
# harmless in an id and keeps id minting off the hot path's profile).
_BASE62_TABLE = bytes((_BASE62 * 5)[:256], "ascii")


def _base62(length: int) -> str:
    return os.urandom(length).translate(_BASE62_TABLE).decode("ascii")


def new_completion_id() -> str:
    return "chatcmpl-" + _base62(29)


def new_call_id() -> str:
    return "call_" + _base62(24)


def new_request_id() -> str:
    return "req_" + os.urandom(16).hex()
