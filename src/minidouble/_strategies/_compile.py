"""``from_tool_schema``: a small compiler from the strict JSON Schema subset to strategies.

Values are built by construction, never filtered against the schema, because filtering a
nested object schema "doesn't finish at all" (hypothesis-jsonschema's own words). ``$ref``
cycles unroll to a depth budget: once it is spent, recursive ``anyOf`` branches disappear
and recursive arrays stay empty, so every value is finite and the shrinker sees short paths.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

from hypothesis import provisional
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from minidouble._strategies._common import JSON, Schema, fail

# Keywords that only describe: they never constrain a value.
_ANNOTATIONS = frozenset(
    {
        "description",
        "title",
        "default",
        "examples",
        "$comment",
        "$schema",
        "$id",
        "deprecated",
        "readOnly",
        "writeOnly",
        "strict",
        "$defs",
        "definitions",
    }
)
# What the compiler understands; anything else is refused rather than silently ignored.
_SUPPORTED = _ANNOTATIONS | {
    "type",
    "enum",
    "const",
    "anyOf",
    "$ref",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
}
_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
# Arrays stay short: a long list adds choices, not insight.
_EXTRA_ITEMS = 3
_EXTRA_CHARS = 20
_ZONES = (timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)))


def _duration() -> st.SearchStrategy[str]:
    """ISO 8601 durations as the JSON Schema ``duration`` format defines them."""

    @st.composite
    def build(draw: DrawFn) -> str:
        weeks = draw(st.booleans(), label="weeks")
        if weeks:
            return f"P{draw(st.integers(0, 52))}W"
        units = draw(
            st.lists(st.sampled_from("YMDHIS"), min_size=1, max_size=6, unique=True), label="units"
        )
        values = {
            unit: draw(st.integers(0, 99), label=unit) for unit in sorted(units, key="YMDHIS".index)
        }
        date_part = "".join(f"{values[u]}{u}" for u in "YMD" if u in values)
        time_part = "".join(f"{values[u]}{'M' if u == 'I' else u}" for u in "HIS" if u in values)
        return "P" + date_part + (f"T{time_part}" if time_part else "")

    return build()


def _format_strategy(name: str) -> st.SearchStrategy[str] | None:
    zones = st.sampled_from(_ZONES)
    if name == "date-time":
        return st.datetimes(datetime(1970, 1, 1), datetime(2100, 1, 1), timezones=zones).map(
            datetime.isoformat
        )
    if name == "date":
        return st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(date.isoformat)
    if name == "time":
        return st.times(timezones=zones).map(lambda t: t.isoformat())
    if name == "duration":
        return _duration()
    if name == "email":
        return st.emails()
    if name == "hostname":
        return provisional.domains()
    if name == "ipv4":
        return st.ip_addresses(v=4).map(str)
    if name == "ipv6":
        return st.ip_addresses(v=6).map(str)
    if name == "uuid":
        return st.uuids().map(str)
    # Unknown formats are annotations in JSON Schema, not assertions.
    return None


def _json_values() -> st.SearchStrategy[JSON]:
    leaves = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10)
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=5,
    )


def is_multiple(value: float, step: int | float) -> bool:
    """``multipleOf`` as JSON validators check it in floating point (jsonschema, ajv)."""
    if isinstance(step, float):
        quotient = value / step
        return math.isfinite(quotient) and int(quotient) == quotient
    return value % step == 0


class _Compiler:
    def __init__(self, root: Schema, max_recursion: int) -> None:
        self.root = root
        self.max_recursion = max_recursion
        self.refs: dict[tuple[str, int], st.SearchStrategy[JSON] | None] = {}

    def resolve(self, pointer: str) -> Any:
        if not pointer.startswith("#"):
            raise fail(
                f"from_tool_schema(): $ref {pointer!r} points outside the schema; only local "
                "references (#, #/$defs/...) are supported, as in strict mode."
            )
        node: Any = self.root
        for raw in [p for p in pointer[1:].split("/") if p]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise fail(f"from_tool_schema(): $ref {pointer!r} does not resolve in the schema.")
        return node

    def compile(self, schema: Any, budget: int) -> st.SearchStrategy[JSON] | None:
        """A strategy for ``schema``, or ``None`` when no finite value is left in the budget."""
        if schema is True:
            return _json_values()
        if schema is False:
            return None
        if not isinstance(schema, dict):
            raise fail(f"from_tool_schema(): expected a JSON Schema object, got {schema!r}.")
        unknown = sorted(set(schema) - _SUPPORTED)
        if unknown:
            raise fail(
                f"from_tool_schema(): unsupported keyword(s) {unknown}; the compiler covers the "
                "strict-mode subset (type, enum, const, anyOf, $ref, properties, items, bounds, "
                "pattern, format). Simplify the schema or generate values yourself."
            )
        if "$ref" in schema:
            return self._ref(schema, budget)
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            values = schema["enum"]
            if not isinstance(values, list) or not values:
                raise fail(f"from_tool_schema(): enum must be a non-empty list, got {values!r}.")
            return st.sampled_from(values)
        if "anyOf" in schema:
            return self._any_of(schema, budget)
        kinds = schema.get("type")
        if kinds is None:
            kinds = _implied_type(schema)
        if isinstance(kinds, str):
            kinds = [kinds]
        if not isinstance(kinds, list) or not all(kind in _TYPES for kind in kinds):
            raise fail(f"from_tool_schema(): unknown type {schema.get('type')!r}.")
        # null first, so an optional value shrinks to null.
        ordered = sorted(set(kinds), key=_TYPES.index)
        branches = [self._typed(kind, schema, budget) for kind in ordered]
        usable = [branch for branch in branches if branch is not None]
        return st.one_of(usable) if usable else None

    def _ref(self, schema: Schema, budget: int) -> st.SearchStrategy[JSON] | None:
        _refuse_siblings(
            schema,
            "$ref",
            "is ambiguous; strict mode refuses it. Move the constraints into "
            "the referenced definition.",
        )
        pointer = schema["$ref"]
        if budget == 0:
            return None
        key = (pointer, budget)
        if key not in self.refs:
            target = self.resolve(pointer)
            self.refs[key] = None  # a cycle at the same budget has no finite value
            self.refs[key] = self.compile(target, budget - 1)
        return self.refs[key]

    def _any_of(self, schema: Schema, budget: int) -> st.SearchStrategy[JSON] | None:
        _refuse_siblings(
            schema, "anyOf", "is not supported; put the constraints inside each anyOf branch."
        )
        options = schema["anyOf"]
        if not isinstance(options, list) or not options:
            raise fail(f"from_tool_schema(): anyOf must be a non-empty list, got {options!r}.")
        nulls = [o for o in options if isinstance(o, dict) and o.get("type") == "null"]
        others = [o for o in options if o not in nulls]
        compiled = [self.compile(option, budget) for option in [*nulls, *others]]
        usable = [branch for branch in compiled if branch is not None]
        return st.one_of(usable) if usable else None

    def _typed(self, kind: str, schema: Schema, budget: int) -> st.SearchStrategy[JSON] | None:
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            return _integers(schema)
        if kind == "number":
            return _numbers(schema)
        if kind == "string":
            return _strings(schema)
        if kind == "array":
            return self._array(schema, budget)
        return self._object(schema, budget)

    def _array(self, schema: Schema, budget: int) -> st.SearchStrategy[JSON] | None:
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", low + _EXTRA_ITEMS))
        if low > high:
            return None
        high = min(high, low + _EXTRA_ITEMS)
        items = self.compile(schema.get("items", True), budget)
        if items is None:
            return st.just([]) if low == 0 else None
        if schema.get("uniqueItems") is True:
            return st.lists(items, min_size=low, max_size=high, unique_by=_canonical)
        return st.lists(items, min_size=low, max_size=high)

    def _object(self, schema: Schema, budget: int) -> st.SearchStrategy[JSON] | None:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(properties, dict) or not isinstance(required, list):
            raise fail("from_tool_schema(): properties must be an object and required a list.")
        needed: dict[str, st.SearchStrategy[JSON]] = {}
        optional: dict[str, st.SearchStrategy[JSON]] = {}
        for key, subschema in properties.items():
            compiled = self.compile(subschema, budget)
            if key in required:
                if compiled is None:
                    return None
                needed[key] = compiled
            elif compiled is not None:
                optional[key] = compiled
        for key in required:
            if key not in properties:
                extra = schema.get("additionalProperties", True)
                compiled = self.compile(extra, budget)
                if compiled is None:
                    return None
                needed[key] = compiled
        order = {key: index for index, key in enumerate([*properties, *required])}
        # Keys in the schema's order: the model writes them in that order.
        return st.fixed_dictionaries(needed, optional=optional).map(
            lambda value: dict(sorted(value.items(), key=lambda item: order[item[0]]))
        )


def _refuse_siblings(schema: Schema, keyword: str, advice: str) -> None:
    siblings = sorted(set(schema) - _ANNOTATIONS - {keyword})
    if siblings:
        raise fail(f"from_tool_schema(): {keyword} next to {siblings} {advice}")


def _canonical(value: JSON) -> str:
    return json.dumps(value, sort_keys=True)


def _implied_type(schema: Schema) -> list[str]:
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return ["object"]
    if "items" in schema or "minItems" in schema or "maxItems" in schema:
        return ["array"]
    if {"pattern", "format", "minLength", "maxLength"} & set(schema):
        return ["string"]
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"} & set(schema):
        return ["number"]
    return list(_TYPES)


def _bounds(schema: Schema) -> tuple[float | None, bool, float | None, bool]:
    """(low, low is exclusive, high, high is exclusive), for draft 4 and 2020-12 spellings."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open = high_open = False
    exclusive_min, exclusive_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if exclusive_min is True:
        low_open = True
    elif isinstance(exclusive_min, (int, float)) and (low is None or exclusive_min >= low):
        low, low_open = exclusive_min, True
    if exclusive_max is True:
        high_open = True
    elif isinstance(exclusive_max, (int, float)) and (high is None or exclusive_max <= high):
        high, high_open = exclusive_max, True
    return low, low_open, high, high_open


def _integer_range(schema: Schema) -> tuple[int | None, int | None]:
    low, low_open, high, high_open = _bounds(schema)
    first = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
    last = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
    return first, last


def _multiples(first: int | None, last: int | None, step: int) -> st.SearchStrategy[int] | None:
    """Integers ``k * step`` in [first, last]; shrinks towards the multiple nearest 0."""
    k_low = None if first is None else -((-first) // step)
    k_high = None if last is None else last // step
    if k_low is not None and k_high is not None and k_low > k_high:
        return None
    return st.integers(k_low, k_high).map(lambda k: k * step)


def _integers(schema: Schema) -> st.SearchStrategy[JSON] | None:
    first, last = _integer_range(schema)
    if first is not None and last is not None and first > last:
        return None
    step = schema.get("multipleOf")
    if step is None:
        return st.integers(first, last)
    if not isinstance(step, (int, float)) or isinstance(step, bool) or step <= 0:
        raise fail(f"from_tool_schema(): multipleOf must be a positive number, got {step!r}.")
    # An integer multiple of p/q (in lowest terms) is exactly a multiple of p.
    fraction = Fraction(str(step))
    values = _multiples(first, last, fraction.numerator)
    if values is None:
        return None
    return values if fraction.denominator == 1 else values.filter(lambda v: is_multiple(v, step))


def _numbers(schema: Schema) -> st.SearchStrategy[JSON] | None:
    step = schema.get("multipleOf")
    low, low_open, high, high_open = _bounds(schema)
    if step is not None:
        if not isinstance(step, (int, float)) or isinstance(step, bool) or step <= 0:
            raise fail(f"from_tool_schema(): multipleOf must be a positive number, got {step!r}.")
        exact = Decimal(repr(step))

        def scaled(k: int) -> int | float:
            value = Decimal(k) * exact
            return int(value) if value == value.to_integral_value() else float(value)

        def in_range(value: float) -> bool:
            above = low is None or (value > low if low_open else value >= low)
            below = high is None or (value < high if high_open else value <= high)
            return above and below

        k_low = None if low is None else math.floor(Decimal(repr(low)) / exact) - 1
        k_high = None if high is None else math.ceil(Decimal(repr(high)) / exact) + 1
        # Exact decimals (0.3, not 0.30000000000000004) that floating-point checks accept too.
        return (
            st.integers(k_low, k_high)
            .map(scaled)
            .filter(lambda v: in_range(v) and is_multiple(v, step))
        )
    first, last = _integer_range(schema)
    whole: st.SearchStrategy[JSON] | None = None
    if first is None or last is None or first <= last:
        whole = st.integers(first, last)
    if (
        low is not None
        and high is not None
        and (low > high or (low == high and (low_open or high_open)))
    ):
        return whole
    fractional = st.floats(
        min_value=low,
        max_value=high,
        exclude_min=low_open and low is not None,
        exclude_max=high_open and high is not None,
        allow_nan=False,
        allow_infinity=False,
    )
    # Whole numbers first: a model writes 3 rather than 3.0, and 0 is the simplest value.
    return fractional if whole is None else whole | fractional


def _strings(schema: Schema) -> st.SearchStrategy[JSON]:
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    pattern = schema.get("pattern")
    named = schema.get("format")
    base = _format_strategy(named) if isinstance(named, str) else None
    if pattern is not None:
        try:
            compiled = re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise fail(f"from_tool_schema(): pattern {pattern!r} does not compile: {exc}.") from exc
        # JSON Schema patterns match anywhere in the string, like re.search.
        base = (
            st.from_regex(compiled) if base is None else base.filter(lambda s: compiled.search(s))
        )
    if base is None:
        return st.text(min_size=low, max_size=(low + _EXTRA_CHARS) if high is None else int(high))
    if low or high is not None:
        return base.filter(lambda s: low <= len(s) and (high is None or len(s) <= high))
    return base


@lru_cache(maxsize=256)
def _compiled(schema_json: str, max_recursion: int) -> st.SearchStrategy[JSON]:
    schema = json.loads(schema_json)
    strategy = _Compiler(schema, max_recursion).compile(schema, max_recursion)
    if strategy is None:
        raise fail(
            "from_tool_schema(): the schema has no finite value within "
            f"max_recursion={max_recursion} (every path recurses forever or a constraint is "
            "unsatisfiable). Give recursion an exit (anyOf with null, or an array that may be "
            "empty) or raise max_recursion."
        )
    return strategy


def _schema_key(schema: object, what: str) -> str:
    try:
        return json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise fail(f"{what}: the schema is not JSON ({exc}).") from exc


@st.composite
def from_tool_schema(draw: DrawFn, schema: Schema, *, max_recursion: int = 4) -> JSON:
    """Values valid for ``schema``: the arguments a model would send for these parameters.

    Covers the strict-mode subset and the usual non-strict keywords: ``type`` (one or a list),
    ``enum`` (in schema order), ``const``, ``anyOf`` (``null`` first), local ``$ref`` with
    recursion unrolled at most ``max_recursion`` times, ``properties``/``required`` (keys in
    schema order), ``items``/``minItems``/``maxItems``/``uniqueItems``, numeric bounds and
    ``multipleOf``, ``pattern`` (matched anywhere, as JSON Schema says), the nine
    strict-mode ``format`` values, ``minLength``/``maxLength``. Anything else raises
    ``InvalidArgument`` when drawn.

    Shrinks towards the first enum value, ``null``, ``0``, ``""`` and ``[]``.
    """
    if isinstance(max_recursion, bool) or not isinstance(max_recursion, int) or max_recursion < 0:
        raise fail(f"from_tool_schema(): max_recursion={max_recursion!r} must be an integer >= 0.")
    strategy = _compiled(_schema_key(schema, "from_tool_schema()"), max_recursion)
    return draw(strategy)


def compile_parameters(parameters: Schema | None) -> st.SearchStrategy[JSON]:
    """Arguments for a function whose ``parameters`` may be omitted (then: no arguments)."""
    if parameters is None:
        return st.just({})
    return from_tool_schema(parameters)
