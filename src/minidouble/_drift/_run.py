"""Sending the battery to the upstream and to the fake, and collecting what differs.

The upstream is reached over ``http.client`` (the cassettes' :class:`Upstream`), which
in-process interception cannot touch, so a drift check run inside a test still talks to the
real service; the fake answers in-process through the one request handler.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from minidouble._drift._compare import Difference, compare
from minidouble._drift._observe import Observation, observe
from minidouble._drift._probes import SHAPE_REPLY_CAP, Probe, battery
from minidouble._drift._update import Outcome, ProfileChange, infer_changes
from minidouble._http import HttpRequest, HttpResponse
from minidouble._model._profile import GPT4O_MINI, ModelProfile
from minidouble._service._ratelimit import estimate_tokens

__all__ = ["DEFAULT_UPSTREAM", "DriftError", "DriftResult", "estimate_cost", "run_drift"]

DEFAULT_UPSTREAM = "https://api.openai.com/v1"
# Probes name their endpoint's path; the upstream's base URL replaces this origin when sent.
_CANONICAL_ORIGIN = "https://api.openai.com"
# Sent when a non-default upstream needs no key (a loopback fake): never shaped like one.
_NO_KEY = "minidouble-drift-without-key"
_RATE_LIMIT_RETRIES = 3
_MAX_RETRY_WAIT = 60.0


class DriftError(RuntimeError):
    """The drift check could not run (unreachable upstream, unreadable cassette...)."""


@dataclass
class DriftResult:
    upstream: str
    profile: ModelProfile
    checked_on: date
    outcomes: list[Outcome] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    compared: int = 0
    changes: list[ProfileChange] = field(default_factory=list)
    # Probes not compared: (name, why), e.g. more tokens than the account's per-minute limit.
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    @property
    def matching_probes(self) -> list[str]:
        drifted = {d.probe for d in self.differences}
        return [o.probe.name for o in self.outcomes if o.probe.name not in drifted]


def estimate_cost(probes: Sequence[Probe], profile: ModelProfile) -> tuple[Decimal, Decimal]:
    """(expected, at most) dollars: accepted probes' prompts, and their replies either as
    short as asked of shape probes or as long as their cap allows."""
    expected = Decimal(0)
    ceiling = Decimal(0)
    for probe in probes:
        if not probe.expect_ok or not isinstance(probe.body, dict):
            continue
        body = probe.body
        choices = int(body.get("n") or 1)
        cap = int(
            body.get("max_completion_tokens")
            or body.get("max_tokens")
            or body.get("max_output_tokens")
            or 0
        )
        prompt = probe.prompt_tokens(profile)
        expected += profile.prices.cost(prompt, min(cap, SHAPE_REPLY_CAP) * choices)
        ceiling += profile.prices.cost(prompt, cap * choices)
    return expected, ceiling


def run_drift(
    upstream: str | None = None,
    *,
    api_key: str | None = None,
    profile: ModelProfile = GPT4O_MINI,
    record: str | os.PathLike[str] | None = None,
    replay: str | os.PathLike[str] | None = None,
    probes: Sequence[Probe] | None = None,
    timeout: float = 120.0,
) -> DriftResult:
    """Send every probe to ``upstream`` (or take its answers from the ``replay`` cassette)
    and to a fake built on ``profile``; compare the answers."""
    from minidouble._service._app import GPT4oMiniApp

    base_url = (upstream or DEFAULT_UPSTREAM).rstrip("/")
    if record is not None and replay is not None:
        raise DriftError(
            "minidouble: --record and --replay exclude each other: record the probes once "
            "against the upstream, then replay that cassette offline."
        )
    key = api_key or _NO_KEY
    battery_probes = list(probes) if probes is not None else battery(profile)
    send = _sender(base_url, record, replay, timeout)
    fake = GPT4oMiniApp(profile=profile)
    label = send.label if isinstance(send, _Replay) else _without_credentials(base_url)
    result = DriftResult(label, profile, datetime.now(timezone.utc).date())
    account_limit: int | None = None
    try:
        for probe in battery_probes:
            charged = estimate_tokens(probe.body, profile)
            if account_limit is not None and charged > account_limit:
                result.skipped.append((probe.name, (
                    f"the upstream account allows {account_limit:,} tokens per minute "
                    f"(x-ratelimit-limit-tokens) and its limiter charges this probe ~{charged:,}"
                )))  # fmt: skip
                continue
            request = _request(probe, key)
            real = send.answer(request)
            if account_limit is None:
                account_limit = _integer(real.headers.get("x-ratelimit-limit-tokens"))
            if real.status == 429:
                message = (real.error or {}).get("message", "")
                result.skipped.append((probe.name, f"rate-limited by the upstream: {message}"))
                continue
            mock = observe(fake.handle(request))
            outcome = Outcome(probe, real, mock)
            result.outcomes.append(outcome)
            found, compared = compare(probe, real, mock)
            result.differences += found
            result.compared += compared
    finally:
        send.close()
    result.differences = _attributed(result.outcomes, result.differences)
    result.changes = infer_changes(profile, result.outcomes)
    return result


def _attributed(outcomes: list[Outcome], differences: list[Difference]) -> list[Difference]:
    """A probe built on another (tool_choice on tools) that drifts by exactly as much as its
    base points at the base's rule, not its own."""
    by_name = {o.probe.name: o for o in outcomes}
    deltas = {
        name: o.real.prompt_tokens - o.fake.prompt_tokens
        for name, o in by_name.items()
        if o.real.prompt_tokens is not None and o.fake.prompt_tokens is not None
    }
    attributed = []
    for difference in differences:
        probe = by_name[difference.probe].probe
        base = probe.token_baseline
        if (
            difference.aspect == "prompt_tokens"
            and base is not None
            and base in deltas
            and deltas.get(difference.probe) == deltas[base]
        ):
            difference = dataclasses.replace(difference, update=by_name[base].probe.rule)
        attributed.append(difference)
    return attributed


def _integer(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _retry_delay(observation: Observation) -> float:
    """Seconds the upstream asks a rate-limited client to wait (retry-after[-ms])."""
    headers = observation.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return float(headers[name]) * scale
        except (KeyError, ValueError):
            continue
    return 10.0


def _without_credentials(url: str) -> str:
    """The URL as reports may show it: no user:password, no query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _request(probe: Probe, key: str) -> HttpRequest:
    headers = {"content-type": "application/json", "user-agent": "minidouble-drift"}
    if probe.authorized:
        headers["authorization"] = f"Bearer {key}"
    return HttpRequest("POST", _CANONICAL_ORIGIN + probe.path, headers, probe.payload())


class _Live:
    def __init__(self, base_url: str, timeout: float) -> None:
        from minidouble._cassettes._upstream import Upstream

        try:
            self.upstream = Upstream(base_url, timeout=timeout)
        except ValueError as exc:
            raise DriftError(str(exc).replace("upstream must", "--upstream must")) from exc
        self.sleep = time.sleep

    def answer(self, request: HttpRequest) -> Observation:
        """The upstream's answer; a rate-limited probe waits as asked and is sent again."""
        observation = self._send(request)
        for _ in range(_RATE_LIMIT_RETRIES):
            if observation.status != 429 or "too large" in str(observation.error):
                break
            self.sleep(min(_retry_delay(observation), _MAX_RETRY_WAIT))
            observation = self._send(request)
        return observation

    def _send(self, request: HttpRequest) -> Observation:
        from minidouble._cassettes._upstream import UpstreamError

        try:
            forwarded = self.upstream.send(request)
            if forwarded.is_stream:
                return observe(HttpResponse(forwarded.status, forwarded.headers, b"",
                                            forwarded.chunks()))  # fmt: skip
            return observe(HttpResponse(forwarded.status, forwarded.headers, forwarded.read()))
        except UpstreamError as exc:
            raise DriftError(f"minidouble: drift check stopped: {exc}.") from exc

    def close(self) -> None:
        pass


class _Recording(_Live):
    """Forwards through the cassette layer, which stores each probe as it passes."""

    def __init__(self, base_url: str, path: str | os.PathLike[str], timeout: float) -> None:
        from minidouble._cassettes import CassetteLayer

        super().__init__(base_url, timeout)
        self.layer = CassetteLayer(path, record_mode="all", upstream=base_url)
        self.layer._upstream.timeout = timeout

    def _send(self, request: HttpRequest) -> Observation:
        observation = observe(self.layer.handle(request))
        if observation.error and observation.error.get("type") == "minidouble_cassette_error":
            raise DriftError(str(observation.error.get("message")))
        return observation

    def close(self) -> None:
        from minidouble._cassettes import CassetteError

        try:
            self.layer.close()
        except CassetteError as exc:
            raise DriftError(str(exc)) from exc


class _Replay:
    """Answers from a cassette recorded with ``--record``, as they were recorded."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from minidouble._cassettes._format import parse_document
        from minidouble._cassettes._match import match_key, stored_key
        from minidouble._cassettes._secrets import (
            ERROR_RESPONSE_HEADERS_KEPT,
            RESPONSE_HEADERS_KEPT,
        )

        # The cassette keeps only these headers; the others cannot be compared offline.
        self.kept, self.kept_on_error = RESPONSE_HEADERS_KEPT, ERROR_RESPONSE_HEADERS_KEPT
        self._match_key = match_key
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DriftError(
                f"minidouble: cannot read the drift cassette {path}: {exc.strerror}. Record one "
                "with `minidouble drift --record PATH`."
            ) from exc
        self.path = path
        document = parse_document(text, str(path))
        self.label = f"{path} (recorded from {document.get('upstream') or 'an unknown upstream'})"
        # Keyed by the recorded requests themselves, as the cassette layer keys them: the
        # stored "key" is a label for people, and a hand-edited file may leave it stale.
        self.by_key: dict[str, list[dict[str, Any]]] = {}
        for interaction in document["interactions"]:
            key = stored_key(interaction["request"]).digest
            self.by_key.setdefault(key, []).append(interaction)

    def answer(self, request: HttpRequest) -> Observation:
        from minidouble._cassettes._format import decode_body, decode_event

        digest = self._match_key(request.method, request.path, request.body, ()).digest
        recorded = self.by_key.get(digest)
        if not recorded:
            raise DriftError(
                f"minidouble: the drift cassette {self.path} holds no answer to a probe "
                f"(key {digest}): it was recorded by another minidouble version or profile. "
                "Re-record it with `minidouble drift --record PATH`."
            )
        response = recorded.pop(0)["response"]
        headers = list(response.get("headers", {}).items())
        events = response.get("events")
        if events is not None:
            frames = [decode_event(e) for e in events]
            answer = HttpResponse(response["status"], headers, b"", frames)
        else:
            answer = HttpResponse(response["status"], headers, decode_body(response))
        kept = self.kept_on_error if response["status"] >= 400 else self.kept
        return observe(answer, known_headers=kept)

    def close(self) -> None:
        pass


def _sender(
    base_url: str,
    record: str | os.PathLike[str] | None,
    replay: str | os.PathLike[str] | None,
    timeout: float,
) -> _Live | _Replay:
    if replay is not None:
        return _Replay(replay)
    if record is not None:
        return _Recording(base_url, record, timeout)
    return _Live(base_url, timeout)


def updated_profile(result: DriftResult) -> ModelProfile:
    from minidouble._drift._update import apply_changes

    return apply_changes(result.profile, result.changes, result.checked_on)
