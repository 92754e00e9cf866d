"""Units of the cassette format and matching: exact bytes, events, canonical keys, ignores."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minidouble._cassettes._format import (
    decode_body,
    decode_event,
    encode_event,
    encode_request_body,
    encode_response_body,
    parse_document,
    render_document,
    split_frames,
    summarize,
)
from minidouble._cassettes._match import (
    IgnoreRule,
    _normalized,
    body_diff,
    canonical_body,
    canonical_text,
    match_key,
    stored_key,
)
from minidouble._cassettes._secrets import Secrets, find_key_like

DOCUMENT = {"id": "x", "choices": [{"message": {"content": 'héllo \u2028 "q"'}}], "n": 1.5}


@pytest.mark.parametrize(
    "raw",
    [
        (json.dumps(DOCUMENT, indent=2, ensure_ascii=False) + "\n").encode(),
        json.dumps(DOCUMENT, indent=2).encode(),
        json.dumps(DOCUMENT, separators=(",", ":"), ensure_ascii=False).encode(),
        json.dumps(DOCUMENT, indent=4).encode() + b"\n",
        json.dumps(DOCUMENT).encode(),
        b'{"a":1,  "b":2}',  # no known style: kept as text
        b"not json at all",
        b"\xff\xfe binary",
        b"",
        b"null",
        b'{"x": NaN}',
    ],
)
def test_response_bodies_come_back_byte_for_byte(raw: bytes) -> None:
    fields = encode_response_body(raw)
    assert decode_body(json.loads(json.dumps(fields))) == raw


def test_json_bodies_are_stored_structured_with_their_style() -> None:
    raw = (json.dumps(DOCUMENT, indent=2, ensure_ascii=False) + "\n").encode()
    assert encode_response_body(raw) == {"body": DOCUMENT, "body_style": "indent2+newline"}
    request = encode_request_body(b'{"b": 1, "a": {"d": 2, "c": 3}}')
    assert json.dumps(request["body"]) == '{"a": {"c": 3, "d": 2}, "b": 1}'


def test_frames_split_on_blank_lines_of_either_kind() -> None:
    frames, rest = split_frames(b"data: 1\n\ndata: 2\r\n\r\nevent: x\ndata: 3\n\ndata: 4")
    assert frames == [b"data: 1\n\n", b"data: 2\r\n\r\n", b"event: x\ndata: 3\n\n"]
    assert rest == b"data: 4"


@pytest.mark.parametrize(
    "frame",
    [
        b'data: {"id":"a","choices":[{"delta":{"content":"\xc3\xa9"}}]}\n\n',
        b'data: {"id": "spaced"}\n\n',  # not compact: kept verbatim
        b"data: [DONE]\n\n",
        b'event: error\ndata: {"error":{}}\n\n',
        b": keep-alive comment\n\n",
        b'data: {"a":1}\r\n\r\n',
    ],
)
def test_events_come_back_byte_for_byte(frame: bytes) -> None:
    assert decode_event(json.loads(json.dumps(encode_event(frame)))) == frame


def test_compact_data_events_are_stored_as_objects() -> None:
    assert encode_event(b'data: {"id":"a","n":[1,2]}\n\n') == {"id": "a", "n": [1, 2]}


def test_canonical_body_ignores_key_order_number_spelling_and_normalisation() -> None:
    a = canonical_body(b'{"t": 1.0, "m": [{"c": "caf\\u0065\\u0301"}]}')
    b = canonical_body('{"m": [{"c": "café"}], "t": 1}'.encode())
    assert a == b
    assert canonical_body(b'{"t": 1.5}') != canonical_body(b'{"t": 1}')
    assert canonical_body(b'{"t": null}') != canonical_body(b"{}")


# Spellings that canonicalise: composed and decomposed accents, a sign NFC rewrites, "=" and
# the overlay NFC composes into "≠", escaped characters, text that looks like "2.0,".
_TEXT = st.text(
    st.sampled_from(["a", "/", "*", "e", "n", "\u0301", "\u00e9", "\u212b", '"', "\n", "\\"])
    | st.sampled_from(["=", "\u0338", "\u0000", "2", ".", "0", ",", "]"])
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1.0, -0.0, 2.0**53, 1e16])
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)


@given(
    body=_JSON | st.dictionaries(st.sampled_from(["a", "b"]), _JSON, max_size=2),
    ascii_only=st.booleans(),
    ignored=st.sampled_from([(), ("/a",), ("/*/a", "/b")]),
)
def test_a_stored_request_keys_as_the_request_it_records(
    body: Any, ascii_only: bool, ignored: tuple[str, ...]
) -> None:
    # Loading keys a structured body as it stands, not through its bytes: the keys must agree.
    raw = json.dumps(body, ensure_ascii=ascii_only).encode()
    stored = {"method": "POST", "path": "/v1/chat/completions", **encode_request_body(raw)}
    from_file = json.loads(json.dumps(stored))
    rules = [IgnoreRule.parse(pointer) for pointer in ignored]
    key = stored_key(from_file, rules)
    assert key == match_key("POST", "/v1/chat/completions", raw, rules)
    assert key == match_key("POST", "/v1/chat/completions", decode_body(from_file), rules)


@given(body=_JSON, ignored=st.sampled_from([(), ("/a",), ("/*/a", "/b")]))
def test_canonical_text_is_the_normalised_value_sorted(body: Any, ignored: tuple[str, ...]) -> None:
    # The definition, walked in full; canonical_text skips the walk when its text shows it
    # would change nothing.
    expected = _normalized(body)
    for pointer in ignored:
        expected = IgnoreRule.parse(pointer).remove(expected)
    rules = [IgnoreRule.parse(pointer) for pointer in ignored]
    assert canonical_text(body, rules) == json.dumps(
        expected, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_query_order_does_not_matter_but_values_do() -> None:
    one = match_key("post", "/openai/x?b=2&api-version=1", b"")
    two = match_key("POST", "/openai/x?api-version=1&b=2", b"")
    assert one == two and one.digest == two.digest
    assert match_key("POST", "/openai/x?api-version=2&b=2", b"") != one


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("/metadata/run_id", {"metadata": {}, "messages": [{"c": 1, "n": "a"}, {"c": 2}]}),
        ("/messages/*/n", {"metadata": {"run_id": 7}, "messages": [{"c": 1}, {"c": 2}]}),
        ("/messages/1", {"metadata": {"run_id": 7}, "messages": [{"c": 1, "n": "a"}]}),
        ("/nothing/here", {"metadata": {"run_id": 7}, "messages": [{"c": 1, "n": "a"}, {"c": 2}]}),
    ],
)
def test_ignore_rules(pointer: str, expected: object) -> None:
    body = {"metadata": {"run_id": 7}, "messages": [{"c": 1, "n": "a"}, {"c": 2}]}
    assert IgnoreRule.parse(pointer).remove(body) == expected
    assert body["metadata"] == {"run_id": 7}  # the request itself is never modified


def test_render_keeps_one_event_per_line_even_with_tricky_text() -> None:
    tricky = {"content": '@@event-0000-0@@" and "\n newline'}
    document = {
        "format": "minidouble-cassette",
        "version": 1,
        "interactions": [
            {"seq": 1, "key": "k", "summary": {},
             "request": {"method": "GET", "path": "/v1/models", "body": tricky},
             "response": {"status": 200, "events": [{"a": tricky}, "data: [DONE]\n\n"]}},
        ],
    }  # fmt: skip
    text = render_document(document)
    assert json.loads(text) == document
    assert '          {"a":{"content":' in text
    assert parse_document(text, "x.json")["interactions"][0]["response"]["events"][1] == (
        "data: [DONE]\n\n"
    )


def test_summary_assembles_streamed_content_tool_calls_and_usage() -> None:
    chunks = [
        {"model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"name": "f", "arguments": "{\"a\""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": ":1}"}}]}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3}},
        "data: [DONE]\n\n",
    ]  # fmt: skip
    summary = summarize({"status": 200, "events": chunks})
    assert summary == {
        "derived": True, "status": 200, "stream": True, "model": "m", "content": "Hello",
        "tool_calls": [{"name": "f", "arguments": '{"a":1}'}], "finish_reason": "tool_calls",
        "usage": {"prompt_tokens": 3},
    }  # fmt: skip


def test_diff_marks_the_changed_characters() -> None:
    old = match_key("POST", "/v1/chat/completions", b'{"messages": [{"content": "abcdef"}]}')
    new = match_key("POST", "/v1/chat/completions", b'{"messages": [{"content": "abXdef"}]}')
    lines = body_diff(old, new, "recorded #3").splitlines()
    assert lines[0] == "--- recorded #3 POST /v1/chat/completions"
    minus = lines.index('-      "content": "abcdef"')
    assert lines[minus + 1] == '+      "content": "abXdef"'
    assert lines[minus + 2] == "?" + " " * 20 + "^"


def test_secrets_are_replaced_longest_first_and_short_values_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    secrets = Secrets()
    secrets.add_headers({"authorization": "Bearer sk-abc-0123456789", "openai-project": "p1"})
    secrets.add("sk-abc", "<SHORT>")  # below the minimum length: would eat ordinary words
    assert secrets.scrub("key sk-abc-0123456789 p1") == "key <API_KEY> p1"
    assert secrets.scrub_bytes(b'{"k": "sk-abc-0123456789"}') == b'{"k": "<API_KEY>"}'


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("sk-proj-" + "a" * 40, "OpenAI-style API key"),
        ("Authorization: Bearer " + "x" * 30, "Bearer token"),
        ("eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4", "JSON Web Token"),
        ("org-" + "A" * 24, "organisation id"),
    ],
)
def test_key_shapes_are_found_and_named(text: str, kind: str) -> None:
    problems = find_key_like({"interactions": [{"response": {"body": {"note": text}}}]})
    assert len(problems) == 1
    assert (
        problems[0].startswith("interactions[0].response.body.note holds") and kind in problems[0]
    )
    assert text not in problems[0]


def test_placeholders_and_ordinary_ids_are_not_key_shaped() -> None:
    document = {"a": "<API_KEY>", "id": "chatcmpl-AbCdEf0123456789abcdef", "b": "task-list"}
    assert find_key_like(document) == []
