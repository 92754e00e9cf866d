"""The drift check: against the loopback fake (no drift) and a deliberately altered upstream."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import minidouble._drift._probes  # noqa: F401  (imported once: pytester drops late imports)
from minidouble._cli import main
from minidouble._drift import battery, run_drift
from minidouble._drift._command import drift_command
from minidouble._drift._probes import CHAT_PATH, RESPONSES_PATH, Probe, tiny_png
from minidouble._drift._run import DriftResult
from minidouble._drift._update import render_python
from minidouble._fake import FakeGPT4oMini, FakeServer
from minidouble._http import HttpRequest
from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._service._app import GPT4oMiniApp

pytest_plugins = ["pytester"]

KEY = "sk-drift-test-0123456789abcdefghijklmnop"
_RESPONSES_TEMPLATE = GPT4O_MINI.responses.template
# One changed limit, one changed error text, tools costing 2 tokens more, and a function call
# in a Responses history costing 1 more (Chat Completions' unchanged).
ALTERED = dataclasses.replace(
    GPT4O_MINI,
    max_stop_sequences=GPT4O_MINI.max_stop_sequences + 1,
    tool_order_spelling="preceding",
    tokens=dataclasses.replace(
        GPT4O_MINI.tokens, tools_adjustment=GPT4O_MINI.tokens.tools_adjustment + 2
    ),
    responses=dataclasses.replace(
        GPT4O_MINI.responses,
        template=dataclasses.replace(
            _RESPONSES_TEMPLATE, per_tool_call=_RESPONSES_TEMPLATE.per_tool_call + 1
        ),
    ),
)
EXPECTED_UPDATES = {
    "TokenRules.tools_adjustment",
    "ModelProfile.max_stop_sequences",
    "ModelProfile.tool_order_spelling",
    "ResponsesTemplate.per_tool_call",
}


@pytest.fixture(scope="module")
def same_upstream() -> Iterator[FakeServer]:
    with FakeGPT4oMini(allow_unused=True).serve() as server:
        yield server


@pytest.fixture(scope="module")
def altered_upstream() -> Iterator[FakeServer]:
    with FakeGPT4oMini(allow_unused=True, profile=ALTERED).serve() as server:
        yield server


@pytest.fixture(scope="module")
def altered_result(altered_upstream: FakeServer) -> DriftResult:
    return run_drift(altered_upstream.base_url)


def _send(app: GPT4oMiniApp, probe: Probe) -> int:
    headers = {"authorization": "Bearer sk-x"} if probe.authorized else {}
    url = "https://api.openai.com" + probe.path
    response = app.handle(HttpRequest("POST", url, headers, probe.payload()))
    if response.stream is not None:
        list(response.stream)
    return response.status


def test_every_probe_lands_on_its_side_of_the_edge() -> None:
    """At-limit probes are answered and past-limit probes refused, by the profile's own fake:
    otherwise a probe would test nothing."""
    app = GPT4oMiniApp()
    wrong = [
        probe.name for probe in battery(GPT4O_MINI) if (_send(app, probe) == 200) != probe.expect_ok
    ]
    assert wrong == []


def test_limits_come_from_the_profile() -> None:
    wider = dataclasses.replace(GPT4O_MINI, max_stop_sequences=7, max_tools=3)
    probes = {probe.name: probe for probe in battery(wider)}
    assert len(probes["limits.stop.at"].body["stop"]) == 7
    assert len(probes["limits.stop.past"].body["stop"]) == 8
    assert len(probes["limits.tools.past"].body["tools"]) == 4


def test_battery_covers_each_token_rule_and_validator_family() -> None:
    names = {probe.name for probe in battery(GPT4O_MINI)}
    for name in ("tokens.text", "tokens.name", "tokens.tools", "tokens.tool_history",
                 "tokens.json_schema", "tokens.image_low", "tokens.image_high",
                 "limits.context_window.past", "schema.nesting.past",
                 "rules.orphan_tool_message", "rules.unknown_parameter", "responses.shape",
                 "responses.tokens.instructions", "responses.tokens.tool_history",
                 "responses.max_output_tokens.below"):  # fmt: skip
        assert name in names


def test_tiny_png_is_read_by_the_token_counter() -> None:
    from minidouble._model._tokens import count_prompt_tokens

    def body(detail: str) -> dict[str, Any]:
        part = {"type": "image_url", "image_url": {"url": tiny_png(), "detail": detail}}
        return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [part]}]}

    image = GPT4O_MINI.tokens.image
    low, high = count_prompt_tokens(body("low")), count_prompt_tokens(body("high"))
    assert high - low == image.tile_tokens


def test_the_fake_as_upstream_shows_no_drift(same_upstream: FakeServer) -> None:
    result = run_drift(same_upstream.base_url)
    assert result.differences == []
    assert result.changes == []
    # A tier-1 account (the fake's x-ratelimit-limit-tokens) cannot take a 1 MB string.
    skipped = [name for name, _ in result.skipped]
    assert skipped == ["limits.string_length.past"]
    assert len(result.matching_probes) + len(skipped) == len(battery(GPT4O_MINI))
    # the Responses probes were sent to /v1/responses and agree too
    responses = {p.name for p in battery(GPT4O_MINI) if p.path == RESPONSES_PATH}
    assert len(responses) == 4 and responses <= set(result.matching_probes)
    assert {r.path for r in same_upstream.requests} >= {CHAT_PATH, RESPONSES_PATH}


def test_probes_beyond_the_accounts_rate_limit_are_skipped_not_drift() -> None:
    with FakeGPT4oMini(allow_unused=True, tokens_per_minute=60_000).serve() as server:
        result = run_drift(server.base_url)
        sent = len(server.requests)
    assert result.differences == []
    assert [name for name, _ in result.skipped] == [
        "limits.string_length.past",
        "limits.context_window.past",
    ]
    assert "60,000 tokens per minute" in result.skipped[0][1]
    assert sent == len(battery(GPT4O_MINI)) - 2  # skipped probes were never sent


def test_an_altered_upstream_shows_each_difference_and_nothing_else(
    altered_result: DriftResult,
) -> None:
    differences = altered_result.differences
    assert {d.update for d in differences} == EXPECTED_UPDATES
    by_update: dict[str, list[Any]] = {}
    for difference in differences:
        by_update.setdefault(difference.update, []).append(difference)
    # the limit: one past the fake's cap, the upstream answers
    [stop] = by_update["ModelProfile.max_stop_sequences"]
    assert (stop.probe, stop.aspect) == ("limits.stop.past", "status")
    assert stop.real == "200" and stop.fake.startswith("400 array_above_max_length")
    # the error text, verbatim on both sides
    [wording] = by_update["ModelProfile.tool_order_spelling"]
    assert wording.aspect == "error.message"
    assert "preceding" in wording.real and "preceeding" in wording.fake
    # the tools overhead: every probe with tool definitions, +2 each, nothing else
    for difference in by_update["TokenRules.tools_adjustment"]:
        assert difference.aspect == "prompt_tokens"
        assert difference.real - difference.fake == 2
        probe = next(o.probe for o in altered_result.outcomes if o.probe.name == difference.probe)
        assert probe.body.get("tools") or probe.body.get("functions")
    # the Responses template: its history probe alone, +1, and no chat probe
    [call] = by_update["ResponsesTemplate.per_tool_call"]
    assert (call.probe, call.aspect) == ("responses.tokens.tool_history", "prompt_tokens")
    assert call.real - call.fake == 1
    proposed = {c.path: (c.old, c.new) for c in altered_result.changes}
    assert proposed == {
        "max_stop_sequences": (GPT4O_MINI.max_stop_sequences, ALTERED.max_stop_sequences),
        "tool_order_spelling": ("preceeding", "preceding"),
        "tokens.tools_adjustment": (
            GPT4O_MINI.tokens.tools_adjustment,
            ALTERED.tokens.tools_adjustment,
        ),
        "responses.template.per_tool_call": (
            _RESPONSES_TEMPLATE.per_tool_call,
            ALTERED.responses.template.per_tool_call,
        ),
    }


def test_the_written_profile_removes_the_drift(
    altered_result: DriftResult, altered_upstream: FakeServer
) -> None:
    snippet = render_python(
        GPT4O_MINI, altered_result.changes, altered_result.checked_on, altered_result.upstream
    )
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    updated: ModelProfile = namespace["UPDATED_PROFILE"]
    assert updated.verified_on == altered_result.checked_on
    assert run_drift(altered_upstream.base_url, profile=updated).differences == []


def _args(**overrides: Any) -> SimpleNamespace:
    defaults = {"upstream": None, "yes": False, "json": False, "record": None, "replay": None}
    return SimpleNamespace(**{**defaults, "write_profile": None, **overrides})


def test_cli_reports_json_and_exits_nonzero_on_drift(
    altered_upstream: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["drift", "--upstream", altered_upstream.base_url, "--yes", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["drift"] is True
    assert {d["update"] for d in report["differences"]} == EXPECTED_UPDATES


def test_cli_exits_zero_without_drift_and_prints_the_cost_first(
    same_upstream: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", "--upstream", same_upstream.base_url, "--yes"]) == 0
    captured = capsys.readouterr()
    assert "Estimated cost: $" in captured.err
    assert "No drift" in captured.out


@pytest.mark.parametrize("stdin", ["", "n\n"])
def test_cli_refuses_without_confirmation(same_upstream: FakeServer, stdin: str) -> None:
    before = len(same_upstream.requests)
    with pytest.raises(SystemExit, match=r"minidouble: .*--yes"):
        drift_command(_args(upstream=same_upstream.base_url), stdin=io.StringIO(stdin))
    assert len(same_upstream.requests) == before  # nothing was sent


def test_cli_runs_once_confirmed(same_upstream: FakeServer) -> None:
    args = _args(upstream=same_upstream.base_url)
    assert drift_command(args, stdin=io.StringIO("y\n")) == 0


def test_default_upstream_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(SystemExit, match="minidouble: drift needs OPENAI_API_KEY"):
        drift_command(_args(yes=True))


def test_the_key_never_appears_in_report_cassette_profile_or_logs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    cassette, profile = tmp_path / "drift.json", tmp_path / "profile.py"
    with FakeGPT4oMini(allow_unused=True, api_key=KEY, profile=ALTERED).serve() as server:
        for as_json in (False, True):
            code = main(["drift", "--upstream", server.base_url, "--yes", "--record",
                         str(cassette), "--write-profile", str(profile)]
                        + (["--json"] if as_json else []))  # fmt: skip
            assert code == 1
        # the key did reach the upstream: probes were answered, not refused as unauthorised
        assert any(r.status == 200 for r in server.requests)
    captured = capsys.readouterr()
    texts = [captured.out, captured.err, caplog.text, cassette.read_text(), profile.read_text()]
    for text in texts:
        assert KEY not in text
        assert KEY[3:] not in text


def test_a_recorded_run_replays_offline_with_the_same_drift(
    tmp_path: Path, altered_result: DriftResult
) -> None:
    cassette = tmp_path / "drift.json"
    with FakeGPT4oMini(allow_unused=True, profile=ALTERED).serve() as server:
        recorded = run_drift(server.base_url, record=cassette)
    replayed = run_drift(replay=cassette)

    def summary(result: DriftResult) -> list[tuple[str, str]]:
        return sorted((d.probe, d.aspect) for d in result.differences)

    assert summary(recorded) == summary(replayed) == summary(altered_result)
    assert FakeGPT4oMini(cassette=cassette) is not None  # a valid minidouble cassette
    # offline, from the command line, with the proposals as JSON: no key, no confirmation
    proposals = tmp_path / "profile.json"
    code = main(["drift", "--replay", str(cassette), "--write-profile", str(proposals)])
    assert code == 1
    changes = {c["field"]: c["new"] for c in json.loads(proposals.read_text())["changes"]}
    assert changes["max_stop_sequences"] == ALTERED.max_stop_sequences


def test_a_replay_matches_the_recorded_requests_not_their_stored_labels(
    tmp_path: Path, altered_result: DriftResult
) -> None:
    cassette = tmp_path / "drift.json"
    with FakeGPT4oMini(allow_unused=True, profile=ALTERED).serve() as server:
        run_drift(server.base_url, record=cassette)
    document = json.loads(cassette.read_text())
    for interaction in document["interactions"]:
        interaction["key"] = "0" * 16  # stale labels, as a hand edit may leave them
    cassette.write_text(json.dumps(document))
    replayed = run_drift(replay=cassette)
    assert {(d.probe, d.aspect) for d in replayed.differences} == {
        (d.probe, d.aspect) for d in altered_result.differences
    }


def test_pytest_option_runs_the_check_and_fails_the_run_on_drift(
    pytester: pytest.Pytester, altered_upstream: FakeServer, same_upstream: FakeServer
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    drifted = pytester.runpytest(f"--minidouble-drift={altered_upstream.base_url}")
    assert drifted.ret == 1
    drifted.stdout.fnmatch_lines(["*minidouble: drift check*", "*ModelProfile.max_stop_sequences*"])
    clean = pytester.runpytest(f"--minidouble-drift={same_upstream.base_url}")
    assert clean.ret == 0
    clean.stdout.fnmatch_lines(["*No drift*"])


def test_shape_and_header_changes_are_reported(tmp_path: Path) -> None:
    """An upstream whose completions and responses lost a field and whose answers lost
    x-request-id."""
    from minidouble._http import HttpResponse
    from minidouble._transports._server import LoopbackServer

    app = GPT4oMiniApp()

    def changed(request: HttpRequest) -> HttpResponse:
        response = app.handle(request)
        headers = [(k, v) for k, v in response.headers if k != "x-request-id"]
        body = response.body
        if response.stream is None and response.status == 200:
            document = json.loads(body)
            del document["service_tier"]
            body = json.dumps(document).encode()
        return HttpResponse(response.status, headers, body, response.stream)

    with LoopbackServer(changed) as server:
        result = run_drift(server.base_url)
    header_probes = {p.name for p in battery(GPT4O_MINI) if p.headers}
    assert {(d.probe, d.aspect) for d in result.differences} == {
        ("shape.completion", "shape"),
        ("responses.shape", "shape"),
        *((name, "headers") for name in header_probes),
    }
    for shape in (d for d in result.differences if d.aspect == "shape"):
        assert shape.real == [] and shape.fake == ["service_tier: string"]
    for difference in result.differences:
        if difference.aspect == "headers":
            assert difference.real == {"x-request-id": None}
            assert difference.fake == {"x-request-id": "req_<32 hex>"}


def test_a_responses_token_drift_shared_with_chat_points_at_the_chat_rule() -> None:
    """Both endpoints render text through one template: a per-message cost that moved shows
    in the Responses probe too, but names the one chat field to update."""
    shared = dataclasses.replace(
        GPT4O_MINI,
        tokens=dataclasses.replace(
            GPT4O_MINI.tokens, per_message=GPT4O_MINI.tokens.per_message + 1
        ),
    )
    with FakeGPT4oMini(allow_unused=True, profile=shared).serve() as server:
        result = run_drift(server.base_url)
    by_probe = {d.probe: d for d in result.differences}
    instructed = by_probe["responses.tokens.instructions"]
    assert instructed.real - instructed.fake == 2
    assert instructed.update == by_probe["tokens.text"].update == "TokenRules.per_message"
    assert not any(d.update.startswith("ResponsesTemplate (") for d in result.differences)
    # Every token probe pays it once per message: it is one change, not one per probe.
    assert [(c.path, c.new) for c in result.changes] == [
        ("tokens.per_message", shared.tokens.per_message)
    ]
