"""Properties of every reply, over random combinations of the parameters that shape it."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from minidouble._http import HttpRequest
from minidouble._model._tokenizer import encoding
from minidouble._service._app import GPT4oMiniApp

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


@given(seed=st.integers(-(2**80), 2**80), draws=st.lists(st.sampled_from(range(6)), max_size=8))
def test_a_reply_generator_draws_what_random_random_draws(seed: int, draws: list[int]) -> None:
    # It is seeded on its first draw, not when made; the values must not change for that.
    from minidouble._engine._replies import ReplyRandom

    ours, reference = ReplyRandom(seed), random.Random(seed)
    for draw in draws:
        if draw == 0:
            assert ours.random() == reference.random()
        elif draw == 1:
            assert ours.randrange(1000) == reference.randrange(1000)
        elif draw == 2:
            assert ours.getrandbits(90) == reference.getrandbits(90)
        elif draw == 3:
            assert ours.sample(range(50), 3) == reference.sample(range(50), 3)
        elif draw == 4:
            assert ours.getstate() == reference.getstate()
        else:
            ours.seed(seed + 1)
            reference.seed(seed + 1)
    assert ours.random() == reference.random()


def test_default_texts_are_seeded_and_use_every_opener_and_sentence() -> None:
    from minidouble._engine._replies import _OPENERS, _SENTENCES, _default_text, rng_for

    texts = [_default_text(rng_for(digest)) for digest in range(2_000)]
    assert texts == [_default_text(rng_for(digest)) for digest in range(2_000)]
    openers = {text.split(" ", 1)[0] for text in texts}
    assert openers == {opener.split(" ", 1)[0] for opener in _OPENERS}
    used = [[s for s in _SENTENCES if s in text] for text in texts]
    assert all(len(found) in (1, 2) for found in used)
    assert {s for found in used for s in found} == set(_SENTENCES)
    assert 0.4 < sum(len(found) == 2 for found in used) / len(used) < 0.6
