"""``minidouble cassette import`` on cassettes written by vcrpy itself, and ``verify``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from minidouble._cli import main
from minidouble._fake import FakeGPT4oMini

openai = pytest.importorskip("openai")
vcr = pytest.importorskip("vcr")

KEY = "sk-test-vcrpy-0123456789abcdefghijklmn"


def session(client: Any) -> list[Any]:
    seen: list[Any] = []
    plain = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}]
    )
    seen.append(plain.model_dump())
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Stream it"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    seen.append([chunk.model_dump() for chunk in stream])
    try:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], temperature=5
        )
    except openai.BadRequestError as error:
        seen.append((error.status_code, error.body))
    return seen


@pytest.fixture
def vcrpy_cassette(tmp_path: Path) -> tuple[Path, list[Any]]:
    """A YAML cassette written by vcrpy, of the openai SDK talking to a real HTTP server."""
    path = tmp_path / "vcr" / "test_session.yaml"
    with FakeGPT4oMini().serve() as live:
        client = openai.OpenAI(api_key=KEY, base_url=live.base_url, max_retries=0)
        with vcr.use_cassette(str(path), record_mode="all"):
            seen = session(client)
    assert KEY in path.read_text()  # vcrpy's default keeps the Authorization header
    return path, seen


def test_import_of_a_vcrpy_cassette_replays_the_same_session(
    vcrpy_cassette: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    source, seen = vcrpy_cassette
    assert main(["cassette", "import", str(source)]) == 0
    target = source.with_suffix(".json")
    assert f"imported {source} -> {target} (3 interaction(s))" in capsys.readouterr().out
    text = target.read_text()
    assert KEY not in text
    document = json.loads(text)
    stream = document["interactions"][1]["response"]["events"]
    assert len(stream) > 3 and stream[-1] == "data: [DONE]\n\n"
    assert document["interactions"][2]["summary"]["error"]["param"] == "temperature"

    with FakeGPT4oMini(cassette=target).serve() as server:
        replayed = session(openai.OpenAI(api_key="any", base_url=server.base_url, max_retries=0))
    assert replayed == seen

    assert main(["cassette", "verify", str(target)]) == 0
    assert main(["cassette", "import", str(source)]) == 1  # exists: --force to replace
    assert "already exists" in capsys.readouterr().out
    assert main(["cassette", "import", str(source), "--force"]) == 0


def test_import_decompresses_gzip_bodies(tmp_path: Path) -> None:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "choices": [], "model": "m"}
    raw = json.dumps(body, indent=2).encode() + b"\n"
    source = tmp_path / "gzip.yaml"
    source.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "interactions": [
                    {
                        "request": {
                            "method": "POST",
                            "uri": "https://api.openai.com/v1/chat/completions",
                            "body": '{"model": "gpt-4o-mini", "messages": []}',
                            "headers": {"Authorization": [f"Bearer {KEY}"]},
                        },
                        "response": {
                            "status": {"code": 200, "message": "OK"},
                            "headers": {
                                "Content-Encoding": ["gzip"],
                                "Content-Type": ["application/json"],
                                "openai-organization": ["org-secretorganisation000000"],
                            },
                            "body": {"string": gzip.compress(raw)},
                        },
                    }
                ],
            }
        )
    )
    assert "!!binary" in source.read_text()
    out = tmp_path / "out.json"
    assert main(["cassette", "import", str(source), "-o", str(out)]) == 0
    response = json.loads(out.read_text())["interactions"][0]["response"]
    assert response["body"] == body and response["body_style"] == "indent2+newline"
    assert response["headers"] == {"content-type": "application/json"}
    assert "org-secret" not in out.read_text()


def test_verify_reports_stale_summaries_and_key_shaped_strings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"format": "minidouble-cassette", "version": 1, "interactions": []}\n')
    leaked = "sk-" + "Zz9" * 10
    document = {
        "format": "minidouble-cassette",
        "version": 1,
        "interactions": [
            {
                "seq": 1,
                "key": "0",
                "summary": {"derived": True, "status": 200, "content": "edited"},
                "request": {"method": "POST", "path": "/v1/chat/completions",
                            "body": {"messages": [{"role": "user", "content": leaked}]}},
                "response": {"status": 200, "body": {"choices": [
                    {"message": {"content": "original"}, "finish_reason": "stop"}]},
                    "body_style": "indent2"},
            }
        ],
    }  # fmt: skip
    bad = tmp_path / "nested" / "bad.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps(document))
    assert main(["cassette", "verify", str(good)]) == 0
    assert main(["cassette", "verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"ok   {good} (0 interaction(s))" in out
    assert f"FAIL {bad}" in out
    assert "interactions[0].request.body.messages[0].content holds an OpenAI-style API key" in out
    assert leaked not in out
    assert "summary no longer matches its response" in out


def test_verify_reports_unreadable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    future = tmp_path / "future.json"
    future.write_text('{"format": "minidouble-cassette", "version": 2, "interactions": []}')
    assert main(["cassette", "verify", str(future), str(tmp_path / "missing.json")]) == 1
    out = capsys.readouterr().out
    assert "version 2, newer than the version 1" in out
    assert "missing.json does not exist" in out


def test_import_refuses_what_is_not_a_vcrpy_cassette(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "other.yaml"
    source.write_text("just: a mapping\n")
    assert main(["cassette", "import", str(source)]) == 1
    assert "expected a top-level 'interactions' list" in capsys.readouterr().out
