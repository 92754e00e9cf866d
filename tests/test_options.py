"""The one definition of the options and every surface built from it.

``minidouble._options.Options`` lists the keywords; the constructor, ``minidouble.mark``, the
marker, ``[tool.minidouble]``, the ``--minidouble-*`` options, ``minidouble serve``'s flags and
the docs' tables must agree with it. Docs tables are generated: after changing an option, run
``MINIDOUBLE_WRITE_DOCS=1 pytest tests/test_options.py -k docs`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import minidouble
from minidouble import _options
from minidouble._cli import build_parser
from minidouble._fake import FakeGPT4oMini, FakeServer
from minidouble._options import (
    SERVE_ONLY,
    SPECS,
    OptionError,
    Options,
    exposed,
    flag,
    parse_values,
    serve_arguments,
)

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {f.name: f for f in dataclasses.fields(Options)}


# --- one definition, four surfaces --------------------------------------------------------


def test_the_constructor_is_the_definition() -> None:
    """Same keywords, order, types and defaults as Options: help() and mypy see them all."""
    parameters = list(inspect.signature(FakeGPT4oMini).parameters.values())
    assert [p.name for p in parameters] == list(FIELDS)
    for parameter in parameters:
        declared = FIELDS[parameter.name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, parameter.name
        assert parameter.default == declared.default, parameter.name
        assert parameter.annotation == declared.type, parameter.name


def test_mark_takes_the_same_keywords_each_optional() -> None:
    parameters = inspect.signature(minidouble.mark).parameters
    assert list(parameters) == list(FIELDS)
    for name, parameter in parameters.items():
        declared = str(FIELDS[name].type)
        if name == "cassette":  # the marker's own: True names the file after the test
            declared = declared.replace(" | None", " | bool")
        expected = declared if declared.endswith("| None") else f"{declared} | None"
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameter.default is None, name
        assert parameter.annotation == expected, name


def test_every_surface_reads_the_definition(pytester: pytest.Pytester) -> None:
    # pytest options: exactly the run-wide ones, each with its --minidouble-no-* opposite
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    shown = pytester.runpytest("--help").stdout.str()
    pytest_flags = set(re.findall(r"--minidouble-[a-z-]+", shown)) - {"--minidouble-drift"}
    expected = {flag(name, "--minidouble-") for name in exposed("pytest")}
    expected |= {
        flag(name, "--minidouble-no-") for name in exposed("pytest") if SPECS[name].kind is _BOOL
    }
    assert pytest_flags == expected
    # [tool.minidouble] mirrors the pytest options, key for key
    assert exposed("ini") == exposed("pytest")
    # minidouble serve: every option that a command line can spell, plus its own flags
    serve = _subcommand("serve")
    serve_flags = {s for s in serve._option_string_actions if s.startswith("--")} - {"--help"}
    expected = {flag(name) for name in exposed("serve")} | {f.flag for f in SERVE_ONLY}
    expected |= {flag(name, "--no-") for name in exposed("serve") if SPECS[name].kind is _BOOL}
    assert serve_flags == expected
    # every option is a marker keyword; only Python objects stay off the command lines
    assert exposed("marker") == list(SPECS)
    python_only = set(SPECS) - set(exposed("serve")) - set(exposed("pytest"))
    assert python_only == {"clock", "profile"}


_BOOL = _options._BOOL


def _subcommand(name: str) -> Any:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    choices: dict[str, Any] = commands.choices  # type: ignore[assignment]
    return choices[name]


def test_serve_flags_reach_the_fake() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--port=0",
            "--api-key=sk-only",
            "--azure-deployment=a",
            "--azure-deployment=b",
            "--no-stream-obfuscation",
            "--requests-per-minute=3",
            "--tokens-per-minute=9000",
            "--latency=realistic",
            "--latency-speedup=20",
            "--budget-usd=$0.25",
            "--budget-tokens=100",
        ]
    )
    own, options = serve_arguments(args)
    assert own == {"host": "127.0.0.1", "port": 0, "log_level": "warning"}
    fake = FakeGPT4oMini(allow_unused=True, **options)
    app = fake.app
    assert app.api_key == "sk-only"
    assert app.azure_deployments == frozenset({"a", "b"})
    assert app.stream_obfuscation is False
    assert (app.limiter.requests_per_minute, app.limiter.tokens_per_minute) == (3, 9000)
    assert app.latency is not None and app.latency.tokens_per_second == pytest.approx(202 * 20)
    assert (app.budget.usd, app.budget.tokens) == (Decimal("0.25"), 100)
    assert fake.options.latency_speedup == 20.0


def test_serve_cassette_flags_build_the_cassette(tmp_path: Path) -> None:
    path = tmp_path / "serve.json"
    args = build_parser().parse_args(
        [
            *(
                "serve",
                "--cassette",
                str(path),
                "--record-mode=once",
                "--upstream=http://127.0.0.1:9",
            ),
            *("--cassette-ignore=/metadata/run_id", "--cassette-strict", "--cassette-timing=off"),
        ]
    )
    _, options = serve_arguments(args)
    assert options["cassette_ignore"] == ("/metadata/run_id",)
    fake = FakeGPT4oMini(allow_unused=True, **options)
    assert fake.cassette is not None
    assert fake.cassette.record_mode == "once" and fake.cassette.strict
    assert fake.close_cassette() is None


# --- parsing at the edges, errors that name the source --------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("requests_per_minute", " 500 ", 500),
        ("budget_tokens", "0", 0),
        ("latency_speedup", "10", 10.0),
        ("budget_usd", "$0.25", Decimal("0.25")),
        ("stream_obfuscation", "false", False),
        ("stream_obfuscation", "Yes", True),
        ("latency", "realistic", "realistic"),
        ("record_mode", "new_episodes", "new_episodes"),
        ("azure_deployments", "east", ("east",)),
    ],
)
def test_strings_parse_to_typed_values(name: str, text: str, value: object) -> None:
    assert SPECS[name].parse(text, flag(name)) == value


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("requests_per_minute", "abc", "a whole number >= 1"),
        ("requests_per_minute", "0", "a whole number >= 1"),
        ("tokens_per_minute", "2.5", "a whole number >= 1"),
        ("budget_tokens", "-1", "a whole number >= 0"),
        ("latency_speedup", "0", "a number above 0"),
        ("latency_speedup", "nan", "a number above 0"),
        ("budget_usd", "lots", "an amount of dollars >= 0"),
        ("stream_obfuscation", "maybe", "True or False"),
        ("latency", "slow", "one of 'instant', 'realistic'"),
        ("record_mode", "rewrite", "one of 'none', 'once', 'new_episodes', 'all'"),
        ("cassette_timing", "live", "one of 'off', 'recorded'"),
        ("upstream", "api.openai.com", "a base URL starting with http:// or https://"),
        ("api_key", " ", "a non-empty string"),
    ],
)
def test_a_bad_string_names_its_flag_and_what_was_expected(
    name: str, text: str, expected: str
) -> None:
    source = flag(name)
    with pytest.raises(OptionError) as raised:
        SPECS[name].parse(text, source)
    message = str(raised.value)
    assert message.startswith(f"minidouble: {source}: expected {expected}")
    assert message.endswith(f"got {text!r}.")


def test_stream_obfuscation_false_as_a_string_is_no_longer_true() -> None:
    # It used to be accepted and treated as true (a non-empty string is truthy).
    with pytest.raises(OptionError, match=r"^minidouble: FakeGPT4oMini\(stream_obfuscation="):
        FakeGPT4oMini(stream_obfuscation="false")  # type: ignore[arg-type]
    # Where strings are the medium (TOML, a command line) "false" means false.
    toml = parse_values({"stream_obfuscation": "false"}, lambda name: name)
    assert toml == {"stream_obfuscation": False}
    assert FakeGPT4oMini(**toml).app.stream_obfuscation is False


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("requests_per_minute", "5"),
        ("requests_per_minute", True),
        ("tokens_per_minute", 2.5),
        ("latency", "slow"),
        ("latency_speedup", 0),
        ("budget_tokens", -1),
        ("allow_unused", "yes"),
        ("azure_deployments", [1]),
        ("record_mode", "rewrite"),
        ("api_key", ""),
        ("clock", 3),
        ("profile", "gpt-4o-mini"),
    ],
)
def test_python_values_are_checked_at_the_constructor(keyword: str, value: object) -> None:
    with pytest.raises(OptionError, match=rf"^minidouble: FakeGPT4oMini\({keyword}=\.\.\.\)"):
        FakeGPT4oMini(**dict[str, Any]({keyword: value}))


def test_a_misspelt_keyword_suggests_the_right_one() -> None:
    with pytest.raises(TypeError) as raised:
        FakeGPT4oMini(requests_per_minit=3)  # type: ignore[call-arg]
    message = str(raised.value)
    assert message.startswith("minidouble: FakeGPT4oMini got unknown option(s) requests_per_minit")
    assert "Did you mean requests_per_minit -> requests_per_minute?" in message


def test_cassette_keywords_need_a_cassette() -> None:
    with pytest.raises(TypeError, match=r"upstream configures a cassette; pass cassette="):
        FakeGPT4oMini(upstream="https://api.openai.com/v1")


def test_options_are_frozen_typed_and_shown_by_what_was_given() -> None:
    options = FakeGPT4oMini(budget_usd=0.1, azure_deployments=["x"]).options
    assert options.budget_usd == Decimal("0.1")  # the dollars, not 0.1000000000000000055
    assert options.azure_deployments == ("x",)
    assert repr(options) == "Options(azure_deployments=('x',), budget_usd=Decimal('0.1'))"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.api_key = "sk-x"  # type: ignore[misc]


# --- precedence: defaults < [tool.minidouble] < markers < command line ------------------------


def test_precedence_and_sources_in_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        '[tool.minidouble]\nstream_obfuscation = "false"\nrequests_per_minute = 7\n'
        "allow_unused = true\n"
    )
    pytester.makepyfile(
        """
        import minidouble
        import pytest

        def test_ini(gpt4o_mini):
            assert gpt4o_mini.options.stream_obfuscation is False
            assert gpt4o_mini.options.requests_per_minute == 7
            assert gpt4o_mini.options.allow_unused is False  # the command line's --no-

        @minidouble.mark(stream_obfuscation=True, requests_per_minute=8, latency_speedup=2)
        def test_marker_beats_ini(gpt4o_mini):
            assert gpt4o_mini.options.stream_obfuscation is True
            assert gpt4o_mini.options.requests_per_minute == 8
            assert gpt4o_mini.options.latency_speedup == 9  # the command line beats markers

        @pytest.mark.gpt4o_mini(requests_per_minute="8")
        def test_a_marker_value_is_checked_by_name(gpt4o_mini):
            pass
        """
    )
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--minidouble-no-allow-unused",
        "--minidouble-latency-speedup=9",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*minidouble: @pytest.mark.gpt4o_mini(requests_per_minute=...): expected a whole *'8'.*"]
    )


def test_a_bad_ini_value_names_the_file_and_key(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.minidouble]\nlatency_speedup = -2\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*minidouble: [[]tool.minidouble] latency_speedup in *pyproject.toml: expected a number*"]
    )


def test_a_bad_pytest_option_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider", "--minidouble-requests-per-minute=abc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*minidouble: --minidouble-requests-per-minute: expected a whole number >= 1 *'abc'."]
    )


# --- minidouble serve: start-up errors, never a traceback -----------------------------------


def _serve(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minidouble", "serve", "--port=0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--requests-per-minute", "abc"],
            "minidouble: --requests-per-minute: expected a whole number >= 1 such as 500",
        ),
        (["--requests-per-minit", "3"], "Did you mean --requests-per-minute"),
        (["--record-mode=once"], "minidouble: record_mode configures a cassette"),
        (["--port=70000"], "minidouble: --port: expected a port number"),
    ],
)
def test_serve_refuses_bad_flags_at_start_up(flags: list[str], message: str) -> None:
    result = _serve(*flags)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # it never started serving


def test_serve_help_lists_every_flag_with_its_help() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "minidouble", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    flat = " ".join(shown.split())
    for name in exposed("serve"):
        assert flag(name) in shown
        assert " ".join(SPECS[name].help.split()) in flat, name
    for extra in SERVE_ONLY:
        assert extra.flag in shown and extra.help in flat


# --- the typed marker, imported without pytest --------------------------------------------


def test_mark_is_the_marker_with_only_the_given_keywords() -> None:
    decorator = minidouble.mark(api_key="sk-x", cassette=True, requests_per_minute=3)
    assert decorator.mark.name == "gpt4o_mini"
    assert decorator.mark.kwargs == {"api_key": "sk-x", "cassette": True, "requests_per_minute": 3}
    assert decorator.mark.args == ()


def test_import_minidouble_and_its_options_stays_light() -> None:
    code = (
        "import sys, minidouble; minidouble.mark; import minidouble.plugin as p; "
        "heavy = [m for m in ('minidouble._model._profile', 'minidouble._service._app', "
        "'tiktoken', 'httpx') "
        "if m in sys.modules]; print(heavy)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
    alone = "import sys, minidouble; minidouble.mark; print('pytest' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", alone], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


# --- reply / fail, typed: the same run-time behaviour -------------------------------------


def test_typed_fail_forwards_only_the_details_given() -> None:
    fake = FakeGPT4oMini(allow_unused=True)
    fake.fail(503, retry_after=0.5)
    fake.fail("stream_cut", after_chunks=2, times=2)
    fake.fail("filtered_prompt", category="hate", severity="high")
    assert fake.unused_scripts() == [
        "fail(status=503, times=1, retry_after=0.5)",
        "fail(status='stream_cut', times=2, after_chunks=2)",
        "fail(status='filtered_prompt', times=1, category='hate', severity='high')",
    ]
    with pytest.raises(
        TypeError, match=r"fail\('timeout'\) got unknown details \['after_chunks'\]"
    ):
        fake.fail("timeout", after_chunks=1)  # type: ignore[call-overload]


def test_the_server_handle_scripts_the_same_fake() -> None:
    fake = FakeGPT4oMini(allow_unused=True)
    with fake.serve() as server:
        assert isinstance(server, FakeServer)
        server.reply(tool_calls=[{"name": "f", "arguments": {"x": 1}}])
        server.fail("timeout", stall=0.1)
        server.reply(refusal="no")
    assert fake.unused_scripts() == [
        "fail(status='timeout', times=1, stall=0.1)",
        "reply(tool_calls=[f])",
        "reply(refusal='no')",
    ]


# --- mypy sees the keywords ---------------------------------------------------------------

GOOD = """
import minidouble
from minidouble import FakeGPT4oMini

fake = FakeGPT4oMini(requests_per_minute=3, latency="realistic", record_mode="none")
fake.reply("hi")
fake.reply(tool_calls=[{"name": "f", "arguments": {"x": 1}}])
fake.reply(json={"a": 1})
fake.reply(refusal="no")
fake.fail(503, retry_after=0.5, times=2)
fake.fail("timeout", stall=1.0)
fake.fail("stream_cut", after_chunks=2, probability=0.5, seed=3)
fake.fail("filtered_completion", category="hate", severity="high")
marker = minidouble.mark(api_key="sk-x", cassette=True)
"""

BAD = {
    "options": ("FakeGPT4oMini(requests_per_minit=3)", "requests_per_minit"),
    "latency": ('FakeGPT4oMini(latency="slow")', "latency"),
    "reply": ('fake.reply(txt="hi")', "reply"),
    "tool_call": ('fake.reply(tool_calls=[{"nmae": "f"}])', "nmae"),
    "fail": ("fake.fail(503, retry_afterr=1)", "fail"),
    "fail_detail": ('fake.fail("timeout", after_chunks=1)', "fail"),
    "mark": ("minidouble.mark(requests_per_minit=3)", "requests_per_minit"),
}


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="needs mypy (the dev extra)")
def test_mypy_strict_sees_misspelt_keywords(tmp_path: Path) -> None:
    header = "import minidouble\nfrom minidouble import FakeGPT4oMini\nfake = FakeGPT4oMini()\n"
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    for name, (line, _) in BAD.items():
        (tmp_path / f"bad_{name}.py").write_text(header + line + "\n")
    files = ["good.py", *(f"bad_{name}.py" for name in BAD)]
    run = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--show-error-codes"),
            *("--config-file", os.devnull, *files),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if e.startswith("good.py")], run.stdout
    for name, (_, mentioned) in BAD.items():
        mine = [e for e in errors if e.startswith(f"bad_{name}.py")]
        assert mine, f"mypy --strict accepted bad_{name}.py:\n{run.stdout}"
        assert any(mentioned in e for e in mine), mine


# --- the docs' tables are generated from the definition ---------------------------------------


def _toml(name: str) -> str:
    spec = SPECS[name]
    if spec.kind is _BOOL:
        return f"{name} = {str(not FIELDS[name].default).lower()}"
    if spec.flag_name is not None or spec.kind is _options._POINTERS:
        return f'{name} = ["{spec.example}"]'
    if spec.kind in (_options._RATE, _options._TOKENS, _options._SPEEDUP, _options._DOLLARS):
        return f"{name} = {spec.example}"
    return f'{name} = "{spec.example}"'


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _flag_cell(name: str, prefix: str) -> str:
    spec = SPECS[name]
    if spec.kind is _BOOL:
        return f"`{flag(name, prefix)}`, `{flag(name, prefix + 'no-')}`"
    repeat = " (repeatable)" if spec.flag_name or spec.kind is _options._POINTERS else ""
    return f"`{flag(name, prefix)} {spec.example}`{repeat}"


def generated_tables() -> dict[str, str]:
    keywords = ["| keyword | default | effect |", "| --- | --- | --- |"]
    for name, spec in SPECS.items():
        keywords.append(f"| `{name}` | {spec.default_doc} | {_cell(spec.help)} |")
    run_wide = ["| command line | `pyproject.toml` |", "| --- | --- |"]
    for name in exposed("pytest"):
        run_wide.append(f"| {_flag_cell(name, '--minidouble-')} | `{_toml(name)}` |")
    serve = ["| flag | default | effect |", "| --- | --- | --- |"]
    for extra in SERVE_ONLY:
        serve.append(f"| `{extra.flag} {extra.metavar}` | `{extra.default}` | {extra.help} |")
    for name in exposed("serve"):
        spec = SPECS[name]
        serve.append(f"| {_flag_cell(name, '--')} | {spec.default_doc} | {_cell(spec.help)} |")
    # The plugin's reference: one row per flag (a switch's --minidouble-no-* form too).
    plugin = ["| command line | `[tool.minidouble]` key | effect |", "| --- | --- | --- |"]
    for name in exposed("pytest"):
        spec = SPECS[name]
        if spec.kind is _BOOL:
            for prefix, value in (("--minidouble-", True), ("--minidouble-no-", False)):
                key = f"`{name} = {str(value).lower()}`"
                effect = spec.help if value else f"the opposite of `{flag(name, '--minidouble-')}`"
                plugin.append(f"| `{flag(name, prefix)}` | {key} | {_cell(effect)} |")
            continue
        shown = f"`{flag(name, '--minidouble-')} {spec.metavar}`"
        plugin.append(f"| {shown} | `{_toml(name)}` | {_cell(spec.help)} |")
    return {
        "keywords": "\n".join(keywords),
        "pytest options": "\n".join(run_wide),
        "plugin options": "\n".join(plugin),
        "serve flags": "\n".join(serve),
    }


_GENERATED = re.compile(
    r"(<!-- generated from minidouble\._options: (?P<name>[a-z ]+) -->)(?P<body>.*?)"
    r"(<!-- end of generated table -->)",
    re.DOTALL,
)
# The pages each table is generated into (the serve flags twice: the server's guide, and the
# page for users of other languages, who start there).
PAGES = {
    "keywords": ("fixtures.md",),
    "pytest options": ("fixtures.md",),
    "plugin options": ("api-pytest-plugin.md",),
    "serve flags": ("server.md", "any-language.md"),
}


def test_docs_tables_are_generated_from_the_definition() -> None:
    tables = generated_tables()
    stale = []
    for page_name in sorted({page for pages in PAGES.values() for page in pages}):
        page = ROOT / "docs" / page_name
        text = page.read_text(encoding="utf-8")
        found = {m["name"] for m in _GENERATED.finditer(text)}
        assert found == {t for t, pages in PAGES.items() if page_name in pages}, page_name

        def fill(match: re.Match[str]) -> str:
            return f"{match[1]}\n{tables[match['name']]}\n{match[4]}"

        current = _GENERATED.sub(fill, text)
        if current != text:
            if os.environ.get("MINIDOUBLE_WRITE_DOCS"):
                page.write_text(current, encoding="utf-8")
            else:
                stale.append(page_name)
    assert not stale, (
        f"docs tables out of date in {stale}: run MINIDOUBLE_WRITE_DOCS=1 pytest "
        "tests/test_options.py -k docs and review the diff"
    )


def test_every_option_is_named_in_the_readme_and_the_pages() -> None:
    fixtures = (ROOT / "docs" / "fixtures.md").read_text(encoding="utf-8")
    server = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [n for n in SPECS if f"`{n}`" not in fixtures] == []
    assert [n for n in exposed("serve") if f"`{flag(n)}" not in server] == []
    assert "minidouble serve --help" in readme and "docs/server.md" in readme


# --- minidouble serve as a record/replay proxy, end to end ----------------------------------

HELLO = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}


def _serving(*flags: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "minidouble", "serve", "--port=0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("minidouble: a fake GPT-4o mini is serving at "), first
    return process, first.rsplit(" ", 1)[1].strip()


def _ask(base_url: str) -> dict[str, Any]:
    import json
    import urllib.request

    request = urllib.request.Request(
        base_url + "/chat/completions",
        data=json.dumps(HELLO).encode(),
        headers={"Authorization": "Bearer sk-test", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _stop(process: subprocess.Popen[str], signal_number: int) -> tuple[str, str]:
    process.send_signal(signal_number)
    return process.communicate(timeout=60)


def test_serve_records_through_an_upstream_and_replays_offline(tmp_path: Path) -> None:
    import signal

    cassette = tmp_path / "served.json"
    upstream = FakeGPT4oMini(allow_unused=True)
    with upstream.serve() as live:
        upstream.reply("recorded answer")
        process, base_url = _serving(
            *("--cassette", str(cassette), "--record-mode=once", "--upstream", live.base_url),
            "--budget-tokens=1",
        )
        try:
            assert _ask(base_url)["choices"][0]["message"]["content"] == "recorded answer"
        finally:
            out, err = _stop(process, signal.SIGTERM)
    # SIGTERM saved the recording, and the exceeded budget is the exit status.
    assert process.returncode == 1, err
    assert "over its budget of 1 (budget_tokens)" in err
    assert out.rstrip().endswith("minidouble: stopped")
    assert cassette.is_file()
    process, base_url = _serving("--cassette", str(cassette))  # replay only: no upstream
    try:
        assert _ask(base_url)["choices"][0]["message"]["content"] == "recorded answer"
    finally:
        out, err = _stop(process, signal.SIGINT)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_the_literal_types_match_what_the_handler_knows() -> None:
    # The definition cannot import the handler's modules (pytest start-up stays light), so
    # their lists of modes are checked here instead.
    from typing import get_args

    from minidouble._cassettes import RECORD_MODES
    from minidouble._endpoints._batch._store import TIMING_MODES
    from minidouble._scripting import FilterCategory, FilterSeverity
    from minidouble._service._faults import AZURE_FILTER_CATEGORIES, AZURE_SEVERITIES
    from minidouble._service._latency import LATENCY_MODES

    assert get_args(_options.LatencyMode) == LATENCY_MODES
    assert get_args(_options.RecordMode) == RECORD_MODES
    assert get_args(_options.BatchTimingMode) == TIMING_MODES
    assert get_args(FilterCategory) == AZURE_FILTER_CATEGORIES
    assert get_args(FilterSeverity) == AZURE_SEVERITIES[1:]  # "safe" never triggers a filter


@pytest.mark.skipif(sys.version_info < (3, 11), reason="typing.get_overloads is 3.11+")
def test_fail_overloads_take_exactly_what_the_run_time_check_accepts() -> None:
    import typing

    from minidouble._scripting import Scripting
    from minidouble._service._faults import _HTTP_DETAILS, TRANSPORT_FAULTS

    shared = {"self", "status", "times", "probability", "seed"}
    accepted: dict[str, set[str]] = {}
    aimed: set[str] = set()
    for overload in typing.get_overloads(Scripting.fail):  # type: ignore[attr-defined]
        parameters = inspect.signature(overload).parameters
        details = set(parameters) - shared
        if "custom_id" in parameters:
            # Aimed at one batch line: an HTTP status, its error body's fields only (a line
            # has no headers to retry after).
            aimed = details
            continue
        kinds = re.findall(r"'([a-z_]+)'|\"([a-z_]+)\"", str(parameters["status"].annotation))
        for kind in [a or b for a, b in kinds] or ["http"]:
            accepted[kind] = details
    expected = {kind: set(details) for kind, details in TRANSPORT_FAULTS.items()}
    assert accepted == {"http": set(_HTTP_DETAILS), **expected}
    assert aimed == {"custom_id", "message", "type", "code", "param"}
    assert aimed - {"custom_id"} <= set(_HTTP_DETAILS)
