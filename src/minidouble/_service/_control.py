"""The control API: scripting a served fake over HTTP, from any language.

Reachable only through the loopback server (``minidouble serve``, ``fake.serve()``), never
by in-process interception, under the reserved prefix ``/_minidouble/``:

* ``POST /_minidouble/reply``: the JSON body is ``fake.reply``'s keywords
  (``{"text": "sunny"}``, ``{"tool_calls": [...]}``, ``{"json": {...}}``, ``{"refusal": ...}``);
* ``POST /_minidouble/fail``: ``fake.fail``'s keywords (``{"status": 503}``,
  ``{"status": "stream_cut", "after_chunks": 2}``, ``"times"``, ``"probability"``...);
* ``GET /_minidouble/requests``: the session's request log as JSON;
* ``POST /_minidouble/reset``: forget the session's scripts and log (``?all=true``: every
  session's, and every stored object);
* ``GET /_minidouble/health``: ``{"status": "ok"}`` once the server answers.

``X-Minidouble-Session: NAME`` scopes each call to that session, as it scopes API requests;
without it, the default session. A session exists once named, so reading an unknown one
gives an empty log. A client's mistake (bad JSON, an unknown keyword, a wrong method) is a
4xx with a ``minidouble:`` message, never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from minidouble._endpoints._protocol import Answer, Exchange, Service
from minidouble._http import HttpResponse
from minidouble._service._fixtures import REPLY_KEYS, FixtureError, failure_from, reply_from
from minidouble._service._script import RecordedRequest

if TYPE_CHECKING:
    from minidouble._service._app import GPT4oMiniApp

__all__ = ["CONTROL", "CONTROL_METHODS", "PREFIX", "Control", "log_entry"]

PREFIX = "/_minidouble/"
# Every method reaches the control endpoint, so that a wrong one is told what is right.
CONTROL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class _Refused(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


def _json(status: int, document: Any, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    body = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return Answer(HttpResponse(status, (("content-type", "application/json"), *headers), body))


def _error(refused: _Refused, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    error = {
        "message": refused.message,
        "type": "invalid_request_error",
        "param": refused.param,
        "code": "minidouble_control",
    }
    return _json(refused.status, {"error": error}, headers)


def _keywords(exchange: Exchange, example: str) -> dict[str, Any]:
    """The request's JSON object body (empty body: no keywords)."""
    raw = exchange.request.body
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Refused(
            400,
            f"minidouble: the body of {exchange.request.method} {exchange.request.path} is "
            f"not JSON ({exc}); expected a JSON object such as {example}.",
        ) from None
    if not isinstance(document, dict):
        raise _Refused(
            400,
            f"minidouble: the body of {exchange.request.path} must be a JSON object such as "
            f"{example}, got {type(document).__name__}.",
        )
    return document


def _session_name(exchange: Exchange) -> str | None:
    return exchange.session


def _reply(app: GPT4oMiniApp, exchange: Exchange) -> Answer:
    keywords = _keywords(exchange, '{"text": "sunny"}')
    try:
        reply_from(keywords, "POST /_minidouble/reply")
    except FixtureError as exc:
        raise _Refused(400, str(exc), _param(keywords, REPLY_KEYS)) from None
    scripts = app.scripts(_session_name(exchange))
    if "json" in keywords:
        scripts.reply(
            keywords.get("text"),
            tool_calls=keywords.get("tool_calls"),
            json=keywords["json"],
            refusal=keywords.get("refusal"),
        )
    else:
        scripts.reply(
            keywords.get("text"),
            tool_calls=keywords.get("tool_calls"),
            refusal=keywords.get("refusal"),
        )
    return _json(200, _queued(app, exchange))


def _fail(app: GPT4oMiniApp, exchange: Exchange) -> Answer:
    keywords = _keywords(exchange, '{"status": 503}')
    try:
        checked = failure_from(keywords, "POST /_minidouble/fail", counting=True)
    except FixtureError as exc:
        raise _Refused(400, str(exc)) from None
    app.scripts(_session_name(exchange)).fail(**checked)
    return _json(200, _queued(app, exchange))


def _queued(app: GPT4oMiniApp, exchange: Exchange) -> dict[str, Any]:
    session = app.state.session(_session_name(exchange))
    with app.state.lock:
        replies, failures = len(session.replies), len(session.failures) + len(session.standing)
    return {"session": session.name, "queued": {"replies": replies, "failures": failures}}


def log_entry(record: RecordedRequest) -> dict[str, Any]:
    """One logged request as the control API serves it."""
    return {
        "method": record.method,
        "path": record.path,
        "status": record.status,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens if record.answered else None,
        "body": record.body,
        "fault": record.fault,
        "scripted": record.scripted,
        "cassette": record.cassette,
    }


def _requests(app: GPT4oMiniApp, exchange: Exchange) -> Answer:
    session = app.state.session(_session_name(exchange))
    with app.state.lock:
        records = list(session.requests)
    entries = [log_entry(record) for record in records]
    return _json(200, {"object": "list", "session": session.name, "data": entries})


def _reset(app: GPT4oMiniApp, exchange: Exchange) -> Answer:
    everything = exchange.request.query.get("all", "false").lower()
    if everything not in ("true", "false"):
        raise _Refused(
            400,
            f"minidouble: POST /_minidouble/reset?all= takes true or false, got {everything!r}.",
            "all",
        )
    if everything == "true":
        app.reset()
        return _json(200, {"reset": "all"})
    session = app.state.session(_session_name(exchange))
    with app.state.lock:
        session.clear()
    return _json(200, {"reset": session.name})


def _health(app: GPT4oMiniApp, exchange: Exchange) -> Answer:
    profile = app.profile
    return _json(200, {"status": "ok", "model": profile.response_model})


_CALLS: dict[str, tuple[str, Callable[[GPT4oMiniApp, Exchange], Answer]]] = {
    "reply": ("POST", _reply),
    "fail": ("POST", _fail),
    "requests": ("GET", _requests),
    "reset": ("POST", _reset),
    "health": ("GET", _health),
}


def _param(keywords: Mapping[str, Any], known: tuple[str, ...]) -> str | None:
    return next((key for key in keywords if key not in known), None)


class Control:
    """The control API as an endpoint; the service hands it itself (the whole app), since
    scripting is the service's state, not something the model endpoints may reach."""

    def handle(self, service: Service, exchange: Exchange) -> Answer:
        app: GPT4oMiniApp = service  # type: ignore[assignment]
        assert exchange.route is not None
        call = exchange.route.params.get("call", "")
        method = exchange.request.method
        known = ", ".join(f"{m} {PREFIX}{name}" for name, (m, _) in _CALLS.items())
        entry = _CALLS.get(call)
        if entry is None:
            return _error(
                _Refused(
                    404,
                    f"minidouble: there is no control call {PREFIX}{call}; the control API "
                    f"has {known}.",
                )
            )
        wanted, answer = entry
        if method != wanted:
            return _error(
                _Refused(
                    405,
                    f"minidouble: {PREFIX}{call} takes {wanted}, not {method}. Send "
                    f"{wanted} {PREFIX}{call}.",
                ),
                (("allow", wanted),),
            )
        try:
            return answer(app, exchange)
        except _Refused as refused:
            return _error(refused)


CONTROL = Control()
