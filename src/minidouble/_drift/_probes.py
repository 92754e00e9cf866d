"""The probe battery: cheap requests that pin down every rule the fake claims to know.

Every number comes from the profile under test, so a probe sits exactly at a limit or one
past it whatever the profile says; a drifted upstream then disagrees on one side of the edge.
Over-limit probes are refused before generation (they cost nothing); accepted probes ask for
a token or a few.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from minidouble._model._profile import ModelProfile

__all__ = ["CHAT_PATH", "RESPONSES_PATH", "Probe", "battery", "tiny_png"]

CHAT_PATH = "/v1/chat/completions"
RESPONSES_PATH = "/v1/responses"

# Shape probes need a few content chunks; token probes need one token.
SHAPE_REPLY_CAP = 5
TOKEN_REPLY_CAP = 1
_PROMPT = "Reply with the single word: ok"
# Rate-limiter tokens above which a probe is sent after the others.
_HEAVY = 10_000


@dataclass(frozen=True)
class Probe:
    """One request and what its answer says about the profile.

    ``rule``: the profile field or code rule to update when the answer drifts.
    ``limit``: (profile field path, the probe's value) for at/past-limit probes, so a drift
    can propose the upstream's limit. ``token_field``: the ``TokenRules`` field a prompt-token
    difference moves (``token_baseline``: the probe whose difference is already explained by
    another field). ``wording``: the profile field holding a word of the error message.
    ``path``: the endpoint the body is sent to.
    """

    name: str
    family: str
    body: Any
    rule: str
    raw: bytes | None = None  # sent instead of ``body`` (malformed JSON)
    authorized: bool = True
    shape: bool = False
    headers: bool = False
    limit: tuple[str, int] | None = None
    token_field: str | None = None
    token_divisor: int = 1
    token_baseline: str | None = None
    wording: str | None = None
    expect_ok: bool = field(default=False)
    path: str = CHAT_PATH

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True

    def prompt_tokens(self, profile: ModelProfile) -> int:
        """The prompt tokens the fake bills for this probe, counted as its endpoint counts."""
        if self.path == RESPONSES_PATH and isinstance(self.body, dict):
            from minidouble._endpoints._responses._mapping import to_chat_body
            from minidouble._endpoints._responses._tokens import count_input_tokens

            return count_input_tokens(to_chat_body(self.body), profile=profile)
        from minidouble._model._tokens import count_prompt_tokens

        return count_prompt_tokens(self.body, profile=profile)

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        import json

        return json.dumps(self.body).encode()


def tiny_png(width: int = 1, height: int = 1) -> str:
    """A data URL of a white PNG of this size, built without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _chat(profile: ModelProfile, cap: int = TOKEN_REPLY_CAP, /, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": sorted(profile.accepted_model_ids)[0],
        "messages": [{"role": "user", "content": _PROMPT}],
        "max_completion_tokens": cap,
    }
    body.update(extra)
    return body


def _without_cap(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "max_completion_tokens"}


def _tool(name: str = "get_weather") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": "Weather of a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
                "required": ["city"],
            },
        },
    }


def _strict_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": schema},
    }


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _nested(levels: int) -> dict[str, Any]:
    """A strict schema whose objects nest ``levels`` deep (the root is level 1)."""
    node = _object({"leaf": {"type": "string"}})
    for _ in range(levels - 1):
        node = _object({"child": node})
    return node


def _limit_pair(
    name: str,
    family: str,
    rule: str,
    limit_path: str,
    limit: int,
    build: Callable[[int], Any],
    *,
    at: bool = True,
    step: int = 1,
) -> Iterator[Probe]:
    """The probe at ``limit`` (accepted) and one past it (refused before generation)."""
    if at:
        yield Probe(f"{name}.at", family, build(limit), rule, limit=(limit_path, limit),
                    expect_ok=True)  # fmt: skip
    past = limit + step
    yield Probe(f"{name}.past", family, build(past), rule, limit=(limit_path, past))


def _text_of_tokens(profile: ModelProfile, body_for: Callable[[str], Any], wanted: int) -> str:
    """Text that makes ``body_for(text)`` count exactly ``wanted`` prompt tokens."""
    from minidouble._model._tokens import count_prompt_tokens

    base = count_prompt_tokens(body_for(""), profile=profile)
    words = max(wanted - base, 1)
    for _ in range(8):
        text = "a" + " a" * (words - 1)
        got = count_prompt_tokens(body_for(text), profile=profile)
        if got == wanted:
            return text
        words += wanted - got
    raise AssertionError(f"minidouble: could not build a prompt of exactly {wanted} tokens")


def battery(profile: ModelProfile) -> list[Probe]:
    """Every probe, in the order they are sent: the ones an account's tokens-per-minute
    limiter charges heavily for go last, so they cannot starve the others."""
    from minidouble._service._ratelimit import estimate_tokens

    probes = [
        *_shape_probes(profile),
        *_token_probes(profile),
        *_limit_probes(profile),
        *_rule_probes(profile),
        *_responses_probes(profile),
    ]
    return sorted(probes, key=lambda probe: estimate_tokens(probe.body, profile) > _HEAVY)


def _shape_probes(profile: ModelProfile) -> Iterator[Probe]:
    yield Probe("shape.completion", "response shape", _chat(profile, SHAPE_REPLY_CAP),
                "_wire.py (chat.completion JSON)", shape=True, headers=True,
                expect_ok=True)  # fmt: skip
    stream = _chat(profile, SHAPE_REPLY_CAP, stream=True, stream_options={"include_usage": True})
    yield Probe("shape.stream", "stream shape", stream, "_wire.py (chat.completion.chunk SSE)",
                shape=True, headers=True, expect_ok=True)  # fmt: skip


def _token_probes(profile: ModelProfile) -> Iterator[Probe]:
    tokens = "TokenRules"
    text = _chat(profile, messages=[
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name three colours, comma-separated."},
    ])  # fmt: skip
    yield Probe("tokens.text", "token accounting", text, f"{tokens}.per_message",
                token_field="tokens.per_message", token_divisor=2, expect_ok=True)  # fmt: skip
    named = _chat(profile, messages=[
        {"role": "system", "content": "You are terse.", "name": "rules"},
        {"role": "user", "content": _PROMPT, "name": "alice_01"},
    ])  # fmt: skip
    yield Probe("tokens.name", "token accounting", named,
                "message names (_tokens._message_header)", token_baseline="tokens.text",
                expect_ok=True)  # fmt: skip
    yield Probe("tokens.tools", "token accounting", _chat(profile, tools=[_tool()]),
                f"{tokens}.tools_adjustment", token_field="tokens.tools_adjustment",
                expect_ok=True)  # fmt: skip
    none = _chat(profile, tools=[_tool()], tool_choice="none")
    yield Probe("tokens.tool_choice_none", "token accounting", none,
                f"{tokens}.tool_choice_none", token_field="tokens.tool_choice_none",
                token_baseline="tokens.tools", expect_ok=True)  # fmt: skip
    named_choice = _chat(
        profile,
        tools=[_tool()],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    yield Probe("tokens.tool_choice_named", "token accounting", named_choice,
                f"{tokens}.tool_choice_named", token_field="tokens.tool_choice_named",
                token_baseline="tokens.tools", expect_ok=True)  # fmt: skip
    calls = [
        {"id": f"call_{index}", "type": "function",
         "function": {"name": "get_weather", "arguments": f'{{"city": "{city}"}}'}}
        for index, city in enumerate(("Paris", "Oslo"))
    ]  # fmt: skip
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": calls[:1]},
        {"role": "tool", "tool_call_id": "call_0", "content": "18C, sunny"},
    ]
    yield Probe("tokens.tool_history", "token accounting", _chat(profile, messages=history),
                f"{tokens}.per_tool_call", token_field="tokens.per_tool_call",
                expect_ok=True)  # fmt: skip
    parallel = [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_0", "content": "18C, sunny"},
        {"role": "tool", "tool_call_id": "call_1", "content": "9C, rain"},
    ]
    yield Probe("tokens.parallel_tool_history", "token accounting",
                _chat(profile, messages=parallel), f"{tokens}.parallel_answers_extra",
                token_field="tokens.parallel_answers_extra",
                token_baseline="tokens.tool_history", expect_ok=True)  # fmt: skip
    schema = _object({"colour": {"type": "string", "enum": ["red", "green"]},
                      "count": {"type": "integer"}})  # fmt: skip
    yield Probe("tokens.json_schema", "token accounting",
                _chat(profile, response_format=_strict_format(schema)),
                f"{tokens}.response_format_overhead",
                token_field="tokens.response_format_overhead", expect_ok=True)  # fmt: skip
    for detail, field_name, baseline in (
        ("low", "tokens.image.base_tokens", None),
        ("high", "tokens.image.tile_tokens", "tokens.image_low"),
    ):
        image = _chat(profile, messages=[{"role": "user", "content": [
            {"type": "text", "text": "Colour?"},
            {"type": "image_url", "image_url": {"url": tiny_png(), "detail": detail}},
        ]}])  # fmt: skip
        yield Probe(f"tokens.image_{detail}", "token accounting", image,
                    f"ImageRules.{field_name.rsplit('.', 1)[1]}", token_field=field_name,
                    token_baseline=baseline, expect_ok=True)  # fmt: skip


def _limit_probes(profile: ModelProfile) -> Iterator[Probe]:
    mp = "ModelProfile"
    yield from _limit_pair(
        "limits.max_completion_tokens", "limits", f"{mp}.max_output_tokens",
        "max_output_tokens", profile.max_output_tokens,
        lambda n: _chat(profile, n),
    )  # fmt: skip
    yield from _limit_pair(
        "limits.stop", "limits", f"{mp}.max_stop_sequences", "max_stop_sequences",
        profile.max_stop_sequences, lambda n: _chat(profile, stop=[f"#{i}" for i in range(n)]),
    )  # fmt: skip
    yield from _limit_pair(
        "limits.tools", "limits", f"{mp}.max_tools", "max_tools", profile.max_tools,
        lambda n: _chat(profile, tools=[_tool(f"f{i}") for i in range(n)]),
    )  # fmt: skip
    yield from _limit_pair(
        "limits.functions", "limits", f"{mp}.max_functions", "max_functions",
        profile.max_functions,
        lambda n: _chat(profile, functions=[_tool(f"f{i}")["function"] for i in range(n)]),
    )  # fmt: skip
    yield from _limit_pair(
        "limits.tool_name_length", "limits", f"{mp}.max_name_length", "max_name_length",
        profile.max_name_length, lambda n: _chat(profile, tools=[_tool("f" * n)]),
    )  # fmt: skip
    yield from _limit_pair(
        "limits.metadata_pairs", "limits", f"{mp}.max_metadata_pairs", "max_metadata_pairs",
        profile.max_metadata_pairs,
        lambda n: _chat(profile, metadata={f"k{i}": "v" for i in range(n)}),
    )  # fmt: skip
    yield from _limit_pair(
        "limits.metadata_key_length", "limits", f"{mp}.max_metadata_key_length",
        "max_metadata_key_length", profile.max_metadata_key_length,
        lambda n: _chat(profile, metadata={"k" * n: "v"}),
    )  # fmt: skip
    yield from _limit_pair(
        "limits.metadata_value_length", "limits", f"{mp}.max_metadata_value_length",
        "max_metadata_value_length", profile.max_metadata_value_length,
        lambda n: _chat(profile, metadata={"k": "v" * n}),
    )  # fmt: skip
    yield from _limit_pair(
        "limits.safety_identifier_length", "limits",
        "ValidationRules.max_safety_identifier_length",
        "validation.max_safety_identifier_length",
        profile.validation.max_safety_identifier_length,
        lambda n: _chat(profile, safety_identifier="u" * n),
    )  # fmt: skip
    yield from _limit_pair(
        "limits.logit_bias_token_id", "limits", "ValidationRules.logit_bias_max_token_id",
        "validation.logit_bias_max_token_id", profile.validation.logit_bias_max_token_id,
        lambda n: _chat(profile, logit_bias={str(n): 1}),
    )  # fmt: skip
    yield from _number_probes(profile)
    # A string one past the cap; the probe at the cap would overflow the context window.
    yield from _limit_pair(
        "limits.string_length", "limits", f"{mp}.max_string_length", "max_string_length",
        profile.max_string_length,
        lambda n: _chat(profile, messages=[{"role": "user", "content": "a" * n}]), at=False,
    )  # fmt: skip
    # One past the window with the largest cap: priced in tokens, refused before generation.
    cap = profile.max_output_tokens
    wanted = profile.context_window - cap + 1

    def overflowing(text: str) -> dict[str, Any]:
        return _chat(profile, cap, messages=[{"role": "user", "content": text}])

    yield Probe("limits.context_window.past", "limits", overflowing(
        _text_of_tokens(profile, overflowing, wanted)), f"{mp}.context_window",
        limit=("context_window", profile.context_window + 1))  # fmt: skip
    yield from _schema_probes(profile)


def _number_probes(profile: ModelProfile) -> Iterator[Probe]:
    """Each ranged parameter at its maximum and one step past both ends."""
    skipped = {"max_tokens", "max_completion_tokens", "logit_bias_value"}
    for name, rule in profile.numbers.items():
        if name in skipped:
            continue
        step = 1 if rule.integer else 0.01
        extra: dict[str, Any] = {"logprobs": True} if name == "top_logprobs" else {}
        where = f"ModelProfile.numbers[{name!r}]"
        if rule.maximum is not None:
            top = int(rule.maximum) if rule.integer else rule.maximum
            yield Probe(f"limits.{name}.max", "parameter ranges", _chat(profile, **extra,
                        **{name: top}), where, expect_ok=True)  # fmt: skip
            yield Probe(f"limits.{name}.above", "parameter ranges", _chat(profile, **extra,
                        **{name: top + step}), where)  # fmt: skip
        if rule.minimum is not None:
            bottom = int(rule.minimum) if rule.integer else rule.minimum
            yield Probe(f"limits.{name}.below", "parameter ranges", _chat(profile, **extra,
                        **{name: bottom - step}), where)  # fmt: skip
    bias = profile.numbers["logit_bias_value"]
    if bias.maximum is not None:
        top = int(bias.maximum)
        where = "ModelProfile.numbers['logit_bias_value']"
        yield Probe("limits.logit_bias_value.max", "parameter ranges",
                    _chat(profile, logit_bias={"15": top}), where, expect_ok=True)  # fmt: skip
        yield Probe("limits.logit_bias_value.above", "parameter ranges",
                    _chat(profile, logit_bias={"15": top + 1}), where)  # fmt: skip


def _schema_probes(profile: ModelProfile) -> Iterator[Probe]:
    limits = profile.strict_schema
    family = "structured outputs"

    def strict(schema: dict[str, Any]) -> dict[str, Any]:
        return _chat(profile, response_format=_strict_format(schema))

    yield from _limit_pair(
        "schema.nesting", family, "StrictSchemaLimits.max_nesting",
        "strict_schema.max_nesting", limits.max_nesting, lambda n: strict(_nested(n)),
    )  # fmt: skip
    yield from _limit_pair(
        "schema.enum_values", family, "StrictSchemaLimits.max_enum_values",
        "strict_schema.max_enum_values", limits.max_enum_values,
        lambda n: strict(_object({"v": {"type": "string", "enum": [f"e{i}" for i in range(n)]}})),
    )  # fmt: skip
    # The probes at these caps would cost tens of thousands of prompt tokens.
    yield from _limit_pair(
        "schema.properties", family, "StrictSchemaLimits.max_properties",
        "strict_schema.max_properties", limits.max_properties,
        lambda n: strict(_object({f"p{i}": {"type": "string"} for i in range(n)})), at=False,
    )  # fmt: skip
    values = limits.large_enum_threshold + 1
    width = limits.large_enum_max_chars // values + 1
    large = [f"{i:0{width}d}" for i in range(values)]
    yield Probe("schema.large_enum.past", family, strict(_object({"v": {"type": "string",
                "enum": large}})), "StrictSchemaLimits.large_enum_max_chars")  # fmt: skip
    forbidden = limits.forbidden_keywords[0]
    yield Probe("schema.forbidden_keyword", family,
                strict(_object({"v": {"type": "array", "items": {"type": "string"},
                                      forbidden: True}})),
                "StrictSchemaLimits.forbidden_keywords")  # fmt: skip
    loose = _object({"a": {"type": "string"}, "b": {"type": "string"}})
    loose["required"] = ["a"]
    yield Probe("schema.required_missing", family, strict(loose),
                "strict-schema rules (_strict_schema.py)")  # fmt: skip


def _rule_probes(profile: ModelProfile) -> Iterator[Probe]:
    """One refused request per validator rule family; all are free."""
    mp = "ModelProfile"
    errors = "_errors.py"
    yield Probe("rules.auth_missing", "gateway", _chat(profile), "authentication (_faults.py)",
                authorized=False, headers=True)  # fmt: skip
    yield Probe("rules.model_not_found", "gateway", _chat(profile, model="gpt-4o-mini-nope"),
                f"{mp}.accepted_model_ids", headers=True)  # fmt: skip
    yield Probe("rules.malformed_json", "gateway", None, f"{errors} malformed_json",
                raw=b'{"model": "gpt-4o-mini", "messages": [')  # fmt: skip
    yield Probe("rules.missing_messages", "arguments", {"model": _chat(profile)["model"]},
                f"{errors} missing_parameter")  # fmt: skip
    yield Probe("rules.unknown_parameter", "arguments", _chat(profile, colour="blue"),
                "ValidationRules.unknown_argument_wording", headers=True)  # fmt: skip
    refused = sorted(profile.refused_parameters)
    if refused:
        yield Probe("rules.refused_parameter", "arguments",
                    _chat(profile, **{refused[0]: "low"}), f"{mp}.refused_parameters")  # fmt: skip
    yield Probe("rules.invalid_type", "parameter types", _chat(profile, temperature="hot"),
                f"{errors} invalid_type")  # fmt: skip
    yield Probe("rules.invalid_role", "messages",
                _chat(profile, messages=[{"role": "robot", "content": "hi"}]),
                f"{mp}.roles")  # fmt: skip
    yield Probe("rules.empty_messages", "messages", _chat(profile, messages=[]),
                f"{errors} empty_array")  # fmt: skip
    yield Probe("rules.null_content", "messages",
                _chat(profile, messages=[{"role": "user", "content": None}]),
                "ValidationRules.require_content")  # fmt: skip
    yield Probe("rules.invalid_part_type", "messages", _chat(profile, messages=[
        {"role": "user", "content": [{"type": "video", "video": "x"}]}]),
        "ValidationRules.content_part_types")  # fmt: skip
    yield Probe("rules.unsupported_image", "messages", _chat(profile, messages=[
        {"role": "user", "content": [{"type": "image_url", "image_url": {
            "url": "data:image/bmp;base64," + base64.b64encode(b"BM" + bytes(60)).decode()}}]}]),
        "ImageRules.formats")  # fmt: skip
    yield Probe("rules.orphan_tool_message", "tool-call order", _chat(profile, messages=[
        {"role": "user", "content": "hi"},
        {"role": "tool", "tool_call_id": "call_0", "content": "18C"}]),
        f"{mp}.tool_order_spelling", wording="tool_order_spelling")  # fmt: skip
    yield Probe("rules.unanswered_tool_calls", "tool-call order", _chat(profile, messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_0", "type":
         "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "user", "content": "Well?"}]),
        f"{errors} unanswered_tool_calls")  # fmt: skip
    yield Probe("rules.tool_name_pattern", "tools", _chat(profile, tools=[_tool("get weather")]),
                f"{mp}.name_pattern")  # fmt: skip
    yield Probe("rules.tool_choice_without_tools", "tools", _chat(profile, tool_choice="auto"),
                f"{errors} only_allowed_when")  # fmt: skip
    yield Probe("rules.tool_choice_unknown", "tools", _chat(profile, tools=[_tool()],
                tool_choice={"type": "function", "function": {"name": "nope"}}),
                f"{errors} tool_choice_not_found")  # fmt: skip
    yield Probe("rules.tool_choice_mode", "tools", _chat(profile, tools=[_tool()],
                tool_choice="sometimes"), "ValidationRules.tool_choice_modes")  # fmt: skip
    yield Probe("rules.parallel_without_tools", "tools", _chat(profile, parallel_tool_calls=True),
                f"{errors} only_allowed_when")  # fmt: skip
    yield Probe("rules.stream_options_without_stream", "streaming",
                _chat(profile, stream_options={"include_usage": True}),
                f"{errors} stream_options_without_stream")  # fmt: skip
    yield Probe("rules.top_logprobs_without_logprobs", "logprobs", _chat(profile, top_logprobs=2),
                f"{errors} top_logprobs_without_logprobs")  # fmt: skip
    yield Probe("rules.json_object_without_json", "response_format",
                _chat(profile, response_format={"type": "json_object"}),
                "ValidationRules.json_object_word")  # fmt: skip
    yield Probe("rules.response_format_type", "response_format",
                _chat(profile, response_format={"type": "yaml"}),
                "ValidationRules.response_format_types")  # fmt: skip
    yield Probe("rules.both_caps", "completion caps",
                _chat(profile, max_tokens=TOKEN_REPLY_CAP),
                f"{errors} parameter_combination")  # fmt: skip
    yield Probe("rules.max_tokens_over_cap", "completion caps",
                _without_cap(_chat(profile, max_tokens=profile.max_output_tokens + 1)),
                f"{mp}.over_cap_wording")  # fmt: skip
    yield Probe("rules.audio_modality", "modalities", _chat(profile, modalities=["text", "audio"]),
                "ValidationRules.supports_audio")  # fmt: skip
    yield Probe("rules.service_tier", "enums", _chat(profile, service_tier="turbo"),
                f"{mp}.service_tiers")  # fmt: skip
    yield Probe("rules.empty_stop", "enums", _chat(profile, stop=[]),
                "ValidationRules.min_stop_sequences", expect_ok=True)  # fmt: skip


def _response(profile: ModelProfile, /, **extra: Any) -> dict[str, Any]:
    # The smallest cap the Responses API accepts: a one-token cap would be refused.
    body: dict[str, Any] = {
        "model": sorted(profile.accepted_model_ids)[0],
        "input": _PROMPT,
        "max_output_tokens": profile.responses.min_output_tokens,
    }
    body.update(extra)
    return body


def _responses_probes(profile: ModelProfile) -> Iterator[Probe]:
    """The Responses API's own rules: its object, where its template departs from the chat
    one, and its validator; the chat probes already watch what both endpoints share."""
    template = "ResponsesTemplate"
    # A reply surely longer than the cap: the upstream's object is then "incomplete" like the
    # fake's (which fills every cap), and incomplete_details has the same shape on both sides.
    long = _response(profile, input="Count from 1 to 100, comma-separated.")
    yield Probe("responses.shape", "response shape", long,
                "_responses/_wire.py (response JSON)", shape=True, headers=True,
                expect_ok=True, path=RESPONSES_PATH)  # fmt: skip
    # Instructions and one input message, like tokens.text: a drift of both by as much is the
    # shared per-message cost; a drift of this one alone is the Responses template's.
    instructed = _response(profile, instructions="You are terse.",
                           input="Name three colours, comma-separated.")  # fmt: skip
    yield Probe("responses.tokens.instructions", "token accounting", instructed,
                f"{template} (text renders as in chat: _responses/_tokens.py)",
                token_baseline="tokens.text", expect_ok=True, path=RESPONSES_PATH)  # fmt: skip
    # Written as a client would, without the id and status the API returns with a call, so
    # only per_tool_call applies and not echoed_lone_call.
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "call_0", "name": "get_weather",
         "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_0", "output": "18C, sunny"},
    ]  # fmt: skip
    yield Probe("responses.tokens.tool_history", "token accounting",
                _response(profile, input=history), f"{template}.per_tool_call",
                token_field="responses.template.per_tool_call", expect_ok=True,
                path=RESPONSES_PATH)  # fmt: skip
    below = profile.responses.min_output_tokens - 1
    yield Probe("responses.max_output_tokens.below", "parameter ranges",
                _response(profile, max_output_tokens=below), "ResponsesRules.min_output_tokens",
                limit=("responses.min_output_tokens", below), path=RESPONSES_PATH)  # fmt: skip
