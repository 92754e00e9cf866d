"""Every real request the API accepted gets a well-formed reply the SDK's own types accept.

The fidelity corpus holds 2,200+ real gpt-4o-mini Chat Completions requests (tools, schemas,
images, Azure, streams). Replaying each through the handler checks the generator against
inputs nobody wrote for it: no crash, valid shapes, replies that honour the request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minidouble._engine._replies import offered_tools, response_schema, tool_mode
from minidouble._engine._schema_values import first_violation
from minidouble._http import HttpRequest
from minidouble._service._app import GPT4oMiniApp

pytestmark = pytest.mark.slow

HEADERS = {"authorization": "Bearer sk-test", "api-key": "azure-key"}


def _chat_items(fidelity_dir: Path) -> Iterator[dict[str, Any]]:
    with open(fidelity_dir / "real_gpt4o_mini.jsonl", encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if item["status"] == 200 and item["endpoint"].endswith("/chat/completions"):
                yield item


def _url(endpoint: str) -> str:
    query = "?api-version=2024-10-21" if endpoint.startswith("/openai/deployments/") else ""
    return f"https://fake.example{endpoint}{query}"


# Sent by the real API in every stream chunk (padding), declared by openai 3.x's types only.
REAL_KEYS_OLDER_SDKS_LACK = frozenset({"obfuscation"})


def _no_extras(model: Any, where: str = "$") -> None:
    """The SDK's pydantic models keep unknown keys in ``__pydantic_extra__``: there must be none
    but the ones the real API sends too."""
    import pydantic

    extra = set(getattr(model, "__pydantic_extra__", None) or {}) - REAL_KEYS_OLDER_SDKS_LACK
    assert not extra, f"{where}: unexpected keys {sorted(extra)}"
    for name, value in model.__dict__.items():
        values = value if isinstance(value, list) else [value]
        for position, inner in enumerate(values):
            if isinstance(inner, pydantic.BaseModel):
                _no_extras(inner, f"{where}.{name}[{position}]")


def test_every_accepted_real_request_gets_a_valid_reply(fidelity_dir: Path) -> None:
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    app = GPT4oMiniApp()
    checked = 0
    for item in _chat_items(fidelity_dir):
        body = item["request"]
        azure = item["endpoint"].startswith("/openai/")
        raw = json.dumps(body).encode()
        response = app.handle(HttpRequest("POST", _url(item["endpoint"]), HEADERS, raw))
        where = item["source"]
        assert response.status == 200, (where, response.body[:300])
        record = app.requests.pop()
        completion = record.completion
        assert completion is not None
        if body.get("stream") is True:
            assert response.stream is not None
            for event in response.stream:
                data = event.decode()[len("data: ") : -2]
                if data == "[DONE]" or (azure and '"object":""' in data):
                    continue
                chunk = ChatCompletionChunk.model_validate_json(data)
                if not azure:  # Azure's content-filter fields are extras to the SDK too
                    _no_extras(chunk, where)
        else:
            parsed = ChatCompletion.model_validate_json(response.body)
            if not azure:
                _no_extras(parsed, where)
        mode = tool_mode(body)
        for choice in completion["choices"]:
            message = choice["message"]
            if choice["finish_reason"] == "length":
                continue
            if mode in ("required", "named"):
                assert message.get("tool_calls") or message.get("function_call"), where
            schema = response_schema(body)
            if schema is not None and not message.get("tool_calls"):
                value = json.loads(message["content"])
                assert first_violation(value, schema) is None, where
        checked += 1
    assert checked > 2_000


def test_tool_call_completion_tokens_match_the_recordings(fidelity_dir: Path) -> None:
    """Replaying each recorded tool-call reply as a script reproduces its completion_tokens.

    The per-call overhead (``GPT4O_MINI.reply_costs``) is fitted, not published: the bar is
    the fit's measured quality, so a change that degrades it fails here.
    """
    app = GPT4oMiniApp()
    differences = []
    for item in _chat_items(fidelity_dir):
        message = item.get("response_message") or {}
        calls = message.get("tool_calls")
        if not calls or message.get("content") or not item.get("usage"):
            continue
        offered = offered_tools(item["request"])
        if any(c["function"]["name"] not in offered for c in calls):
            continue  # a stitched fixture: the reply comes from another request
        app.reply(
            tool_calls=[
                {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                for c in calls
            ]
        )
        body = {**item["request"], "stream": False}
        body.pop("stream_options", None)
        raw = json.dumps(body).encode()
        response = app.handle(HttpRequest("POST", _url(item["endpoint"]), HEADERS, raw))
        assert response.status == 200, (item["source"], response.body[:300])
        fake_tokens = json.loads(response.body)["usage"]["completion_tokens"]
        differences.append(fake_tokens - item["usage"]["completion_tokens"])
    assert len(differences) > 400
    exact = sum(d == 0 for d in differences) / len(differences)
    close = sum(abs(d) <= 2 for d in differences) / len(differences)
    assert exact >= 0.58, exact
    assert close >= 0.93, close
