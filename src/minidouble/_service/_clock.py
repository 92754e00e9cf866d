"""The one clock the service reads and waits on: limiter, latency, (later) caching, batches.

Injected rather than patched, so a test can run the fake on virtual time by passing one
``Clock``; every part that measures or waits takes it from the fake's state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["SYSTEM_CLOCK", "Clock"]


@dataclass(frozen=True)
class Clock:
    """``now`` in seconds (monotonic), ``sleep`` for sync readers, ``async_sleep`` for loops."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


SYSTEM_CLOCK = Clock()
