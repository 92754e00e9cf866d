from __future__ import annotations

import gzip
import hashlib
from importlib import resources

import pytest

from minidouble._model import _tokenizer


def test_shipped_vocabulary_matches_openai_sha256() -> None:
    packed = resources.files("minidouble._data").joinpath("o200k_base.tiktoken.gz").read_bytes()
    assert hashlib.sha256(gzip.decompress(packed)).hexdigest() == _tokenizer.O200K_SHA256


def test_encoding_matches_cookbook_token_ids() -> None:
    # The cookbook prints these ids for "tiktoken is great!" under o200k_base.
    assert _tokenizer.encoding().encode("tiktoken is great!") == [83, 8251, 2488, 382, 2212, 0]


def test_special_token_text_counts_as_plain_text() -> None:
    assert _tokenizer.token_count("<|endoftext|>") > 1


def test_damaged_vocabulary_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_tokenizer, "O200K_SHA256", "0" * 64)
    with pytest.raises(_tokenizer.VocabularyError, match="sha256"):
        _tokenizer._read_vocabulary()


def test_encoding_is_built_once() -> None:
    assert _tokenizer.encoding() is _tokenizer.encoding()
