"""The cassette layer: replay recorded answers, or forward to the upstream and record.

``CassetteLayer(path, record_mode=...).wrap(handler)`` gives the handler every transport
calls. Replay is a dictionary lookup on the request's canonical key (``_match``), so its cost
does not grow with the cassette; a miss never reaches the network unless the record mode
says so, and fails with the nearest recorded request and a diff. Every replayed chat request
is validated and recounted, so a cassette cannot hide a prompt that no longer fits.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args
from urllib.parse import urlsplit

from minidouble._cassettes._errors import CassetteError, CassetteWarning
from minidouble._cassettes._format import (
    FORMAT,
    VERSION,
    decode_body,
    decode_event,
    encode_event,
    encode_request_body,
    encode_response_body,
    parse_document,
    recorded_answer,
    recorded_prompt_tokens,
    render_document,
    split_frames,
    summarize,
)
from minidouble._cassettes._ledger import interaction_id
from minidouble._cassettes._match import (
    IgnoreRule,
    MatchKey,
    RequestIndex,
    body_diff,
    match_key,
    nearest,
    stored_key,
)
from minidouble._cassettes._secrets import (
    ERROR_RESPONSE_HEADERS_KEPT,
    REQUEST_HEADERS_KEPT,
    RESPONSE_HEADERS_KEPT,
    Secrets,
    find_key_like,
    kept_headers,
)
from minidouble._cassettes._store import cassette_lock, write_if_changed
from minidouble._cassettes._upstream import Upstream, UpstreamError, UpstreamResponse
from minidouble._http import Handler, HttpRequest, HttpResponse

if TYPE_CHECKING:
    from minidouble._model._errors import OpenAIError
    from minidouble._model._profile import ModelProfile
    from minidouble._service._script import RecordedRequest

__all__ = [
    "RECORD_MODES",
    "CassetteError",
    "CassetteLayer",
    "CassetteReport",
    "CassetteWarning",
    "RecordMode",
]

RecordMode = Literal["none", "once", "new_episodes", "all"]
RECORD_MODES: tuple[str, ...] = get_args(RecordMode)
_DONE = "data: [DONE]\n\n"
Answered = Literal["replayed", "recorded", "missed"]
# Logs a request with its answer and how the cassette answered; returns the record (to bill
# a recording on when its stream ends), or None when nothing is logged.
Logger = Callable[[HttpResponse, Answered], "RecordedRequest | None"]


@dataclass
class CassetteReport:
    path: Path
    record_mode: str
    replayed: int = 0
    recorded: int = 0
    written: bool = False
    unused: list[str] = field(default_factory=list)
    # With share(): what this user replayed or recorded (interaction_id), for the ledger.
    used: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _fingerprint(interaction: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in interaction.items() if k != "seq"}, sort_keys=True)


def _is_api_path(path: str) -> bool:
    return path.startswith(("/v1/", "/openai/"))


def _path_and_query(request: HttpRequest) -> str:
    query = urlsplit(request.url).query
    return request.path + (f"?{query}" if query else "")


def _ms(seconds: float) -> int:
    """Milliseconds rounded to 10: enough to replay a pace, too coarse to churn every diff."""
    return round(seconds * 100) * 10


def _paced(frames: list[bytes], timing: dict[str, Any]) -> Iterator[bytes]:
    gaps = [timing.get("ttfb_ms", 0), *timing.get("gaps_ms", [])]
    for index, frame in enumerate(frames):
        if index < len(gaps):
            time.sleep(gaps[index] / 1000)
        yield frame


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _bill(record: RecordedRequest, stored_response: Mapping[str, Any]) -> None:
    """Give a logged request the answer and usage its recording holds, as the fake does its own.

    The usage is what the upstream reported when the interaction was recorded; when it reported
    none (a stream without include_usage), the prompt tokens minidouble counted stand.
    """
    if stored_response["status"] >= 400:
        return
    if not record.path.endswith(("/chat/completions", "/responses")):
        # Only the model's answers are billed: a batch object's usage totals its lines (and
        # is polled many times), a file holds no usage.
        return
    record.completion = recorded_answer(stored_response)
    reported = recorded_prompt_tokens(stored_response)
    if reported is not None:
        record.prompt_tokens = reported


def _minidouble_error(status: int, code: str, message: str) -> HttpResponse:
    """An error the test caused, sent so that no SDK retries it and the text is in plain view."""
    body = {"error": {"message": message, "type": "minidouble_cassette_error", "param": None,
                      "code": code}}  # fmt: skip
    headers = [("content-type", "application/json"), ("x-should-retry", "false")]
    return HttpResponse(status, headers, json.dumps(body, indent=2).encode())


class CassetteLayer:
    """One cassette file in one record mode; ``wrap`` it around the fake's handler.

    * ``record_mode``: ``"none"`` replays only (a miss is an error; CI's default), ``"once"``
      records a cassette that does not exist yet and otherwise replays only,
      ``"new_episodes"`` replays what matches and records the rest, ``"all"`` re-records
      everything and replaces the cassette's interactions.
    * ``upstream``: where recorded requests go. By default an intercepted request goes to the
      host it named (api.openai.com, your Azure resource) and a loopback one to
      ``https://api.openai.com/v1``.
    * ``ignore_fields``: JSON pointers (``"/metadata/run_id"``, ``"/messages/*/name"``) left
      out of matching.
    * ``strict``: unused interactions and drifted usage fail instead of warning.
    * ``timing``: ``"off"`` replays instantly (the default); ``"recorded"`` waits as long as
      the upstream took: before the answer, and between stream events.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        record_mode: str = "none",
        upstream: str | None = None,
        ignore_fields: Sequence[str] = (),
        strict: bool = False,
        timing: str = "off",
        profile: ModelProfile | None = None,
    ) -> None:
        if record_mode not in RECORD_MODES:
            raise ValueError(
                f"minidouble: record_mode must be one of {', '.join(map(repr, RECORD_MODES))}, "
                f"got {record_mode!r}."
            )
        if timing not in ("off", "recorded"):
            raise ValueError(
                f"minidouble: cassette timing must be 'off' (replay instantly) or 'recorded' "
                f"(wait as long as the upstream took), got {timing!r}."
            )
        self.timing = timing
        # Standalone revalidation (``wrap``) checks as this profile; inside the fake, the
        # pipeline validates with the fake's own before the cassette answers.
        self._profile = profile
        if isinstance(ignore_fields, str):
            ignore_fields = (ignore_fields,)
        self.path = Path(path)
        self.record_mode = cast(RecordMode, record_mode)
        self.strict = strict
        self._ignores = tuple(IgnoreRule.parse(pattern) for pattern in ignore_fields)
        self._upstream = Upstream(upstream)
        self._secrets = Secrets()
        self._lock = threading.Lock()
        exists = self.path.exists()
        if record_mode == "none" and not exists:
            raise CassetteError(
                f"minidouble: the cassette {self.path} does not exist and record_mode='none' "
                "never records. Record it once with --minidouble-record-mode=once (or "
                "record_mode='once' on FakeGPT4oMini / the marker) and your API key in the "
                "environment, then commit the file."
            )
        self._replaying = record_mode in ("none", "new_episodes") or (
            record_mode == "once" and exists
        )
        self._recording = record_mode in ("new_episodes", "all") or (
            record_mode == "once" and not exists
        )
        self._document: dict[str, Any] = {"interactions": []}
        if exists:
            self._document = self._read(self.path)
        self._loaded: list[dict[str, Any]] = self._document["interactions"]
        self._keys = [self._stored_key(i) for i in self._loaded] if self._replaying else []
        self._index = RequestIndex(self._keys)
        self._new: list[tuple[int, dict[str, Any]]] = []
        self._orders = 0
        self._open_streams = 0
        self._client: str | None = None
        self._origin: str | None = None
        self._report = CassetteReport(self.path, record_mode)
        self._closed = False
        self._log: Callable[[RecordedRequest], None] | None = None
        self._user: str | None = None

    def share(self, user: str) -> None:
        """Mark this layer as one of several users of its file (a test, a server session).

        Recordings are tagged with ``user``, so ``record_mode="all"`` replaces only this
        user's interactions, never another test's; and unused interactions are not judged
        here (this user replays only what it sends) but handed over in ``report.used`` for a
        :class:`~minidouble._cassettes._ledger.CassetteLedger` to judge across all users.
        """
        self._user = user

    @property
    def report(self) -> CassetteReport:
        return self._report

    @property
    def records(self) -> bool:
        """Whether requests that miss (or all, under ``"all"``) go to the upstream."""
        return self._recording

    @property
    def blocking(self) -> bool:
        """Whether handling may wait: on the upstream's network I/O, or on recorded timing."""
        return self._recording or self.timing == "recorded"

    # -----------------------------------------------------------------------------------------

    def wrap(
        self, handler: Handler, log: Callable[[RecordedRequest], None] | None = None
    ) -> Handler:
        """The cassette on its own, as a handler: ``handler`` answers only non-API paths.

        Inside a fake the cassette is not wrapped around anything: the fake's pipeline asks
        :meth:`answer` in place of its engine. ``log`` receives every request answered here.
        """
        self._log = log

        def cassette_handler(request: HttpRequest) -> HttpResponse:
            if not _is_api_path(request.path):
                return handler(request)
            return self.handle(request)

        return cassette_handler

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer ``request`` standalone: revalidated here, logged to the ``wrap`` log."""
        received_at = time.monotonic()
        body = _json_or_none(request.body)
        refusal, counted = self._revalidate(request, body)

        def log(answer: HttpResponse, how: Answered) -> RecordedRequest | None:
            if self._log is None:
                return None
            from minidouble._service._script import RecordedRequest

            record = RecordedRequest(
                method=request.method,
                path=request.path,
                headers=request.headers,
                body=body,
                prompt_tokens=counted if how == "replayed" and refusal is None else None,
                response=answer,
                received_at=received_at,
                cassette=how,
            )
            self._log(record)
            return record

        return self.answer(request, body=body, refusal=refusal, prompt_tokens=counted, log=log)

    def answer(
        self,
        request: HttpRequest,
        *,
        body: Any,
        refusal: OpenAIError | None,
        prompt_tokens: int | None,
        log: Logger,
    ) -> HttpResponse:
        """The recorded (or now recorded) answer to ``request``, in place of the engine.

        ``refusal`` is the error GPT-4o mini answers the request with today (None: valid),
        ``prompt_tokens`` what it counts; ``log`` logs the request with its answer (once)
        and returns the record, which a recording is billed on when its stream ends.
        """
        if self._closed:
            raise RuntimeError(f"minidouble: the cassette {self.path} is closed.")
        key = match_key(
            request.method,
            _path_and_query(request),
            self._secrets.scrub_bytes(request.body),
            self._ignores,
        )
        if self._replaying:
            with self._lock:
                position = self._index.take(key)
            if position is not None:
                interaction = self._loaded[position]
                return self._replay(request, interaction, refusal, prompt_tokens, log)
        if self._recording:
            return self._record(request, key, log)
        answer = self._miss(key)
        log(answer, "missed")
        return answer

    # -----------------------------------------------------------------------------------------
    # Replay

    def _stored_key(self, interaction: dict[str, Any]) -> MatchKey:
        return stored_key(interaction["request"], self._ignores)

    def _replay(
        self,
        request: HttpRequest,
        interaction: dict[str, Any],
        refusal: OpenAIError | None,
        counted: int | None,
        log: Logger,
    ) -> HttpResponse:
        with self._lock:
            self._report.replayed += 1
        response = interaction["response"]
        status: int = response["status"]
        seq = interaction["seq"]
        if refusal is not None and status < 400:
            self._report.errors.append(
                f"minidouble: interaction #{seq} of {self.path} was answered with {status} when "
                f"it was recorded, but GPT-4o mini refuses the request the test sends now: "
                f"{refusal.status} {refusal.message} The test received that error. Shrink the "
                "request, or re-record the cassette if the upstream now accepts it."
            )
            from minidouble._wire._writers import error_response, new_request_id

            refused = error_response(refusal, [("x-request-id", new_request_id())])
            log(refused, "replayed")
            return refused
        if refusal is None and counted is not None and status < 400:
            recorded = recorded_prompt_tokens(response)
            if recorded is not None and recorded != counted:
                self._report.warnings.append(
                    f"minidouble: interaction #{seq} of {self.path} recorded usage.prompt_tokens"
                    f"={recorded}, but the replayed request counts {counted} prompt "
                    "tokens: the request changed in an ignored field or the recording is stale. "
                    "Re-record it (--minidouble-record-mode=new_episodes after deleting it, or "
                    "=all) so the usage the test sees is true."
                )
        from minidouble._wire._writers import new_request_id

        headers = [*response.get("headers", {}).items(), ("x-request-id", new_request_id())]
        events = response.get("events")
        timing = interaction.get("timing") if self.timing == "recorded" else None
        if events is not None:
            frames = [decode_event(e) for e in events]
            stream = _paced(frames, timing) if timing else frames
            answer = HttpResponse(status, headers, b"", stream)
        else:
            if timing:
                time.sleep(timing.get("total_ms", timing.get("ttfb_ms", 0)) / 1000)
            answer = HttpResponse(status, headers, decode_body(response))
        record = log(answer, "replayed")
        if record is not None:
            _bill(record, response)
        return answer

    def _revalidate(self, request: HttpRequest, body: Any) -> tuple[OpenAIError | None, int | None]:
        """Check the request as GPT-4o mini would today (standalone only: inside the fake the
        pipeline validates): (the refusal, or None; the prompt tokens counted, or None for
        requests that are not checked)."""
        from minidouble._service._routes import route

        routed = route(request)
        if isinstance(routed, tuple) or request.method != "POST" or not isinstance(body, dict):
            return None, None
        responses = request.path.endswith("/responses")
        if responses and body.get("previous_response_id") is not None:
            # continues state held by the recorded upstream, not by the cassette
            return None, None
        from minidouble._endpoints._responses._validate import check_responses_request
        from minidouble._model._errors import OpenAIError
        from minidouble._model._profile import GPT4O_MINI
        from minidouble._model._validate import check_request

        profile = self._profile or GPT4O_MINI
        try:
            if responses:
                azure = routed.flavor.azure
                return None, check_responses_request(body, azure=azure, profile=profile)
            return None, check_request(body, path=request.path, profile=profile)
        except OpenAIError as error:
            return error, None

    def _miss(self, key: MatchKey) -> HttpResponse:
        if self._index.times_recorded(key):
            detail = (
                f"This exact request was recorded {self._index.times_recorded(key)} time(s) and "
                "every recording has been replayed already: the code under test now sends it "
                "more often than when the cassette was recorded."
            )
        else:
            position = nearest(key, self._keys)
            if position is None:
                detail = "The cassette holds no interactions."
            else:
                seq = self._loaded[position]["seq"]
                diff = body_diff(self._keys[position], key, f"recorded #{seq}")
                detail = (
                    f"The nearest recorded request is interaction #{seq} (key "
                    f"{self._keys[position].digest}); what differs:\n{diff}"
                )
        flag = "new_episodes" if self.record_mode in ("none", "once") else "all"
        message = (
            f"minidouble: no recorded interaction in {self.path} matches {key.target} "
            f"(key {key.digest}), and record_mode={self.record_mode!r} does not go to the "
            f"network.\n{detail}\nTo re-record, run pytest with "
            f"--minidouble-record-mode={flag} (or pass record_mode={flag!r} to FakeGPT4oMini "
            "or the gpt4o_mini marker) with your API key in the environment, then review "
            "the cassette's diff before committing it."
        )
        with self._lock:
            self._report.errors.append(message)
        return _minidouble_error(400, "minidouble_cassette_miss", message)

    # -----------------------------------------------------------------------------------------
    # Record

    def _record(self, request: HttpRequest, key: MatchKey, log: Logger) -> HttpResponse:
        with self._lock:
            order = self._orders
            self._orders += 1
            if self._client is None:
                self._client = request.headers.get("user-agent")
            if self._origin is None:
                scheme, host, port, _ = self._upstream.target(request)
                default = 443 if scheme == "https" else 80
                self._origin = (
                    self._upstream.base_url
                    if self._upstream.explicit
                    else (f"{scheme}://{host}" + ("" if port == default else f":{port}"))
                )
        self._secrets.add_headers(request.headers)
        started = time.monotonic()
        try:
            forwarded = self._upstream.send(request)
        except UpstreamError as exc:
            message = (
                f"minidouble: recording into {self.path} failed: {exc}. Check the upstream "
                f"({self._upstream.describe(request)}) and your network, or replay with "
                "--minidouble-record-mode=none."
            )
            with self._lock:
                self._report.errors.append(message)
            answer = _minidouble_error(502, "minidouble_upstream_unreachable", message)
            log(answer, "recorded")
            return answer
        stored_request: dict[str, Any] = {
            "method": request.method.upper(),
            "path": self._secrets.scrub(_path_and_query(request)),
            "headers": kept_headers(request.headers.items(), REQUEST_HEADERS_KEPT),
            **self._secrets.scrub_value(encode_request_body(request.body)),
        }
        if forwarded.is_stream:
            answer = HttpResponse(forwarded.status, forwarded.headers, b"")
            # Logged now, in arrival order; billed once the stream has ended.
            record = log(answer, "recorded")
            answer.stream = self._recording_stream(
                order, stored_request, forwarded, started, record
            )
            return answer
        try:
            body = forwarded.read()
        except UpstreamError as exc:
            message = f"minidouble: recording into {self.path} failed: {exc}."
            with self._lock:
                self._report.errors.append(message)
            answer = _minidouble_error(502, "minidouble_upstream_broke_off", message)
            log(answer, "recorded")
            return answer
        timing = {
            "ttfb_ms": _ms(forwarded.headers_at - started),
            "total_ms": _ms(time.monotonic() - started),
        }
        response = self._add(order, stored_request, forwarded, encode_response_body(body), timing)
        answer = HttpResponse(forwarded.status, forwarded.headers, body)
        record = log(answer, "recorded")
        if record is not None:
            _bill(record, response)
        return answer

    def _recording_stream(
        self,
        order: int,
        stored_request: dict[str, Any],
        forwarded: UpstreamResponse,
        started: float,
        record: RecordedRequest | None,
    ) -> Iterator[bytes]:
        """Pass each event on the moment it is complete, and keep it for the cassette."""
        events: list[Any] = []
        arrivals: list[float] = []
        finished = False
        with self._lock:
            self._open_streams += 1
        try:
            pending = b""
            for data in forwarded.chunks():
                frames, pending = split_frames(pending + data)
                for frame in frames:
                    events.append(encode_event(frame))
                    arrivals.append(time.monotonic())
                    yield frame
            if pending:
                events.append(encode_event(pending))
                arrivals.append(time.monotonic())
                yield pending
            finished = True
        finally:
            forwarded.close()
            with self._lock:
                self._open_streams -= 1
            # SDKs may hang up right after [DONE] without reading to the end (aimock#288).
            if finished or _DONE in events:
                timing = {
                    "ttfb_ms": _ms(arrivals[0] - started) if arrivals else 0,
                    "gaps_ms": [_ms(later - earlier) for earlier, later in pairwise(arrivals)],
                }
                response = self._add(order, stored_request, forwarded, {"events": events}, timing)
                if record is not None:
                    _bill(record, response)
            else:
                self._report.warnings.append(
                    f"minidouble: a stream for {stored_request['path']} was abandoned after "
                    f"{len(events)} event(s), before its end; it was not recorded into "
                    f"{self.path}."
                )

    def _add(
        self,
        order: int,
        stored_request: dict[str, Any],
        forwarded: UpstreamResponse,
        body_fields: dict[str, Any],
        timing: dict[str, Any],
    ) -> dict[str, Any]:
        """Keep an interaction for the cassette; its stored response."""
        allowed = RESPONSE_HEADERS_KEPT if forwarded.status < 400 else ERROR_RESPONSE_HEADERS_KEPT
        response = {
            "status": forwarded.status,
            "headers": kept_headers(forwarded.headers, allowed),
            **self._secrets.scrub_value(body_fields),
        }
        interaction = {
            "seq": 0,
            "key": self._stored_key({"request": stored_request}).digest,
            "summary": summarize(response),
            "request": stored_request,
            "response": response,
            "timing": timing,
        }
        if self._user is not None:
            interaction["recorded_by"] = self._user
        with self._lock:
            self._new.append((order, interaction))
            self._report.recorded += 1
        return response

    # -----------------------------------------------------------------------------------------
    # Teardown

    def close(self, *, failed: bool = False) -> CassetteReport:
        """Save what was recorded, then fail on errors and warn about the rest (once).

        ``failed`` says the code under test raised: complete new interactions are still
        added, but an ``all`` re-recording does not replace the cassette with a partial one.
        """
        if self._closed:
            return self._report
        self._closed = True
        report = self._report
        if self._open_streams:
            report.warnings.append(
                f"minidouble: {self._open_streams} recorded stream(s) were still open at "
                f"teardown and were not saved into {self.path}: read streams to their end."
            )
        if self._replaying and self._user is None:
            for position in self._index.unused():
                interaction = self._loaded[position]
                request = interaction["request"]
                report.unused.append(
                    f"#{interaction['seq']} {request['method']} {request['path']} "
                    f"(key {interaction['key']})"
                )
        if report.unused:
            listed = "; ".join(report.unused[:10])
            more = f" and {len(report.unused) - 10} more" if len(report.unused) > 10 else ""
            report.warnings.append(
                f"minidouble: {len(report.unused)} interaction(s) of {self.path} were never "
                f"replayed: {listed}{more}. The code under test sends fewer requests than when "
                "it was recorded; re-record with record_mode='all' (--minidouble-record-mode=all, "
                "minidouble serve --record-mode all) to drop them."
            )
        if failed and self.record_mode == "all":
            report.warnings.append(
                f"minidouble: {self.path} was not re-recorded because the block failed; the "
                "previous cassette is untouched."
            )
        elif self._recording and (self._new or self.record_mode != "new_episodes"):
            try:
                report.written = self._save()
            except CassetteError as exc:
                report.errors.append(str(exc))
        if self._user is not None:
            report.used = self._used_ids()
        errors = list(report.errors)
        if self.strict:
            errors += report.warnings
        if errors:
            raise CassetteError("\n\n".join(errors))
        for message in report.warnings:
            warnings.warn(CassetteWarning(message), stacklevel=2)
        return report

    def _used_ids(self) -> list[str]:
        replayed: list[dict[str, Any]] = []
        if self._replaying:
            unused = set(self._index.unused())
            replayed = [i for n, i in enumerate(self._loaded) if n not in unused]
        recorded = [interaction for _, interaction in self._new]
        return [interaction_id(interaction) for interaction in (*replayed, *recorded)]

    def _replaced_by_all(self, on_disk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What an ``all`` re-recording keeps of the file as it is on disk now.

        Alone, the re-recording replaces what this layer loaded. As one user of a shared file
        it replaces only its own: interactions it recorded before, and untagged ones (older
        cassettes) for requests it sent again; everyone else's stay.
        """
        if self._user is None:
            ours = Counter(_fingerprint(i) for i in self._loaded)
            survivors = []
            for interaction in on_disk:
                fingerprint = _fingerprint(interaction)
                if ours[fingerprint]:
                    ours[fingerprint] -= 1
                else:
                    survivors.append(interaction)
            return survivors
        sent = {interaction["key"] for _, interaction in self._new}
        return [
            interaction
            for interaction in on_disk
            if not (
                interaction.get("recorded_by") == self._user
                or (
                    "recorded_by" not in interaction
                    and self._stored_key(interaction).digest in sent
                )
            )
        ]

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        return parse_document(path.read_bytes(), str(path))

    def _save(self) -> bool:
        new = [interaction for _, interaction in sorted(self._new, key=lambda item: item[0])]
        with cassette_lock(self.path):
            # Another process may have written since we loaded (xdist workers sharing a file).
            on_disk = self._read(self.path) if self.path.exists() else {"interactions": []}
            kept = on_disk["interactions"]
            if self.record_mode == "all":
                kept = self._replaced_by_all(kept)
            interactions = [*kept, *new]
            for seq, interaction in enumerate(interactions, start=1):
                interaction["seq"] = seq
            recorded_with = dict(on_disk.get("recorded_with") or {})
            if new:
                from minidouble import __version__

                recorded_with = {"minidouble": __version__}
                if self._client:
                    recorded_with["client"] = self._client
            document = {
                "format": FORMAT,
                "version": VERSION,
                "recorded_with": recorded_with,
                "upstream": on_disk.get("upstream") or self._upstream_label(),
                "interactions": interactions,
            }
            problems = find_key_like(document)
            if problems:
                raise CassetteError(
                    f"minidouble: refused to write {self.path}: "
                    + "; ".join(problems)
                    + ". Cassettes must never hold credentials. If it is a real key, rotate "
                    "it and put it in OPENAI_API_KEY (its value is then replaced wherever it "
                    "occurs); if it is test data, change it so it does not look like a key. "
                    "Nothing was written."
                )
            return write_if_changed(self.path, render_document(document))

    def _upstream_label(self) -> str | None:
        """Where the recording came from, without credentials in the URL."""
        if self._origin is None:
            return None
        parts = urlsplit(self._origin)
        host = parts.hostname or ""
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        return parts._replace(netloc=netloc, query="", fragment="").geturl()
