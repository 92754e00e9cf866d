"""``minidouble drift``: confirm the cost, run the battery, report, write the proposals."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Any

from minidouble._drift._probes import battery
from minidouble._drift._report import render_json_report, render_text_report
from minidouble._drift._run import (
    DEFAULT_UPSTREAM,
    DriftError,
    DriftResult,
    estimate_cost,
    run_drift,
)
from minidouble._drift._update import render_json, render_python
from minidouble._model._profile import GPT4O_MINI

__all__ = ["drift_command", "scrubbed"]


def scrubbed(text: str, api_key: str | None) -> str:
    """``text`` with the key (and any other credential in the environment) replaced."""
    from minidouble._cassettes._secrets import Secrets

    secrets = Secrets()
    secrets.add(api_key, "<API_KEY>")
    return secrets.scrub(text)


def _confirm(prompt: str, stdin: IO[str] | None) -> bool:
    if stdin is None or stdin.closed:
        return False
    print(prompt, end="", flush=True)
    answer = stdin.readline()
    if not answer:  # end of input: nobody there to answer
        print()
        return False
    return answer.strip().lower() in ("y", "yes")


def drift_command(args: Any, *, stdin: IO[str] | None = None) -> int:
    stdin = sys.stdin if stdin is None else stdin
    explicit = args.upstream is not None
    upstream = (args.upstream or DEFAULT_UPSTREAM).rstrip("/")
    api_key = os.environ.get("OPENAI_API_KEY") or None
    if args.replay is None and not explicit and api_key is None:
        raise SystemExit(
            f"minidouble: drift needs OPENAI_API_KEY to reach {DEFAULT_UPSTREAM}, and it is not "
            "set. Export your key, pass --upstream URL for another OpenAI-compatible server, or "
            "--replay CASSETTE to check against a recorded run."
        )
    profile = GPT4O_MINI
    probes = battery(profile)
    if args.replay is None:
        expected, ceiling = estimate_cost(probes, profile)
        answered = sum(p.expect_ok for p in probes)
        print(
            f"minidouble drift: {len(probes)} probes to {upstream} ({answered} answered with "
            f"at most a few tokens, {len(probes) - answered} refused before generation, "
            f"free).\nEstimated cost: ${expected:.4f} (at most ${ceiling:.4f}) at "
            f"{profile.response_model} prices.",
            file=sys.stderr,
        )
        if not args.yes and not _confirm("Send them? [y/N] ", stdin):
            raise SystemExit(
                "minidouble: drift check not confirmed, nothing was sent. Answer y, or pass "
                "--yes to run without asking (CI has no one to ask)."
            )
    try:
        result = run_drift(
            None if args.replay is not None else upstream,
            api_key=api_key,
            profile=profile,
            record=args.record,
            replay=args.replay,
            probes=probes,
        )
    except DriftError as exc:
        raise SystemExit(scrubbed(str(exc), api_key)) from exc
    report = render_json_report(result) if args.json else render_text_report(result)
    sys.stdout.write(scrubbed(report, api_key))
    if args.write_profile is not None:
        _write_profile(Path(args.write_profile), result, api_key)
    return 1 if result.drifted else 0


def _write_profile(path: Path, result: DriftResult, api_key: str | None) -> None:
    render = render_json if path.suffix == ".json" else render_python
    text = render(result.profile, result.changes, result.checked_on, result.upstream)
    try:
        path.write_text(scrubbed(text, api_key), encoding="utf-8")
    except OSError as exc:
        raise SystemExit(
            f"minidouble: cannot write the updated profile to {path}: {exc.strerror}. Pass a "
            "writable --write-profile path (.py for a Python snippet, .json for JSON)."
        ) from exc
    print(
        f"minidouble: wrote {len(result.changes)} proposed profile change(s) to {path} for review.",
        file=sys.stderr,
    )


def pytest_drift(upstream: str) -> tuple[str, bool]:
    """``pytest --minidouble-drift=UPSTREAM``: the report and whether it drifted. The option
    is the consent (no prompt inside a test run); the estimated cost heads the report."""
    import pytest

    api_key = os.environ.get("OPENAI_API_KEY") or None
    base_url = DEFAULT_UPSTREAM if upstream == "openai" else upstream
    if base_url == DEFAULT_UPSTREAM and api_key is None:
        raise pytest.UsageError(
            "minidouble: --minidouble-drift=openai needs OPENAI_API_KEY, and it is not set. "
            "Export your key, or pass a base URL (--minidouble-drift=http://127.0.0.1:8000/v1)."
        )
    probes = battery(GPT4O_MINI)
    expected, ceiling = estimate_cost(probes, GPT4O_MINI)
    try:
        result = run_drift(base_url, api_key=api_key, probes=probes)
    except DriftError as exc:
        return scrubbed(str(exc), api_key), True
    header = f"estimated cost ${expected:.4f} (at most ${ceiling:.4f})\n"
    return scrubbed(header + render_text_report(result), api_key), result.drifted
