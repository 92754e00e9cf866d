"""The strict-subset JSON Schema generator and checker behind structured outputs and tools."""

from __future__ import annotations

import random
import re
from typing import Any

import jsonschema
import pytest

from minidouble._engine._schema_values import SchemaValueError, first_violation, generate

SCHEMAS: dict[str, dict[str, Any]] = {
    "scalars": {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer", "minimum": -3, "maximum": 3},
            "n": {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 0.75},
            "b": {"type": "boolean"},
            "z": {"type": "null"},
            "c": {"const": "fixed"},
            "m": {"type": "integer", "multipleOf": 7, "minimum": 10, "maximum": 30},
            "f": {"type": "number", "multipleOf": 0.25, "minimum": 1, "maximum": 2},
        },
        "required": ["s", "i", "n", "b", "z", "c", "m", "f"],
        "additionalProperties": False,
    },
    "formats": {
        "type": "object",
        "properties": {
            name: {"type": "string", "format": name}
            for name in ("date-time", "date", "time", "email", "uuid", "ipv4", "ipv6", "uri")
        },
        "required": ["date-time", "date", "time", "email", "uuid", "ipv4", "ipv6", "uri"],
        "additionalProperties": False,
    },
    "patterns": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "pattern": "^[A-Z]{2,3}-\\d{4}$"},
            "choice": {"type": "string", "pattern": "^(red|green|blue)$"},
            "hex": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
            "word": {"type": "string", "pattern": "^\\w+@[^\\s]+$"},
        },
        "required": ["code", "choice", "hex", "word"],
        "additionalProperties": False,
    },
    "nullable_union": {
        "type": "object",
        "properties": {
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "either": {"anyOf": [{"type": "integer"}, {"$ref": "#/$defs/point"}]},
            "many": {"type": "array", "items": {"$ref": "#/$defs/point"}, "maxItems": 2},
        },
        "required": ["maybe", "either", "many"],
        "additionalProperties": False,
        "$defs": {
            "point": {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
                "additionalProperties": False,
            }
        },
    },
    "recursive_root": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}},
        },
        "required": ["name", "children"],
        "additionalProperties": False,
    },
    "linked_list": {
        "type": "object",
        "properties": {"head": {"$ref": "#/$defs/node"}},
        "required": ["head"],
        "additionalProperties": False,
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]},
                },
                "required": ["value", "next"],
                "additionalProperties": False,
            }
        },
    },
    "enums": {
        "type": "object",
        "properties": {
            "level": {"type": "string", "enum": ["low", "mid", "high"]},
            "mixed": {"enum": [1, "two", None]},
            "tags": {
                "type": "array",
                "items": {"type": "string", "enum": ["a", "b"]},
                "minItems": 2,
                "maxItems": 2,
            },
        },
        "required": ["level", "mixed", "tags"],
        "additionalProperties": False,
    },
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@pytest.mark.parametrize("seed", range(10))
def test_generated_values_are_valid(name: str, seed: int) -> None:
    schema = SCHEMAS[name]
    value = generate(schema, random.Random(seed))
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    assert first_violation(value, schema) is None
    assert list(value) == list(schema["properties"])


def test_same_generator_state_same_value() -> None:
    schema = SCHEMAS["nullable_union"]
    assert generate(schema, random.Random(5)) == generate(schema, random.Random(5))


BROKEN = [
    ("scalars", {"i": 9}, "$.i must be <= 3"),
    ("scalars", {"n": 0.5}, "$.n must be > 0.5"),
    ("scalars", {"m": 15}, "$.m must be a multiple of 7"),
    ("scalars", {"b": "yes"}, "$.b must be of type boolean"),
    ("scalars", {"c": "other"}, "$.c must be 'fixed'"),
    ("scalars", {"extra": 1}, "property 'extra', which the schema does not allow"),
    ("formats", {"uuid": "nope"}, "$.uuid must be a uuid string"),
    ("formats", {"date": "2024-13-01"}, "$.date must be a date string"),
    ("patterns", {"hex": "#zzzzzz"}, "$.hex must match the pattern"),
    ("enums", {"level": "max"}, "$.level must be one of"),
    ("enums", {"tags": ["a"]}, "$.tags must have at least 2 items"),
    ("nullable_union", {"many": [{"x": 1}]}, "$.many[0] is missing the required property 'y'"),
    ("linked_list", {"head": {"value": 1, "next": {"value": "x", "next": None}}}, "$.head"),
]


@pytest.mark.parametrize(("name", "change", "reason"), BROKEN)
def test_violations_are_found_with_their_path(name: str, change: dict[str, Any],
                                              reason: str) -> None:  # fmt: skip
    schema = SCHEMAS[name]
    value = {**generate(schema, random.Random(0)), **change}
    found = first_violation(value, schema)
    assert found is not None
    assert reason in found
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())


def test_missing_required_property() -> None:
    schema = SCHEMAS["scalars"]
    value = generate(schema, random.Random(0))
    del value["s"]
    assert first_violation(value, schema) == "$ is missing the required property 's'"


def test_unsatisfiable_bounds_are_reported() -> None:
    with pytest.raises(SchemaValueError):
        generate({"type": "integer", "minimum": 1, "maximum": 0}, random.Random(0))
    with pytest.raises(SchemaValueError):
        generate({"$ref": "#/$defs/missing"}, random.Random(0))


def test_unsupported_pattern_falls_back_to_a_plain_string() -> None:
    value = generate({"type": "string", "pattern": "(?<=a)b"}, random.Random(0))
    assert isinstance(value, str)
    assert re.search("(?<=a)b", value) is None  # best effort: documented as such
