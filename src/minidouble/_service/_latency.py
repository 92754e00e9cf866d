"""Simulated response time: instant unless a test asks for the real model's pace.

``latency="realistic"`` delays the first byte by the profile's time to first token and then
releases the completion at its output speed (GPT-4o mini: about 202 tokens/s), streamed
events paced one by one. ``latency_speedup`` divides every wait, so a suite can keep the
shape of real timing at a tenth of its cost. The waits happen while the body is read, with
the clock's ``sleep`` for sync readers and ``async_sleep`` for async ones, so neither an event
loop nor the loopback server is ever blocked. The clock is the fake's one injected
:class:`~minidouble._service._clock.Clock`, so a test runs the pacing on virtual time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass

from minidouble._http import HttpResponse
from minidouble._model._profile import ModelProfile
from minidouble._service._clock import SYSTEM_CLOCK, Clock

__all__ = ["LATENCY_MODES", "LatencyModel", "PacedStream"]

LATENCY_MODES = ("instant", "realistic")


@dataclass(frozen=True)
class LatencyModel:
    time_to_first_token: float
    tokens_per_second: float
    clock: Clock = SYSTEM_CLOCK

    @classmethod
    def from_options(
        cls,
        latency: str | None,
        speedup: float,
        profile: ModelProfile,
        clock: Clock = SYSTEM_CLOCK,
    ) -> LatencyModel | None:
        """The model for the fake's ``latency``/``latency_speedup`` options (None: instant).

        The values are typed: strings from a command line are parsed in ``_options``.
        """
        if latency is None or latency == "instant":
            return None
        if latency != "realistic":
            raise ValueError(
                f"minidouble: latency={latency!r} is not a latency mode; expected one of "
                f"{list(LATENCY_MODES)} ('instant' is the default)."
            )
        number = isinstance(speedup, (int, float)) and not isinstance(speedup, bool)
        factor = float(speedup) if number else 0.0
        if not factor > 0:
            raise ValueError(
                f"minidouble: latency_speedup={speedup!r} must be a number above 0 (10 makes "
                "every simulated wait ten times shorter)."
            )
        real = profile.latency
        return cls(real.time_to_first_token / factor, real.tokens_per_second * factor, clock)

    def delays(self, pieces: int, completion_tokens: int) -> list[float]:
        """The wait before each of ``pieces`` body pieces: first token, then the output."""
        if pieces <= 0:
            return []
        generation = completion_tokens / self.tokens_per_second
        if pieces == 1:
            return [self.time_to_first_token + generation]
        step = generation / (pieces - 1)
        return [self.time_to_first_token] + [step] * (pieces - 1)

    def pace(self, response: HttpResponse, completion_tokens: int) -> None:
        """Make ``response`` arrive at the model's pace (in place)."""
        if response.stream is None:
            pieces: Sequence[bytes] | Iterable[bytes] = [response.body]
            response.body = b""
            response.headers = [(k, v) for k, v in response.headers if k != "content-length"]
            count = 1
        else:
            pieces = response.stream
            count = len(pieces) if isinstance(pieces, Sequence) else 1
        response.stream = PacedStream(pieces, self.delays(count, completion_tokens), self.clock)


class PacedStream:
    """Body pieces released after given waits; iterable sync (sleeps) and async (awaits).

    Pieces beyond the planned waits (a stream of unknown length) follow without delay, and
    an exception the pieces raise (a simulated cut) passes through at its moment.
    """

    def __init__(
        self, pieces: Iterable[bytes], delays: Sequence[float], clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._pieces = pieces
        self._delays = list(delays)
        self._clock = clock

    def _deadlines(self) -> Iterator[float]:
        # Waits are kept against absolute deadlines from the first read, so the oversleep
        # of each wait (and the reader's own work) does not add up over a long stream.
        start = self._clock.now()
        for delay in self._delays:
            start += delay
            yield start
        while True:
            yield 0.0

    def __iter__(self) -> Iterator[bytes]:
        deadlines = self._deadlines()
        for piece in self._pieces:
            wait = next(deadlines) - self._clock.now()
            if wait > 0:
                self._clock.sleep(wait)
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        deadlines = self._deadlines()
        for piece in self._pieces:
            wait = next(deadlines) - self._clock.now()
            if wait > 0:
                await self._clock.async_sleep(wait)
            yield piece

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
