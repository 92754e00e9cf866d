"""Layer 3-4 for messages: roles, content forms, names, parts, images and tool-call order."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any
from unittest.mock import patch

import pytest
from _validation_support import chat, error_of, tool, user
from hypothesis import given
from hypothesis import strategies as st

from minidouble import GPT4O_MINI, OpenAIError, validate_request
from minidouble._model import _validate

PNG = (
    "data:image/png;base64,"
    + base64.b64encode(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    ).decode()
)


def image(url: str = PNG, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


def text(value: str = "hi") -> dict[str, str]:
    return {"type": "text", "text": value}


def call(call_id: str, name: str = "get_weather") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


def assistant_calls(*ids: str) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [call(i) for i in ids]}


def tool_reply(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "sunny"}


def test_messages_required_array_non_empty() -> None:
    assert error_of({"model": "gpt-4o-mini"})[1:3] == ("messages", "missing_required_parameter")
    assert error_of(chat() | {"messages": "ping"})[1:] == (
        "messages",
        "invalid_type",
        "Invalid type for 'messages': expected an array of objects, but got a string instead.",
    )
    assert error_of(chat() | {"messages": []}) == (
        400,
        "messages",
        "empty_array",
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
    )
    assert error_of(chat("hello"))[1:3] == ("messages[0]", "invalid_type")  # type: ignore[arg-type]


@pytest.mark.parametrize("role", GPT4O_MINI.roles)
def test_every_role_is_accepted(role: str) -> None:
    message: dict[str, Any] = {"role": role, "content": "x"}
    if role == "tool":
        messages = [assistant_calls("call_1"), {**message, "tool_call_id": "call_1"}]
    else:
        if role == "function":
            message["name"] = "f"
        messages = [message]
    validate_request(chat(*messages))


def test_unknown_role_is_the_enum_error() -> None:
    body = chat(user(), user(), {"role": "tooool", "content": "x"})
    assert error_of(body) == (
        400,
        "messages[2].role",
        "invalid_value",
        "Invalid value: 'tooool'. Supported values are: 'system', 'assistant', 'user', "
        "'function', 'tool', and 'developer'.",
    )
    assert error_of(chat({"content": "x"}))[1:3] == (
        "messages[0].role",
        "missing_required_parameter",
    )


def test_content_forms() -> None:
    assert error_of(chat(user({"type": "text", "wrong": "format"}), user())) == (
        400,
        "messages[0].content",
        "invalid_type",
        "Invalid type for 'messages[0].content': expected one of a string or array of objects, "
        "but got an object instead.",
    )
    assert error_of(chat(user([])))[1:3] == ("messages[0].content", "empty_array")
    assert error_of(chat({"role": "user"}))[1:3] == (
        "messages[0].content",
        "missing_required_parameter",
    )
    validate_request(chat({"role": "system", "content": [text()]}, user([text(), text()])))
    validate_request(chat(user(), {"role": "assistant", "content": [text()]}))


def test_string_length_limit() -> None:
    limit = GPT4O_MINI.max_string_length
    # At the limit the string rule passes; this text is over the context, the next rule.
    assert error_of(chat(user("a" * limit)))[2] == "context_length_exceeded"
    assert error_of(chat(user("a" * (limit + 1)))) == (
        400,
        "messages[0].content",
        "string_above_max_length",
        f"Invalid 'messages[0].content': string too long. Expected a string with maximum length "
        f"{limit}, but got a string with length {limit + 1} instead.",
    )


@pytest.mark.parametrize("role", ["user", "system", "developer", "tool"])
def test_null_content_is_the_older_layer_error(role: str) -> None:
    message: dict[str, Any] = {"role": role, "content": None}
    messages = [message]
    if role == "tool":
        messages = [assistant_calls("c"), {**message, "tool_call_id": "c"}]
    index = len(messages) - 1
    assert error_of(chat(*messages)) == (
        400,
        f"messages.[{index}].content",
        None,
        "Invalid value for 'content': expected a string, got null.",
    )


def test_assistant_content_may_be_null_only_with_something_else() -> None:
    validate_request(chat(user(), assistant_calls("c"), tool_reply("c")))
    validate_request(chat(user(), {"role": "assistant", "content": None, "refusal": "No."}))
    validate_request(
        chat(
            user(),
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "f", "arguments": "{}"},
            },
        )
    )
    assert error_of(chat(user(), {"role": "assistant", "content": None}))[1] == (
        "messages.[1].content"
    )


def test_names() -> None:
    validate_request(chat(user(name="a" * 64)))
    validate_request(chat(user(name="Alice_B-2")))
    assert error_of(chat(user(), user(), user(), user(name="Alice B"))) == (
        400,
        "messages[3].name",
        "invalid_value",
        "Invalid 'messages[3].name': string does not match pattern. Expected a string that "
        "matches the pattern '^[a-zA-Z0-9_-]+$'.",
    )
    assert error_of(chat(user(name="a" * 65)))[1:3] == (
        "messages[0].name",
        "string_above_max_length",
    )
    assert error_of(chat(user(name="")))[1:3] == ("messages[0].name", "invalid_value")
    assert error_of(chat({"role": "function", "content": "x"}))[1:3] == (
        "messages[0].name",
        "missing_required_parameter",
    )
    # A tool message's name is outside the schema and ignored.
    validate_request(chat(user(), assistant_calls("c"), tool_reply("c") | {"name": "has space"}))


def test_unknown_message_keys_are_ignored() -> None:
    validate_request(chat(user(type="text/plain", charset="UTF-8")))
    validate_request(chat(user([text() | {"additional_properties": {}}])))


def test_part_type_required_and_enumerated() -> None:
    body = chat({"role": "system", "content": "s"}, user([{"role": "user", "content": "x"}]))
    assert error_of(body) == (
        400,
        "messages[1].content[0].type",
        "missing_required_parameter",
        "Missing required parameter: 'messages[1].content[0].type'.",
    )
    assert error_of(chat(user([text(), {"type": "pdf", "source": "x"}]))) == (
        400,
        "messages[0].content[1].type",
        "invalid_value",
        "Invalid value: 'pdf'. Supported values are: 'text', 'image_url', 'input_audio', "
        "'refusal', 'audio', and 'file'.",
    )
    assert error_of(chat(user(["hi"])))[1:3] == ("messages[0].content[0]", "invalid_type")
    assert error_of(chat(user([{"type": "text"}])))[1:3] == (
        "messages[0].content[0].text",
        "missing_required_parameter",
    )


def test_image_parts() -> None:
    validate_request(chat(user([text(), image()])))
    validate_request(chat(user([image(detail="low")])))
    validate_request(chat(user([image("https://example.com/cat.png")])))
    assert error_of(chat(user([text(), image(None)]))) == (  # type: ignore[arg-type]
        400,
        "messages[0].content[1].image_url.url",
        "invalid_type",
        "Invalid type for 'messages[0].content[1].image_url.url': expected a base64-encoded "
        "data URL, but got null instead.",
    )
    assert error_of(chat(user([image(detail="ultra")])))[1:3] == (
        "messages[0].content[0].image_url.detail",
        "invalid_value",
    )


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 8,
        b"\xff\xd8\xff\xe0" + b"\x00" * 8,
        b"GIF89a" + b"\x00" * 8,
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    ],
)
def test_image_formats_are_sniffed_from_the_bytes(data: bytes) -> None:
    url = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    validate_request(chat(user([image(url)])))
    with_parameters = "data:image/png;name=x.png;BASE64," + base64.b64encode(data).decode()
    validate_request(chat(user([image(with_parameters)])))


@pytest.mark.parametrize(
    "url",
    [
        "data:image/jpeg;base64," + base64.b64encode(b"Please set a user-agent").decode(),
        "data:image/png;base64,@@@@",
        "data:image/png,rawbytes",
        "data:image/bmp;base64," + base64.b64encode(b"BM" + b"\x00" * 20).decode(),
    ],
)
def test_unsupported_images(url: str) -> None:
    assert error_of(chat(user([text(), image(url)]))) == (
        400,
        None,
        "invalid_image_format",
        "You uploaded an unsupported image. Please make sure your image has of one the following "
        "formats: ['png', 'jpeg', 'gif', 'webp'].",
    )


def test_parts_limited_to_a_role() -> None:
    body = chat(
        {"role": "system", "content": "s"},
        user("Show me a cat"),
        assistant_calls("c"),
        {"role": "tool", "tool_call_id": "c", "content": [image()]},
    )
    assert error_of(body) == (
        400,
        "messages[3]",
        "invalid_value",
        "Invalid 'messages[3]'. Image URLs are only allowed for messages with role 'user', but "
        "this message with role 'tool' contains an image URL.",
    )
    refusal = {"type": "refusal", "refusal": "no"}
    validate_request(chat(user(), {"role": "assistant", "content": [refusal]}))
    assert error_of(chat(user([refusal])))[1:3] == ("messages[0]", "invalid_value")


def test_audio_input_is_refused_by_this_model() -> None:
    part = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    assert error_of(chat(user([part])))[1:3] == ("messages[0].content[0]", "invalid_value")
    bad_format = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "ogg"}}
    assert error_of(chat(user([bad_format])))[1:3] == (
        "messages[0].content[0].input_audio.format",
        "invalid_value",
    )


def test_file_parts() -> None:
    validate_request(chat(user([{"type": "file", "file": {"file_id": "file-abc"}}])))
    pdf = {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}
    validate_request(chat(user([text(), {"type": "file", "file": pdf}])))
    wrong = {"type": "file", "file": {"data": "x", "file_id": "f"}}
    assert error_of(chat(user([text(), wrong]))) == (
        400,
        "messages[0].content[1].file.data",
        "unknown_parameter",
        "Unknown parameter: 'messages[0].content[1].file.data'.",
    )


def test_assistant_tool_calls_shape() -> None:
    broken = {"role": "assistant", "tool_calls": [{"type": "function", "function": {}}]}
    assert error_of(chat(user(), broken))[1:3] == (
        "messages[1].tool_calls[0].id",
        "missing_required_parameter",
    )
    no_args = {
        "role": "assistant",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
    }
    assert error_of(chat(user(), no_args))[1:3] == (
        "messages[1].tool_calls[0].function.arguments",
        "missing_required_parameter",
    )
    assert error_of(chat(user(), {"role": "tool", "content": "x"}))[1:3] == (
        "messages[1].tool_call_id",
        "missing_required_parameter",
    )


def test_tool_message_without_preceding_calls() -> None:
    body = chat(user(), {"role": "assistant", "content": "ok"}, user(), user(), tool_reply("c"))
    assert error_of(body) == (
        400,
        "messages.[4].role",
        None,
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
        "message with 'tool_calls'.",
    )


def test_tool_message_answering_an_unknown_id_is_an_orphan() -> None:
    body = chat(user(), assistant_calls("a"), tool_reply("a"), tool_reply("zzz"))
    assert error_of(body)[1] == "messages.[3].role"


def test_unanswered_tool_calls() -> None:
    body = chat(user(), assistant_calls("call_ctiGXrgM0r61c6nkf2v7zbKb"), user())
    assert error_of(body) == (
        400,
        "messages.[2].role",
        None,
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        "call_ctiGXrgM0r61c6nkf2v7zbKb",
    )
    two = chat(user(), assistant_calls("a", "b", "c"), tool_reply("b"), user())
    assert error_of(two)[3].endswith("did not have response messages: a, c")


def test_complete_tool_rounds_are_accepted_in_any_reply_order() -> None:
    validate_request(
        chat(
            user(),
            assistant_calls("a", "b"),
            tool_reply("b"),
            tool_reply("a"),
            {"role": "assistant", "content": "done"},
            user(),
            assistant_calls("c"),
            tool_reply("c"),
            tools=[tool()],
        )
    )


def test_a_history_may_end_on_its_tool_replies() -> None:
    validate_request(chat(user(), assistant_calls("a"), tool_reply("a")))


def test_empty_tool_calls_array() -> None:
    body = chat(user(), {"role": "assistant", "content": "x", "tool_calls": []})
    assert error_of(body) == (
        400,
        "messages[1].tool_calls",
        "empty_array",
        "Invalid 'messages[1].tool_calls': empty array. Expected an array with minimum length 1, "
        "but got an empty array instead.",
    )


def test_a_history_ending_on_unanswered_calls() -> None:
    body = chat(user(), assistant_calls("a", "b"), tool_reply("a"))
    assert error_of(body)[1:] == (
        "messages.[2].role",
        None,
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: b",
    )
    lenient = dataclasses.replace(
        GPT4O_MINI,
        validation=dataclasses.replace(GPT4O_MINI.validation, reject_trailing_tool_calls=False),
    )
    validate_request(body, profile=lenient)


def test_content_requirement_is_one_profile_field() -> None:
    lenient = dataclasses.replace(
        GPT4O_MINI, validation=dataclasses.replace(GPT4O_MINI.validation, require_content=False)
    )
    body = chat({"role": "user"}, {"role": "assistant", "content": None}, user(None))
    validate_request(body, profile=lenient)
    assert error_of(body)[1:3] == ("messages[0].content", "missing_required_parameter")


# Messages near the plain {"role", "content"} shape the validator takes a shortcut for: each
# drawn list is judged with and without the shortcut, and the verdicts must agree.
_near_plain_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"])
        | st.sampled_from(["", "User", "bot"])
        | st.none()
        | st.integers(),
        "content": st.text(max_size=8) | st.none() | st.integers() | st.just([text()]),
    },
    optional={
        "name": st.sampled_from(["bob", "bad name!"]),
        "tool_call_id": st.just("call_1"),
        "tool_calls": st.just([call("call_1")]),
    },
)


@given(
    messages=st.lists(_near_plain_message, max_size=4),
    json_object=st.booleans(),
    long_content=st.booleans(),
)
def test_the_plain_messages_shortcut_changes_no_verdict(
    messages: list[dict[str, Any]], json_object: bool, long_content: bool
) -> None:
    profile = GPT4O_MINI
    if long_content:
        profile = dataclasses.replace(GPT4O_MINI, max_string_length=3)
    body: dict[str, Any] = {**chat(), "messages": messages}
    if json_object:
        body["response_format"] = {"type": "json_object"}

    def verdict() -> object:
        try:
            return validate_request(body, profile=profile)
        except OpenAIError as error:
            return error.status, error.body

    with_shortcut = verdict()
    with patch.object(_validate, "_plain_messages", return_value=False):
        assert verdict() == with_shortcut
