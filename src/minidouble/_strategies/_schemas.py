"""Strict-mode tool parameter schemas and function tools, within the profile's limits."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._strategies._common import (
    Schema,
    Tool,
    check_size_bounds,
    check_strategy,
    fail,
    names,
    texts,
)

# The formats the Structured Outputs guide lists, in the guide's order.
FORMATS = ("date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid")
# The strict-mode regex dialect is undocumented: only patterns whose meaning is the same in
# ECMA-262, Python's re and the usual Rust/RE2 engines.
PATTERNS = (
    r"^[a-z]+$",
    r"^[A-Z]{2,3}$",
    r"^\d{3}-\d{4}$",
    r"^[a-z0-9_]{1,16}$",
    r"^(red|green|blue)$",
    r"^#[0-9a-f]{6}$",
    r"^\+?[0-9]{7,12}$",
    r"^[A-Za-z][A-Za-z0-9 ]*$",
)
_INTEGER_STEPS = (1, 2, 5, 10)
_NUMBER_STEPS = (Decimal("0.5"), Decimal("0.25"), Decimal("0.1"), Decimal(1), Decimal(2))
# Simplest first, so a failing schema shrinks towards plain strings.
NODE_KINDS = (
    "string",
    "integer",
    "number",
    "boolean",
    "enum",
    "const",
    "nullable",
    "array",
    "object",
    "anyOf",
    "ref",
)
_PROPERTY_ALPHABET = "abcdefghijklmnopqrstuvwxyz_0123456789"
_MAX_OBJECT_WIDTH = 4
_MAX_ENUM = 5


@dataclass
class _Budget:
    """What is left of the profile's limits while one schema is built top-down."""

    properties: int
    enum_values: int
    chars: int


@dataclass
class _Definition:
    name: str
    depth: int  # nesting levels the definition adds where it is referenced


class _Builder:
    def __init__(self, draw: DrawFn, *, strict: bool, max_depth: int, budget: _Budget) -> None:
        self.draw = draw
        self.strict = strict
        self.max_depth = max_depth
        self.budget = budget
        self.definitions: list[_Definition] = []

    def spend_chars(self, text: str) -> bool:
        if len(text) > self.budget.chars:
            return False
        self.budget.chars -= len(text)
        return True

    def node(self, depth: int) -> Schema:
        """A schema placed at nesting level ``depth`` (the root object is level 1)."""
        kinds = [kind for kind in NODE_KINDS if self._fits(kind, depth)]
        kind = self.draw(st.sampled_from(kinds), label="node kind")
        schema: Schema = getattr(self, "_" + kind.lower())(depth)
        if kind not in ("ref", "nullable", "anyOf") and self.draw(
            st.booleans(), label="has description"
        ):
            description = self.draw(texts(20), label="description")
            schema = {**schema, "description": description}
        return schema

    def _fits(self, kind: str, depth: int) -> bool:
        if kind in ("array", "object"):
            return depth < self.max_depth
        if kind in ("enum", "const"):
            return self.budget.enum_values >= 1 and self.budget.chars >= 1
        if kind == "ref":
            return any(depth - 1 + d.depth <= self.max_depth for d in self.definitions)
        return True

    def _string(self, depth: int) -> Schema:
        schema: Schema = {"type": "string"}
        extra = self.draw(st.sampled_from(("none", "format", "pattern", "length")), label="string")
        if extra == "format":
            schema["format"] = self.draw(st.sampled_from(FORMATS), label="format")
        elif extra == "pattern":
            schema["pattern"] = self.draw(st.sampled_from(PATTERNS), label="pattern")
        elif extra == "length" and not self.strict:
            # Refused in strict mode today ("'minLength' is not permitted"); fine elsewhere.
            low = self.draw(st.integers(0, 5), label="minLength")
            schema["minLength"] = low
            schema["maxLength"] = low + self.draw(st.integers(0, 10), label="maxLength")
        return schema

    def _bounds(self, schema: Schema, step: Decimal | int, convert: Any) -> Schema:
        """Bounds as multiples of ``step``, so every range still holds a valid value."""
        low, high = sorted(self.draw(st.lists(st.integers(-100, 100), min_size=2, max_size=2)))
        exclusive = high - low >= 2 and self.draw(st.booleans(), label="exclusive")
        lower, upper = (
            ("exclusiveMinimum", "exclusiveMaximum") if exclusive else ("minimum", "maximum")
        )
        if self.draw(st.booleans(), label="has lower bound"):
            schema[lower] = convert(low * step)
        if self.draw(st.booleans(), label="has upper bound"):
            schema[upper] = convert(high * step)
        return schema

    def _integer(self, depth: int) -> Schema:
        schema: Schema = {"type": "integer"}
        step = 1
        if self.draw(st.booleans(), label="has multipleOf"):
            step = self.draw(st.sampled_from(_INTEGER_STEPS), label="multipleOf")
            schema["multipleOf"] = step
        if self.draw(st.booleans(), label="has bounds"):
            self._bounds(schema, step, int)
        return schema

    def _number(self, depth: int) -> Schema:
        schema: Schema = {"type": "number"}
        step = Decimal(1)
        if self.draw(st.booleans(), label="has multipleOf"):
            step = self.draw(st.sampled_from(_NUMBER_STEPS), label="multipleOf")
            schema["multipleOf"] = _plain_number(step)
        if self.draw(st.booleans(), label="has bounds"):
            self._bounds(schema, step, _plain_number)
        return schema

    def _boolean(self, depth: int) -> Schema:
        return {"type": "boolean"}

    def _enum(self, depth: int) -> Schema:
        limit = min(_MAX_ENUM, self.budget.enum_values)
        if self.draw(st.booleans(), label="integer enum"):
            values: list[Any] = self.draw(
                st.lists(st.integers(-50, 50), min_size=1, max_size=limit, unique=True)
            )
            self.budget.enum_values -= len(values)
            return {"type": "integer", "enum": values}
        words = self.draw(
            st.lists(names(12), min_size=1, max_size=limit, unique=True), label="enum values"
        )
        kept = [word for word in words if self.spend_chars(word)] or [words[0][:1]]
        self.budget.enum_values -= len(kept)
        return {"type": "string", "enum": kept}

    def _const(self, depth: int) -> Schema:
        value = self.draw(names(12), label="const")
        value = value if self.spend_chars(value) else value[:1]
        self.budget.enum_values -= 1
        return {"type": "string", "const": value}

    def _nullable(self, depth: int) -> Schema:
        inner = self.node(depth)
        kind = inner.get("type")
        if isinstance(kind, str) and "enum" not in inner and "const" not in inner:
            return {**inner, "type": [kind, "null"]}
        return {"anyOf": [inner, {"type": "null"}]}

    def _array(self, depth: int) -> Schema:
        schema: Schema = {"type": "array", "items": self.node(depth + 1)}
        if self.draw(st.booleans(), label="has minItems"):
            schema["minItems"] = self.draw(st.integers(0, 2), label="minItems")
        if self.draw(st.booleans(), label="has maxItems"):
            schema["maxItems"] = schema.get("minItems", 0) + self.draw(st.integers(0, 3))
        return schema

    def _object(self, depth: int) -> Schema:
        return self.object(depth, width=min(_MAX_OBJECT_WIDTH, self.budget.properties))

    def object(self, depth: int, *, width: int) -> Schema:
        keys = self.draw(
            st.lists(
                st.text(_PROPERTY_ALPHABET, min_size=1, max_size=12),
                max_size=min(width, self.budget.properties),
                unique=True,
            ),
            label="property names",
        )
        keys = [key for key in keys if self.spend_chars(key)]
        self.budget.properties -= len(keys)
        properties = {key: self.node(depth + 1) for key in keys}
        schema: Schema = {"type": "object", "properties": properties}
        if self.strict:
            schema["required"] = list(keys)
            schema["additionalProperties"] = False
            return schema
        required = [key for key in keys if self.draw(st.booleans(), label=f"requires {key}")]
        if required:
            schema["required"] = required
        if self.draw(st.booleans(), label="closed"):
            schema["additionalProperties"] = False
        return schema

    def _anyof(self, depth: int) -> Schema:
        branches = self.draw(st.integers(2, 3), label="anyOf branches")
        return {"anyOf": [self.node(depth) for _ in range(branches)]}

    def _ref(self, depth: int) -> Schema:
        usable = [d for d in self.definitions if depth - 1 + d.depth <= self.max_depth]
        chosen = self.draw(st.sampled_from(usable), label="referenced definition")
        return {"$ref": f"#/$defs/{chosen.name}"}

    def definition(self, name: str) -> Schema:
        """A definition that fits wherever the root's properties sit (level 2)."""
        schema = self.node(2)
        self.definitions.append(_Definition(name, _depth(schema)))
        return schema

    def recursive_definition(self, name: str) -> Schema:
        """A self-referencing object that a finite value can always escape."""
        value_key, link_key = "value", self.draw(st.sampled_from(("next", "children")))
        self.budget.properties -= 2
        link: Schema = (
            {"anyOf": [{"$ref": f"#/$defs/{name}"}, {"type": "null"}]}
            if link_key == "next"
            else {"type": "array", "items": {"$ref": f"#/$defs/{name}"}}
        )
        schema: Schema = {
            "type": "object",
            "properties": {value_key: self.draw(st.sampled_from(_LEAVES)), link_key: link},
            "required": [value_key, link_key],
            "additionalProperties": False,
        }
        self.definitions.append(_Definition(name, _depth(schema)))
        return schema


_LEAVES: tuple[Schema, ...] = (
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
)


def _plain_number(value: Decimal) -> int | float:
    """``2`` rather than ``2.0``, ``0.3`` rather than ``0.30000000000000004``."""
    return int(value) if value == value.to_integral_value() else float(value)


def _depth(schema: object) -> int:
    """Nesting levels: each object or array schema is one level; ``$ref`` is not followed."""
    if isinstance(schema, list):
        return max((_depth(item) for item in schema), default=0)
    if not isinstance(schema, dict):
        return 0
    own = 1 if schema.get("type") in ("object", "array") else 0
    children = [value for key, value in schema.items() if key not in ("enum", "const", "$defs")]
    return own + max((_depth(child) for child in children), default=0)


def schema_depth(schema: Schema) -> int:
    """The deepest nesting of ``schema`` or any of its definitions, counted as :func:`_depth`."""
    definitions = schema.get("$defs", {})
    return max([_depth(schema), *(_depth(d) + 1 for d in definitions.values())])


@st.composite
def tool_schemas(
    draw: DrawFn,
    *,
    strict: bool = True,
    max_depth: int = 3,
    max_properties: int = 12,
    refs: bool = True,
    recursion: bool = True,
) -> Schema:
    """A function's ``parameters`` JSON Schema, built top-down within the model's limits.

    With ``strict=True`` (the default) the schema obeys Structured Outputs' strict mode: an
    object root, ``additionalProperties: false`` and a full ``required`` list on every object,
    optional values as unions with ``null``, only supported keywords (``pattern``, the nine
    formats, numeric bounds and ``multipleOf``, ``minItems``/``maxItems``, ``enum``, ``const``,
    ``anyOf``). ``refs`` allows ``$defs``/``$ref``; ``recursion`` allows a self-referencing
    definition that finite values can escape. ``max_depth`` counts object and array levels
    (the root is level 1); ``max_properties`` counts properties over the whole schema. With
    ``strict=False`` objects may leave properties optional or open, and strings may carry
    ``minLength``/``maxLength``.

    Shrinks towards ``{"type": "object", "properties": {}, "required": [],
    "additionalProperties": false}``.
    """
    limits = GPT4O_MINI.strict_schema
    what = "tool_schemas()"
    if not isinstance(strict, bool):
        raise fail(f"{what}: strict={strict!r} must be True or False.")
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
        raise fail(f"{what}: max_depth={max_depth!r} must be an integer >= 1 (the root object).")
    if max_depth > limits.max_nesting:
        raise fail(
            f"{what}: max_depth={max_depth} is above the model's nesting limit of "
            f"{limits.max_nesting}; pass max_depth <= {limits.max_nesting}."
        )
    check_size_bounds(0, max_properties, what=what, hard_max=limits.max_properties)
    builder = _Builder(
        draw,
        strict=strict,
        max_depth=max_depth,
        budget=_Budget(max_properties, limits.max_enum_values, limits.max_total_string_chars),
    )
    definitions: dict[str, Schema] = {}
    if refs and max_depth >= 2 and draw(st.booleans(), label="has $defs"):
        for name in draw(st.lists(names(12), min_size=1, max_size=2, unique=True), label="defs"):
            if builder.spend_chars(name):
                definitions[name] = builder.definition(name)
    # A tree needs an object and an array level below the root's properties.
    if (
        refs
        and recursion
        and max_depth >= 3
        and builder.budget.properties >= 2
        and draw(st.booleans(), label="recursive definition")
    ):
        name = "node"
        while name in definitions:
            name += "_"
        definitions[name] = builder.recursive_definition(name)
    root = builder.object(1, width=min(_MAX_OBJECT_WIDTH + 2, builder.budget.properties))
    used = _referenced(root, definitions)
    if used:
        # Unreferenced definitions are dropped: they would only be noise in a shrunk example.
        root["$defs"] = {name: schema for name, schema in definitions.items() if name in used}
    return root


def _referenced(root: Schema, definitions: dict[str, Schema]) -> set[str]:
    """Names of the definitions reachable from ``root`` through ``$ref``."""
    seen: set[str] = set()
    pending: list[Any] = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in seen and name in definitions:
                    seen.add(name)
                    pending.append(definitions[name])
            pending.extend(value for key, value in node.items() if key not in ("enum", "const"))
    return seen


@st.composite
def tools(
    draw: DrawFn,
    *,
    schemas: st.SearchStrategy[Schema] | None = None,
    strict: bool = True,
    min_size: int = 1,
    max_size: int = 4,
) -> list[Tool]:
    """A list of function tools with unique names, as sent in a request's ``tools``.

    Parameters come from ``schemas`` (default ``tool_schemas(strict=strict)``); with
    ``strict=True`` every function says ``"strict": true``, so ``schemas`` must then yield
    strict-mode schemas. A function may have a description, and (when not strict) no
    ``parameters`` at all.

    Shrinks towards ``[{"type": "function", "function": {"name": "a", "parameters": {...}}}]``
    with the simplest schema.
    """
    what = "tools()"
    profile: ModelProfile = GPT4O_MINI
    check_strategy(schemas, name="schemas", what=what)
    check_size_bounds(min_size, max_size, what=what, hard_max=profile.max_tools)
    if not isinstance(strict, bool):
        raise fail(f"{what}: strict={strict!r} must be True or False.")
    parameters = schemas if schemas is not None else tool_schemas(strict=strict)
    function_names = draw(
        st.lists(names(profile.max_name_length), min_size=min_size, max_size=max_size, unique=True),
        label="function names",
    )
    result: list[Tool] = []
    for name in function_names:
        function: dict[str, Any] = {"name": name}
        if draw(st.booleans(), label="has description"):
            function["description"] = draw(texts(40), label="description")
        if strict or not draw(st.booleans(), label="no parameters"):
            function["parameters"] = draw(parameters, label="parameters")
        if strict:
            function["strict"] = True
        result.append({"type": "function", "function": function})
    return result
