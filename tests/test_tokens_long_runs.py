"""Long runs of spaces or tabs: counted exactly, without tiktoken's stack overflow."""

from __future__ import annotations

import pytest

from minidouble._tokenizer import encoding, token_count


@pytest.mark.parametrize("char", [" ", "\t"])
@pytest.mark.parametrize(
    ("before", "after"),
    [("", ""), ("word", "word"), ("end.", "\n"), ("\n", " next"), ("東京", "\t\t"), ("1", ".")],
)
@pytest.mark.parametrize("length", [8_192, 8_193, 12_345, 40_000])
def test_long_run_counts_like_a_bare_encode(
    char: str, before: str, after: str, length: int
) -> None:
    text = before + char * length + after
    assert token_count(text) == len(encoding().encode_ordinary(text))


def test_several_runs_in_one_text() -> None:
    text = "a" + " " * 20_000 + "b" + "\t" * 9_000 + "c" + " " * 100 + "d"
    assert token_count(text) == len(encoding().encode_ordinary(text))


def test_a_million_spaces_or_tabs_are_counted() -> None:
    # A bare encode of these panics inside tiktoken (regex stack overflow).
    assert token_count(" " * 1_048_576) == 1_048_576 // 128
    assert token_count("\t" * 1_048_576) == 1_048_576 // 16


@pytest.mark.parametrize("char", ["\u3000", "\xa0", "\x0b"])
def test_a_million_of_any_other_whitespace_is_counted(char: str) -> None:
    # Periodic like spaces: the count grows by the same amount for every block added.
    million = token_count("x" + char * 1_048_576 + "y")
    shorter = token_count("x" + char * (1_048_576 - 65_536) + "y")
    sample = len(encoding().encode_ordinary("x" + char * 65_536 * 2 + "y")) - len(
        encoding().encode_ordinary("x" + char * 65_536 + "y")
    )
    assert million - shorter == sample


def test_a_million_mixed_whitespace_characters_do_not_crash() -> None:
    # No period to use: counted block by block, within a token per block of the truth.
    assert 500_000 <= token_count(" \t" * 524_288) <= 530_000
