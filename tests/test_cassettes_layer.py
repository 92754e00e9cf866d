"""The cassette layer on its own: record from a real HTTP upstream, replay with none."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cassette_support import FAKE_KEY, chat, drain, never_called, upstream_app

from minidouble import count_prompt_tokens
from minidouble._cassettes import CassetteError, CassetteLayer, CassetteWarning
from minidouble._cassettes._format import CassetteFormatError
from minidouble._http import HttpRequest

REQUESTS = [
    chat("Say hello."),
    chat("Stream a haiku.", stream=True, stream_options={"include_usage": True}),
    chat(
        "Call the tool.",
        tools=[
            {
                "type": "function",
                "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
            }
        ],
        tool_choice="required",
    ),
    chat("Too long an answer.", max_tokens=10**6),  # refused with the real 400
    chat("Two choices, streamed.", n=2, stream=True),
    HttpRequest("GET", "https://api.openai.com/v1/models", {"authorization": f"Bearer {FAKE_KEY}"}),
]


@pytest.fixture(autouse=True)
def fake_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)


def record(path: Path, requests: list[HttpRequest], **options: object) -> list[object]:
    with upstream_app() as upstream:
        layer = CassetteLayer(path, record_mode="once", upstream=upstream, **options)  # type: ignore[arg-type]
        handler = layer.wrap(never_called)
        seen = [drain(handler(request)) for request in requests]
        layer.close()
    return seen


def test_round_trip_replays_identical_bodies_stream_chunks_and_usage(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "round_trip.json"
    recorded = record(path, REQUESTS)

    layer = CassetteLayer(path)  # record_mode="none", no upstream: nothing can go live
    handler = layer.wrap(never_called)
    replayed = [drain(handler(request)) for request in REQUESTS]
    report = layer.close()

    assert replayed == recorded
    assert report.replayed == len(REQUESTS) and not report.unused
    statuses = [status for status, _, _ in recorded]
    assert statuses == [200, 200, 200, 400, 200, 200]
    stream_chunks = recorded[1][2]
    assert stream_chunks is not None and len(stream_chunks) > 3
    assert stream_chunks[-1] == b"data: [DONE]\n\n"
    assert all(chunk.endswith(b"\n\n") and chunk.count(b"\n\n") == 1 for chunk in stream_chunks)
    usage = json.loads(stream_chunks[-2][6:])["usage"]
    assert usage["prompt_tokens"] > 0


def test_the_key_appears_nowhere_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "keyless.json"
    record(path, REQUESTS)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    locks = Path(tempfile.gettempdir()) / "minidouble-cassette-locks"
    written += list(locks.glob("*.lock"))
    assert path in written
    for file in written:
        assert FAKE_KEY.encode() not in file.read_bytes(), file
    assert "authorization" not in path.read_text()


def test_file_is_reviewable_structured_json_with_one_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "layout.json"
    record(path, REQUESTS[:2])
    text = path.read_text()
    document = json.loads(text)
    assert document["format"] == "minidouble-cassette" and document["version"] == 1
    first, second = document["interactions"]
    assert list(first) == ["seq", "key", "summary", "request", "response", "timing"]
    assert '"timing": {"ttfb_ms":' in text  # compact, on one line
    assert first["request"]["body"]["messages"][0]["content"] == "Say hello."
    assert first["response"]["body"]["object"] == "chat.completion"
    assert first["summary"]["derived"] is True
    assert (
        first["summary"]["content"] == first["response"]["body"]["choices"][0]["message"]["content"]
    )
    event_lines = [line for line in text.splitlines() if '"chat.completion.chunk"' in line]
    assert len(event_lines) == len(second["response"]["events"]) - 1  # all but [DONE]
    assert second["summary"]["stream"] is True and "usage" in second["summary"]
    assert text.endswith("\n")


def test_one_character_edit_fails_loudly_with_a_diff(tmp_path: Path) -> None:
    path = tmp_path / "edited.json"
    record(path, [chat("What is the capital of France?"), chat("Something else entirely")])
    layer = CassetteLayer(path)
    handler = layer.wrap(never_called)
    status, body, _ = drain(handler(chat("What is the capital of Francе?")))  # Cyrillic "е"
    assert status == 400
    message = json.loads(body)["error"]["message"]
    assert str(path) in message
    assert "nearest recorded request is interaction #1" in message
    assert '-      "content": "What is the capital of France?",' in message
    assert '+      "content": "What is the capital of Francе?",' in message
    assert "^" in message and "--minidouble-record-mode=new_episodes" in message
    with pytest.raises(CassetteError, match="no recorded interaction") as raised:
        layer.close()
    assert "Francе" in str(raised.value)


def test_identical_requests_replay_in_recorded_order(tmp_path: Path) -> None:
    path = tmp_path / "identical.json"
    same = chat("Roll a die.", temperature=1.0)
    recorded = record(path, [same, same, same])
    assert len({body for _, body, _ in recorded}) == 3  # three different answers
    layer = CassetteLayer(path)
    handler = layer.wrap(never_called)
    # Key order and 1.0 vs 1 do not matter: the body is canonical.
    reordered = HttpRequest(
        same.method, same.url, same.headers,
        b'{"temperature": 1, "messages": [{"content": "Roll a die.", "role": "user"}],'
        b' "model": "gpt-4o-mini"}',
    )  # fmt: skip
    assert [drain(handler(reordered)) for _ in range(3)] == recorded
    status, body, _ = drain(handler(same))
    assert status == 400 and b"recorded 3 time(s)" in body
    with pytest.raises(CassetteError):
        layer.close()


def test_ignored_fields_do_not_take_part_in_matching(tmp_path: Path) -> None:
    path = tmp_path / "ignored.json"
    record(path, [chat("Hi", metadata={"run_id": "1"}, store=True)], ignore_fields=["/metadata"])
    layer = CassetteLayer(path, ignore_fields=["/metadata"])
    status, _, _ = drain(layer.wrap(never_called)(chat("Hi", metadata={"run_id": "2"}, store=True)))
    assert status == 200
    layer.close()


def test_bad_ignore_field_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JSON pointers"):
        CassetteLayer(tmp_path / "x.json", record_mode="all", ignore_fields=["metadata.run_id"])


def test_replayed_request_is_validated_and_recounted(tmp_path: Path) -> None:
    path = tmp_path / "revalidated.json"
    record(path, [chat("Short question?")], ignore_fields=["/messages/*/content"])

    layer = CassetteLayer(path, ignore_fields=["/messages/*/content"])
    status, _, _ = drain(layer.wrap(never_called)(chat("A slightly longer question, now?")))
    assert status == 200
    recorded = count_prompt_tokens(json.loads(chat("Short question?").body))
    now = count_prompt_tokens(json.loads(chat("A slightly longer question, now?").body))
    assert recorded != now
    expected = f"recorded usage.prompt_tokens={recorded}, but the replayed request counts {now}"
    with pytest.warns(CassetteWarning, match=expected):
        layer.close()

    outgrown = chat("word " * 130_000)
    layer = CassetteLayer(path, ignore_fields=["/messages/*/content"])
    status, body, _ = drain(layer.wrap(never_called)(outgrown))
    assert status == 400
    assert json.loads(body)["error"]["code"] == "context_length_exceeded"
    with pytest.raises(CassetteError, match="refuses the request the test sends now"):
        layer.close()


def test_unused_interactions_warn_and_fail_under_strict(tmp_path: Path) -> None:
    path = tmp_path / "unused.json"
    record(path, [chat("one"), chat("two")])
    layer = CassetteLayer(path)
    drain(layer.wrap(never_called)(chat("one")))
    with pytest.warns(CassetteWarning, match=r"1 interaction\(s\) .* never replayed: #2"):
        report = layer.close()
    assert report.unused and report.unused[0].startswith("#2 POST /v1/chat/completions")
    strict = CassetteLayer(path, strict=True)
    with pytest.raises(CassetteError, match="never replayed"):
        strict.close()


def test_none_mode_without_a_cassette_says_how_to_record(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="--minidouble-record-mode=once"):
        CassetteLayer(tmp_path / "missing.json")


def test_unknown_record_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="record_mode must be one of 'none', 'once'"):
        CassetteLayer(tmp_path / "x.json", record_mode="rewrite")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"format": "minidouble-cassette", "version": 9, "interactions": []}', "pip install -U"),
        ("interactions:\n- request: {}\n", "minidouble cassette import"),
        ('{"interactions": [], "version": 1}', "minidouble cassette import"),
        (
            '{"format": "minidouble-cassette", "version": 1, "interactions": [{"seq": 1}]}',
            "interactions.0.key",
        ),
    ],
)
def test_unreadable_cassettes_say_what_to_do(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CassetteFormatError, match="minidouble: ") as raised:
        CassetteLayer(path)
    assert expected in str(raised.value)


def test_new_episodes_keeps_hits_appends_misses_and_leaves_unchanged_files_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "episodes.json"
    record(path, [chat("first")])
    before = path.stat()
    with upstream_app() as upstream:
        layer = CassetteLayer(path, record_mode="new_episodes", upstream=upstream)
        drain(layer.wrap(never_called)(chat("first")))
        assert not layer.close().written
        assert path.stat().st_ino == before.st_ino and path.stat().st_mtime_ns == before.st_mtime_ns

        layer = CassetteLayer(path, record_mode="new_episodes", upstream=upstream)
        drain(layer.wrap(never_called)(chat("first")))
        drain(layer.wrap(never_called)(chat("second")))
        report = layer.close()
    assert report.written and report.recorded == 1 and report.replayed == 1
    document = json.loads(path.read_text())
    contents = [i["request"]["body"]["messages"][0]["content"] for i in document["interactions"]]
    assert contents == ["first", "second"]
    assert [i["seq"] for i in document["interactions"]] == [1, 2]


def test_all_replaces_the_interactions(tmp_path: Path) -> None:
    path = tmp_path / "all.json"
    record(path, [chat("old one"), chat("old two")])
    with upstream_app() as upstream:
        layer = CassetteLayer(path, record_mode="all", upstream=upstream)
        drain(layer.wrap(never_called)(chat("old one")))
        layer.close()
    document = json.loads(path.read_text())
    assert [i["request"]["body"]["messages"][0]["content"] for i in document["interactions"]] == [
        "old one"
    ]


def test_a_failed_block_does_not_replace_a_cassette_with_a_partial_one(tmp_path: Path) -> None:
    path = tmp_path / "kept.json"
    record(path, [chat("old one"), chat("old two")])
    before = path.read_bytes()
    with upstream_app() as upstream:
        layer = CassetteLayer(path, record_mode="all", upstream=upstream)
        drain(layer.wrap(never_called)(chat("old one")))
        with pytest.warns(CassetteWarning, match="not re-recorded because the block failed"):
            layer.close(failed=True)
    assert path.read_bytes() == before


def test_a_key_shaped_string_is_refused_and_the_field_named(tmp_path: Path) -> None:
    path = tmp_path / "leaky.json"
    leaked = "sk-proj-" + "A1b2C3d4" * 4
    with pytest.raises(CassetteError) as raised:
        record(path, [chat(f"My key is {leaked}")])
    message = str(raised.value)
    assert "interactions[0].request.body.messages[0].content" in message
    assert leaked not in message and "Nothing was written" in message
    assert not path.exists()


def test_the_environment_key_is_replaced_wherever_it_occurs(tmp_path: Path) -> None:
    path = tmp_path / "echo.json"
    record(path, [chat(f"Repeat after me: {FAKE_KEY}")])
    text = path.read_text()
    assert FAKE_KEY not in text and "Repeat after me: <API_KEY>" in text
    layer = CassetteLayer(path)  # the scrubbed recording still matches its own request
    assert drain(layer.wrap(never_called)(chat(f"Repeat after me: {FAKE_KEY}")))[0] == 200
    layer.close()


def test_abandoned_stream_is_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "abandoned.json"
    with upstream_app() as upstream:
        layer = CassetteLayer(path, record_mode="once", upstream=upstream)
        response = layer.wrap(never_called)(chat("Stream.", stream=True))
        assert response.stream is not None
        stream = iter(response.stream)
        next(stream)
        stream.close()  # type: ignore[attr-defined]
        with pytest.warns(CassetteWarning, match="abandoned after 1 event"):
            layer.close()
    assert json.loads(path.read_text())["interactions"] == []


def test_unreachable_upstream_is_reported_not_recorded(tmp_path: Path) -> None:
    layer = CassetteLayer(
        tmp_path / "down.json", record_mode="once", upstream="http://127.0.0.1:9/v1"
    )
    status, body, _ = drain(layer.wrap(never_called)(chat()))
    assert status == 502 and b"could not reach the upstream" in body
    with pytest.raises(CassetteError, match="recording into"):
        layer.close()


def test_non_api_paths_go_to_the_wrapped_handler(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, [])
    seen = []
    layer = CassetteLayer(path)
    layer.wrap(lambda request: seen.append(request) or drain_response())(
        HttpRequest("GET", "https://api.openai.com/health", {})
    )
    assert len(seen) == 1
    layer.close()


def drain_response():  # type: ignore[no-untyped-def]
    from minidouble._http import HttpResponse

    return HttpResponse(404)


def test_written_file_is_world_readable_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "perm.json"
    record(path, [chat()])
    if os.name != "nt":
        assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["perm.json"]


WORKER = """
import json, sys
from minidouble._cassettes import CassetteLayer
from minidouble._http import HttpRequest

path, upstream, worker = sys.argv[1], sys.argv[2], sys.argv[3]
for turn in range(4):
    # A fresh layer per turn: every close() is a read-merge-write racing the other workers.
    layer = CassetteLayer(path, record_mode="new_episodes", upstream=upstream)
    body = {"model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"worker {worker} turn {turn}"}]}
    request = HttpRequest("POST", "https://api.openai.com/v1/chat/completions",
                          {"authorization": "Bearer sk-worker-key-0123456789abcdef"},
                          json.dumps(body).encode())
    assert layer.wrap(lambda r: None)(request).status == 200
    layer.close()
"""


def test_processes_recording_into_one_cassette_at_once_lose_nothing(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "shared.json"
    workers = 4
    with upstream_app() as upstream:
        running = [
            subprocess.Popen([sys.executable, "-c", WORKER, str(path), upstream, str(n)])
            for n in range(workers)
        ]
        assert [process.wait(timeout=300) for process in running] == [0] * workers
    document = json.loads(path.read_text())
    asked = sorted(i["request"]["body"]["messages"][0]["content"] for i in document["interactions"])
    assert asked == sorted(f"worker {w} turn {t}" for w in range(workers) for t in range(4))
    assert [i["seq"] for i in document["interactions"]] == list(range(1, 4 * workers + 1))
    assert "sk-worker-key" not in path.read_text()


def test_timing_is_recorded_compactly_and_replayed_only_on_request(tmp_path: Path) -> None:
    import time

    from _cassette_support import serve_handler

    from minidouble._http import HttpResponse

    def slow_stream(request: HttpRequest) -> HttpResponse:
        def events() -> Iterator[bytes]:
            for n in range(3):
                time.sleep(0.05)
                yield f'data: {{"n":{n}}}\n\n'.encode()
            yield b"data: [DONE]\n\n"

        return HttpResponse(200, [("content-type", "text/event-stream")], b"", events())

    path = tmp_path / "timed.json"
    server, thread = serve_handler(slow_stream)
    try:
        layer = CassetteLayer(
            path, record_mode="once", upstream=f"http://127.0.0.1:{server.server_address[1]}/v1"
        )
        recorded = drain(layer.wrap(never_called)(chat(stream=True)))
        layer.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    timing = json.loads(path.read_text())["interactions"][0]["timing"]
    # Each event leaves 50 ms after the one before, but on a busy machine the reader may take
    # one late and the next at once: only the time to the third event is certain (150 ms,
    # each of its three parts rounded to 10 ms).
    assert timing["ttfb_ms"] >= 50 and timing["ttfb_ms"] + sum(timing["gaps_ms"][:2]) >= 140
    assert all(value % 10 == 0 for value in [timing["ttfb_ms"], *timing["gaps_ms"]])

    instant = CassetteLayer(path)
    assert not instant.blocking
    assert drain(instant.wrap(never_called)(chat(stream=True))) == recorded
    instant.close()

    paced = CassetteLayer(path, timing="recorded")
    assert paced.blocking
    started = time.monotonic()
    assert drain(paced.wrap(never_called)(chat(stream=True))) == recorded
    assert time.monotonic() - started >= (timing["ttfb_ms"] + sum(timing["gaps_ms"])) / 1000
    paced.close()
