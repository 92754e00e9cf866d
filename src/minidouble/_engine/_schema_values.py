"""Values for a JSON Schema, and the first reason a value breaks one (the strict subset).

Structured Outputs only accepts a small JSON Schema subset (objects, arrays, enums, ``anyOf``,
``$ref``/``$defs`` with recursion, bounded numbers, string formats and patterns), so a
generator and a checker for exactly that subset fit here without a dependency. Objects come
out with their keys in the schema's order, as the real model writes them.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

__all__ = ["SchemaValueError", "first_violation", "generate"]

_WORDS = (
    "alpha", "bravo", "harbor", "meadow", "signal", "copper", "river", "summit", "lantern",
    "orbit", "cedar", "pixel", "ember", "quartz", "willow", "atlas", "beacon", "canyon",
)  # fmt: skip
# Beyond this depth a recursive schema takes its cheapest branch (null, [] or a leaf).
_MAX_DEPTH = 6


class SchemaValueError(ValueError):
    """The schema uses something the generator cannot satisfy."""


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaValueError(f"unsupported $ref {ref!r}")
        target: Any = root
        for part in ref[1:].split("/"):
            if part:
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    raise SchemaValueError(f"$ref {ref!r} points nowhere")
                target = target[part]
        if not isinstance(target, Mapping):
            raise SchemaValueError(f"$ref {ref!r} is not a schema")
        schema = target
        seen += 1
        if seen > 64:
            raise SchemaValueError(f"$ref {ref!r} never reaches a schema")
    return schema


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    if "properties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return []


# ---------------------------------------------------------------------------------------------
# Generation


def generate(schema: Any, rng: random.Random, *, hint: str = "") -> Any:
    """A value valid against ``schema``, chosen by ``rng`` (same generator state, same value)."""
    if not isinstance(schema, Mapping):
        return {}
    return _generate(schema, schema, rng, hint, 0)


def _generate(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, hint: str, depth: int
) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[rng.randrange(len(enum))]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return _generate(_pick_branch(branches, root, rng, depth), root, rng, hint, depth)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {}
        for part in all_of:
            if isinstance(part, Mapping):
                merged.update(_resolve(part, root))
        return _generate(merged, root, rng, hint, depth)
    types = _types(schema)
    if not types:
        return _word(rng) if not hint else f"{hint} {_word(rng)}"
    concrete = [t for t in types if t != "null"]
    if not concrete or (depth >= _MAX_DEPTH and "null" in types):
        return None
    kind = concrete[0] if len(concrete) == 1 else concrete[rng.randrange(len(concrete))]
    if kind == "object":
        return _object(schema, root, rng, depth)
    if kind == "array":
        return _array(schema, root, rng, hint, depth)
    if kind == "string":
        return _string(schema, rng, hint)
    if kind == "integer":
        return _integer(schema, rng)
    if kind == "number":
        return _number(schema, rng)
    if kind == "boolean":
        return rng.random() < 0.5
    return None


def _pick_branch(
    branches: list[Any], root: Mapping[str, Any], rng: random.Random, depth: int
) -> Mapping[str, Any]:
    usable = [b for b in branches if isinstance(b, Mapping)]
    if not usable:
        return {}
    non_null = [b for b in usable if _resolve(b, root).get("type") != "null"]
    if depth >= _MAX_DEPTH:
        # Deep in a recursive schema: stop with null if allowed, else a branch without $ref.
        nulls = [b for b in usable if b not in non_null]
        leaves = [b for b in non_null if "$ref" not in b]
        return (nulls or leaves or usable)[0]
    pool = non_null or usable
    return pool[rng.randrange(len(pool))]


def _object(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int
) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    required = schema.get("required")
    needed = set(required) if isinstance(required, list) else set(properties)
    value: dict[str, Any] = {}
    for name, sub in properties.items():
        if name not in needed and depth >= 1 and rng.random() < 0.5:
            continue
        if isinstance(sub, Mapping):
            value[name] = _generate(sub, root, rng, str(name), depth + 1)
    return value


def _array(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, hint: str, depth: int
) -> list[Any]:
    items = schema.get("items")
    low = schema.get("minItems", 0)
    high = schema.get("maxItems", max(low, 3))
    low = low if isinstance(low, int) else 0
    high = high if isinstance(high, int) else max(low, 3)
    if depth >= _MAX_DEPTH:
        high = low
    count = rng.randint(low, max(low, min(high, low + 3)))
    if not isinstance(items, Mapping):
        return [_word(rng) for _ in range(count)]
    return [_generate(items, root, rng, hint, depth + 1) for _ in range(count)]


def _word(rng: random.Random) -> str:
    return _WORDS[rng.randrange(len(_WORDS))]


def _string(schema: Mapping[str, Any], rng: random.Random, hint: str) -> str:
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        sampled = _sample_pattern(pattern, rng)
        if sampled is not None:
            return sampled
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return str(_FORMATS[fmt](rng))
    text = _plausible(hint, rng)
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text = text + "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text


# Values a model would plausibly write for common property names, so that default tool-call
# arguments read like real ones ({"city": "Lisbon"} rather than {"city": "city river"}).
_BY_NAME: dict[str, tuple[str, ...]] = {
    "city": ("Paris", "Lisbon", "Tokyo", "Nairobi", "Toronto"),
    "location": ("Paris, France", "San Francisco, CA", "Berlin, Germany", "Tokyo, Japan"),
    "country": ("France", "Japan", "Brazil", "Kenya", "Canada"),
    "name": ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Katherine Johnson"),
    "query": ("latest news", "weather forecast", "best pasta recipe", "python tutorials"),
    "language": ("English", "French", "Spanish", "Japanese"),
    "unit": ("celsius", "fahrenheit"),
    "timezone": ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"),
    "topic": ("climate", "space exploration", "machine learning", "history"),
    "title": ("Quarterly report", "Meeting notes", "Project plan"),
    "email": ("ada@example.com", "grace@example.com"),
    "url": ("https://example.com", "https://example.org/docs"),
}
_ALIASES = {"q": "query", "search": "query", "search_query": "query", "place": "location",
            "tz": "timezone", "zone": "timezone", "full_name": "name", "username": "name",
            "subject": "topic", "link": "url", "website": "url", "lang": "language"}  # fmt: skip


def _plausible(hint: str, rng: random.Random) -> str:
    key = hint.lower()
    options = _BY_NAME.get(_ALIASES.get(key, key))
    if options is not None:
        return options[rng.randrange(len(options))]
    return f"{hint.replace('_', ' ')} {_word(rng)}".strip() if hint else _word(rng)


def _instant(rng: random.Random) -> datetime:
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return base + timedelta(seconds=rng.randrange(3 * 365 * 24 * 3600))


_FORMATS: dict[str, Any] = {
    "date-time": lambda rng: _instant(rng).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "date": lambda rng: _instant(rng).date().isoformat(),
    "time": lambda rng: _instant(rng).strftime("%H:%M:%S"),
    "duration": lambda rng: f"PT{rng.randint(1, 59)}M",
    "email": lambda rng: f"{_word(rng)}@example.com",
    "hostname": lambda rng: f"{_word(rng)}.example.com",
    "ipv4": lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    "ipv6": lambda rng: ":".join(f"{rng.randrange(65536):x}" for _ in range(8)),
    "uuid": lambda rng: _uuid(rng),
    "uri": lambda rng: f"https://example.com/{_word(rng)}",
}


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _bounds(schema: Mapping[str, Any]) -> tuple[float, float, bool, bool]:
    low, high = -1000.0, 1000.0
    low_open = high_open = False
    if isinstance(schema.get("minimum"), (int, float)):
        low = float(schema["minimum"])
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        low, low_open = float(schema["exclusiveMinimum"]), True
    if isinstance(schema.get("maximum"), (int, float)):
        high = float(schema["maximum"])
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        high, high_open = float(schema["exclusiveMaximum"]), True
    if "minimum" not in schema and "exclusiveMinimum" not in schema:
        low = min(0.0, high - 100)
    if "maximum" not in schema and "exclusiveMaximum" not in schema:
        high = max(100.0, low + 100)
    return low, high, low_open, high_open


def _integer(schema: Mapping[str, Any], rng: random.Random) -> int:
    low, high, low_open, high_open = _bounds(schema)
    first = math.floor(low) + 1 if low_open else math.ceil(low)
    last = math.ceil(high) - 1 if high_open else math.floor(high)
    step = schema.get("multipleOf")
    if isinstance(step, int) and step > 0:
        first_multiple = -(-first // step) * step
        count = (last - first_multiple) // step
        if count < 0:
            raise SchemaValueError(f"no multiple of {step} in [{low}, {high}]")
        return int(first_multiple + step * rng.randint(0, count))
    if last < first:
        raise SchemaValueError(f"no integer in [{low}, {high}]")
    return rng.randint(first, last)


def _number(schema: Mapping[str, Any], rng: random.Random) -> float | int:
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0:
        low, high, _, _ = _bounds(schema)
        first, last = math.ceil(low / step), math.floor(high / step)
        return round(step * rng.randint(first, max(first, last)), 10)
    low, high, low_open, high_open = _bounds(schema)
    value = round(low + (high - low) * rng.random(), 2)
    if (low_open and value <= low) or value < low:
        value = low + (high - low) / 2
    if (high_open and value >= high) or value > high:
        value = low + (high - low) / 2
    return value


def _sample_pattern(pattern: str, rng: random.Random) -> str | None:
    """A string matching ``pattern``, or None when the pattern is beyond this sampler."""
    try:
        import re._parser as sre_parse  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # Python 3.10
        import sre_parse  # type: ignore[no-redef,unused-ignore]

    try:
        parsed = sre_parse.parse(pattern)
        text = _emit(parsed, rng, sre_parse)
    except Exception:
        return None
    return text if re.search(pattern, text) else None


def _emit(items: Any, rng: random.Random, sre: Any) -> str:
    constants = sre if hasattr(sre, "LITERAL") else sre._constants
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append(_word(rng)[0])
        elif name == "IN":
            out.append(_emit_class(arg, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            high = low + 3 if high == constants.MAXREPEAT else high
            out.extend(_emit(sub, rng, sre) for _ in range(rng.randint(low, min(high, low + 3))))
        elif name == "SUBPATTERN":
            out.append(_emit(arg[-1], rng, sre))
        elif name == "BRANCH":
            options = arg[1]
            out.append(_emit(options[rng.randrange(len(options))], rng, sre))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise SchemaValueError(f"pattern element {name}")
    return "".join(out)


def _emit_class(arg: Any, rng: random.Random) -> str:
    choices: list[str] = []
    negated = False
    for op, value in arg:
        name = str(op)
        if name == "NEGATE":
            negated = True
        elif name == "LITERAL":
            choices.append(chr(value))
        elif name == "RANGE":
            low, high = value
            choices.extend(chr(c) for c in range(low, min(high, low + 25) + 1))
        elif name == "CATEGORY":
            category = str(value)
            if "DIGIT" in category and "NOT" not in category:
                choices.extend("0123456789")
            elif "SPACE" in category and "NOT" not in category:
                choices.append(" ")
            else:
                choices.extend("abcxyz")
    if negated:
        pool = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789" if c not in choices]
        return pool[rng.randrange(len(pool))]
    if not choices:
        raise SchemaValueError("empty character class")
    return choices[rng.randrange(len(choices))]


# ---------------------------------------------------------------------------------------------
# Checking


def first_violation(value: Any, schema: Any) -> str | None:
    """Why ``value`` breaks ``schema`` (with a JSON path), or None when it conforms."""
    if not isinstance(schema, Mapping):
        return None
    return _check(value, schema, schema, "$")


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    return True


def _check(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], at: str) -> str | None:
    schema = _resolve(schema, root)
    if "const" in schema and value != schema["const"]:
        return f"{at} must be {schema['const']!r}, got {value!r}"
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"{at} must be one of {enum!r}, got {value!r}"
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            reasons = [_check(value, b, root, at) for b in branches if isinstance(b, Mapping)]
            if all(reasons):
                return reasons[0]
    all_of = schema.get("allOf")
    if isinstance(all_of, list):
        for part in all_of:
            if isinstance(part, Mapping) and (reason := _check(value, part, root, at)):
                return reason
    types = _types(schema)
    if types and not any(_type_ok(value, t) for t in types):
        return f"{at} must be of type {' or '.join(types)}, got {type(value).__name__} {value!r}"
    if isinstance(value, dict):
        return _check_object(value, schema, root, at)
    if isinstance(value, list):
        return _check_array(value, schema, root, at)
    if isinstance(value, str):
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not re.search(pattern, value):
            return f"{at} must match the pattern {pattern!r}, got {value!r}"
        return _check_format(value, schema, at)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _check_number(value, schema, at)
    return None


def _check_object(
    value: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any], at: str
) -> str | None:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    for name in required if isinstance(required, list) else ():
        if name not in value:
            return f"{at} is missing the required property {name!r}"
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            sub = properties[name]
            if isinstance(sub, Mapping) and (reason := _check(item, sub, root, f"{at}.{name}")):
                return reason
        elif extra is False:
            return f"{at} has the property {name!r}, which the schema does not allow"
        elif isinstance(extra, Mapping) and (reason := _check(item, extra, root, f"{at}.{name}")):
            return reason
    return None


def _check_array(
    value: list[Any], schema: Mapping[str, Any], root: Mapping[str, Any], at: str
) -> str | None:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if isinstance(low, int) and len(value) < low:
        return f"{at} must have at least {low} items, got {len(value)}"
    if isinstance(high, int) and len(value) > high:
        return f"{at} must have at most {high} items, got {len(value)}"
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            if reason := _check(item, items, root, f"{at}[{index}]"):
                return reason
    return None


def _check_number(value: float, schema: Mapping[str, Any], at: str) -> str | None:
    checks: tuple[tuple[str, Callable[[float], bool], str], ...] = (
        ("minimum", lambda b: value >= b, ">="),
        ("maximum", lambda b: value <= b, "<="),
        ("exclusiveMinimum", lambda b: value > b, ">"),
        ("exclusiveMaximum", lambda b: value < b, "<"),
    )
    for key, holds, sign in checks:
        bound = schema.get(key)
        if isinstance(bound, (int, float)) and not holds(bound):
            return f"{at} must be {sign} {bound}, got {value!r}"
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0:
        ratio = value / step
        if abs(ratio - round(ratio)) > 1e-9:
            return f"{at} must be a multiple of {step}, got {value!r}"
    return None


_FORMAT_CHECKS: dict[str, Any] = {
    "date-time": lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")),
    "date": date.fromisoformat,
    "email": lambda s: _require(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", s)),
    "uuid": lambda s: _require(
        re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", s)
    ),
}


def _require(match: re.Match[str] | None) -> None:
    if match is None:
        raise ValueError


def _check_format(value: str, schema: Mapping[str, Any], at: str) -> str | None:
    fmt = schema.get("format")
    check = _FORMAT_CHECKS.get(fmt) if isinstance(fmt, str) else None
    if check is None:
        return None
    try:
        check(value)
    except ValueError:
        return f"{at} must be a {fmt} string, got {value!r}"
    return None
