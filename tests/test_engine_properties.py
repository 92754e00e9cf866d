"""Properties of every reply, over random combinations of the parameters that shape it."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from minidouble._app import GPT4oMiniApp
from minidouble._http import HttpRequest
from minidouble._tokenizer import encoding

TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {
            "type": "object",
            "properties": {"term": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["term", "limit"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}

words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
bodies = st.fixed_dictionaries(
    {"model": st.just("gpt-4o-mini"), "messages": st.just([])},
    optional={
        "max_tokens": st.integers(1, 60),
        "stop": st.one_of(
            st.sampled_from([" the", ".", ",", "a", "\n"]),
            st.lists(st.sampled_from([" is", "e", "!", "Sure"]), min_size=1, max_size=4),
        ),
        "n": st.integers(1, 3),
        "seed": st.integers(-(2**63), 2**63 - 1),
        "logprobs": st.just(True),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "temperature": st.floats(0, 2),
    },
)


def _send(app: GPT4oMiniApp, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    response = app.handle(
        HttpRequest(
            "POST", "https://api.openai.com/v1/chat/completions", {"authorization": "Bearer k"}, raw
        )
    )
    assert response.status == 200, response.body
    return response


@settings(max_examples=80, deadline=None)
@given(body=bodies, prompt=words, top=st.integers(0, 5))
def test_every_reply_honours_its_request(body: dict[str, Any], prompt: str, top: int) -> None:
    body["messages"] = [{"role": "user", "content": prompt or "Hi"}]
    if "tool_choice" in body:
        body["tools"] = [TOOL]
    if body.get("logprobs"):
        body["top_logprobs"] = top
    app = GPT4oMiniApp()
    document = json.loads(_send(app, body).body)
    stops = [body["stop"]] if isinstance(body.get("stop"), str) else body.get("stop", [])
    total = 0
    assert len(document["choices"]) == body.get("n", 1)
    for choice in document["choices"]:
        message = choice["message"]
        if message.get("tool_calls"):
            assert body.get("tool_choice") in ("required",)
            continue
        content = message["content"]
        count = len(encoding().encode_ordinary(content))
        assert not any(stop in content for stop in stops)
        if "max_tokens" in body:
            assert count <= body["max_tokens"]
        if choice["finish_reason"] == "length":
            assert count == body["max_tokens"]
        else:
            assert choice["finish_reason"] == "stop"
        if body.get("logprobs"):
            entries = choice["logprobs"]["content"]
            assert "".join(e["token"] for e in entries) == content
            assert all(len(e["top_logprobs"]) == top for e in entries)
        total += count
    if not any(c["message"].get("tool_calls") for c in document["choices"]):
        assert document["usage"]["completion_tokens"] == total

    # The same request streamed tells the same story.
    streamed = _send(app, {**body, "stream": True, "stream_options": {"include_usage": True}})
    texts: dict[int, str] = {}
    usage = None
    for event in streamed.stream:
        data = event.decode()[len("data: ") : -2]
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        usage = chunk["usage"] or usage
        for choice in chunk["choices"]:
            piece = choice["delta"].get("content")
            texts[choice["index"]] = texts.get(choice["index"], "") + (piece or "")
    assert usage == document["usage"]
    for choice in document["choices"]:
        if choice["message"]["content"] is not None:
            assert texts[choice["index"]] == choice["message"]["content"]


@given(seed=st.integers(0, 2**80))
def test_default_text_draws_what_random_sample_draws(seed: int) -> None:
    # The default text picks its sentences without rng.sample's machinery; the replies (and
    # every later draw from the same generator) must stay what sample made them.
    from minidouble._engine import _OPENERS, _SENTENCES, _default_text, rng_for

    # rng_for(digest, index) seeds with digest * 131 + index.
    reference, ours = random.Random(seed), rng_for(seed // 131, seed % 131)
    opener = _OPENERS[reference.randrange(len(_OPENERS))]
    first, second = reference.sample(range(len(_SENTENCES)), 2)
    sentences = [_SENTENCES[first]]
    if reference.random() < 0.5:
        sentences.append(_SENTENCES[second])
    assert _default_text(ours) == " ".join([opener, *sentences])
    assert ours.random() == reference.random()
