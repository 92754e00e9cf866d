"""Long runs of spaces or tabs: counted exactly, without tiktoken's stack overflow."""

from __future__ import annotations

import httpx
import pytest

from minidouble import FakeGPT4oMini
from minidouble._model._tokenizer import encode, encoding, token_count


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


@pytest.mark.parametrize("char", [" ", "\t", "\u3000"])
@pytest.mark.parametrize(("before", "after"), [("", ""), ("word", "word"), ("end.", "\n")])
@pytest.mark.parametrize("length", [8_192, 12_345, 40_000])
def test_long_run_encodes_like_a_bare_encode(
    char: str, before: str, after: str, length: int
) -> None:
    text = before + char * length + after
    assert encode(text) == encoding().encode_ordinary(text)


def test_a_million_spaces_encode_to_their_count_and_decode_back() -> None:
    text = "a" + " " * 1_048_576 + "b" + "\t" * 300_000 + "\nc"
    ids = encode(text)
    assert len(ids) == token_count(text)
    assert encoding().decode(ids) == text


def test_a_million_mixed_whitespace_characters_encode_without_crashing() -> None:
    text = " \t" * 524_288
    assert encoding().decode(encode(text)) == text


def test_the_fake_replies_with_a_million_spaces() -> None:
    # The engine counts and cuts its reply with the same tokenizer as the prompt.
    text = "start" + " " * 1_048_576 + "end"
    with FakeGPT4oMini() as fake:
        fake.reply(text)
        response = httpx.post(
            "https://api.openai.com/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
            headers={"Authorization": "Bearer sk-test"},
            timeout=60,
        )
        cut = response.json()
        fake.reply(text)
        response = httpx.post(
            "https://api.openai.com/v1/chat/completions",
            json={
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 100,
            },
            headers={"Authorization": "Bearer sk-test"},
            timeout=60,
        )
    assert cut["choices"][0]["message"]["content"] == text
    assert cut["usage"]["completion_tokens"] == token_count(text)
    limited = response.json()
    assert limited["usage"]["completion_tokens"] == 100
    assert limited["choices"][0]["finish_reason"] == "length"
    assert text.startswith(limited["choices"][0]["message"]["content"])
