"""o200k_base from the vocabulary shipped in this package: offline, checked, loaded once.

tiktoken's own ``get_encoding("o200k_base")`` downloads the vocabulary on first use; a test
double must never touch the network, so the file travels inside the wheel and its sha256 is
checked against OpenAI's published value before a single token is produced.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

__all__ = ["O200K_SHA256", "VocabularyError", "encoding", "token_count"]

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


def token_count(text: str) -> int:
    """Tokens in ``text`` as the API tokenizes user text: special-token strings are plain text."""
    return len(encoding().encode_ordinary(text))
