"""``usage.prompt_tokens`` for a Chat Completions body, as the real API counts it.

The chat template wraps every message as ``<|start|>{role}[:{name}]<|message|>{content}<|end|>``
and primes the reply with ``<|start|>assistant<|message|>``: 3 tokens per message, 3 for the
priming, plus the encoded text. See ``docs/token-accounting.md`` for the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minidouble._profile import GPT4O_MINI, ModelProfile
from minidouble._tokenizer import token_count

__all__ = ["count_prompt_tokens"]


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if content is None and message.get("role") == "assistant":
        refusal = message.get("refusal")
        return refusal if isinstance(refusal, str) else ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Text parts are joined with no separator (56 of 56 recorded list-content items agree).
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def _message_header(message: Mapping[str, Any]) -> str:
    role = message.get("role")
    header = role if isinstance(role, str) else ""
    name = message.get("name")
    if isinstance(name, str):
        # The name is rendered with its role ("user:alice"), not as a separate +1.
        header = f"{header}:{name}"
    return header


def count_prompt_tokens(body: Mapping[str, Any], *, profile: ModelProfile = GPT4O_MINI) -> int:
    """What the real API reports as ``usage.prompt_tokens`` for this request body."""
    rules = profile.tokens
    total = rules.reply_priming
    messages = body.get("messages")
    if not isinstance(messages, list):
        return total
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        total += rules.per_message
        total += token_count(_message_header(message))
        total += token_count(_message_text(message))
    return total
