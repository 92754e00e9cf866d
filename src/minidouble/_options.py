"""The fake's options: one typed definition that every surface reads.

:class:`Options` lists every keyword ``FakeGPT4oMini`` takes, with its type and default. Each
field's metadata (an :class:`OptionSpec`) says where else the option is exposed (the
``gpt4o_mini`` marker, ``[tool.minidouble]``, a ``--minidouble-*`` pytest option, a
``minidouble serve --kebab-case`` flag), its help text, and how a string from a command line
becomes the typed value. The plugin and the CLI generate their options from it, so the
surfaces cannot disagree; ``tests/test_options.py`` checks the constructor's and
:func:`mark`'s signatures against it.

Values are parsed where they enter (a command line, a TOML file, a marker, the constructor)
and errors name that source; the handler below receives typed values only. Precedence,
lowest first: the defaults, ``[tool.minidouble]``, markers (the closest wins), the command
line.

This module is imported at pytest start-up: it must stay light (no pytest, no profile).
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    import pytest

    from minidouble._model._profile import ModelProfile

__all__ = [
    "SERVE_ONLY",
    "BatchTimingMode",
    "CassetteTiming",
    "LatencyMode",
    "OptionError",
    "OptionSpec",
    "Options",
    "RecordMode",
    "Surface",
    "mark",
]

LatencyMode = Literal["instant", "realistic"]
RecordMode = Literal["none", "once", "new_episodes", "all"]
CassetteTiming = Literal["off", "recorded"]
LogLevel = Literal["debug", "info", "warning", "error"]
BatchTimingMode = Literal["fast", "realistic"]
# Where an option is exposed besides the constructor: "marker" (@pytest.mark.gpt4o_mini and
# minidouble.mark), "ini" ([tool.minidouble] in pyproject.toml), "pytest" (--minidouble-*),
# "serve" (minidouble serve --kebab-case).
Surface = Literal["marker", "ini", "pytest", "serve"]


class OptionError(ValueError):
    """An option value that cannot be used; the message names where it came from."""


class _Invalid(Exception):
    """Raised by a kind's check or parse; the caller adds the source and the value."""


# --- kinds of values: how a Python value is checked and a string parsed -------------------


@dataclass(frozen=True)
class _Kind:
    expected: str  # "a whole number >= 1 such as 500": completes "expected ..."
    check: Callable[[Any], Any]  # a Python value -> the normalised value, or _Invalid
    parse: Callable[[str], Any]  # a string from a command line or TOML -> the same


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid
    return value


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _Invalid


def _whole(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid
        return value

    return check


def _parse_whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text.strip())
        except ValueError:
            raise _Invalid from None
        return _whole(minimum)(number)

    return parse


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid
    if not (math.isfinite(value) and value > 0):
        raise _Invalid
    return float(value)


def _parse_positive_number(text: str) -> float:
    try:
        number = float(text.strip())
    except ValueError:
        raise _Invalid from None
    return _positive_number(number)


def _dollars(value: Any) -> Decimal:
    if isinstance(value, str):
        return _parse_dollars(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise _Invalid
    amount = Decimal(str(value))  # str(): 0.1 is ten cents, not 0.1000000000000000055...
    if not amount.is_finite() or amount < 0:
        raise _Invalid
    return amount


def _parse_dollars(text: str) -> Decimal:
    try:
        amount = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise _Invalid from None
    if not amount.is_finite() or amount < 0:
        raise _Invalid
    return amount


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise _Invalid
    return value


def _choice(literal: Any) -> _Kind:
    choices: tuple[str, ...] = get_args(literal)

    def check(value: Any) -> str:
        if value not in choices or not isinstance(value, str):
            raise _Invalid
        return value

    return _Kind(f"one of {', '.join(map(repr, choices))}", check, lambda text: check(text.strip()))


def _names(value: Any) -> tuple[str, ...]:
    # A lone string is a common slip for a one-name list: take it as one name, not letters.
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise _Invalid
    names = tuple(items)
    if not all(isinstance(name, str) and name for name in names):
        raise _Invalid
    return names


def _path(value: Any) -> str | os.PathLike[str]:
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)) or not str(value):
        raise _Invalid
    return value


def _callable(value: Any) -> Callable[[], float]:
    if not callable(value):
        raise _Invalid
    return value  # type: ignore[no-any-return]


def _profile(value: Any) -> ModelProfile:
    from minidouble._model._profile import ModelProfile

    if not isinstance(value, ModelProfile):
        raise _Invalid
    return value


def _batch_timing(value: Any) -> BatchTimingMode | Mapping[str, float]:
    # The schedule's rules live with the batches (imported only when the option is given).
    from minidouble._endpoints._batch._store import timing_from

    if not isinstance(value, (str, Mapping)):
        raise _Invalid
    try:
        timing_from(value, manual_clock=False)
    except ValueError:
        raise _Invalid from None
    return value if isinstance(value, str) else dict(value)  # type: ignore[return-value]


def _parse_batch_timing(text: str) -> BatchTimingMode | Mapping[str, float]:
    # "fast", "realistic", or phase seconds: "per_line=3600,validating=1".
    text = text.strip()
    if "=" not in text:
        return _batch_timing(text)
    phases: dict[str, float] = {}
    for part in text.split(","):
        name, _, seconds = part.partition("=")
        try:
            phases[name.strip()] = float(seconds)
        except ValueError:
            raise _Invalid from None
    return _batch_timing(phases)


def _no_string(text: str) -> Any:
    raise _Invalid  # a Python object (a clock, a profile): no command line can spell it


_BOOL = _Kind("True or False (on a command line or in TOML: true or false)", _bool, _parse_bool)
_RATE = _Kind(
    "a whole number >= 1 such as 500 (the real tier-1 limits are 500 requests and 200000 "
    "tokens per minute)",
    _whole(1),
    _parse_whole(1),
)
_TOKENS = _Kind("a whole number >= 0 such as 5000", _whole(0), _parse_whole(0))
_SPEEDUP = _Kind(
    "a number above 0 such as 10 (10 makes every simulated wait ten times shorter)",
    _positive_number,
    _parse_positive_number,
)
_DOLLARS = _Kind("an amount of dollars >= 0 such as 0.01", _dollars, _parse_dollars)
_KEY = _Kind("a non-empty string", _text, _text)
_URL = _Kind("a base URL starting with http:// or https://", _url, _url)
_NAMES = _Kind("a list of non-empty names", _names, lambda text: _names((_text(text),)))
_POINTERS = _Kind(
    'a list of JSON pointers such as ["/metadata/run_id"]', _names, lambda text: (_text(text),)
)
_PATH = _Kind("a file path such as 'cassettes/chat.json'", _path, _text)
_CLOCK = _Kind("a callable returning seconds, such as time.monotonic", _callable, _no_string)
_PROFILE = _Kind("a minidouble.ModelProfile", _profile, _no_string)
_BATCH_TIMING = _Kind(
    "'fast', 'realistic', or seconds per phase (validating, startup, per_line, finalizing, "
    "cancelling) such as {'per_line': 3600} (on a command line: per_line=3600)",
    _batch_timing,
    _parse_batch_timing,
)


# --- the definition ----------------------------------------------------------------------


@dataclass(frozen=True)
class OptionSpec:
    """Where one option is exposed, its help text and how its values are read."""

    kind: _Kind
    help: str
    default_doc: str  # the default, as the docs table says it
    where: frozenset[Surface]
    metavar: str = "VALUE"
    example: str = ""  # a value as typed on a command line, for the docs' tables
    # A list option's flags take one item each and repeat: --azure-deployment A --azure-...
    flag_name: str | None = None
    # Configures the cassette: meaningless (and refused) without one.
    needs_cassette: bool = False

    def parse(self, text: str, source: str) -> Any:
        """A command-line or TOML string as the typed value; errors name ``source``."""
        try:
            return self.kind.parse(text)
        except _Invalid:
            raise OptionError(
                f"minidouble: {source}: expected {self.kind.expected}, got {text!r}."
            ) from None

    def check(self, value: Any, source: str) -> Any:
        """A Python value (constructor, marker, TOML), checked and normalised."""
        try:
            return self.kind.check(value)
        except _Invalid:
            raise OptionError(
                f"minidouble: {source}: expected {self.kind.expected}, got {value!r}."
            ) from None


_EVERYWHERE: frozenset[Surface] = frozenset({"marker", "ini", "pytest", "serve"})
_PYTEST: frozenset[Surface] = frozenset({"marker", "ini", "pytest"})
_PYTHON: frozenset[Surface] = frozenset({"marker"})


def _spec(kind: _Kind, help: str, default_doc: str, **spec: Any) -> dict[str, OptionSpec]:
    """A field's metadata: where the option is exposed (everywhere unless ``where=``)."""
    where = spec.pop("where", _EVERYWHERE)
    return {"minidouble": OptionSpec(kind, help, default_doc, where, **spec)}


@dataclass(frozen=True)
class Options:
    """Every keyword of ``FakeGPT4oMini``, typed; built and checked at the edges."""

    allow_unused: bool = field(
        default=False,
        metadata=_spec(
            _BOOL,
            "let a test end with scripted replies or failures that no request consumed",
            "`False`",
            where=_PYTEST,
        ),
    )
    api_key: str | None = field(
        default=None,
        metadata=_spec(
            _KEY,
            "the only API key accepted; others get the real invalid_api_key 401",
            "any non-empty key",
            metavar="KEY",
            example="sk-project-key",
        ),
    )
    azure_deployments: Collection[str] | None = field(
        default=None,
        metadata=_spec(
            _NAMES,
            "deployment names of the fake Azure resource (a flag takes one and repeats); "
            "others get Azure's DeploymentNotFound",
            "every name exists",
            metavar="NAME",
            example="my-gpt-4o-mini",
            flag_name="azure-deployment",
        ),
    )
    stream_obfuscation: bool = field(
        default=True,
        metadata=_spec(
            _BOOL,
            "whether stream chunks carry the real obfuscation padding when the request does "
            "not say",
            "`True`",
        ),
    )
    requests_per_minute: int | None = field(
        default=None,
        metadata=_spec(
            _RATE,
            "enforce this requests-per-minute limit with the real 429s and x-ratelimit-* headers",
            "not enforced",
            metavar="N",
            example="500",
        ),
    )
    tokens_per_minute: int | None = field(
        default=None,
        metadata=_spec(
            _RATE,
            "enforce this tokens-per-minute limit with the real 429s and x-ratelimit-* headers",
            "not enforced",
            metavar="N",
            example="200000",
        ),
    )
    clock: Callable[[], float] | None = field(
        default=None,
        metadata=_spec(
            _CLOCK,
            "the time source in seconds of the rate limiter, the prompt cache and batches, "
            "for deterministic tests",
            "`time.monotonic`",
            where=_PYTHON,
        ),
    )
    latency: LatencyMode = field(
        default="instant",
        metadata=_spec(
            _choice(LatencyMode),
            "'instant', or 'realistic': the real time to first token, then about 202 tokens/s",
            '`"instant"`',
            metavar="MODE",
            example="realistic",
        ),
    )
    latency_speedup: float = field(
        default=1.0,
        metadata=_spec(
            _SPEEDUP,
            "divide every simulated wait by this factor",
            "`1`",
            metavar="FACTOR",
            example="10",
        ),
    )
    budget_usd: Decimal | float | str | None = field(
        default=None,
        metadata=_spec(
            _DOLLARS,
            "what the requests may cost in dollars at the profile's prices; more fails the "
            "test (minidouble serve reports it at exit, with status 1)",
            "none",
            metavar="DOLLARS",
            example="0.05",
        ),
    )
    budget_tokens: int | None = field(
        default=None,
        metadata=_spec(
            _TOKENS,
            "how many tokens the requests may use; more fails the test (minidouble serve "
            "reports it at exit, with status 1)",
            "none",
            metavar="N",
            example="50000",
        ),
    )
    prompt_caching: bool = field(
        default=True,
        metadata=_spec(
            _BOOL,
            "report cached_tokens as the real API's automatic prompt cache does (prompts of "
            "1,024+ tokens sharing a prefix with a recent request), billed at the cached price",
            "`True`",
        ),
    )
    batch_timing: BatchTimingMode | Mapping[str, float] | None = field(
        default=None,
        metadata=_spec(
            _BATCH_TIMING,
            "how long Batch API jobs take on the fake's clock: 'fast' (well under a second), "
            "'realistic' (about a minute, 605 s to cancel) or seconds per phase",
            '`"fast"` (`"realistic"` with a `clock`)',
            metavar="TIMING",
            example="realistic",
        ),
    )
    profile: ModelProfile | None = field(
        default=None,
        metadata=_spec(
            _PROFILE,
            "the model profile the fake enforces (None: GPT4O_MINI)",
            "`GPT4O_MINI`",
            where=_PYTHON,
        ),
    )
    cassette: str | os.PathLike[str] | None = field(
        default=None,
        metadata=_spec(
            _PATH,
            "answer from this recorded session (a JSON cassette file); record_mode says what "
            "is recorded (on the marker, True names the file after the test)",
            "no cassette",
            where=frozenset({"marker", "serve"}),
            metavar="FILE",
            example="cassettes/chat.json",
        ),
    )
    record_mode: RecordMode = field(
        default="none",
        metadata=_spec(
            _choice(RecordMode),
            "cassette record mode: none (replay only), once, new_episodes or all",
            '`"none"`',
            metavar="MODE",
            example="once",
            needs_cassette=True,
        ),
    )
    upstream: str | None = field(
        default=None,
        metadata=_spec(
            _URL,
            "where recordings are made (default: the host the request named; for a loopback "
            "request https://api.openai.com/v1)",
            "the request's host",
            metavar="URL",
            example="https://api.openai.com/v1",
            needs_cassette=True,
        ),
    )
    cassette_ignore: Sequence[str] = field(
        default=(),
        metadata=_spec(
            _POINTERS,
            "JSON pointers left out of cassette matching, such as /metadata/run_id or "
            "/messages/*/name (a flag takes one and repeats)",
            "none",
            metavar="POINTER",
            example="/metadata/run_id",
            needs_cassette=True,
        ),
    )
    cassette_strict: bool = field(
        default=False,
        metadata=_spec(
            _BOOL,
            "fail on unused cassette interactions and drifted usage instead of warning",
            "`False`",
            needs_cassette=True,
        ),
    )
    cassette_timing: CassetteTiming = field(
        default="off",
        metadata=_spec(
            _choice(CassetteTiming),
            "'off' replays instantly; 'recorded' waits as long as the upstream took",
            '`"off"`',
            metavar="TIMING",
            example="recorded",
            needs_cassette=True,
        ),
    )
    fixtures: str | os.PathLike[str] | None = field(
        default=None,
        metadata=_spec(
            _PATH,
            "a JSON or YAML file of rules answering the requests they match, below the "
            "session's own scripts (on the marker, a relative path is taken from the test "
            "file's directory)",
            "no fixtures",
            where=frozenset({"marker", "serve"}),
            metavar="FILE",
            example="fixtures.yaml",
        ),
    )

    def __post_init__(self) -> None:
        # Checked here too, so an Options built in code holds only valid values; values
        # already checked where they entered pass unchanged.
        for name, value in check_values(vars(self), lambda name: f"Options({name}=...)").items():
            object.__setattr__(self, name, value)
        if self.cassette is None:
            given = [name for name in cassette_only() if getattr(self, name) != _DEFAULTS[name]]
            if given:
                verb = "configures" if len(given) == 1 else "configure"
                # A TypeError, as before: the keywords do not go together.
                raise TypeError(
                    f"minidouble: {', '.join(given)} {verb} a cassette; pass "
                    "cassette='cassettes/<name>.json' too (or --cassette FILE to minidouble "
                    "serve; see docs/cassettes.md)."
                )

    def given(self) -> dict[str, Any]:
        """The options that differ from their defaults (what a ``repr`` needs)."""
        return {
            name: getattr(self, name) for name in SPECS if getattr(self, name) != _DEFAULTS[name]
        }

    def __repr__(self) -> str:
        given = ", ".join(f"{name}={value!r}" for name, value in self.given().items())
        return f"Options({given})"


SPECS: dict[str, OptionSpec] = {f.name: f.metadata["minidouble"] for f in fields(Options)}
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Options)}


def exposed(surface: Surface) -> list[str]:
    """The options exposed on ``surface``, in definition order."""
    return [name for name, spec in SPECS.items() if surface in spec.where]


def check_names(names: Iterable[str], where: str = "FakeGPT4oMini") -> None:
    """Refuse keywords that are not options, suggesting the closest spelling."""
    unknown = sorted(set(names) - set(SPECS))
    if not unknown:
        return
    import difflib

    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, SPECS, n=1)
        if close:
            hints.append(f"{name} -> {close[0]}")
    hint = f" Did you mean {'; '.join(hints)}?" if hints else ""
    raise TypeError(
        f"minidouble: {where} got unknown option(s) {', '.join(unknown)}; it accepts "
        f"{', '.join(sorted(SPECS))}.{hint} Check the spelling (the gpt4o_mini marker takes "
        "the same keywords)."
    )


def check_value(name: str, value: Any, source: str) -> Any:
    """One Python value for option ``name``, checked and normalised; errors name ``source``."""
    if value is None and _DEFAULTS[name] is None:
        return None
    return SPECS[name].check(value, source)


def check_values(values: Mapping[str, Any], source: Callable[[str], str]) -> dict[str, Any]:
    """Python values (a constructor's or a marker's keywords), checked and normalised;
    ``source(name)`` names their origin in errors."""
    return {name: check_value(name, value, source(name)) for name, value in values.items()}


def parse_values(values: Mapping[str, Any], source: Callable[[str], str]) -> dict[str, Any]:
    """Values from a TOML table: strings are read as on a command line
    (``stream_obfuscation = "false"`` is false, not a true-ish string), the rest checked."""
    return {
        name: SPECS[name].parse(value, source(name))
        if isinstance(value, str)
        else check_value(name, value, source(name))
        for name, value in values.items()
    }


def cassette_only() -> list[str]:
    """Options that configure a cassette (dropped for tests that use none)."""
    return [name for name, spec in SPECS.items() if spec.needs_cassette]


# --- command lines: pytest's --minidouble-* and minidouble serve --kebab-case ---------------


@dataclass(frozen=True)
class ServeFlag:
    """A ``minidouble serve`` flag that is not a ``FakeGPT4oMini`` option (host, port...).

    Adding one is one entry in :data:`SERVE_ONLY`; ``_cli._serve`` reads it from the parsed
    arguments by ``name``.
    """

    name: str
    help: str
    default: Any
    kind: _Kind
    metavar: str = "VALUE"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        try:
            return self.kind.parse(text)
        except _Invalid:
            raise OptionError(
                f"minidouble: {self.flag}: expected {self.kind.expected}, got {text!r}."
            ) from None


_HOST = _Kind("a host name or address such as 127.0.0.1", _text, _text)


def _port(value: Any) -> int:
    port = _whole(0)(value)
    if port > 65535:
        raise _Invalid
    return port


_PORT = _Kind(
    "a port number from 0 (any free port) to 65535",
    _port,
    lambda text: _port(_parse_whole(0)(text)),
)

SERVE_ONLY: tuple[ServeFlag, ...] = (
    ServeFlag("host", "interface to listen on (default 127.0.0.1)", "127.0.0.1", _HOST, "HOST"),
    ServeFlag("port", "port, 0 for any free one (default 8000)", 8000, _PORT, "PORT"),
    ServeFlag(
        "log_level",
        "info logs one line per request; warning (the default) only problems",
        "warning",
        _choice(LogLevel),
        "LEVEL",
    ),
)


def flag(name: str, prefix: str = "--") -> str:
    """The command-line flag of option ``name``: ``--requests-per-minute``."""
    spec = SPECS[name]
    return prefix + (spec.flag_name or name.replace("_", "-"))


def _dest(name: str, prefix: str) -> str:
    return prefix + name


def add_arguments(add: Callable[..., Any], surface: Surface, prefix: str, dest: str) -> None:
    """Add every option of ``surface`` to an argparse-like parser through ``add``.

    Switches come as ``--x`` and ``--no-x`` (so a command line can undo a TOML ``true``); list
    options repeat; every value is kept as the string typed and parsed by
    :func:`parsed_arguments`, so errors name the flag and say what was expected.
    """
    for name in exposed(surface):
        spec = SPECS[name]
        described = f"{spec.help} (default: {spec.default_doc.strip('`')})"
        common: dict[str, Any] = {"dest": _dest(name, dest), "default": None, "help": described}
        if spec.kind is _BOOL:
            # --x and --no-x under the surface's one prefix (--minidouble-no-x, not --no-...)
            add(flag(name, prefix), action="store_const", const=True, **common)
            opposite = {**common, "help": f"the opposite of {flag(name, prefix)}"}
            add(flag(name, prefix + "no-"), action="store_const", const=False, **opposite)
        elif spec.flag_name is not None or spec.kind is _POINTERS:
            add(flag(name, prefix), action="append", metavar=spec.metavar, **common)
        else:
            add(flag(name, prefix), metavar=spec.metavar, **common)


def parsed_arguments(namespace: Any, surface: Surface, prefix: str, dest: str) -> dict[str, Any]:
    """The options given on a command line added by :func:`add_arguments`, parsed."""
    options: dict[str, Any] = {}
    for name in exposed(surface):
        raw = getattr(namespace, _dest(name, dest), None)
        if raw is None:
            continue
        spec = SPECS[name]
        source = flag(name, prefix)
        if isinstance(raw, bool):
            options[name] = raw
        elif isinstance(raw, list):
            # a list option: each repeat of the flag gives one item
            options[name] = tuple(item for text in raw for item in spec.parse(text, source))
        else:
            options[name] = spec.parse(raw, source)
    return options


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """``minidouble serve``'s flags: its own (:data:`SERVE_ONLY`), then every option's."""
    for extra in SERVE_ONLY:
        parser.add_argument(
            extra.flag, dest=extra.name, default=None, metavar=extra.metavar, help=extra.help
        )
    add_arguments(parser.add_argument, "serve", prefix="--", dest="option_")


def serve_arguments(namespace: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parsed serve-only flags (defaults filled in) and the ``FakeGPT4oMini`` options."""
    own = {}
    for extra in SERVE_ONLY:
        raw = getattr(namespace, extra.name)
        own[extra.name] = extra.default if raw is None else extra.parse(raw)
    return own, parsed_arguments(namespace, "serve", prefix="--", dest="option_")


# --- the typed marker --------------------------------------------------------------------


def mark(
    *,
    allow_unused: bool | None = None,
    api_key: str | None = None,
    azure_deployments: Collection[str] | None = None,
    stream_obfuscation: bool | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    clock: Callable[[], float] | None = None,
    latency: LatencyMode | None = None,
    latency_speedup: float | None = None,
    budget_usd: Decimal | float | str | None = None,
    budget_tokens: int | None = None,
    prompt_caching: bool | None = None,
    batch_timing: BatchTimingMode | Mapping[str, float] | None = None,
    profile: ModelProfile | None = None,
    cassette: str | os.PathLike[str] | bool | None = None,
    record_mode: RecordMode | None = None,
    upstream: str | None = None,
    cassette_ignore: Sequence[str] | None = None,
    cassette_strict: bool | None = None,
    cassette_timing: CassetteTiming | None = None,
    fixtures: str | os.PathLike[str] | None = None,
) -> pytest.MarkDecorator:
    """``@pytest.mark.gpt4o_mini(...)``, typed: the keywords of ``FakeGPT4oMini``.

    A keyword left at None is not set, so ``[tool.minidouble]`` and outer markers still apply
    to it. ``cassette=True`` names the cassette after the test (``cassettes/<module>/<test>
    .json`` beside the test file). Use it as ``@minidouble.mark(api_key="sk-x")`` or
    ``pytestmark = minidouble.mark(...)``; mypy and IDEs check the keywords.
    """
    given = {name: value for name, value in locals().items() if value is not None}
    import pytest

    decorator: pytest.MarkDecorator = pytest.mark.gpt4o_mini(**given)
    return decorator
