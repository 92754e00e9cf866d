"""Cassettes through the pytest plugin: the marker, --minidouble-record-mode, xdist workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cassette_support import FAKE_KEY, upstream_app

from minidouble._service._app import GPT4oMiniApp

pytest_plugins = ["pytester"]

# Each test sends its own question through the openai SDK to the intercepted api.openai.com.
SHARED_SUITE = """
import os
import openai
import pytest

pytestmark = pytest.mark.gpt4o_mini(
    cassette="cassettes/shared.json", upstream=os.environ.get("MD_UPSTREAM")
)

@pytest.mark.parametrize("number", range({count}))
def test_asks(gpt4o_mini, number):
    client = openai.OpenAI()
    for turn in range(2):
        reply = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{{"role": "user", "content": f"question {{number}} turn {{turn}}"}}],
        )
        assert reply.choices[0].message.content
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    return pytester


def test_xdist_workers_recording_into_one_cassette_lose_nothing(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 8
    suite.makepyfile(test_shared=SHARED_SUITE.format(count=count))
    with upstream_app() as upstream:
        monkeypatch.setenv("MD_UPSTREAM", upstream)
        recorded = suite.runpytest_subprocess(
            "-n", "2", "-p", "xdist", "--minidouble-record-mode=new_episodes"
        )
    recorded.assert_outcomes(passed=count)
    recorded_usage = _summary_line(recorded)
    assert recorded_usage.startswith(f"{2 * count} request(s) ({2 * count} recorded live) in ")
    cassette = suite.path / "cassettes" / "shared.json"
    document = json.loads(cassette.read_text())
    asked = sorted(i["request"]["body"]["messages"][0]["content"] for i in document["interactions"])
    assert asked == sorted(f"question {n} turn {t}" for n in range(count) for t in range(2))
    assert [i["seq"] for i in document["interactions"]] == list(range(1, 2 * count + 1))
    assert FAKE_KEY not in cassette.read_text()

    monkeypatch.delenv("MD_UPSTREAM")
    replayed = suite.runpytest_subprocess("-n", "2", "-p", "xdist")  # record mode none
    replayed.assert_outcomes(passed=count)
    # The workers' replays add up to what the recording run was billed, marked as replayed.
    replay_usage = _summary_line(replayed)
    assert replay_usage.startswith(f"{2 * count} request(s) ({2 * count} replayed) in ")
    assert replay_usage.split(": ")[1] == recorded_usage.split(": ")[1]
    assert " 0 prompt" not in replay_usage
    replayed.stdout.fnmatch_lines(["*replaying costs nothing*"])


def _summary_line(result: pytest.RunResult) -> str:
    lines = result.stdout.lines
    header = next(i for i, line in enumerate(lines) if "fake GPT-4o mini usage" in line)
    return lines[header + 1]


def test_marker_cassette_true_names_the_file_after_the_test(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(
        test_named="""
        import os, openai, pytest

        @pytest.mark.gpt4o_mini(cassette=True, upstream=os.environ.get("MD_UPSTREAM"))
        @pytest.mark.parametrize("word", ["a/b", "c"])
        def test_named(gpt4o_mini, word):
            openai.OpenAI().chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": word}])
        """
    )
    with upstream_app() as upstream:
        monkeypatch.setenv("MD_UPSTREAM", upstream)
        suite.runpytest("--minidouble-record-mode=once").assert_outcomes(passed=2)
    names = sorted(p.name for p in (suite.path / "cassettes" / "test_named").iterdir())
    assert names == ["test_named[a-b].json", "test_named[c].json"]
    monkeypatch.delenv("MD_UPSTREAM")
    suite.runpytest().assert_outcomes(passed=2)


def test_openai_client_fixture_records_with_the_real_key(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(
        """
        import os, pytest

        @pytest.mark.gpt4o_mini(cassette=True, upstream=os.environ.get("MD_UPSTREAM"))
        def test_fixture_client(openai_client):
            reply = openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content
        """
    )
    # The stand-in upstream accepts only the real key, as api.openai.com would.
    with upstream_app(GPT4oMiniApp(api_key=FAKE_KEY)) as upstream:
        monkeypatch.setenv("MD_UPSTREAM", upstream)
        suite.runpytest("--minidouble-record-mode=once").assert_outcomes(passed=1)
    [recorded] = [p.read_text() for p in (suite.path / "cassettes").rglob("*.json")]
    assert '"status": 200' in recorded and FAKE_KEY not in recorded
    monkeypatch.delenv("MD_UPSTREAM")
    monkeypatch.delenv("OPENAI_API_KEY")
    suite.runpytest().assert_outcomes(passed=1)  # replay needs no key at all


def test_missing_cassette_in_replay_fails_with_the_cure(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.gpt4o_mini(cassette=True)
        def test_never_recorded(gpt4o_mini):
            pass

        def test_without_cassette_ignores_the_record_mode(gpt4o_mini):
            pass
        """
    )
    result = suite.runpytest("--minidouble-record-mode=none")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*does not exist and record_mode='none' never records*"])


def test_a_miss_fails_the_test_even_if_the_code_swallows_it(
    suite: pytest.Pytester, tmp_path: Path
) -> None:
    suite.makepyfile(
        """
        import openai, pytest

        @pytest.mark.gpt4o_mini(cassette="empty.json")
        def test_swallows(gpt4o_mini):
            try:
                openai.OpenAI(api_key="k").chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            except openai.BadRequestError:
                pass
        """
    )
    (suite.path / "empty.json").write_text(
        '{"format": "minidouble-cassette", "version": 1, "interactions": []}\n'
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*no recorded interaction in*empty.json matches POST*"])


def test_bad_record_mode_option_is_a_clear_error(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.gpt4o_mini(cassette=True)
        def test_x(gpt4o_mini):
            pass
        """
    )
    result = suite.runpytest("--minidouble-record-mode=rewrite")
    # Refused once, at start-up, naming the option (not at every test's setup).
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*minidouble: --minidouble-record-mode: expected one of 'none', 'once'*'rewrite'*"]
    )


def test_cassette_warnings_can_be_made_errors_by_their_public_name(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(
        test_asking="""
        import os, openai, pytest

        @pytest.mark.gpt4o_mini(cassette="cassettes/c.json", upstream=os.environ.get("MD_UPSTREAM"))
        def test_asks(gpt4o_mini):
            for word in os.environ["MD_WORDS"].split():
                openai.OpenAI().chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": word}])
        """
    )
    with upstream_app() as upstream:
        monkeypatch.setenv("MD_UPSTREAM", upstream)
        monkeypatch.setenv("MD_WORDS", "one two")
        suite.runpytest("--minidouble-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.delenv("MD_UPSTREAM")
    monkeypatch.setenv("MD_WORDS", "one")  # the second recording goes unused
    warned = suite.runpytest()
    warned.assert_outcomes(passed=1, warnings=1)
    warned.stdout.fnmatch_lines(["*CassetteWarning*#2 POST /v1/chat/completions*"])
    # Judged at the end of the run, so the error fails the run rather than one test.
    strict = suite.runpytest("-W", "error::minidouble.CassetteWarning")
    strict.assert_outcomes(passed=1)
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(["*cassettes failed the run*", "*#2 POST /v1/chat/completions*"])


def _record_shared(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, count: int) -> Path:
    suite.makepyfile(test_shared=SHARED_SUITE.format(count=count))
    with upstream_app() as upstream:
        monkeypatch.setenv("MD_UPSTREAM", upstream)
        suite.runpytest_subprocess(
            "-n", "2", "-p", "xdist", "--minidouble-record-mode=new_episodes"
        ).assert_outcomes(passed=count)
    monkeypatch.delenv("MD_UPSTREAM")
    return suite.path / "cassettes" / "shared.json"


def _asked(cassette: Path) -> list[str]:
    document = json.loads(cassette.read_text())
    return sorted(i["request"]["body"]["messages"][0]["content"] for i in document["interactions"])


def test_a_shared_cassette_is_judged_once_across_all_its_tests(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 6
    cassette = _record_shared(suite, monkeypatch, count)
    document = json.loads(cassette.read_text())
    owners = {i["recorded_by"] for i in document["interactions"]}
    assert owners == {f"test_shared.py::test_asks[{n}]" for n in range(count)}

    # Every test replays only its own two interactions: nobody is told about the others.
    replayed = suite.runpytest_subprocess("-n", "2", "-p", "xdist")
    replayed.assert_outcomes(passed=count)
    assert "CassetteWarning" not in replayed.stdout.str()

    # A subset of the tests says nothing about the interactions of the tests not run.
    subset = suite.runpytest_subprocess("-k", "test_asks[0] or test_asks[1]")
    subset.assert_outcomes(passed=2, deselected=count - 2)
    assert "CassetteWarning" not in subset.stdout.str()


def test_only_interactions_nobody_replayed_are_reported_and_all_replaces_only_its_own(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 4
    cassette = _record_shared(suite, monkeypatch, count)
    # Test 0 now asks one question instead of two: its second one is stale.
    suite.makepyfile(
        test_shared=SHARED_SUITE.format(count=count).replace(
            "for turn in range(2):", "for turn in range(1 if number == 0 else 2):"
        )
    )
    replayed = suite.runpytest_subprocess("-n", "2", "-p", "xdist")
    replayed.assert_outcomes(passed=count, warnings=1)
    output = replayed.stdout.str()
    assert output.count("were replayed by none of the 4 test(s)") == 1
    assert "1 interaction(s)" in output
    assert "recorded by test_shared.py::test_asks[0]" in output

    # The advised cure: re-record that one test with `all`. The other tests' work stays.
    with upstream_app() as upstream:
        monkeypatch.setenv("MD_UPSTREAM", upstream)
        suite.runpytest_subprocess(
            "-k", "test_asks[0]", "--minidouble-record-mode=all"
        ).assert_outcomes(passed=1, deselected=count - 1)
    monkeypatch.delenv("MD_UPSTREAM")
    assert _asked(cassette) == sorted(
        ["question 0 turn 0"]
        + [f"question {n} turn {t}" for n in range(1, count) for t in range(2)]
    )
    clean = suite.runpytest_subprocess("-n", "2", "-p", "xdist")
    clean.assert_outcomes(passed=count)
    assert "CassetteWarning" not in clean.stdout.str()
