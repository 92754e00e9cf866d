from __future__ import annotations

from minidouble import count_prompt_tokens


def chat(*messages: dict[str, object]) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "messages": list(messages)}


def test_hello_is_nine_tokens() -> None:
    assert count_prompt_tokens(chat({"role": "user", "content": "Hello!"})) == 9


def test_text_parts_are_concatenated_without_separator() -> None:
    as_string = chat({"role": "user", "content": "Hello world"})
    as_parts = chat(
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}],
        }
    )
    assert count_prompt_tokens(as_parts) == count_prompt_tokens(as_string)


def test_name_is_rendered_with_the_role() -> None:
    plain = count_prompt_tokens(chat({"role": "user", "content": "hi"}))
    named = count_prompt_tokens(chat({"role": "user", "name": "user", "content": "hi"}))
    # "user:user" merges the separator into the name token: one more token, not two.
    assert named == plain + 1


def test_unknown_message_keys_cost_nothing() -> None:
    plain = chat({"role": "user", "content": "hi"})
    extra = chat({"role": "user", "content": "hi", "type": "text/plain", "charset": "UTF-8"})
    assert count_prompt_tokens(extra) == count_prompt_tokens(plain)


def test_assistant_refusal_counts_as_content() -> None:
    refusal = chat({"role": "assistant", "content": None, "refusal": "I can't help."})
    content = chat({"role": "assistant", "content": "I can't help."})
    assert count_prompt_tokens(refusal) == count_prompt_tokens(content)
