"""Id minting: a leaf every layer may use (the engine for tool call ids, the wire for the rest)."""

from __future__ import annotations

import os
import random
import string

__all__ = ["new_call_id", "new_completion_id", "new_request_id", "random_hex"]

_BASE62 = string.ascii_letters + string.digits
# Random bytes map onto base62 through a table (a slight bias towards the first 8 letters is
# harmless in an id and keeps id minting off the hot path's profile).
_BASE62_TABLE = bytes((_BASE62 * 5)[:256], "ascii")


# Ids need to be unique, not secret: a generator of our own, seeded from the OS once (and anew
# in a forked child), instead of a getrandom system call per id, which was a tenth of the
# loopback server's time per request. Users seeding the random module do not touch it.
_random = random.Random()
if hasattr(os, "register_at_fork"):  # POSIX; Windows does not fork
    os.register_at_fork(after_in_child=_random.seed)


def _random_bytes(length: int) -> bytes:
    return _random.getrandbits(8 * length).to_bytes(length, "little")


def random_hex(length: int) -> str:
    """``length`` random bytes as hex: for ids whose form is hex."""
    return _random_bytes(length).hex()


def _base62(length: int) -> str:
    return _random_bytes(length).translate(_BASE62_TABLE).decode("ascii")


def new_completion_id() -> str:
    return "chatcmpl-" + _base62(29)


def new_call_id() -> str:
    return "call_" + _base62(24)


def new_request_id() -> str:
    return "req_" + random_hex(16)
