"""Batch input files: valid ones, and files with each batch-level mistake.

Bodies are drawn by :func:`chat_requests` (so every line is a request the API accepts, and
the valid files run to ``completed`` with no error file); lines are written by the fake's
own :func:`~minidouble._endpoints._batch._store.input_line`, and the expected
``errors.data`` codes are the fake's. A file over the line limit, or over the enqueued-token
limit, is built from one drawn body repeated, so even a 50,001-line file costs a handful of
choices.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._endpoints._batch._store import input_line
from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._service._ratelimit import estimate_tokens
from minidouble._strategies._common import check_size_bounds, fail, names
from minidouble._strategies._requests import chat_requests

BatchMistake = Literal[
    "invalid_json_line",
    "duplicate_custom_id",
    "url_mismatch",
    "model_mismatch",
    "missing_required_parameter",
    "empty_file",
    "too_many_tasks",
    "token_limit_exceeded",
]
BATCH_MISTAKES: tuple[BatchMistake, ...] = get_args(BatchMistake)
_ENDPOINT = "/v1/chat/completions"
_OTHER_MODEL = "gpt-4o"
# Characters per estimated token (profile.rate_limits): a filler of this many characters
# per token makes the enqueued-token limit cheap to cross.
_FILLER_LINE_TOKENS = 100_000


@dataclass(frozen=True)
class BatchFile:
    """A batch input file (``data``, ready for ``client.files.create``) and what it holds.

    ``custom_ids`` are its lines' ids in order. ``mistake`` is None for a valid file (every
    line is a request the API accepts); otherwise the batch fails at validation and
    ``expected_code`` and ``expected_line`` (1-based, or None for a whole-file error) are the
    first entry of its ``errors.data``.
    """

    data: bytes = field(repr=False)
    custom_ids: tuple[str, ...] = field(repr=False)
    mistake: BatchMistake | None = None
    expected_code: str | None = None
    expected_line: int | None = None

    @property
    def valid(self) -> bool:
        return self.mistake is None


def _ids(draw: DrawFn, count: int) -> list[str]:
    drawn = draw(st.lists(names(20), min_size=count, max_size=count, unique=True))
    return [f"request-{i}" if not name else f"{name}-{i}" for i, name in enumerate(drawn)]


# What a line reserves beyond its prompt: its choices, then the output each may take.
_RESERVING_FIELDS = (("n",), ("max_completion_tokens", "max_tokens"))


def _within_enqueued_limit(
    bodies: list[dict[str, Any]], profile: ModelProfile
) -> list[dict[str, Any]]:
    """The bodies, a line over its share of the enqueued-token limit asking one choice, then
    no output cap: ``n`` times ``max_tokens`` reserves up to 2.1M tokens for one line, and
    only a ``token_limit_exceeded`` file may cross the limit."""
    share = profile.batch.enqueued_tokens // len(bodies)
    kept = []
    for body in bodies:
        for fields in _RESERVING_FIELDS:
            if estimate_tokens(body, profile) <= share:
                break
            body = {key: value for key, value in body.items() if key not in fields}
        kept.append(body)
    # Only prompts too long for so many lines are left over the limit: drawn again.
    assume(sum(estimate_tokens(body, profile) for body in kept) <= profile.batch.enqueued_tokens)
    return kept


@st.composite
def batch_files(
    draw: DrawFn,
    *,
    mistake: BatchMistake | None = None,
    min_lines: int = 1,
    max_lines: int = 8,
    profile: ModelProfile = GPT4O_MINI,
) -> BatchFile:
    """A ``/v1/chat/completions`` batch input file of ``min_lines`` to ``max_lines`` requests.

    ``mistake=None`` gives a valid file; one of :data:`BATCH_MISTAKES` a file the batch
    refuses with that code (``"empty_file"`` has no lines; ``"too_many_tasks"`` has one more
    than ``profile.batch.max_lines``; ``"token_limit_exceeded"`` estimates over
    ``profile.batch.enqueued_tokens``).
    """
    if mistake is not None and mistake not in BATCH_MISTAKES:
        raise fail(f"mistake={mistake!r} is not one of {', '.join(BATCH_MISTAKES)}")
    check_size_bounds(min_lines, max_lines, what="lines", hard_max=profile.batch.max_lines)
    if mistake in ("duplicate_custom_id", "url_mismatch", "model_mismatch"):
        min_lines = max(min_lines, 2)
        max_lines = max(max_lines, min_lines)
    if mistake == "empty_file":
        blank = draw(st.sampled_from([b"", b"\n", b"\r\n", b"\n\n"]))
        return BatchFile(blank, (), mistake, "empty_file", None)
    body = draw(chat_requests())
    if mistake == "too_many_tasks":
        count = profile.batch.max_lines + 1
        ids = [f"request-{i}" for i in range(count)]
        # custom_id is the line's first key: one body's text, behind each id.
        rest = input_line("", body)[len(b'{"custom_id": ""') :]
        data = b"".join(b'{"custom_id": ' + json.dumps(i).encode() + rest for i in ids)
        return BatchFile(data, tuple(ids), mistake, "too_many_tasks", None)
    if mistake == "token_limit_exceeded":
        per_line = _FILLER_LINE_TOKENS * profile.rate_limits.estimate_chars_per_token
        filler = {"role": "user", "content": "x" * per_line}
        heavy = {**body, "messages": [*body["messages"], filler]}
        count = math.ceil(profile.batch.enqueued_tokens / estimate_tokens(heavy, profile)) + 1
        ids = [f"request-{i}" for i in range(count)]
        data = b"".join(input_line(i, heavy) for i in ids)
        return BatchFile(data, tuple(ids), mistake, "token_limit_exceeded", None)
    count = draw(st.integers(min_lines, max_lines))
    ids = _ids(draw, count)
    bodies = _within_enqueued_limit(
        [body, *(draw(chat_requests()) for _ in range(count - 1))], profile
    )
    # Every line asks the one model of the batch (a second model is its own mistake).
    model = body["model"]
    lines = [input_line(i, {**b, "model": model}) for i, b in zip(ids, bodies, strict=True)]
    if mistake is None:
        return BatchFile(b"".join(lines), tuple(ids))
    where = draw(st.integers(1 if mistake == "model_mismatch" else 0, count - 1))
    if mistake == "invalid_json_line":
        lines[where] = lines[where][: draw(st.integers(1, len(lines[where]) - 2))] + b"\n"
    elif mistake == "missing_required_parameter":
        line = json.loads(lines[where])
        del line[draw(st.sampled_from(["custom_id", "method", "url", "body"]))]
        lines[where] = (json.dumps(line) + "\n").encode()
    elif mistake == "duplicate_custom_id":
        where = max(where, 1)
        ids[where] = ids[draw(st.integers(0, where - 1))]
        lines[where] = input_line(ids[where], {**bodies[where], "model": model})
    elif mistake == "url_mismatch":
        lines[where] = input_line(ids[where], bodies[where], "/v1/embeddings")
    elif mistake == "model_mismatch":
        lines[where] = input_line(ids[where], {**bodies[where], "model": _OTHER_MODEL})
    return BatchFile(b"".join(lines), tuple(ids), mistake, mistake, where + 1)
