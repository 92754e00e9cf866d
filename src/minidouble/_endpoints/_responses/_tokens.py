"""``usage.input_tokens`` of a Responses request: the chat template, with its own differences.

The request is rewritten as chat messages (:mod:`minidouble._endpoints._responses._mapping`) and
turned into the chat counter's :class:`~minidouble._model._tokens.Prompt`; what the Responses API
renders differently is data in :class:`~minidouble._model._profile.ResponsesTemplate`.
Text-only requests count exactly as chat requests do; tools, tool history
and json_schema formats differ.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

from minidouble._endpoints._responses._mapping import COMPACTED, ECHOED
from minidouble._engine._replies import Choice, tool_mode
from minidouble._model._profile import GPT4O_MINI, ModelProfile, ResponsesTemplate, TokenRules
from minidouble._model._tokenizer import token_count
from minidouble._model._tokens import chat_prompt, count_prompt

__all__ = ["count_input_tokens", "count_output_tokens"]


def count_input_tokens(chat_body: Mapping[str, Any], *, profile: ModelProfile = GPT4O_MINI) -> int:
    """What the Responses API reports as ``usage.input_tokens`` for this rewritten request."""
    template = profile.responses.template
    rules = _responses_rules(profile.tokens, template)
    prompt = chat_prompt(chat_body, rules)
    if prompt.functions and not template.tool_choice_none_primes_format:
        prompt.reply_constrained = False
    total = count_prompt(prompt, rules)
    fmt = prompt.response_format
    if fmt is not None and prompt.reply_constrained and not template.primes_format_name:
        total -= token_count(fmt.name)
    if template.sections_apart and (prompt.functions or fmt is not None):
        total -= rules.per_message + token_count(rules.tools_role)
    total += template.echoed_lone_call * _echoed_lone_calls(chat_body)
    compacted = chat_body.get(COMPACTED)
    if isinstance(compacted, int):
        total += compacted // template.compaction_chars_per_token
    return total


# The chat rules as the Responses template amends them, by the two (frozen) objects they
# are made from: dataclasses.replace twice per request was a tenth of a small request.
_amended: dict[tuple[int, int], tuple[TokenRules, ResponsesTemplate, TokenRules]] = {}


def _responses_rules(chat_rules: TokenRules, template: ResponsesTemplate) -> TokenRules:
    made = _amended.get((id(chat_rules), id(template)))
    if made is not None and made[0] is chat_rules and made[1] is template:
        return made[2]
    rules = dataclasses.replace(
        chat_rules,
        tools_adjustment=template.tools_adjustment,
        per_tool_call=template.per_tool_call,
        response_format_overhead=template.response_format_overhead,
        compact_arguments=template.compact_arguments,
        answers_carry_format_mark=template.answers_carry_format_mark,
    )
    if template.sections_apart:
        # With no instruction role to merge into, count_prompt encodes the sections as a turn
        # of their own; that turn's fixed cost is taken back below.
        rules = dataclasses.replace(rules, instruction_roles=())
    if len(_amended) >= 64:
        _amended.clear()
    _amended[(id(chat_rules), id(template))] = (chat_rules, template, rules)
    return rules


def _calls_of(message: Any) -> list[Any]:
    calls = message.get("tool_calls") if isinstance(message, Mapping) else None
    return calls if isinstance(calls, list) else []


def _echoed_lone_calls(chat_body: Mapping[str, Any]) -> int:
    """Echoed function calls alone in their turn: not one of several calls in a row."""
    messages = chat_body.get("messages")
    if not isinstance(messages, list):
        return 0
    lone = 0
    for is_call, run in itertools.groupby(messages, key=lambda message: bool(_calls_of(message))):
        calls = [call for message in run for call in _calls_of(message)] if is_call else []
        if len(calls) == 1 and isinstance(calls[0], Mapping) and calls[0].get(ECHOED):
            lone += 1
    return lone


def count_output_tokens(
    choice: Choice, chat_body: Mapping[str, Any], *, profile: ModelProfile = GPT4O_MINI
) -> int:
    """``usage.output_tokens``: what the engine generated, plus the end the Responses API bills."""
    template = profile.responses.template
    if choice.finish_reason == "length":
        return choice.completion_tokens
    if len(choice.tool_calls) > 1:
        return choice.completion_tokens + template.parallel_calls_end
    if choice.tool_calls:
        return choice.completion_tokens + template.call_end
    if tool_mode(chat_body) != "none":
        return choice.completion_tokens + template.text_end_tools_callable
    return choice.completion_tokens + template.text_end
