"""Comparing the upstream's answer to the fake's, probe by probe, and naming what to update."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from minidouble._drift._observe import Observation
from minidouble._drift._probes import Probe

__all__ = ["Difference", "compare", "shape_differences", "token_rule"]

_ERROR_FIELDS = ("type", "code", "param", "message")


@dataclass(frozen=True)
class Difference:
    probe: str
    family: str
    aspect: str  # status, error.message, prompt_tokens, shape, headers ...
    real: Any
    fake: Any
    update: str  # the profile field or rule to update

    def as_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "family": self.family,
            "aspect": self.aspect,
            "real": self.real,
            "fake": self.fake,
            "update": self.update,
        }


def token_rule(probe: Probe) -> str:
    """The token rule a prompt-token difference points at: the probe's own, or the most
    specific feature its body uses."""
    if probe.token_field is not None or probe.family == "token accounting":
        return probe.rule
    body = probe.body if isinstance(probe.body, dict) else {}
    if body.get("tools") or body.get("functions"):
        return "TokenRules.tools_adjustment"
    format_type = (body.get("response_format") or {}).get("type")
    if format_type == "json_schema":
        return "TokenRules.response_format_overhead"
    return "TokenRules.per_message"


def compare(probe: Probe, real: Observation, fake: Observation) -> tuple[list[Difference], int]:
    """The differences, and how many aspects were compared."""
    found: list[Difference] = []

    def differ(aspect: str, real_value: Any, fake_value: Any, update: str) -> None:
        found.append(Difference(probe.name, probe.family, aspect, real_value, fake_value, update))

    if real.status != fake.status:
        differ("status", _status_line(real), _status_line(fake), probe.rule)
        return found, 1
    compared = 1
    if real.error is not None or fake.error is not None:
        real_error, fake_error = real.error or {}, fake.error or {}
        for name in _ERROR_FIELDS:
            compared += 1
            if real_error.get(name) != fake_error.get(name):
                update = probe.rule if name != "message" or probe.wording is None else (
                    f"ModelProfile.{probe.wording}"
                )  # fmt: skip
                differ(f"error.{name}", real_error.get(name), fake_error.get(name), update)
    if real.prompt_tokens is not None or fake.prompt_tokens is not None:
        compared += 1
        if real.prompt_tokens != fake.prompt_tokens:
            differ("prompt_tokens", real.prompt_tokens, fake.prompt_tokens, token_rule(probe))
    if probe.shape:
        compared += 1
        shape_diff = shape_differences(real.shape, fake.shape)
        if shape_diff:
            differ("shape", shape_diff["real"], shape_diff["fake"], probe.rule)
    if probe.headers:
        compared += 1
        real_view, fake_view = real.header_view(), fake.header_view()
        known = real.known_headers
        if known is not None:
            fake_view = {k: v for k, v in fake_view.items() if k in known}
        names = sorted(set(real_view) | set(fake_view))
        real_only = {n: real_view.get(n) for n in names if real_view.get(n) != fake_view.get(n)}
        if real_only:
            fake_side = {n: fake_view.get(n) for n in real_only}
            differ("headers", real_only, fake_side, "_wire.api_headers")
    return found, compared


def _status_line(observation: Observation) -> str:
    if observation.error is not None:
        error = observation.error
        return f"{observation.status} {error.get('code') or error.get('type')}: " + str(
            error.get("message")
        )
    return str(observation.status)


def shape_differences(real: Any, fake: Any) -> dict[str, Any] | None:
    """The first lines where two signatures differ, each side's version (None: same)."""
    if real == fake:
        return None
    real_lines = _shape_lines(real)
    fake_lines = _shape_lines(fake)
    only_real: list[str] = []
    only_fake: list[str] = []
    matcher = difflib.SequenceMatcher(a=real_lines, b=fake_lines, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag != "equal":
            only_real += real_lines[a0:a1]
            only_fake += fake_lines[b0:b1]
    return {"real": only_real[:12], "fake": only_fake[:12]}


def _shape_lines(shape: Any, path: str = "") -> list[str]:
    """One line per field, ``path: type`` in order: readable, and diffable line by line."""
    if isinstance(shape, list) and shape and shape[0] == "stream":
        lines = []
        for index, chunk in enumerate(shape[1:]):
            if isinstance(chunk, str):
                lines.append(f"chunk[{index}]: {chunk}")
            else:
                lines += _shape_lines(chunk, f"chunk[{index}]")
        return lines
    if isinstance(shape, list) and shape and shape[0] == "list":
        return [f"{path}[]"] + (_shape_lines(shape[1], f"{path}[]") if len(shape) > 1 else [])
    if isinstance(shape, list) and all(isinstance(i, list) and len(i) == 2 for i in shape):
        lines = []
        for key, value in shape:
            child = f"{path}.{key}" if path else str(key)
            if isinstance(value, list):
                if not value or value[0] != "list":
                    lines.append(f"{child}: object")
                lines += _shape_lines(value, child)
            else:
                lines.append(f"{child}: {value}")
        return lines
    return [f"{path}: {json.dumps(shape)}"]
