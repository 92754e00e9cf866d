"""A verdict on the client under test: how it coped with the failures the fake served.

The fake sees every attempt, so it can judge from the outside what a resilient client does:
retry rate limits, server errors and dropped connections; wait as long as ``retry-after``
says; back off when nothing says; never retry a request that cannot succeed (400, 401, 403,
404); and ask again when a stream breaks instead of using half an answer. Attempts of one
logical call are recognised by their identical body (the SDK resends the same bytes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from minidouble._service._script import RecordedRequest

__all__ = ["CHECKS", "Finding", "ResilienceReport"]

# A retry sooner than this after a failure that named no wait is hammering, not backing off.
MIN_BACKOFF = 0.05
# Arrival times are taken on one clock; this absorbs float rounding, nothing more.
_SLACK = 0.001

CHECKS = ("retry_rate_limits", "retry_server_errors", "retry_connection", "retry_after",
          "backoff", "no_retry_client_errors", "cut_stream", "quota")  # fmt: skip

_RETRYABLE_STATUSES = {409: "409 conflict", 429: "429 rate limit", 500: "500", 502: "502",
                       503: "503"}  # fmt: skip
_STREAM_FAULTS = {"stream_cut": "cut", "stream_error": "ended by an error event",
                  "malformed_chunk": "garbled by a malformed chunk"}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    check: str
    verdict: Literal["ok", "FAIL", "note"]
    text: str

    def __str__(self) -> str:
        return f"  [{self.verdict}] {self.text}"


def _key(recorded: RecordedRequest) -> str:
    return recorded.path + "\0" + json.dumps(recorded.body, sort_keys=True, default=str)


def _failed(recorded: RecordedRequest) -> bool:
    return recorded.status != 200 or recorded.fault is not None


def _error_code(recorded: RecordedRequest) -> str | None:
    try:
        body = json.loads(recorded.response.body or b"null")
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _what(recorded: RecordedRequest) -> str:
    if recorded.fault in ("timeout", "connection_reset"):
        return "a timeout" if recorded.fault == "timeout" else "a connection reset"
    if recorded.fault in _STREAM_FAULTS:
        return f"a stream {_STREAM_FAULTS[recorded.fault]}"
    if recorded.status == 429 and _error_code(recorded) == "insufficient_quota":
        return "a 429 insufficient_quota"
    return f"a {recorded.status}"


def _kind(recorded: RecordedRequest) -> str | None:
    """Which check a failed attempt belongs to."""
    if recorded.fault in ("timeout", "connection_reset"):
        return "retry_connection"
    if recorded.fault in _STREAM_FAULTS:
        return "cut_stream"
    if recorded.status == 429:
        return "quota" if _error_code(recorded) == "insufficient_quota" else "retry_rate_limits"
    if recorded.status in (409,) or recorded.status >= 500:
        return "retry_server_errors"
    if 400 <= recorded.status < 500 and recorded.status != 408:
        return "no_retry_client_errors"
    return None


def _advised_wait(recorded: RecordedRequest) -> tuple[float, str] | None:
    """The wait the failed answer asked for, as the SDK reads it (ms first)."""
    millis = recorded.response.header("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000, f"retry-after-ms: {millis}"
        except ValueError:
            pass
    seconds = recorded.response.header("retry-after")
    if seconds is not None:
        try:
            return float(seconds), f"retry-after: {seconds}"
        except ValueError:
            return None
    return None


def _chains(requests: Sequence[RecordedRequest]) -> list[list[int]]:
    """Attempts of one call: the same body again after a failed attempt."""
    chains: list[list[int]] = []
    open_chains: dict[str, list[int]] = {}
    for index, recorded in enumerate(requests):
        key = _key(recorded)
        chain = open_chains.get(key)
        if chain is None:
            chain = []
            chains.append(chain)
        chain.append(index)
        if _failed(recorded):
            open_chains[key] = chain
        else:
            open_chains.pop(key, None)
    return chains


@dataclass(frozen=True)
class ResilienceReport:
    """Findings, one line each; ``ok`` when none failed (and there was something to judge)."""

    requests: int
    findings: tuple[Finding, ...]

    @property
    def judged(self) -> bool:
        return bool(self.findings)

    @property
    def ok(self) -> bool:
        return self.judged and not any(f.verdict == "FAIL" for f in self.findings)

    def failures(self, ignore: Sequence[str] = ()) -> list[Finding]:
        return [f for f in self.findings if f.verdict == "FAIL" and f.check not in ignore]

    def __str__(self) -> str:
        lines = [f"minidouble: resilience verdict on {self.requests} request(s):"]
        if not self.judged:
            lines.append(
                "  the client met no failure, so there is nothing to judge; script some first "
                "(fake.fail(429), fake.fail(503), fake.fail('stream_cut')...)."
            )
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)

    @classmethod
    def of(cls, requests: Sequence[RecordedRequest]) -> ResilienceReport:
        findings: list[Finding] = []
        for chain in _chains(requests):
            findings += _judge_chain(requests, chain)
        return cls(len(requests), tuple(findings))


def _number(index: int) -> str:
    return f"request #{index + 1}"


def _judge_chain(requests: Sequence[RecordedRequest], chain: list[int]) -> list[Finding]:
    findings: list[Finding] = []
    for position, index in enumerate(chain):
        recorded = requests[index]
        if not _failed(recorded):
            continue
        kind = _kind(recorded)
        if kind is None:
            continue
        following = chain[position + 1] if position + 1 < len(chain) else None
        what = _what(recorded)
        later = requests[following] if following is not None else None
        findings += _judge_attempt(kind, what, index, recorded, following, later)
    return findings


def _judge_attempt(
    kind: str,
    what: str,
    index: int,
    recorded: RecordedRequest,
    following: int | None,
    later: RecordedRequest | None,
) -> list[Finding]:
    name = _number(index)
    if kind == "no_retry_client_errors":
        if later is None:
            text = f"{name} got {what} and was not retried (it cannot succeed unchanged)."
            return [Finding(kind, "ok", text)]
        text = (
            f"{name} got {what}, yet the same request was sent again ({_number(following or 0)}"
            f"); a {recorded.status} cannot succeed unchanged, so retrying it only wastes time "
            "and quota."
        )
        return [Finding(kind, "FAIL", text)]
    if kind == "quota":
        if later is None:
            return [Finding(kind, "ok", f"{name} got {what} (out of credit); no retry.")]
        text = (
            f"{name} got {what} (out of credit) and was retried; quota errors do not clear by "
            "retrying (the SDK retries every 429: check the error code to stop early)."
        )
        return [Finding(kind, "note", text)]
    if later is None or following is None:
        if kind == "cut_stream":
            text = (
                f"{name} met {what} and the client never asked again; unless it reported "
                "the failure, a partial answer was used as if it were complete."
            )
        else:
            text = (
                f"{name} got {what} and the client gave up without a single retry; a "
                "transient failure like this usually clears within seconds."
            )
        return [Finding(kind, "FAIL", text)]
    gap = later.received_at - recorded.received_at
    again = _number(following)
    text = f"{name} got {what} and the client tried again ({again}, {gap * 1000:.0f} ms later)."
    findings = [Finding(kind, "ok", text)]
    advised = _advised_wait(recorded)
    if advised is not None:
        wait, header = advised
        if gap + _SLACK >= wait:
            text = f"{again} waited {gap * 1000:.0f} ms, honouring {header}."
            findings.append(Finding("retry_after", "ok", text))
        else:
            text = (
                f"{again} came {gap * 1000:.0f} ms after {name}, whose answer asked to wait "
                f"{wait * 1000:.0f} ms ({header})."
            )
            findings.append(Finding("retry_after", "FAIL", text))
    elif kind != "cut_stream" and gap + _SLACK < MIN_BACKOFF:
        text = (
            f"{again} came only {gap * 1000:.0f} ms after {what}; back off (the SDK waits "
            "about 0.5 s, then doubles) so a struggling service can recover."
        )
        findings.append(Finding("backoff", "FAIL", text))
    return findings
