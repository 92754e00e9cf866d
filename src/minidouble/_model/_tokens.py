"""``usage.prompt_tokens`` for a Chat Completions body, as the real API counts it.

The request is first turned into a :class:`Prompt` (turns of header + text, tool definitions,
fixed extras such as images), then counted. Every rule lives in one function below and every
number in :class:`minidouble._model._profile.TokenRules`; ``docs/token-accounting.md`` gives the
evidence for each. The Responses API can build the same :class:`Prompt` from its ``input``.

The template, as far as the recorded usage shows::

    <|start|>{role}[:{name}]<|message|>{text}<|end|>          3 tokens + header + text
    <|start|>assistant<|message|>                             3 tokens, primes the reply

Tool definitions become a TypeScript-like ``namespace functions { ... }`` block appended to
the first system (or developer) message, or a new system message when there is none. A tool
call in the history is its own assistant turn addressed ``to=functions.{name}``, whose text is
the arguments JSON; the tool's answer is a turn whose header is ``functions.{name}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minidouble._model._images import data_url_size, image_tokens
from minidouble._model._profile import GPT4O_MINI, ModelProfile, TokenRules
from minidouble._model._tokenizer import token_count

__all__ = [
    "FunctionSpec",
    "Prompt",
    "Turn",
    "chat_prompt",
    "count_prompt",
    "count_prompt_tokens",
    "render_functions",
    "render_response_format",
    "render_schema_type",
    "text_of_content",
]


@dataclass(slots=True)  # not frozen: made per message, never changed (see Choice)
class Turn:
    """One rendered message: ``per_message + tokens(header) + tokens(recipient) + tokens(text)``.

    ``recipient`` is the called function's name in an assistant tool-call turn; the recordings
    show it encoded on its own (``grep`` costs 1 token there, not the 2 of ``.grep``).
    """

    header: str
    text: str
    recipient: str = ""


@dataclass(frozen=True)
class FunctionSpec:
    """A function tool as the template sees it (from ``tools`` or legacy ``functions``)."""

    name: str
    description: str | None
    parameters: Mapping[str, Any] | None


@dataclass(frozen=True)
class ResponseFormatSpec:
    """A ``json_schema`` response format (``json_object`` and ``text`` add nothing)."""

    name: str
    description: str | None
    schema: Mapping[str, Any]


@dataclass
class Prompt:
    """What the model reads, before tokenisation: the neutral form Chat and Responses share."""

    turns: list[Turn] = field(default_factory=list)
    functions: list[FunctionSpec] = field(default_factory=list)
    response_format: ResponseFormatSpec | None = None
    # False when tools may be called: the reply then cannot be primed with the format.
    reply_constrained: bool = True
    # Tokens that are not text: images, and rule-based adjustments (tool_choice...).
    extra_tokens: int = 0


# --------------------------------------------------------------------------------------------
# Messages


def text_of_content(content: Any) -> str:
    """The text a message content (string or parts) puts in front of the model."""
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


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if content is None and message.get("role") == "assistant":
        refusal = message.get("refusal")
        return refusal if isinstance(refusal, str) else ""
    return text_of_content(content)


def _message_header(message: Mapping[str, Any]) -> str:
    role = message.get("role")
    header = role if isinstance(role, str) else ""
    name = message.get("name")
    if isinstance(name, str):
        # The name is rendered with its role ("user:alice"), not as a separate +1.
        header = f"{header}:{name}"
    return header


def _image_parts(content: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "image_url":
                image = part.get("image_url")
                if isinstance(image, Mapping):
                    yield image


def _media_cost(content: Any, rules: TokenRules) -> int:
    """Prompt tokens of the non-text parts of a message: images, files, audio."""
    total = 0
    if isinstance(content, list):
        for part in content:
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind == "file":
                total += rules.assumed_file_tokens
            elif kind == "input_audio":
                total += rules.assumed_audio_tokens
    for image in _image_parts(content):
        url = image.get("url")
        detail = image.get("detail")
        detail = detail if isinstance(detail, str) else "auto"
        if not isinstance(url, str):
            continue
        size = data_url_size(url) if url.startswith("data:") else None
        if size is None:
            # Remote URLs (and unreadable data) cannot be measured offline: assume the
            # profile's size. One field to change: TokenRules.image.assumed_remote_size.
            size = rules.image.assumed_remote_size
        total += image_tokens(size, detail, rules.image)
    return total


_NOT_JSON = object()


def _arguments_text(arguments: Any, rules: TokenRules) -> str:
    """The arguments as the model sees them: re-serialised compactly when they are JSON."""
    if not isinstance(arguments, str):
        return ""
    if not rules.compact_arguments:
        return arguments
    parsed = _json_value(arguments, _NOT_JSON)
    if parsed is _NOT_JSON:
        return arguments
    return _json_text(parsed, compact=True, ascii_only=False)


def _identifier(value: Any) -> str | None:
    # Ids are strings; anything else (even unhashable junk) must not crash the counter.
    return value if isinstance(value, str) else None


def _call_id(call: Any) -> str | None:
    return _identifier(call.get("id")) if isinstance(call, Mapping) else None


def _call_function(call: Any) -> tuple[str, Any]:
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping):
        return "", ""
    name = function.get("name")
    return (name if isinstance(name, str) else ""), function.get("arguments")


def _json_value(text: str, fallback: Any) -> Any:
    """``text`` parsed when it is JSON, else ``fallback`` (never raises: bad input counts)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return fallback


def _json_text(value: Any, *, compact: bool, ascii_only: bool) -> str:
    separators = (",", ":") if compact else (", ", ": ")
    try:
        return json.dumps(value, separators=separators, ensure_ascii=ascii_only)
    except (ValueError, RecursionError):
        return str(value)


def _named(header: str, message: Mapping[str, Any]) -> str:
    """``header`` with the message's ``name`` joined to its role, before the recipient.

    As in a plain message ("assistant:Researcher"), and where harmony writes it:
    ``assistant:Researcher to=functions...`` (langgraph's multi-agent notebook: 10 of 10 items
    with named tool-call messages, each call 3 tokens short without the name).
    """
    name = message.get("name")
    if not isinstance(name, str):
        return header
    role, _, recipient = header.partition(" ")
    return f"{role}:{name} {recipient}"


def _tool_call_turns(
    calls: Sequence[Any], rules: TokenRules, message: Mapping[str, Any]
) -> Iterator[Turn]:
    """An assistant's tool calls: one addressed turn, or one parallel wrapper for several."""
    if len(calls) == 1:
        name, arguments = _call_function(calls[0])
        header = _named(rules.assistant_to_prefix, message)
        yield Turn(header, _arguments_text(arguments, rules), recipient=name)
        return
    uses = []
    for call in calls:
        name, arguments = _call_function(call)
        parameters = _json_value(arguments, arguments) if isinstance(arguments, str) else {}
        uses.append({"recipient_name": f"{rules.functions_prefix}{name}", "parameters": parameters})
    wrapper = _json_text({"tool_uses": uses}, compact=True, ascii_only=False)
    yield Turn(_named(rules.parallel_tool_header, message), wrapper)


def _close_parallel_round(prompt: Prompt, answers: list[Any], rules: TokenRules) -> None:
    """Add the answers to one parallel call as a single message: the JSON list of results.

    Each result is parsed when it is JSON (a pretty-printed answer is re-serialised) and kept
    as a string otherwise; the list is written with the default ``", "`` separators (and ASCII
    escapes before March 2026: ``rules.parallel_answers_ascii``). The 259 recorded items with
    a parallel round agree but for 4, where one message per answer missed most of them by 1
    to 1,343 tokens. Empties ``answers``.
    """
    if not answers:
        return
    values = [_json_value(text, text) for text in map(text_of_content, answers)]
    text = _json_text(values, compact=False, ascii_only=rules.parallel_answers_ascii)
    prompt.turns.append(Turn(rules.parallel_answers_header, text))
    prompt.extra_tokens += rules.parallel_answers_extra
    answers.clear()


def chat_prompt(body: Mapping[str, Any], rules: TokenRules) -> Prompt:
    """The :class:`Prompt` of a Chat Completions request body (never raises on bad input)."""
    prompt = Prompt(functions=list(_function_specs(body)), response_format=_response_format(body))
    messages = body.get("messages")
    if not isinstance(messages, list):
        return prompt
    call_names: dict[str | None, str] = {}
    # The open parallel round: the ids of its calls, and the answers received so far.
    round_ids: set[str | None] = set()
    round_answers: list[Any] = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        content = message.get("content")
        answered = _identifier(message.get("tool_call_id"))
        if role == "tool" and answered in round_ids:
            round_answers.append(content)
            prompt.extra_tokens += _media_cost(content, rules)
            continue
        _close_parallel_round(prompt, round_answers, rules)
        round_ids = set()
        prompt.extra_tokens += _media_cost(content, rules)
        if (
            role == "assistant"
            and isinstance(message.get("tool_calls"), list)
            and message["tool_calls"]
        ):
            calls = message["tool_calls"]
            text = _message_text(message)
            if text:
                prompt.turns.append(Turn(_message_header(message), text))
            if len(calls) == 1:
                call_names[_call_id(calls[0])] = _call_function(calls[0])[0]
            else:
                round_ids = {_call_id(call) for call in calls}
            prompt.turns.extend(_tool_call_turns(calls, rules, message))
            # A parallel wrapper is one call to multi_tool_use.parallel.
            prompt.extra_tokens += rules.per_tool_call
        elif role == "assistant" and isinstance(message.get("function_call"), Mapping):
            text = _message_text(message)
            if text:
                prompt.turns.append(Turn(_message_header(message), text))
            call = {"function": message["function_call"]}
            prompt.turns.extend(_tool_call_turns([call], rules, message))
            prompt.extra_tokens += rules.per_tool_call
        elif role == "tool":
            name = call_names.get(answered, "")
            prompt.turns.append(Turn(f"{rules.functions_prefix}{name}", text_of_content(content)))
        elif role == "function":
            function_name = message.get("name")
            function_name = function_name if isinstance(function_name, str) else ""
            header = f"{rules.functions_prefix}{function_name}"
            prompt.turns.append(Turn(header, text_of_content(content)))
        else:
            prompt.turns.append(Turn(_message_header(message), _message_text(message)))
    _close_parallel_round(prompt, round_answers, rules)
    prompt.extra_tokens += _tool_choice_cost(body, prompt.functions, rules)
    prompt.reply_constrained = not prompt.functions or body.get("tool_choice") == "none"
    if prompt.response_format is not None and rules.answers_carry_format_mark:
        # Earlier assistant replies were written under the same format: each carries its mark.
        answers = sum(1 for turn in prompt.turns if turn.header == "assistant" and turn.text)
        mark = rules.response_format_overhead + token_count(prompt.response_format.name)
        prompt.extra_tokens += answers * mark
    return prompt


def _tool_choice_cost(
    body: Mapping[str, Any], functions: Sequence[FunctionSpec], rules: TokenRules
) -> int:
    if not functions:
        return 0
    choice = body.get("tool_choice", body.get("function_call"))
    if choice == "none":
        return rules.tool_choice_none
    if isinstance(choice, Mapping):
        function = choice.get("function") if "function" in choice else choice
        name = function.get("name") if isinstance(function, Mapping) else None
        if isinstance(name, str):
            # The name is read as "functions.NAME": a name whose first token merges with the
            # dot costs one more (TrainingTaskEvaluation, WeatherResponse, think: 4 recorded
            # items), 190 of 190 items with a name that does not merge agree either way.
            return rules.tool_choice_named + token_count(rules.functions_prefix + name)
    return 0


# --------------------------------------------------------------------------------------------
# Tool definitions


def _function_specs(body: Mapping[str, Any]) -> Iterator[FunctionSpec]:
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping):
                spec = _spec(tool["function"])
                if spec is not None:
                    yield spec
    functions = body.get("functions")
    if isinstance(functions, list):
        for function in functions:
            if isinstance(function, Mapping):
                spec = _spec(function)
                if spec is not None:
                    yield spec


def _spec(function: Mapping[str, Any]) -> FunctionSpec | None:
    name = function.get("name")
    if not isinstance(name, str):
        return None
    description = function.get("description")
    parameters = function.get("parameters")
    return FunctionSpec(
        name,
        description if isinstance(description, str) else None,
        parameters if isinstance(parameters, Mapping) else None,
    )


def render_functions(functions: Sequence[FunctionSpec], rules: TokenRules) -> str:
    """The ``namespace functions`` block the model reads for these function tools."""
    parts = [rules.tools_header]
    for function in functions:
        if function.description:
            parts.append(_function_comment(function.description))
        parameters = function.parameters or {}
        if _shown_properties(parameters):
            arguments = _render_object(parameters, _Scope(_definitions(parameters)))
            parts.append(f"type {function.name} = (_: {arguments}) => any;\n\n")
        else:
            # No parameters, `{}`, or an object without properties: the function takes no
            # argument (509 recorded items; 307 of 309 items mixing both kinds are exact).
            parts.append(f"type {function.name} = () => any;\n\n")
    parts.append(rules.tools_footer)
    return "".join(parts)


def _function_comment(description: str) -> str:
    """Every line of the description as a trimmed ``//`` comment, blank lines a bare ``//``.

    Docstring indentation, leading and trailing blank lines and trailing spaces cost nothing;
    each inner line gets its own ``//`` (harmony writes "// {line}" per line too). ogx's
    indented MCP docstrings were 4-12 tokens short with one "//" for the whole text (230
    items); crewAI, pydantic-ai and Mirascope items confirm it (116 items, none broken).
    """
    lines = (f"// {line.strip()}".rstrip() for line in description.strip().split("\n"))
    return "\n".join(lines) + "\n"


def _definitions(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("$defs", "definitions"):
        defs = schema.get(key)
        if isinstance(defs, Mapping):
            return defs
    return {}


def _comment_lines(schema: Mapping[str, Any]) -> list[str]:
    lines = []
    for key in ("title", "description"):
        text = schema.get(key)
        if isinstance(text, str) and text:
            # A multi-line text stays one comment: every line gets its own "//".
            lines.append("// " + text.replace("\n", "\n// ") + "\n")
    return lines


# Numeric bounds are shown after the property, each as its own comment: the 27 recorded
# HumanSignal/Adala items whose other keywords are rendered exactly agree
# (" // minimum: 0 // maximum: 5"), none without them (+10 to +12 tokens). The exclusive
# bounds are never recorded; they are shown the same way as the bounds they refine.
_BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")


def _trailing_comment(schema: Mapping[str, Any]) -> str:
    """The comments written after a property: its format, numeric bounds, then its default."""
    # `format` is shown like the bounds (ogx's book_flight, 2026-03: `date?: string,
    # // format: "date"` in a multi-line object, 8 tokens short without it).
    form = schema.get("format")
    comment = f" // format: {_json_literal(form)}" if isinstance(form, str) else ""
    comment += "".join(
        f" // {key}: {_json_literal(schema[key])}"
        for key in _BOUNDS
        if isinstance(schema.get(key), (int, float)) and not isinstance(schema[key], bool)
    )
    if "default" not in schema:
        return comment
    # Always as JSON, an enum's string default too (quoted): harmony writes that one bare,
    # but beeai's OpenMeteoTool (2025-12, gpt-4o and gpt-4o-mini: 2 of 2 items with a string
    # default beside an `enum`) is one token short written bare.
    return f"{comment} // default: {_json_literal(schema['default'])}"


def _json_literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class _Scope:
    """Where a schema is rendered: its ``$defs``, the ``$ref``s being expanded, the depth."""

    defs: Mapping[str, Any]
    expanding: frozenset[str] = frozenset()
    depth: int = 0

    def deeper(self) -> _Scope:
        return _Scope(self.defs, self.expanding, self.depth + 1)


# Deeper than any schema the API accepts (strict mode allows 10 levels): the rest is "any".
_MAX_DEPTH = 64


def _shown_properties(schema: Mapping[str, Any]) -> bool:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return False
    return any(not (isinstance(v, Mapping) and _free_form_object(v)) for v in properties.values())


def _render_object(schema: Mapping[str, Any], scope: _Scope) -> str:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not _shown_properties(schema):
        return "object"
    required = schema.get("required")
    required_names = set(required) if isinstance(required, list) else set()
    rendered = []
    any_comment = False
    for key, value in properties.items():
        value = value if isinstance(value, Mapping) else {}
        if _free_form_object(value):
            # Not shown at all, like a function whose parameters have no properties takes no
            # argument: a dict property (`additionalProperties: {...}`) of langgraph's
            # edit_document costs nothing, its description included (13 of 13 items).
            continue
        comments = _comment_lines(value)
        default = _trailing_comment(value)
        any_comment = any_comment or bool(comments) or bool(default)
        optional = "" if key in required_names else "?"
        # The description is already written above the property: an inline object does not
        # repeat it as its heading (a $ref target's own description does head its body).
        undescribed = {k: v for k, v in value.items() if k != "description"}
        members = _union_members(undescribed, scope.deeper())
        variants = [(text, _trailing_comment(member)) for text, member in members or []]
        if any("\n" in text or comment for text, comment in variants):
            # A union with a multi-line member is written as harmony writes a property-level
            # union: the default on its own line above, one `| member` line per member, the
            # comma on a line of its own (Adala, langgraph storm: 22 of 22 items with a
            # nullable array of objects, 3 or 4 tokens short as `Array<{...}> | null,`). A
            # member's own comments (a format) follow it on its line, as harmony writes them.
            comments = [*comments, default.lstrip() + "\n"] if default else comments
            line = f"{key}{optional}:\n" + "".join(f" | {t}{c}\n" for t, c in variants)
            rendered.append((comments, line, ""))
            any_comment = True
            continue
        line = f"{key}{optional}: {_render(undescribed, scope.deeper())}"
        rendered.append((comments, line, default))
    if schema.get("additionalProperties") is True:
        # Other keys are allowed: an index signature after the named properties, as
        # TypeScript writes it (openai-dotnet's non-strict tool, 2025-09: 2 of 2 items
        # with `additionalProperties: true` beside properties, 7 tokens short without it).
        rendered.append(([], "[key: string]: any", ""))
    # An object's own title and description head its body: the top-level parameters and
    # $ref targets show them (5 recorded Mirascope/pydantic tools need the description).
    heading = "".join(_comment_lines(schema))
    if not any_comment and not heading and not any("\n" in line for _, line, _ in rendered):
        # Without comments the object is written on one line, like a TypeScript literal; a
        # multi-line member (an object with comments) breaks its parent over lines too, as
        # harmony always does (ogx's book_flight, 2026-03: one token short on one line).
        return "{ " + ", ".join(line for _, line, _ in rendered) + " }"
    body = heading + "".join(
        "".join(comments) + f"{line},{default}\n" for comments, line, default in rendered
    )
    return "{\n" + body + "}"


def _free_form_object(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "object" and not schema.get("properties")


def render_schema_type(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> str:
    """A JSON Schema as the TypeScript type the model reads."""
    return _render(schema, _Scope(defs if defs is not None else _definitions(schema)))


def _render(schema: Mapping[str, Any], scope: _Scope) -> str:
    if scope.depth > _MAX_DEPTH:
        return "any"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        target = scope.defs.get(name)
        if isinstance(target, Mapping):
            if name in scope.expanding:
                # A recursive definition is named, not expanded again.
                return name
            inner = _Scope(scope.defs, scope.expanding | {name}, scope.depth + 1)
            return _render(target, inner)
    members = _union_members(schema, scope)
    if members is not None:
        return " | ".join(text for text, _ in members)
    members = schema.get("allOf")
    if isinstance(members, list) and members:
        parts = (_render(m if isinstance(m, Mapping) else {}, scope.deeper()) for m in members)
        return " & ".join(parts)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in enum)
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_typed(k, schema, scope) for k in kind if isinstance(k, str))
    if isinstance(kind, str):
        return _typed(kind, schema, scope)
    if isinstance(schema.get("properties"), Mapping):
        return _render_object(schema, scope)
    return "any"


def _union_members(
    schema: Mapping[str, Any], scope: _Scope
) -> list[tuple[str, Mapping[str, Any]]] | None:
    """The members of an ``anyOf``/``oneOf`` union, rendered; ``None`` when it is not one."""
    if isinstance(schema.get("$ref"), str):
        return None
    for key in ("anyOf", "oneOf"):
        variants = schema.get(key)
        if isinstance(variants, list) and variants:
            members = [v if isinstance(v, Mapping) else {} for v in variants]
            # A free-form object member is not shown, as a free-form property is not: crewAI's
            # `arguments: object | null` reads as `arguments: null` (21 items, 2024-2025).
            shown = [v for v in members if not _free_form_object(v)] or members
            return [(_render(v, scope.deeper()), v) for v in shown]
    return None


def _typed(kind: str, schema: Mapping[str, Any], scope: _Scope) -> str:
    if kind in ("number", "integer"):
        return "number"
    if kind in ("string", "boolean", "null"):
        return kind
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, Mapping):
            element = _render(items, scope.deeper())
            if element.startswith("{") and "\n" in element:
                # A multi-line object element opens and closes on lines of its own.
                return f"Array<\n{element}\n>"
            if element.startswith("{") or " | " in element:
                # Compound element types are written Array<...> (11 of 11 recorded
                # arrays of objects agree), simple ones as T[].
                return f"Array<{element}>"
            return f"{element}[]"
        return "any[]"
    if kind == "object":
        return _render_object(schema, scope)
    return "any"


# --------------------------------------------------------------------------------------------
# Structured outputs


def _response_format(body: Mapping[str, Any]) -> ResponseFormatSpec | None:
    response_format = body.get("response_format")
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, Mapping):
        return None
    name = spec.get("name")
    description = spec.get("description")
    schema = spec.get("schema")
    return ResponseFormatSpec(
        name if isinstance(name, str) else "",
        description if isinstance(description, str) and description else None,
        schema if isinstance(schema, Mapping) else {},
    )


def render_response_format(spec: ResponseFormatSpec, rules: TokenRules) -> str:
    """The ``# Response Formats`` section: the schema as ASCII JSON, reduced to what it shows."""
    comment = f"// {spec.description}\n" if spec.description else ""
    schema = _schema_shown(spec.schema, rules.response_format_keys)
    shown = json.dumps(schema, separators=(",", ":"), ensure_ascii=True)
    return f"{rules.response_format_header}{spec.name}\n\n{comment}{shown}"


def _schema_shown(schema: Any, keys: frozenset[str]) -> Any:
    """The schema with only the keywords the model is shown (no required, no bounds...)."""
    if isinstance(schema, list):
        return [_schema_shown(item, keys) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    shown: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            if key in keys:
                shown[key] = {name: _schema_shown(sub, keys) for name, sub in value.items()}
        elif key in keys:
            shown[key] = _schema_shown(value, keys)
    return shown


# --------------------------------------------------------------------------------------------
# Counting


def _instruction_sections(prompt: Prompt, rules: TokenRules) -> tuple[list[str], int]:
    """Texts the API adds to the instructions, and the fixed tokens that come with them."""
    sections = []
    extra = 0
    if prompt.functions:
        sections.append(render_functions(prompt.functions, rules))
        extra += rules.tools_adjustment
    if prompt.response_format is not None:
        sections.append(render_response_format(prompt.response_format, rules))
        if prompt.reply_constrained:
            # The reply is primed with the format's name (a constrained-output marker), unless
            # the model may answer with a tool call instead.
            extra += rules.response_format_overhead + token_count(prompt.response_format.name)
    return sections, extra


def laid_out_turns(prompt: Prompt, rules: TokenRules) -> tuple[list[Turn], int]:
    """The turns in the order the model reads them, with the tool and format sections in
    place (in the first instruction turn, or in a turn of their own), and their fixed cost."""
    turns = prompt.turns
    sections, extra = _instruction_sections(prompt, rules)
    if not sections:
        return list(turns), 0
    added = rules.tools_separator.join(sections)
    first = turns[0] if turns else None
    if first is not None and first.header.split(":", 1)[0] in rules.instruction_roles:
        merged = Turn(first.header, first.text + rules.tools_separator + added, first.recipient)
        return [merged, *turns[1:]], extra
    return [Turn(rules.tools_role, added), *turns], extra


def count_prompt(prompt: Prompt, rules: TokenRules) -> int:
    """Tokens of a :class:`Prompt`: each text encoded once, fixed costs from the profile."""
    turns, extra = laid_out_turns(prompt, rules)
    total = rules.reply_priming + prompt.extra_tokens + extra
    for turn in turns:
        # Headers and short texts are remembered by token_count itself.
        total += rules.per_message + token_count(turn.header) + token_count(turn.text)
        if turn.recipient:
            total += token_count(turn.recipient)
    return total


def count_prompt_tokens(body: object, *, profile: ModelProfile = GPT4O_MINI) -> int:
    """What the real API reports as ``usage.prompt_tokens`` for this request body.

    Any JSON value is accepted: what is not a well-formed request counts what it can (the
    validator, not the counter, rejects bad requests).
    """
    if not isinstance(body, Mapping):
        return profile.tokens.reply_priming
    return count_prompt(chat_prompt(body, profile.tokens), profile.tokens)
