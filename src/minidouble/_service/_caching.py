"""Automatic prompt caching: how many of a prompt's tokens the real API reports as cached.

The service caches every prompt of 1,024 tokens or more, in blocks: a later prompt that
starts with the same tokens (tools, format, then the messages in order) reuses the blocks it
shares, and ``usage`` says so in ``cached_tokens``: 1,024 plus whole 128-token steps, never
the whole prompt: the reply's priming that ends every prompt is not cached
(``docs/caching.md`` has the rules and the recordings behind them).

:class:`PromptCache` is one fake's cache. It never looks at a prompt below the minimum, so a
short request costs one comparison. A long one is turned into its token sequence (texts of
the turns in the order the model reads them, with marks where turns start and end), hashed
block by block with each hash chaining the one before, so that one hash stands for the whole
prefix up to its block. A lookup walks the new prompt's block hashes while they are stored
and still alive; then the prompt's own whole blocks before its priming are stored, or
refreshed, at the clock's time.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from minidouble._model._profile import GPT4O_MINI, ModelProfile, PromptCaching, TokenRules

# The tokenizer remembers short texts, and the long ones the counter has just encoded.
from minidouble._model._tokenizer import token_array as _tokens
from minidouble._model._tokens import Prompt, chat_prompt, laid_out_turns
from minidouble._service._ratelimit import Clock

__all__ = ["PromptCache", "chat_sequence", "prompt_sequence"]

# Stand-ins for the template's turn marks: ids no text token has, so that the text of one turn
# never lines up with the marks of another.
_START, _MESSAGE, _END = 200_264, 200_266, 200_265
# How many writes between sweeps of the dead entries.
_SWEEP_EVERY = 512

SequenceBuilder = Callable[[], "array[int]"]


def prompt_sequence(prompt: Prompt, rules: TokenRules) -> array[int]:
    """The prompt's tokens in reading order, ending with the reply's priming.

    Images and the template's fixed adjustments are not in it (they are counted, not
    compared): two prompts that differ only in an image share their text blocks.
    """
    sequence: array[int] = array("I")
    for turn in laid_out_turns(prompt, rules)[0]:
        sequence.append(_START)
        sequence.extend(_tokens(turn.header))
        if turn.recipient:
            sequence.extend(_tokens(turn.recipient))
        sequence.append(_MESSAGE)
        sequence.extend(_tokens(turn.text))
        sequence.append(_END)
    # The reply's priming: in the sequence so that positions are the prompt's, but not cached
    # (PromptCaching.uncached_tail).
    sequence.append(_START)
    sequence.extend(_tokens("assistant"))
    sequence.append(_MESSAGE)
    return sequence


def chat_sequence(body: Mapping[str, Any], profile: ModelProfile = GPT4O_MINI) -> array[int]:
    """:func:`prompt_sequence` of a Chat Completions body (a Responses body, rewritten)."""
    return prompt_sequence(chat_prompt(body, profile.tokens), profile.tokens)


@dataclass(slots=True)
class _Block:
    written: float
    used: float
    extended: bool

    def alive(self, now: float, rules: PromptCaching) -> bool:
        idle = rules.extended_seconds if self.extended else rules.idle_seconds
        limit = rules.extended_seconds if self.extended else rules.max_age_seconds
        return now - self.used <= idle and now - self.written <= limit


class PromptCache:
    """One fake's prompt cache: which prompt prefixes are cached, and until when.

    ``clock`` is the fake's clock (the rate limiter's), in seconds; ``enabled=False`` reports
    nothing cached, ever, and keeps nothing.
    """

    def __init__(
        self, clock: Clock, rules: PromptCaching | None = None, *, enabled: bool = True
    ) -> None:
        self.rules = rules if rules is not None else GPT4O_MINI.caching
        self.enabled = enabled
        self._clock = clock
        self._blocks: dict[tuple[str | None, int], _Block] = {}
        self._writes = 0
        self._lock = threading.Lock()

    def cached_tokens(
        self,
        prompt_tokens: int,
        sequence: SequenceBuilder,
        *,
        key: str | None = None,
        extended: bool = False,
    ) -> int:
        """The ``cached_tokens`` of a prompt of ``prompt_tokens`` tokens, which is then cached.

        ``sequence`` builds the prompt's tokens (:func:`prompt_sequence`); it is only called
        for a prompt long enough to cache. ``key`` is the request's ``prompt_cache_key``:
        prompts sent with another key (or none) are cached apart. ``extended`` is
        ``prompt_cache_retention: "24h"``.
        """
        rules = self.rules
        if not self.enabled or prompt_tokens < rules.minimum_tokens:
            return 0
        hashes = self._block_hashes(sequence())
        first = rules.minimum_tokens // rules.step - 1  # the first block a hit can end on
        now = self._clock()
        with self._lock:
            blocks = self._blocks
            matched = 0
            for index in range(first, len(hashes)):
                block = blocks.get((key, hashes[index]))
                if block is None or not block.alive(now, rules):
                    break
                matched = index + 1
            for index in range(first, len(hashes)):
                block = blocks.get((key, hashes[index]))
                if block is None or not block.alive(now, rules):
                    blocks[(key, hashes[index])] = _Block(now, now, extended)
                else:
                    block.used = now
                    block.extended = block.extended or extended
            self._writes += 1
            if self._writes % _SWEEP_EVERY == 0:
                self._sweep(now)
        # Never the whole prompt: at least its last token is read anew.
        steps = min(matched, (prompt_tokens - 1) // rules.step)
        cached = steps * rules.step
        return cached if cached >= rules.minimum_tokens else 0

    def clear(self) -> None:
        """Forget every cached prompt."""
        with self._lock:
            self._blocks.clear()

    def _block_hashes(self, sequence: array[int]) -> list[int]:
        step = self.rules.step
        data = sequence[: max(len(sequence) - self.rules.uncached_tail, 0)].tobytes()
        width = sequence.itemsize * step
        hashes = []
        chained = 0
        for end in range(width, len(data) + 1, width):
            chained = hash((chained, data[end - width : end]))
            hashes.append(chained)
        return hashes

    def _sweep(self, now: float) -> None:
        dead = [key for key, block in self._blocks.items() if not block.alive(now, self.rules)]
        for key in dead:
            del self._blocks[key]
