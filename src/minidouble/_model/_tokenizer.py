"""o200k_base from the vocabulary shipped in this package: offline, checked, loaded once.

tiktoken's own ``get_encoding("o200k_base")`` downloads the vocabulary on first use; a test
double must never touch the network, so the file travels inside the wheel and its sha256 is
checked against OpenAI's published value before a single token is produced.
"""

from __future__ import annotations

import base64
import bisect
import functools
import gzip
import hashlib
import re
import threading
from array import array
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

__all__ = ["O200K_SHA256", "VocabularyError", "encoding", "token_array", "token_count"]

O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
_VOCABULARY_RESOURCE = "o200k_base.tiktoken.gz"

# Copied from tiktoken_ext.openai_public.o200k_base: importing that function is harmless, but
# calling it downloads, and the pattern is part of the encoding's identity.
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}

_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


class VocabularyError(RuntimeError):
    """The shipped vocabulary is missing or damaged."""


def _read_vocabulary() -> bytes:
    try:
        packed = resources.files("minidouble._data").joinpath(_VOCABULARY_RESOURCE).read_bytes()
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise VocabularyError(
            f"minidouble: the o200k_base vocabulary ({_VOCABULARY_RESOURCE}) is missing from "
            "the installed package; expected it under minidouble/_data. "
            "Reinstall minidouble: pip install --force-reinstall minidouble"
        ) from exc
    raw = gzip.decompress(packed)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != O200K_SHA256:
        raise VocabularyError(
            f"minidouble: the shipped o200k_base vocabulary has sha256 {digest}, expected "
            f"OpenAI's {O200K_SHA256}; token counts would be wrong. "
            "Reinstall minidouble: pip install --force-reinstall minidouble"
        )
    return raw


def _build() -> tiktoken.Encoding:
    import tiktoken

    ranks: dict[bytes, int] = {}
    for line in _read_vocabulary().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name="o200k_base",
        pat_str=_O200K_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=_SPECIAL_TOKENS,
    )


def encoding() -> tiktoken.Encoding:
    """The o200k_base encoding, built on first use and shared by the whole process."""
    global _encoding
    if _encoding is None:
        with _lock:
            if _encoding is None:
                _encoding = _build()
    return _encoding


# tiktoken's pre-tokenizer regex overflows its stack on a run of about a million
# non-newline whitespace characters (a pyo3 PanicException) and is quadratic on shorter ones.
# A long run of one repeated character tokenises periodically (128 spaces or 16 tabs a
# token), so it is counted exactly by shortening it a whole number of blocks, keeping its
# length modulo the block and both of its ends, and adding the blocks' tokens back. A long run
# that mixes whitespace characters has no such period: it is counted in chunks, which can be
# off by a token per chunk (such input comes from fuzzers, not from prompts).
_RUN_BLOCK = 4_096
_COMMON_RUNS = tuple(char * (2 * _RUN_BLOCK) for char in " \t")
_REPEATED_RUN = re.compile(rf"([^\S\r\n])\1{{{2 * _RUN_BLOCK - 1},}}")
_MIXED_RUN = re.compile(rf"[^\S\r\n]{{{16 * _RUN_BLOCK},}}")
_block_tokens: dict[str, int | None] = {}


# Short texts recur across a suite's requests (system prompts, instructions, the fake's own
# default replies): their tokens are remembered instead of re-encoded. The bounds keep the
# memory small; a long text costs far more to encode than to look up, so it is not worth a
# place. Counts are a pure function of the text, so a cached answer is exact.
_CACHED_CHARS = 1024
_CACHED_TEXTS = 4096


def token_count(text: str) -> int:
    """Tokens in ``text`` as the API tokenizes user text: special-token strings are plain text."""
    if len(text) <= _CACHED_CHARS:
        return len(_short_tokens(text))
    return _token_count(text)


def _token_count(text: str) -> int:
    if len(text) >= 2 * _RUN_BLOCK and any(run in text for run in _COMMON_RUNS):
        return _count_with_long_runs(text)
    try:
        return len(_remember(text, encoding().encode_ordinary(text)))
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        return _count_with_long_runs(text)


def _tokens_per_block(char: str) -> int | None:
    """Tokens one block of ``char`` adds to a long run of it; ``None`` if not periodic."""
    if char not in _block_tokens:
        counts = [
            len(encoding().encode_ordinary(char * (blocks * _RUN_BLOCK + 7)))
            for blocks in (1, 2, 3)
        ]
        step = counts[1] - counts[0]
        _block_tokens[char] = step if counts[2] - counts[1] == step else None
    return _block_tokens[char]


def encode(text: str) -> list[int]:
    """The token ids of ``text`` as :func:`token_count` counts them, long runs included."""
    if len(text) <= _CACHED_CHARS:
        return list(_short_tokens(text))
    recent = _recent_long.get(text)
    if recent is not None:
        return recent.tolist()
    return _encode(text)


def token_array(text: str) -> array[int]:
    """:func:`encode` as an array, without copying what is remembered: read it, never change it."""
    if len(text) <= _CACHED_CHARS:
        return array("I", _short_tokens(text))
    recent = _recent_long.get(text)
    return recent if recent is not None else array("I", _encode(text))


# The tokens of the last few long texts counted: the prompt cache reads a long prompt's tokens
# right after the counter counted them (docs/caching.md), and must not encode it a second time.
# Kept as arrays (4 bytes a token); a handful of prompts at most.
_RECENT_LONG = 8
_recent_long: dict[str, array[int]] = {}


def _remember(text: str, tokens: list[int]) -> list[int]:
    with _lock:
        if len(_recent_long) >= _RECENT_LONG:
            del _recent_long[next(iter(_recent_long))]  # the oldest
        _recent_long[text] = array("I", tokens)
    return tokens


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _short_tokens(text: str) -> tuple[int, ...]:
    # A tuple: callers get their own list, so none can change what the cache holds.
    return tuple(_encode(text))


def _encode(text: str) -> list[int]:
    if len(text) >= 2 * _RUN_BLOCK and any(run in text for run in _COMMON_RUNS):
        return _encode_with_long_runs(text)
    try:
        return encoding().encode_ordinary(text)
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        return _encode_with_long_runs(text)


def _encode_with_long_runs(text: str) -> list[int]:
    """Encodes the shortened text, then puts each removed run's blocks back inside the run:
    the middle of a periodic run is one token repeated, so any interior position is exact."""
    shortened, _, removed = _shorten_repeated_runs(text)
    try:
        tokens = encoding().encode_ordinary(shortened)
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        tokens = _mixed_runs_in_chunks(shortened)
    if not removed:
        return tokens
    _, offsets = encoding().decode_with_offsets(tokens)
    pieces: list[int] = []
    start = 0
    for run_offset, char, blocks in removed:
        at = bisect.bisect_left(offsets, run_offset + _RUN_BLOCK // 2, lo=start)
        pieces.extend(tokens[start:at])
        pieces.extend(encoding().encode_ordinary(char * _RUN_BLOCK) * blocks)
        start = at
    pieces.extend(tokens[start:])
    return pieces


def _count_with_long_runs(text: str) -> int:
    shortened, added, _ = _shorten_repeated_runs(text)
    try:
        return len(encoding().encode_ordinary(shortened)) + added
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        return _count_mixed_runs_in_chunks(shortened) + added


def _shorten_repeated_runs(text: str) -> tuple[str, int, list[tuple[int, str, int]]]:
    """The text with long periodic runs shortened, the tokens removed, and where: each
    shortened run's offset in the result, its character and the blocks taken out."""
    kept: list[str] = []
    removed: list[tuple[int, str, int]] = []
    length = 0
    added = 0
    start = 0
    for run in _REPEATED_RUN.finditer(text):
        index, end = run.span()
        char = run.group(1)
        per_block = _tokens_per_block(char)
        if per_block is None:
            continue
        blocks = (end - index) // _RUN_BLOCK - 1
        kept.append(text[start:index])
        length += index - start
        removed.append((length, char, blocks))
        kept.append(char * (end - index - blocks * _RUN_BLOCK))
        length += end - index - blocks * _RUN_BLOCK
        added += blocks * per_block
        start = end
    kept.append(text[start:])
    return "".join(kept), added, removed


def _count_mixed_runs_in_chunks(text: str) -> int:
    """Approximate: each mixed run's middle is encoded block by block."""
    kept: list[str] = []
    added = 0
    start = 0
    for run in _MIXED_RUN.finditer(text):
        index, end = run.span()
        # The first and last blocks stay joined to their neighbours, so both ends are exact.
        kept.append(text[start : index + _RUN_BLOCK])
        for offset in range(index + _RUN_BLOCK, end - _RUN_BLOCK, _RUN_BLOCK):
            block = text[offset : min(offset + _RUN_BLOCK, end - _RUN_BLOCK)]
            added += len(encoding().encode_ordinary(block))
        start = end - _RUN_BLOCK
    kept.append(text[start:])
    return len(encoding().encode_ordinary("".join(kept))) + added


def _mixed_runs_in_chunks(text: str) -> list[int]:
    """Like :func:`_count_mixed_runs_in_chunks`, as ids in text order (still approximate)."""
    pieces: list[int] = []
    start = 0
    for run in _MIXED_RUN.finditer(text):
        index, end = run.span()
        # The first and last blocks stay joined to their neighbours, so both ends are exact.
        pieces.extend(encoding().encode_ordinary(text[start : index + _RUN_BLOCK]))
        for offset in range(index + _RUN_BLOCK, end - _RUN_BLOCK, _RUN_BLOCK):
            block = text[offset : min(offset + _RUN_BLOCK, end - _RUN_BLOCK)]
            pieces.extend(encoding().encode_ordinary(block))
        start = end - _RUN_BLOCK
    pieces.extend(encoding().encode_ordinary(text[start:]))
    return pieces
