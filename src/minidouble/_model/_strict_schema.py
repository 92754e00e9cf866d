"""JSON Schema rules for function parameters and Structured Outputs (strict mode).

OpenAI reports schema problems as ``Invalid schema for <owner>: In context=(<path>), <problem>``
where the path is the Python tuple of keys from the schema's root (``('properties', 'a',
'items')``). The walk goes in the schema's own key order; the first problem reported
follows the real service: nesting depth on the way down, then each node's own rules after its
children's (post-order), so a nested object's missing ``required`` key is reported before the
root's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minidouble._model import _errors as err
from minidouble._model._profile import ModelProfile

__all__ = ["check_function_parameters", "check_strict_schema"]

Context = tuple[str | int, ...]
# What an omitted or empty ``parameters`` stands for: a function without arguments (an empty
# schema was answered, recorded 2026-01; ``{"type": "object"}`` alone is refused, recorded).
_NO_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}


def check_function_parameters(
    parameters: Mapping[str, Any] | None,
    *,
    name: str,
    strict: bool,
    param: str,
    profile: ModelProfile,
) -> None:
    """The rules every function's ``parameters`` obey, and the strict ones when ``strict``."""
    schema = parameters or _NO_PARAMETERS
    owner = f"function '{name}'"
    code = "invalid_function_parameters"
    _check_root(schema, owner=owner, param=param, code=code)
    if strict:
        check_strict_schema(schema, owner=owner, param=param, code=code, profile=profile)


def _check_root(schema: Mapping[str, Any], *, owner: str, param: str, code: str | None) -> None:
    kind = schema.get("type")
    if kind != "object":
        raise err.invalid_schema(
            owner,
            None,
            f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{kind}\"'.",
            param=param,
            code=code,
        )
    if "properties" not in schema:
        raise err.invalid_schema(
            owner, (), "object schema missing properties.", param=param, code=code
        )


def check_strict_schema(
    schema: Mapping[str, Any],
    *,
    owner: str,
    param: str,
    code: str | None,
    profile: ModelProfile,
) -> None:
    """Structured Outputs' rules and size limits (the profile's ``strict_schema``)."""
    _check_root(schema, owner=owner, param=param, code=code)
    walker = _StrictWalker(owner=owner, param=param, code=code, profile=profile)
    walker.walk(schema, (), 1)
    walker.check_totals()


class _StrictWalker:
    def __init__(self, *, owner: str, param: str, code: str | None, profile: ModelProfile):
        self.owner = owner
        self.param = param
        self.code = code
        self.limits = profile.strict_schema
        self.properties = 0
        self.string_chars = 0
        self.enum_values = 0

    def fail(self, context: Context | None, problem: str) -> err.OpenAIError:
        return err.invalid_schema(self.owner, context, problem, param=self.param, code=self.code)

    def walk(self, node: object, context: Context, depth: int) -> None:
        if not isinstance(node, Mapping):
            return
        is_object = _is_object_schema(node)
        if is_object and depth > self.limits.max_nesting:
            raise self.fail(
                context, f"{depth} levels of nesting exceeds limit of {self.limits.max_nesting}."
            )
        self._count_values(node, context)
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            for key, sub in properties.items():
                self.walk(sub, (*context, "properties", key), depth + 1)
        items = node.get("items")
        if isinstance(items, Mapping):
            self.walk(items, (*context, "items"), depth)
        for keyword in ("anyOf", "allOf", "oneOf"):
            variants = node.get(keyword)
            if isinstance(variants, list):
                for position, sub in enumerate(variants):
                    self.walk(sub, (*context, keyword, position), depth)
        for keyword in ("$defs", "definitions"):
            definitions = node.get(keyword)
            if isinstance(definitions, Mapping):
                for key, sub in definitions.items():
                    self.string_chars += len(str(key))
                    self.walk(sub, (*context, keyword, key), depth)
        # A node's own rules are checked after its children's: the real service reports
        # ('properties', 'key_people', 'items') before the root's missing 'required' keys.
        if is_object:
            self._check_object(node, context)
        for keyword in self.limits.forbidden_keywords:
            if keyword in node:
                raise self.fail(context, f"'{keyword}' is not permitted.")

    def _check_object(self, node: Mapping[str, Any], context: Context) -> None:
        if node.get("additionalProperties") is not False:
            raise self.fail(
                context, "'additionalProperties' is required to be supplied and to be false."
            )
        properties = node.get("properties")
        keys = list(properties) if isinstance(properties, Mapping) else []
        required = node.get("required")
        listed = required if isinstance(required, list) else []
        missing = [key for key in keys if key not in listed]
        if not isinstance(required, list) or missing:
            detail = f" Missing '{missing[0]}'." if missing else ""
            raise self.fail(
                context,
                "'required' is required to be supplied and to be an array including every key "
                f"in properties.{detail}",
            )
        self.properties += len(keys)
        self.string_chars += sum(len(str(key)) for key in keys)

    def _count_values(self, node: Mapping[str, Any], context: Context) -> None:
        enum = node.get("enum")
        if isinstance(enum, list):
            self.enum_values += len(enum)
            if len(enum) > self.limits.max_enum_values:
                raise self.fail(
                    context,
                    f"{len(enum)} enum values exceeds limit of {self.limits.max_enum_values}.",
                )
            chars = sum(len(value) for value in enum if isinstance(value, str))
            self.string_chars += chars
            if (
                len(enum) > self.limits.large_enum_threshold
                and chars > self.limits.large_enum_max_chars
            ):
                raise self.fail(
                    context,
                    f"enum with {len(enum)} values has {chars} characters of string values, "
                    f"exceeding the limit of {self.limits.large_enum_max_chars} for enums with "
                    f"more than {self.limits.large_enum_threshold} values.",
                )
        const = node.get("const")
        if isinstance(const, str):
            self.string_chars += len(const)

    def check_totals(self) -> None:
        if self.properties > self.limits.max_properties:
            raise self.fail(
                (),
                f"{self.properties} object properties exceeds limit of "
                f"{self.limits.max_properties}.",
            )
        if self.enum_values > self.limits.max_enum_values:
            raise self.fail(
                (),
                f"{self.enum_values} enum values in total exceeds limit of "
                f"{self.limits.max_enum_values}.",
            )
        if self.string_chars > self.limits.max_total_string_chars:
            raise self.fail(
                (),
                f"{self.string_chars} characters of property names, definition names, enum "
                f"values and const values exceeds limit of {self.limits.max_total_string_chars}.",
            )


def _is_object_schema(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind)
