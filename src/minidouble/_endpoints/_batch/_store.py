"""Batches on the fake's clock: validation, the per-line run, the output and error files.

A batch moves on when someone looks at it (any Files or Batches call advances every batch to
the clock's present), so nothing runs in the background and a manual clock sees each state.
Its schedule, in clock seconds from creation (:class:`BatchTiming`): ``validating`` to parse
and check the file, then ``startup`` plus ``per_line`` per request in progress, then
``finalizing``; a cancel lands ``cancelling`` after the call; a batch still running at
``expires_at`` (24 h) expires. Lines run in input order (scripted replies and failures are
consumed in that order) and are written in a seeded completion order.

Memory: the input file's bytes are read through a cursor, a line at a time; what a batch
keeps grows only with its output and error files (and its custom_id set while validating).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from minidouble._endpoints._batch import _errors as be
from minidouble._endpoints._batch._files import FileStore, StoredFile
from minidouble._engine._ids import random_hex
from minidouble._model._errors import SERVER_ERROR_BODY
from minidouble._model._profile import ModelProfile

__all__ = [
    "TIMING_MODES",
    "Batch",
    "BatchState",
    "BatchTiming",
    "BatchTimingOption",
    "LineRunner",
    "input_line",
    "timing_from",
]

Clock = Callable[[], float]


class LineRunner(Protocol):
    """Runs one batch line's body through the fake's core, as a direct request would run.

    ``batch`` is the line's batch (its session, its flavour, ``state.running_at``), ``url``
    the line's ``url`` (``/v1/chat/completions`` or ``/v1/responses``), ``body`` its parsed
    request body, ``custom_id`` its id (for scripts aimed at one line). Returns
    the HTTP status and the JSON body a direct request would have received: the completion
    or response object (with ``usage``) on 200, the ``{"error": {...}}`` document otherwise.
    Nothing is logged or rate limited: batch lines do not use the synchronous limits.
    """

    def __call__(
        self, batch: Batch, url: str, body: dict[str, Any], custom_id: str
    ) -> tuple[int, dict[str, Any]]: ...


@dataclass(frozen=True)
class BatchTiming:
    """How long each phase takes, in clock seconds."""

    validating: float
    startup: float
    per_line: float
    finalizing: float
    cancelling: float


# The default on the wall clock: a batch completes within a fraction of a second.
FAST = BatchTiming(validating=0.05, startup=0.1, per_line=0.0, finalizing=0.05, cancelling=0.2)
# As observed: ~1 s validating, a minute or so in progress, 1 s finalizing, 605 s to cancel.
REALISTIC = BatchTiming(
    validating=1.0, startup=30.0, per_line=0.02, finalizing=1.0, cancelling=605.0
)
TIMING_MODES = ("fast", "realistic")
_PHASES = ("validating", "startup", "per_line", "finalizing", "cancelling")
# What the ``batch_timing`` option takes (docs/batch.md).
BatchTimingOption = Literal["fast", "realistic"] | Mapping[str, float]


def timing_from(option: object, *, manual_clock: bool) -> BatchTiming:
    """``batch_timing``: "fast", "realistic", or a mapping of phase seconds over the default
    (the default is "realistic" on an injected clock, which a test moves by hand)."""
    base = REALISTIC if manual_clock else FAST
    if option is None:
        return base
    if option == "fast":
        return FAST
    if option == "realistic":
        return REALISTIC
    if isinstance(option, Mapping):
        unknown = sorted(str(k) for k in option if k not in _PHASES)
        values = {k: v for k, v in option.items() if k in _PHASES}
        if not unknown and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
            for v in values.values()
        ):
            return replace(base, **{k: float(v) for k, v in values.items()})
    raise ValueError(
        f"minidouble: batch_timing={option!r} is not a batch schedule; expected 'fast', "
        f"'realistic', or a dict of seconds >= 0 with keys among {', '.join(_PHASES)} "
        "(e.g. {'per_line': 3600} to see a batch expire)."
    )


def _hex_id(prefix: str, unix: int) -> str:
    # The layout of real ids: 8 hex digits of the time, 4 random, "8190", 16 random.
    noise = random_hex(10)
    return f"{prefix}{unix & 0xFFFFFFFF:08x}{noise[:4]}8190{noise[4:]}"


_ACTIVE = frozenset({"in_progress", "finalizing", "cancelling"})
_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
_WINDOW = 256  # results written in a shuffled order within each run of this many
_MAX_REPORTED_ERRORS = 1_000


class Batch:
    """One batch: its object's fields, and a cursor through its input file."""

    def __init__(
        self,
        state: BatchState,
        *,
        batch_id: str,
        endpoint: str,
        input_file: StoredFile,
        completion_window: str,
        metadata: dict[str, Any] | None,
        created: float,
        azure: bool,
        session: str | None,
    ) -> None:
        self.state = state
        # The session that created it: its lines use that session's scripts and bill to it.
        self.session = session
        self.id = batch_id
        self.endpoint = endpoint
        self.input_file_id = input_file.id
        self.completion_window = completion_window
        self.metadata = metadata
        self.azure = azure
        self.created = created
        self.expires = created + state.profile.batch.window_seconds
        self.status = "validating"
        self.times: dict[str, float | None] = dict.fromkeys(
            (
                "in_progress",
                "finalizing",
                "completed",
                "failed",
                "expired",
                "cancelling",
                "cancelled",
            )
        )
        self.model: str | None = None
        self.errors: list[dict[str, Any]] | None = None
        self.output_file_id: str | None = None
        self.error_file_id: str | None = None
        self.total = self.completed = self.failed = 0
        self.input_tokens = self.output_tokens = self.cached_tokens = 0
        self.enqueued = 0
        self._ending: Literal["completed", "expired", "cancelled"] = "completed"
        # The bytes, not a copy (the file may be deleted meanwhile); uploads are bytes.
        data = input_file.data
        self._data = data if isinstance(data, bytes) else bytes(data)
        self._cursor = 0
        self._line_no = 0
        self._done = 0  # requests run (or written off) so far
        self._rng = random.Random(f"{state.seed}:{batch_id}")
        self._window: list[tuple[bool, bytes]] = []
        self._out = bytearray()
        self._err = bytearray()

    # --- the object --------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        unix = self.state.unix
        times = {name: (None if t is None else unix(t)) for name, t in self.times.items()}
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": None if self.errors is None else {"object": "list", "data": self.errors},
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": unix(self.created),
            "in_progress_at": times["in_progress"],
            "expires_at": unix(self.expires),
            "finalizing_at": times["finalizing"],
            "completed_at": times["completed"],
            "failed_at": times["failed"],
            "expired_at": times["expired"],
            "cancelling_at": times["cancelling"],
            "cancelled_at": times["cancelled"],
            "request_counts": {
                "total": self.total,
                "completed": self.completed,
                "failed": self.failed,
            },
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "total_tokens": self.input_tokens + self.output_tokens,
                "input_tokens_details": {"cached_tokens": self.cached_tokens},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
            "metadata": self.metadata,
        }

    # --- the life cycle ----------------------------------------------------------------

    def advance(self, now: float, run: LineRunner) -> None:
        timing = self.state.timing
        if self.status == "validating":
            checked = self.created + timing.validating
            if now < checked:
                return
            self._validate(checked)
        if self.status == "in_progress":
            started = self.times["in_progress"]
            assert started is not None
            done_at = started + timing.startup + timing.per_line * self.total
            expires = None if self.azure else self.expires  # Azure lets jobs run past 24 h
            if expires is not None and done_at > expires and now >= expires:
                self._run_until(expires, run)
                self._stop("expired", expires, be.BATCH_EXPIRED)
            elif now >= done_at:
                self._run_until(done_at, run)
                self._stop("completed", done_at, None)
            else:
                self._run_until(now, run)
        if self.status == "finalizing":
            began = self.times["finalizing"]
            assert began is not None
            if now >= began + timing.finalizing:
                self._finish(began + timing.finalizing)
        if self.status == "cancelling":
            began = self.times["cancelling"]
            assert began is not None
            if now >= began + timing.cancelling:
                self._finish(began + timing.cancelling)

    def cancel(self, now: float, run: LineRunner) -> None:
        """``POST .../cancel`` on a validating or running batch (the caller checks which)."""
        if self.status == "in_progress":
            self._run_until(now, run)  # requests in flight finish
            self._write_off(be.BATCH_CANCELLED)
        self._ending = "cancelled"
        self.status = "cancelling"
        self.times["cancelling"] = now

    def _line_time(self, index: int) -> float:
        started = self.times["in_progress"]
        assert started is not None
        timing = self.state.timing
        return started + timing.startup + timing.per_line * (index + 1)

    def _run_until(self, now: float, run: LineRunner) -> None:
        while self._done < self.total and self._line_time(self._done) <= now:
            line = self._next_line()
            if line is None:
                break
            self._run_line(line, run, self._line_time(self._done))
            self._done += 1

    def _stop(self, ending: Literal["completed", "expired"], at: float, reason: Any) -> None:
        if reason is not None:
            self._write_off(reason)
        self._ending = ending
        self.status = "finalizing"
        self.times["finalizing"] = at

    def _write_off(self, reason: dict[str, str]) -> None:
        """Every request not run yet goes to the error file with ``reason``."""
        while self._done < self.total:
            line = self._next_line()
            if line is None:
                break
            custom_id = _custom_id(line)
            self._done += 1
            self.failed += 1
            record = {
                "id": _hex_id("batch_req_", self.state.unix(self.state.clock())),
                "custom_id": custom_id,
                "response": None,
                "error": dict(reason),
            }
            self._emit(True, record)

    def _finish(self, at: float) -> None:
        self._flush()
        state = self.state
        reached_run = self.times["in_progress"] is not None
        if reached_run and self._out:
            self.output_file_id = state.write_output(self, "output", self._out, at).id
        if reached_run and (self._err or self.azure):
            # Azure points a clean job's error_file_id at an empty file.
            self.error_file_id = state.write_output(self, "error", self._err, at).id
        self._out = bytearray()
        self._err = bytearray()
        self.status = self._ending
        self.times[self._ending] = at
        self._data = b""

    # --- validation ----------------------------------------------------------------------

    def _validate(self, at: float) -> None:
        rules = self.state.profile.batch
        maximum = rules.azure_max_lines if self.azure else rules.max_lines
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        model: str | None = None
        count = tokens = 0
        wanted_url = _unversioned(self.endpoint)

        def report(entry: dict[str, Any]) -> None:
            if len(errors) < _MAX_REPORTED_ERRORS:
                errors.append(entry)

        for number, raw in _lines(self._data):
            count += 1
            if count > maximum:
                continue  # only counted: the batch is refused as a whole
            try:
                line = json.loads(raw)
            except (ValueError, UnicodeDecodeError, RecursionError):
                report(be.line_error("invalid_json_line", be.INVALID_JSON_LINE, line=number))
                continue
            problem = _line_problem(line)
            if problem is not None:
                report(be.line_error(problem[0], problem[1], param=problem[2], line=number))
                continue
            custom_id, url, body = line["custom_id"], line["url"], line["body"]
            if custom_id in seen:
                report(
                    be.line_error(
                        "duplicate_custom_id",
                        be.DUPLICATE_CUSTOM_ID,
                        param="custom_id",
                        line=number,
                    )
                )
            seen.add(custom_id)
            if _unversioned(url) != wanted_url:
                report(
                    be.line_error(
                        "url_mismatch",
                        be.url_mismatch(url, self.endpoint),
                        param="url",
                        line=number,
                    )
                )
                continue
            line_model = body.get("model")
            if isinstance(line_model, str):
                if model is None:
                    model = line_model
                    refused = self.state.refuse_model(model, self.azure)
                    if refused is not None:
                        report(
                            be.line_error(refused[0], refused[1], param="body.model", line=number)
                        )
                elif line_model != model:
                    report(
                        be.line_error(
                            "model_mismatch",
                            be.model_mismatch(line_model, model),
                            param="body.model",
                            line=number,
                        )
                    )
            tokens += self.state.estimate(body)
        seen.clear()
        if count == 0:
            errors = [be.line_error("empty_file", be.EMPTY_FILE)]
        elif count > maximum:
            errors.insert(0, be.line_error("too_many_tasks", be.too_many_tasks(count, maximum)))
        if not errors:
            limit = rules.azure_enqueued_tokens if self.azure else rules.enqueued_tokens
            if tokens + self.state.enqueued_tokens() > limit:
                limits = self.state.profile.rate_limits
                message = be.token_limit(limits.limited_model, limits.organization, limit)
                errors = [be.line_error("token_limit_exceeded", message)]
        if errors:
            self.errors = errors
            self.status = "failed"
            self.times["failed"] = at
            self._data = b""
            return
        self.status = "in_progress"
        self.times["in_progress"] = at
        self.total = count
        self.enqueued = tokens
        self.model = self.state.resolved_model(model, self.azure)

    # --- running lines -------------------------------------------------------------------

    def _next_line(self) -> bytes | None:
        """The next non-blank line of the input, from the cursor."""
        data = self._data
        while self._cursor < len(data):
            end = data.find(b"\n", self._cursor)
            if end < 0:
                end = len(data)
            raw = data[self._cursor : end]
            self._cursor = end + 1
            self._line_no += 1
            if raw.strip():
                return raw
        return None

    def _run_line(self, raw: bytes, run: LineRunner, at: float) -> None:
        line = json.loads(raw)  # validated: an object with the four keys
        custom_id = line["custom_id"]
        self.state.running_at = at
        try:
            status, body = run(self, line["url"], line["body"], custom_id)
        except Exception as exc:  # the fake's own bug: a 500 line, kept for the test to see
            self.state.crashes.append(exc)
            status, body = 500, SERVER_ERROR_BODY
        record = {
            "id": _hex_id("batch_req_", self.state.unix(at)),
            "custom_id": custom_id,
            "response": {
                "status_code": status,
                "request_id": random_hex(16),
                "body": body,
            },
            "error": None,
        }
        if status == 200:
            self.completed += 1
            self._bill(body)
            self._emit(False, record)
        else:
            self.failed += 1
            self._emit(True, record)

    def _bill(self, body: Mapping[str, Any]) -> None:
        usage = body.get("usage")
        if not isinstance(usage, Mapping):
            return
        if "prompt_tokens" in usage:
            prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
            details = usage.get("prompt_tokens_details")
        else:
            prompt, completion = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
            details = usage.get("input_tokens_details")
        cached = details.get("cached_tokens", 0) if isinstance(details, Mapping) else 0
        prompt, completion, cached = int(prompt or 0), int(completion or 0), int(cached or 0)
        self.input_tokens += prompt
        self.output_tokens += completion
        self.cached_tokens += cached

    def _emit(self, error: bool, record: dict[str, Any]) -> None:
        # ", " and ": " separators on one line, as the real files are written.
        self._window.append((error, (json.dumps(record) + "\n").encode()))
        if len(self._window) >= _WINDOW:
            self._flush()

    def _flush(self) -> None:
        window = self._window
        self._rng.shuffle(window)
        for error, data in window:
            (self._err if error else self._out).extend(data)
        window.clear()


def input_line(custom_id: str, body: Mapping[str, Any], url: str = "/v1/chat/completions") -> bytes:
    """One line of a batch input file, keys in the guide's order, ``\n``-terminated."""
    line = {"custom_id": custom_id, "method": "POST", "url": url, "body": body}
    return (json.dumps(line) + "\n").encode()


def _custom_id(raw: bytes) -> Any:
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    return line.get("custom_id") if isinstance(line, dict) else None


def _unversioned(url: str) -> str:
    # Azure's batch endpoint is "/chat/completions" while its lines may say "/v1/...".
    return url[3:] if url.startswith("/v1/") else url


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers (``\\n`` or ``\\r\\n`` endings)."""
    start = number = 0
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        number += 1
        raw = data[start:end]
        if raw.strip():
            yield number, raw
        start = end + 1


def _line_problem(line: Any) -> tuple[str, str, str | None] | None:
    """A line that is JSON but not a request: (code, message, param), or None."""
    if not isinstance(line, dict):
        return ("invalid_request", "Each line must be a JSON object.", None)
    for key in ("custom_id", "method", "url", "body"):
        if key not in line or line[key] is None:
            return (
                "missing_required_parameter",
                f"Missing required parameter: '{key}'.",
                key,
            )
    for key in ("custom_id", "method", "url"):
        if not isinstance(line[key], str):
            return ("invalid_type", f"Invalid type for '{key}': expected a string.", key)
    if not isinstance(line["body"], dict):
        return ("invalid_type", "Invalid type for 'body': expected an object.", "body")
    if line["method"] != "POST":
        return (
            "invalid_value",
            f"Invalid value: '{line['method']}'. Supported values are: 'POST'.",
            "method",
        )
    return None


class BatchState:
    """Every file and batch of one fake, and the clock they live on."""

    def __init__(
        self,
        profile: ModelProfile,
        *,
        clock: Clock | None = None,
        timing: BatchTiming | None = None,
        seed: int = 0,
        azure_deployments: frozenset[str] | None = None,
        estimate: Callable[[Any], int] | None = None,
    ) -> None:
        self.profile = profile
        self.clock: Clock = time.monotonic if clock is None else clock
        self.timing = (
            timing_from(None, manual_clock=clock is not None) if timing is None else timing
        )
        self.seed = seed
        # What the rate limiter would charge for a body: the enqueued-token measure.
        self.estimate: Callable[[Any], int] = estimate or (lambda body: 0)
        self.azure_deployments = azure_deployments
        self.files = FileStore()
        self.batches: dict[str, Batch] = {}
        # Exceptions a LineRunner raised (each became a 500 line): bugs of the fake.
        self.crashes: list[BaseException] = []
        self.lock = threading.RLock()
        # The clock time the line being run finishes at (a reply's "created" is then).
        self.running_at = 0.0
        self._wall = int(time.time())  # whole seconds, so that differences are exact
        self._origin = self.clock()

    def unix(self, at: float) -> int:
        """Unix seconds of a clock reading (the clock may be a test's counter from 0)."""
        return self._wall + math.floor(at - self._origin)

    def now(self) -> float:
        return self.clock()

    def advance(self, run: LineRunner) -> float:
        """Bring every batch to the present, oldest first (so the enqueued-token check sees
        the batches ahead of it as they are); returns the present."""
        now = self.clock()
        for batch in list(self.batches.values()):
            if batch.status not in _TERMINAL:
                batch.advance(now, run)
        return now

    def enqueued_tokens(self) -> int:
        return sum(b.enqueued for b in self.batches.values() if b.status in _ACTIVE)

    def refuse_model(self, model: str, azure: bool) -> tuple[str, str] | None:
        """A batch-level refusal of the lines' model: Azure checks its deployment names."""
        if azure and self.azure_deployments is not None and model not in self.azure_deployments:
            return (
                "model_not_found",
                f"The provided model deployment '{model}' does not exist in the AOAI resource.",
            )
        return None

    def resolved_model(self, model: str | None, azure: bool) -> str | None:
        if model is None:
            return None
        if azure:
            return model  # a deployment name
        if self.profile.accepts_model(model):
            return self.profile.for_model(model).response_model
        return model

    def create(
        self,
        *,
        endpoint: str,
        input_file: StoredFile,
        completion_window: str,
        metadata: dict[str, Any] | None,
        azure: bool,
        session: str | None = None,
    ) -> Batch:
        now = self.clock()
        unix = self.unix(now)
        batch_id = ("batch_" + str(_uuid())) if azure else _hex_id("batch_", unix)
        batch = Batch(
            self,
            batch_id=batch_id,
            endpoint=endpoint,
            input_file=input_file,
            completion_window=completion_window,
            metadata=metadata,
            created=now,
            azure=azure,
            session=session,
        )
        self.batches[batch_id] = batch
        return batch

    def write_output(self, batch: Batch, kind: str, data: bytearray, at: float) -> StoredFile:
        return self.files.add(
            "batch_output",
            f"batch_{batch.id}_{kind}.jsonl",
            data,
            created_at=self.unix(at),
            expires_after=self.profile.batch.file_expiry_seconds,
            azure=batch.azure,
        )


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())
