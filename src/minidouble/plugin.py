"""The pytest plugin: thin fixtures over the library. Imports nothing heavy at start-up.

Fixtures: ``gpt4o_mini`` (the in-process fake), ``gpt4o_mini_server`` (the same fake on a
loopback socket), ``openai_client`` / ``async_openai_client`` (the installed openai SDK,
pointed at the fake). The ``gpt4o_mini`` marker's keywords are ``FakeGPT4oMini``'s; every
``--minidouble-*`` option sets the same keyword for the whole run and is mirrored by a key in
``[tool.minidouble]`` of ``pyproject.toml``. Precedence, lowest first: the constructor's
default, ``[tool.minidouble]``, the markers (the closest to the test wins), the command line.

At the end of the run a summary reports the requests the fakes answered, their tokens and
what they would have cost at GPT-4o mini's prices (per test with ``-v``); under pytest-xdist
the workers' numbers are summed on the controller.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from minidouble._cassettes._ledger import CassetteLedger
    from minidouble._fake import FakeGPT4oMini, FakeServer
    from minidouble._transports._server import LoopbackServer

__all__ = [
    "async_openai_client",
    "gpt4o_mini",
    "gpt4o_mini_server",
    "openai_client",
]

# The key the client fixtures send: any non-empty key passes unless the fake sets api_key.
FAKE_API_KEY = "sk-minidouble-fake-key"
_OPENAI_BASE_URL = "https://api.openai.com/v1"


# Every option comes from the one definition in minidouble._options: its --minidouble-* flag
# is written with this prefix and stored under this dest prefix.
_FLAG_PREFIX = "--minidouble-"
_DEST_PREFIX = "minidouble_"
_MARKER = "@pytest.mark.gpt4o_mini"

_stats_key = pytest.StashKey["_UsageStats"]()
_ledger_key = pytest.StashKey["_CassetteLedgerOnDemand"]()
_cassette_failures_key = pytest.StashKey[list[str]]()
# Run-wide keywords: from [tool.minidouble], and from the command line.
_ini_key = pytest.StashKey[Mapping[str, Any]]()
_cli_key = pytest.StashKey[Mapping[str, Any]]()
_drift_key = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    from minidouble._options import add_arguments

    group = parser.getgroup("minidouble", "minidouble: the fake GPT-4o mini")
    add_arguments(group.addoption, "pytest", _FLAG_PREFIX, _DEST_PREFIX)
    group.addoption(
        "--minidouble-drift",
        default=None,
        metavar="UPSTREAM",
        help="after the tests, run the drift check (docs/drift.md) against UPSTREAM ('openai' "
        "for https://api.openai.com/v1 with OPENAI_API_KEY, or a base URL); drift fails the run",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gpt4o_mini(**kwargs): keyword arguments for the FakeGPT4oMini behind the "
        "gpt4o_mini fixtures (see docs/fixtures.md).",
    )
    config.stash[_stats_key] = _UsageStats()
    config.stash[_ledger_key] = _CassetteLedgerOnDemand()
    from minidouble._options import OptionError, parsed_arguments

    config.stash[_ini_key] = _read_pyproject_table(config)
    try:
        command_line = parsed_arguments(config.option, "pytest", _FLAG_PREFIX, _DEST_PREFIX)
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_cli_key] = command_line


def _pyproject(config: pytest.Config) -> Path | None:
    inipath = config.inipath
    if inipath is not None and inipath.name == "pyproject.toml":
        return inipath
    candidate = config.rootpath / "pyproject.toml"
    return candidate if candidate.is_file() else None


def _read_pyproject_table(config: pytest.Config) -> dict[str, Any]:
    """The ``[tool.minidouble]`` table, checked against the known options."""
    settings: dict[str, Any] = {}
    path = _pyproject(config)
    if path is not None:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise pytest.UsageError(
                f"minidouble: cannot read {path} ({exc}); expected valid TOML with an optional "
                "[tool.minidouble] table."
            ) from exc
        from minidouble._options import OptionError, exposed, parse_values

        section = table.get("tool", {}).get("minidouble", {})
        known = exposed("ini")
        for key in section:
            if key not in known:
                raise pytest.UsageError(
                    f"minidouble: unknown key {key!r} in [tool.minidouble] of {path}; the "
                    f"known keys are {', '.join(sorted(known))}."
                )
        try:
            settings = parse_values(section, lambda key: f"[tool.minidouble] {key} in {path}")
        except OptionError as exc:
            raise pytest.UsageError(str(exc)) from None
    return settings


def _fake_options(item: pytest.Item) -> dict[str, Any]:
    from minidouble._options import check_names, check_values

    ini: Mapping[str, Any] = item.config.stash[_ini_key]
    command_line: Mapping[str, Any] = item.config.stash[_cli_key]
    options: dict[str, Any] = {**ini}
    # iter_markers yields the closest first; apply the farthest first so the closest wins.
    for mark in reversed(list(item.iter_markers("gpt4o_mini"))):
        if mark.args:
            pytest.fail(
                f"minidouble: @pytest.mark.gpt4o_mini takes keyword arguments only (those of "
                f"FakeGPT4oMini), got positional {mark.args!r} on {item.nodeid}.",
                pytrace=False,
            )
        check_names(mark.kwargs)
        values = dict(mark.kwargs)
        # cassette=True/False is the marker's own (a file named after the test): see below
        flag = values.pop("cassette") if isinstance(values.get("cassette"), bool) else None
        options.update(check_values(values, lambda name: f"{_MARKER}({name}=...)"))
        if flag is not None:
            options["cassette"] = flag
    # The command line is the person running the suite now: it overrides the markers.
    options.update(command_line)
    fixtures = options.get("fixtures")
    if fixtures is not None and not Path(fixtures).is_absolute():
        # As for a cassette: the same file from any working directory.
        options["fixtures"] = item.path.parent / fixtures
    return _cassette_options(item, options)


def _cassette_options(item: pytest.Item, options: dict[str, Any]) -> dict[str, Any]:
    """Run-wide cassette settings apply to tests that use a cassette; paths are per test.

    ``cassette=True`` names the file after the test, as pytest-recording does:
    ``<test dir>/cassettes/<module>/<test>.json``; a relative path is taken from the test
    file's directory, so the suite records to the same place from any working directory.
    """
    cassette = options.get("cassette")
    if cassette is None or cassette is False:
        from minidouble._options import cassette_only

        options.pop("cassette", None)
        for run_wide in cassette_only():
            options.pop(run_wide, None)
        return options
    base = item.path.parent
    if cassette is True:
        module = item.path.stem
        name = _cassette_file_name(item.name)
        options["cassette"] = base / "cassettes" / module / f"{name}.json"
    else:
        path = Path(cassette)
        options["cassette"] = path if path.is_absolute() else base / path
    return options


def _cassette_file_name(test_name: str) -> str:
    import hashlib
    import re

    name = re.sub(r"[<>?%*:|\"'/\\\s]", "-", test_name)
    if len(name) > 120:  # file systems cap names at 255 bytes; keep room for a hash
        name = name[:100] + "-" + hashlib.sha256(test_name.encode()).hexdigest()[:16]
    return name


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def _minidouble_fake(request: pytest.FixtureRequest) -> Iterator[FakeGPT4oMini]:
    """The test's fake, shared by every gpt4o_mini fixture the test uses."""
    from minidouble._cassettes._errors import CassetteError
    from minidouble._fake import FakeCheckError, FakeGPT4oMini

    try:
        fake = FakeGPT4oMini(**_fake_options(request.node))
    except (TypeError, ValueError, CassetteError) as exc:
        # unknown or ill-typed keywords, a missing or unreadable cassette: the message says
        # the cure
        pytest.fail(str(exc), pytrace=False)
    nodeid = request.node.nodeid
    if fake.cassette is not None:
        # Several tests may share one file: judged once at the end of the run, not here.
        fake.cassette.share(nodeid)
    yield fake
    request.config.stash[_stats_key].add(nodeid, fake)
    try:
        fake.check()
    except FakeCheckError as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        cassette = fake.cassette
        if cassette is not None:
            request.config.stash[_ledger_key].get().add(
                cassette.path, nodeid, cassette.report.used, strict=cassette.strict
            )


@pytest.fixture
def gpt4o_mini(_minidouble_fake: FakeGPT4oMini) -> Iterator[FakeGPT4oMini]:
    """A fake GPT-4o mini intercepting httpx and httpx2 clients for the test's duration."""
    _minidouble_fake.start()
    try:
        yield _minidouble_fake
    finally:
        _minidouble_fake.stop()


class _Switchboard:
    """The session server's handler: it serves whichever test's fake is plugged in."""

    def __init__(self) -> None:
        self.fake: FakeGPT4oMini | None = None

    def __call__(self, request: Any) -> Any:
        fake = self.fake
        if fake is None:
            from minidouble._http import HttpResponse

            message = (
                b'{"error": {"message": "minidouble: no test is using the gpt4o_mini_server '
                b'fixture right now; its base_url is only served during such a test.", '
                b'"type": "server_error", "param": null, "code": null}}'
            )
            return HttpResponse(503, [("content-type", "application/json")], message)
        return fake.handle(request, loopback=True)

    def blocking(self, request: Any) -> bool:
        return self.fake is not None and self.fake.blocks(request)


@pytest.fixture(scope="session")
def _minidouble_loopback() -> Iterator[tuple[LoopbackServer, _Switchboard]]:
    # One server per session (per xdist worker): starting a server for every test would cost
    # more than most tests.
    from minidouble._transports._server import LoopbackServer

    switchboard = _Switchboard()
    server = LoopbackServer(switchboard, blocking=switchboard.blocking)
    try:
        yield server, switchboard
    finally:
        server.close()


@pytest.fixture
def gpt4o_mini_server(
    _minidouble_fake: FakeGPT4oMini,
    _minidouble_loopback: tuple[LoopbackServer, _Switchboard],
) -> Iterator[FakeServer]:
    """The test's fake on a real loopback socket: ``.base_url`` ends in ``/v1``."""
    from minidouble._fake import FakeServer

    server, switchboard = _minidouble_loopback
    switchboard.fake = _minidouble_fake
    handle = FakeServer(_minidouble_fake, server, owns_server=False)
    try:
        yield handle
    finally:
        switchboard.fake = None
    if handle.errors:
        first = handle.errors[0]
        pytest.fail(
            f"minidouble: the fake failed while serving this test ({type(first).__name__}: "
            f"{first}); the client saw a 500. This is a bug in minidouble; please report it.",
            pytrace=False,
        )


@pytest.fixture
def openai_client(gpt4o_mini: FakeGPT4oMini) -> Iterator[Any]:
    """``openai.OpenAI`` (whichever version is installed) talking to the in-process fake."""
    openai = pytest.importorskip("openai", reason="the openai_client fixture needs openai")
    client = openai.OpenAI(api_key=_client_key(gpt4o_mini), base_url=_OPENAI_BASE_URL)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def async_openai_client(gpt4o_mini: FakeGPT4oMini) -> Any:
    """``openai.AsyncOpenAI`` talking to the in-process fake.

    Not closed at teardown (closing needs the test's event loop); in-process interception
    opens no sockets, so nothing leaks.
    """
    openai = pytest.importorskip("openai", reason="the async_openai_client fixture needs openai")
    return openai.AsyncOpenAI(api_key=_client_key(gpt4o_mini), base_url=_OPENAI_BASE_URL)


def _client_key(fake: FakeGPT4oMini) -> str:
    key = getattr(fake.app, "api_key", None)
    if isinstance(key, str):
        return key
    cassette = getattr(fake, "cassette", None)
    if cassette is not None and cassette.records:
        # Recording forwards to the real API with the caller's credentials: the real key.
        import os

        real = os.environ.get("OPENAI_API_KEY")
        if real:
            return real
    return FAKE_API_KEY


# --- the end-of-run summary -------------------------------------------------------------


class _CassetteLedgerOnDemand:
    """The run's cassette ledger, imported only once a test uses a cassette."""

    def __init__(self) -> None:
        self._ledger: CassetteLedger | None = None

    @property
    def started(self) -> bool:
        return self._ledger is not None

    def get(self) -> CassetteLedger:
        if self._ledger is None:
            from minidouble._cassettes._ledger import CassetteLedger

            self._ledger = CassetteLedger()
        return self._ledger


class _UsageStats:
    """Per test: [requests, billed prompt tokens, completion tokens, replayed, recorded,
    cached prompt tokens, nanodollars over the GPT-4o mini price of those tokens] (the last
    for tokens priced apart: batch lines at half price, fine-tuned models; integers, for
    xdist's channel)."""

    def __init__(self) -> None:
        self.per_test: dict[str, list[int]] = {}

    def add(self, nodeid: str, fake: FakeGPT4oMini) -> None:
        from minidouble._model._profile import GPT4O_MINI

        usage = fake.usage()
        counts = [usage.requests, usage.prompt_tokens, usage.completion_tokens]
        prices = GPT4O_MINI.prices
        at_list_price = prices.cost(
            usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
        )
        apart = round((usage.cost() - at_list_price) * 1_000_000_000)
        row = [*counts, usage.replayed, usage.recorded, usage.cached_tokens, apart]
        self.merge({nodeid: row})

    def merge(self, per_test: dict[str, list[int]]) -> None:
        for nodeid, counts in per_test.items():
            totals = self.per_test.setdefault(nodeid, [0] * 7)
            for index, count in enumerate(counts):
                totals[index] += int(count)


def _cached(cached: int) -> str:
    """What the summary says about prompt tokens billed at the cached price, if any."""
    return f" ({cached:,} cached)" if cached else ""


def _dollars(nanodollars: int) -> Decimal:
    return Decimal(nanodollars) / 1_000_000_000


def _by_cassette(replayed: int, recorded: int) -> str:
    """What the summary says about requests a cassette answered, if any did."""
    parts = [f"{replayed:,} replayed"] if replayed else []
    if recorded:
        parts.append(f"{recorded:,} recorded live")
    return f" ({', '.join(parts)})" if parts else ""


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    ledger = session.config.stash[_ledger_key]
    if workeroutput is not None:  # an xdist worker: hand the numbers to the controller
        workeroutput["minidouble_usage"] = session.config.stash[_stats_key].per_test
        if ledger.started:
            workeroutput["minidouble_cassettes"] = ledger.get().to_json()
        return
    if ledger.started:
        _judge_shared_cassettes(session, ledger.get())
    upstream = session.config.getoption("minidouble_drift", None)
    if upstream:
        from minidouble._drift._command import pytest_drift

        report, drifted = pytest_drift(upstream)
        session.config.stash[_drift_key] = report
        if drifted and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _judge_shared_cassettes(session: pytest.Session, ledger: CassetteLedger) -> None:
    """Unused interactions, over every test of the run: a CassetteWarning each file.

    Issued as a run-time warning through pytest's own filters, so ``-W
    error::minidouble.CassetteWarning`` (or ``cassette_strict``) fails the run instead.
    """
    from minidouble._cassettes._errors import CassetteWarning

    failures = []
    for verdict in ledger.judge():
        if verdict.message is None:
            continue
        if verdict.strict:
            failures.append(verdict.message)
            continue
        try:
            session.config.issue_config_time_warning(CassetteWarning(verdict.message), 2)
        except CassetteWarning:
            failures.append(verdict.message)
    if failures:
        session.config.stash[_cassette_failures_key] = failures
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: add a finished worker's numbers to the run's."""
    output = getattr(node, "workeroutput", None) or {}
    per_test = output.get("minidouble_usage")
    if per_test:
        node.config.stash[_stats_key].merge(per_test)
    cassettes = output.get("minidouble_cassettes")
    if cassettes:
        node.config.stash[_ledger_key].get().merge(cassettes)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workeroutput"):
        return
    failures = config.stash.get(_cassette_failures_key, [])
    if failures:
        terminalreporter.write_sep("=", "minidouble: cassettes failed the run", red=True)
        for message in failures:
            terminalreporter.write_line(message)
    drift_report = config.stash.get(_drift_key, None)
    if drift_report is not None:
        terminalreporter.write_sep("-", "minidouble: drift check")
        for line in drift_report.splitlines():
            terminalreporter.write_line(line)
    stats = config.stash.get(_stats_key, None)
    if stats is None or not stats.per_test:
        return
    from minidouble._model._profile import GPT4O_MINI

    prices = GPT4O_MINI.prices
    rows = sorted(stats.per_test.items())
    requests, prompt, completion, replayed, recorded, cached, apart = (
        sum(counts[i] for _, counts in rows) for i in range(7)
    )
    write = terminalreporter.write_line
    terminalreporter.write_sep("-", "minidouble: fake GPT-4o mini usage")
    write(
        f"{requests:,} request(s){_by_cassette(replayed, recorded)} in {len(rows):,} test(s): "
        f"{prompt:,} prompt{_cached(cached)} + {completion:,} completion tokens = "
        f"${prices.cost(prompt, completion, cached) + _dollars(apart):.6f} at GPT-4o mini prices"
        + (" (batch lines and fine-tuned models at their own)" if apart else "")
    )
    if replayed:
        # A replay is free now; its tokens are those billed when it was recorded.
        write("(replaying costs nothing: replayed requests count what they cost when recorded)")
    if config.get_verbosity() > 0:
        for nodeid, (test_requests, test_prompt, test_completion, *rest) in rows:
            test_replayed, test_recorded, test_cached, test_apart = rest
            cost = prices.cost(test_prompt, test_completion, test_cached) + _dollars(test_apart)
            write(
                f"  {nodeid}: {test_requests:,} request(s)"
                f"{_by_cassette(test_replayed, test_recorded)}, {test_prompt:,} prompt"
                f"{_cached(test_cached)} + {test_completion:,} completion tokens, ${cost:.6f}"
            )
