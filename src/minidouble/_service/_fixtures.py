"""Fixture rules: standing answers a served fake gives every request that matches.

``minidouble serve --fixtures FILE`` reads a JSON or YAML file of rules, each a ``match`` and
an answer (``reply``: the keywords of ``fake.reply``; ``fail``: those of ``fake.fail``)::

    {"fixtures": [{"match": {"contains": "weather"}, "reply": {"text": "sunny"}}]}

Rules are not consumed; the first that matches answers. They rank below the session's own
scripts (queued ``reply``/``fail``, standing failures) and above a cassette and the default
engine reply. The whole file is checked at start-up so that a typo is a start-up error
naming the file, the rule and the key, never a surprise on the hundredth request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minidouble._endpoints._chat import CHAT
from minidouble._endpoints._protocol import Endpoint
from minidouble._endpoints._responses._handler import RESPONSES
from minidouble._service._faults import check_fail_arguments
from minidouble._service._script import ScriptedFailure, ScriptedReply, make_reply

__all__ = ["Fixture", "FixtureError", "Fixtures", "Match", "last_user_text", "load_fixtures"]

MATCH_KEYS = ("contains", "model", "tools", "endpoint")
REPLY_KEYS = ("text", "tool_calls", "json", "refusal")
# fake.fail's keywords that count or draw: a rule answers every match, so they mean nothing.
_COUNTING = ("times", "probability", "seed")
_ENDPOINTS: dict[str, Endpoint] = {"chat": CHAT, "responses": RESPONSES}


class FixtureError(ValueError):
    """A fixtures file that cannot be used; the message names the file, rule and key."""


@dataclass(frozen=True)
class Match:
    """What a request must show for a rule to answer it (every given key must hold)."""

    contains: str | None = None
    model: str | None = None
    tools: bool | None = None
    endpoint: str | None = None  # "chat", "responses", or a path such as "/v1/responses"

    def accepts(self, endpoint: Endpoint, path: str, body: Mapping[str, Any]) -> bool:
        if self.endpoint is not None:
            named = _ENDPOINTS.get(self.endpoint)
            if (endpoint is not named) if named is not None else (path != self.endpoint):
                return False
        if self.model is not None and body.get("model") != self.model:
            return False
        if self.tools is not None and bool(body.get("tools") or body.get("functions")) != (
            self.tools
        ):
            return False
        if self.contains is not None:
            return self.contains in last_user_text(body)
        return True


@dataclass(frozen=True)
class Fixture:
    """One rule: a match and exactly one of a reply or a failure."""

    index: int
    match: Match
    reply: ScriptedReply | None = None
    fail: tuple[int | str, Mapping[str, Any]] | None = None

    def describe(self) -> str:
        if self.reply is not None:
            return f"fixtures[{self.index}]: {self.reply.describe()}"
        return self.failure().describe()

    def failure(self) -> ScriptedFailure:
        """A fresh one-off failure for this request (the rule itself is never used up)."""
        assert self.fail is not None
        status, details = self.fail
        return ScriptedFailure(status, 1, dict(details), origin=f"fixtures[{self.index}]")


@dataclass(frozen=True)
class Fixtures:
    """The rules of one file, in order."""

    source: str
    rules: tuple[Fixture, ...]

    def match(self, endpoint: Endpoint, path: str, body: Any) -> Fixture | None:
        """The first rule that matches this request, or None."""
        if not isinstance(body, Mapping):
            return None
        for rule in self.rules:
            if rule.match.accepts(endpoint, path, body):
                return rule
        return None


def last_user_text(body: Mapping[str, Any]) -> str:
    """The text of the last user message (chat ``messages``) or user input (Responses
    ``input``), its text parts joined; "" when there is none."""
    items: Any = body.get("messages")
    if items is None:
        items = body.get("input")
        if isinstance(items, str):
            return items
    if not isinstance(items, list):
        return ""
    for item in reversed(items):
        if isinstance(item, Mapping) and item.get("role") == "user":
            return _text_of(item.get("content"))
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


# --- reading and checking a file ---------------------------------------------------------

_EXAMPLE = '{"fixtures": [{"match": {"contains": "weather"}, "reply": {"text": "sunny"}}]}'


def load_fixtures(path: str | os.PathLike[str]) -> Fixtures:
    """Read and check a fixtures file (``.yaml``/``.yml`` as YAML, anything else as JSON)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(
            f"minidouble: cannot read the fixtures file {name}: {exc.strerror}. Pass the path "
            "of a JSON or YAML file to --fixtures."
        ) from None
    except UnicodeDecodeError:
        raise FixtureError(
            f"minidouble: the fixtures file {name} is not UTF-8 text; expected JSON or YAML "
            f"such as {_EXAMPLE}."
        ) from None
    document = _parse(name, text)
    return parse_fixtures(document, name)


def _parse(name: str, text: str) -> Any:
    if name.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise FixtureError(
                f"minidouble: {name} is YAML, which needs PyYAML: pip install "
                "'minidouble[yaml]' (or write the fixtures as JSON)."
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
            raise FixtureError(
                f"minidouble: the fixtures file {name} is not valid YAML{at} "
                f"({getattr(exc, 'problem', None) or exc}). Fix the file; the format is "
                f"{_EXAMPLE} (in YAML or JSON)."
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"minidouble: the fixtures file {name} is not valid JSON ({exc.msg} at line "
            f"{exc.lineno}, column {exc.colno}). Fix the file (name it .yaml for YAML); the "
            f"format is {_EXAMPLE}."
        ) from None


def parse_fixtures(document: Any, name: str) -> Fixtures:
    """Check a parsed fixtures document; every error names ``name``, the rule and the key."""
    if not isinstance(document, Mapping) or set(document) != {"fixtures"}:
        got = sorted(document) if isinstance(document, Mapping) else type(document).__name__
        raise FixtureError(
            f"minidouble: {name}: expected an object with one key, fixtures (a list of "
            f"rules), got {got}. Example: {_EXAMPLE}."
        )
    rules = document["fixtures"]
    if not isinstance(rules, list):
        raise FixtureError(
            f"minidouble: {name}: fixtures must be a list of rules, got "
            f"{type(rules).__name__}. Example: {_EXAMPLE}."
        )
    return Fixtures(name, tuple(_rule(rule, index, name) for index, rule in enumerate(rules)))


def _rule(rule: Any, index: int, name: str) -> Fixture:
    where = f"{name}: fixtures[{index}]"
    if not isinstance(rule, Mapping):
        raise FixtureError(
            f"minidouble: {where}: expected a rule object with match and reply (or fail), "
            f"got {type(rule).__name__}."
        )
    _unknown(rule, ("match", "reply", "fail"), where)
    answers = [key for key in ("reply", "fail") if key in rule]
    if len(answers) != 1:
        raise FixtureError(
            f"minidouble: {where}: a rule needs exactly one of reply or fail, got "
            f"{answers or 'neither'}. Example: {_EXAMPLE}."
        )
    match = _match(rule.get("match", {}), f"{where}.match")
    if "reply" in rule:
        return Fixture(index, match, reply=reply_from(rule["reply"], f"{where}.reply"))
    keywords = failure_from(rule["fail"], f"{where}.fail")
    status = keywords.pop("status")
    return Fixture(index, match, fail=(status, keywords))


def _unknown(given: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    unknown = [key for key in given if key not in known]
    if not unknown:
        return
    import difflib

    key = unknown[0]
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise FixtureError(
        f"minidouble: {where}: unknown key {key!r}; expected {', '.join(known)}.{hint}"
    )


def _match(match: Any, where: str) -> Match:
    if not isinstance(match, Mapping):
        raise FixtureError(
            f'minidouble: {where}: expected an object such as {{"contains": "weather"}}, '
            f"got {type(match).__name__}."
        )
    _unknown(match, MATCH_KEYS, where)
    for key in ("contains", "model", "endpoint"):
        value = match.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise FixtureError(
                f"minidouble: {where}.{key}: expected a non-empty string, got {value!r}."
            )
    tools = match.get("tools")
    if tools is not None and not isinstance(tools, bool):
        raise FixtureError(
            f"minidouble: {where}.tools: expected true (the request offers tools) or false "
            f"(it offers none), got {tools!r}."
        )
    endpoint = match.get("endpoint")
    if endpoint is not None and endpoint not in _ENDPOINTS and not endpoint.startswith("/"):
        raise FixtureError(
            f"minidouble: {where}.endpoint: expected chat, responses or a path such as "
            f"/v1/chat/completions, got {endpoint!r}."
        )
    return Match(match.get("contains"), match.get("model"), tools, endpoint)


def reply_from(keywords: Any, where: str) -> ScriptedReply:
    """``fake.reply``'s keywords from JSON, checked as ``fake.reply`` checks them."""
    if not isinstance(keywords, Mapping):
        raise FixtureError(
            f'minidouble: {where}: expected the keywords of fake.reply such as {{"text": '
            f'"sunny"}}, got {type(keywords).__name__}.'
        )
    _unknown(keywords, REPLY_KEYS, where)
    try:
        return make_reply(
            keywords.get("text"),
            keywords.get("tool_calls"),
            keywords.get("json"),
            "json" in keywords,
            keywords.get("refusal"),
        )
    except TypeError as exc:
        raise FixtureError(f"minidouble: {where}: {_bare(exc)}") from None


def failure_from(keywords: Any, where: str, *, counting: bool = False) -> dict[str, Any]:
    """``fake.fail``'s keywords from JSON, checked as ``fake.fail`` checks them; returned as
    keywords for ``fail(**...)``. ``counting``: whether times/probability/seed are allowed."""
    if not isinstance(keywords, Mapping):
        raise FixtureError(
            f'minidouble: {where}: expected the keywords of fake.fail such as {{"status": '
            f"503}}, got {type(keywords).__name__}."
        )
    given = dict(keywords)
    if not counting:
        counted = [key for key in _COUNTING if key in given]
        if counted:
            raise FixtureError(
                f"minidouble: {where}: {counted[0]!r} does not apply to a fixture, which "
                "answers every request it matches; leave it out (or script a counted failure "
                "with POST /_minidouble/fail)."
            )
    status = given.pop("status", 429)
    times = given.pop("times", 1)
    probability = given.pop("probability", None)
    seed = given.pop("seed", 0)
    try:
        check_fail_arguments(status, times, probability, given)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"minidouble: fail(seed=...) takes an int, got {seed!r}.")
    except (TypeError, ValueError) as exc:
        raise FixtureError(f"minidouble: {where}: {_bare(exc)}") from None
    result: dict[str, Any] = {"status": status, **given}
    if counting:
        result.update(times=times, probability=probability, seed=seed)
    return result


def _bare(exc: Exception) -> str:
    return str(exc).removeprefix("minidouble: ")
