"""``minidouble tokens REQUEST.json``: tokens, room, cost, and the first error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from minidouble._cli import main


def run(
    tmp_path: Path, body: Any, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body), encoding="utf-8")
    code = main(["tokens", str(request), *args])
    return code, capsys.readouterr().out


def test_a_valid_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}
    code, out = run(tmp_path, body, capsys)
    assert code == 0
    assert out.splitlines() == [
        "prompt_tokens: 9",
        "context left:  127991 of 128000",
        "cost:          $0.00000135 input; $0.00983175 with 16384 output tokens",
        "valid:         yes",
    ]


def test_the_cost_uses_the_requested_maximum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hello!"}],
        "max_completion_tokens": 100,
    }
    code, out = run(tmp_path, body, capsys)
    assert code == 0
    assert "cost:          $0.00000135 input; $0.00006135 with 100 output tokens" in out


def test_a_rejected_request_shows_the_first_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hello!"}],
        "temperature": 3,
        "n": 0,
    }
    code, out = run(tmp_path, body, capsys)
    assert code == 1
    assert "prompt_tokens: 9" in out
    assert "rejected:      400 invalid_request_error (param=n, code=integer_below_min_value)" in out
    assert "Invalid 'n': integer below minimum value." in out


def test_an_over_long_request_shows_negative_room(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi" + " hi" * 130_000}],
    }
    code, out = run(tmp_path, body, capsys)
    assert code == 1
    assert "context left:  -2008 of 128000" in out
    assert "code=context_length_exceeded" in out


def test_a_body_that_cannot_be_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, ["not", "a", "request"], capsys)
    assert code == 1
    assert "prompt_tokens: unknown" in out


def test_azure_path_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = {"messages": [{"role": "user", "content": "Hello!"}]}
    code, _ = run(tmp_path, body, capsys, "--path", "/openai/deployments/mini/chat/completions")
    assert code == 0


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="minidouble: cannot read"):
        main(["tokens", str(tmp_path / "missing.json")])
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(SystemExit, match="is not JSON"):
        main(["tokens", str(broken)])


def test_the_console_command_reads_stdin() -> None:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
    result = subprocess.run(
        [sys.executable, "-m", "minidouble", "tokens", "-"],
        input=body,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "valid:         yes" in result.stdout
