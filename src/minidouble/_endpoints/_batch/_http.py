"""The Files and Batches endpoints: one plain endpoint per collection, behind the router.

``FILES`` answers ``/v1/files...`` and ``BATCHES`` ``/v1/batches...`` (and Azure's
``/openai/files...``, ``/openai/batches...`` with ``api-version``, and the ``/openai/v1/...``
forms without it); the route table (``minidouble._service._routes``) sends them here after
auth. Their state (:class:`BatchState`) is one object in ``service.store("batches")``, so
the fake's ``reset()`` forgets every file and batch. Each batch line runs through
``service.run_body`` (the core without HTTP), billed at the profile's batch price.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from minidouble._endpoints._batch._errors import batch_not_found, cannot_cancel, wrong_input_purpose
from minidouble._endpoints._batch._files import StoredFile, check_upload
from minidouble._endpoints._batch._multipart import form_text, parse_form
from minidouble._endpoints._batch._store import Batch, BatchState, LineRunner
from minidouble._endpoints._protocol import Answer as EndpointAnswer
from minidouble._endpoints._protocol import Exchange, Service
from minidouble._http import HttpRequest
from minidouble._model._errors import (
    OpenAIError,
    invalid_enum,
    invalid_request,
    invalid_type,
    missing_parameter,
    out_of_range,
    unknown_parameter,
)
from minidouble._model._gateway import azure_error, invalid_url
from minidouble._model._validate import _check_metadata, parse_json_body
from minidouble._wire._writers import (
    api_headers,
    compact,
    error_response,
    json_response,
    pretty,
)

__all__ = ["BATCHES", "FILES", "BatchApi", "batch_state"]

_PATH = re.compile(
    r"^(/v1|/openai/v1|/openai)/(files|batches)(?:/([^/]+))?(?:/(content|cancel))?/?$"
)
_OCTET = "application/octet-stream"
_JSON = "application/json"
_CREATE_KEYS = frozenset(
    {"input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"}
)
_AZURE_MIN_FILE_EXPIRY = 1_209_600


def batch_state(service: Service) -> BatchState:
    """The fake's files and batches (made on first use; ``reset()`` drops them)."""

    def make() -> BatchState:
        return BatchState(
            service.profile,
            clock=service.clock.now,
            timing=service.batch_timing,
            azure_deployments=service.azure_deployments,
            estimate=service.estimate_tokens,
        )

    state: BatchState = service.store("batches").setdefault("", make)
    return state


def line_runner(service: Service) -> LineRunner:
    """Runs each line through ``service.run_body``, in its batch's session and flavour."""
    factor = service.profile.batch.price_factor

    def run(batch: Batch, url: str, body: dict[str, Any], custom_id: str) -> tuple[int, Any]:
        model = body.get("model")
        deployment = (model if isinstance(model, str) else "") if batch.azure else None
        return service.run_body(
            "responses" if url.rstrip("/").endswith("/responses") else "chat",
            body,
            price_factor=factor,
            session=batch.session,
            azure_deployment=deployment,
            custom_id=custom_id,
            created=batch.state.unix(batch.state.running_at),
        )

    return run


class BatchApi:
    """``/v1/files...`` or ``/v1/batches...``: dispatched by method, item and action."""

    def handle(self, service: Service, exchange: Exchange) -> EndpointAnswer:
        request = exchange.request
        match = _PATH.match(request.path)
        flavor = exchange.flavor
        if match is None:  # the route table and _PATH disagree: the gateway's 404
            refused = (
                azure_error("404") if flavor.azure else invalid_url(request.method, request.path)
            )
            return EndpointAnswer(error_response(refused, _headers(exchange), flavor=flavor))
        _, collection, item, action = match.groups()
        route = _ROUTES.get((request.method, collection, item is not None, action))
        if route is None:
            refused = (
                azure_error("404") if flavor.azure else invalid_url(request.method, request.path)
            )
            return EndpointAnswer(
                error_response(refused, [("x-request-id", exchange.request_id)], flavor=flavor)
            )
        state = batch_state(service)
        run = line_runner(service)
        try:
            with state.lock:
                state.advance(run)
                status, body, content_type = route(
                    request, state, run, item or "", flavor.azure, exchange.session
                )
        except OpenAIError as error:
            return EndpointAnswer(error_response(error, _headers(exchange), flavor=flavor))
        return EndpointAnswer(json_response(status, body, content_type, _headers(exchange)))


FILES = BatchApi()
BATCHES = FILES  # one object: batches read the files


def _headers(exchange: Exchange) -> list[tuple[str, str]]:
    # Files and batches answers carry the service headers but no x-ratelimit-* (reference §1).
    flavor = exchange.flavor
    elapsed = round((time.perf_counter() - exchange.started) * 1000)
    limits: dict[str, str] | None = None if flavor.azure else {}
    return api_headers(
        exchange.request_id, processing_ms=elapsed, rate_limits=limits, flavor=flavor
    )


Answer = tuple[int, bytes, str]
Route = Callable[[HttpRequest, BatchState, LineRunner, str, bool, str | None], Answer]


def _batch_json(document: Any) -> bytes:
    # Batch objects are pretty-printed without the trailing newline of other objects.
    return pretty(document)[:-1]


# --- files ------------------------------------------------------------------------------


def _upload(
    request: HttpRequest,
    state: BatchState,
    run: LineRunner,
    _: str,
    azure: bool,
    session: str | None,
) -> Answer:
    form = parse_form(request.headers.get("content-type"), request.body)
    file_part = form.get("file")
    purpose = form_text(form["purpose"]) if "purpose" in form else None
    rules = state.profile.batch
    check_upload(
        purpose,
        None if file_part is None else file_part.filename,
        None if file_part is None else file_part.data,
        rules,
    )
    assert file_part is not None and purpose is not None
    expires_after: int | None = rules.file_expiry_seconds if purpose == "batch" else None
    if "expires_after[seconds]" in form:
        expires_after = _expiry_seconds(
            form_text(form["expires_after[seconds]"]), azure, rules.file_expiry_seconds
        )
    stored = state.files.add(
        purpose,
        file_part.filename or "file",
        file_part.data,
        created_at=state.unix(state.now()),
        expires_after=expires_after,
        azure=azure,
    )
    return 200, pretty(stored.document()), _JSON


def _expiry_seconds(text: str, azure: bool, maximum: int) -> int:
    minimum = _AZURE_MIN_FILE_EXPIRY if azure else 3_600
    param = "expires_after.seconds"
    try:
        seconds = int(text)
    except ValueError:
        raise invalid_type(param, "an integer", text) from None
    if not minimum <= seconds <= maximum:
        bound = maximum if seconds > maximum else minimum
        raise out_of_range(param, seconds, bound, above=seconds > maximum, integer=True)
    return seconds


def _file(
    request: HttpRequest,
    state: BatchState,
    run: LineRunner,
    file_id: str,
    _: bool,
    session: str | None,
) -> Answer:
    return 200, pretty(state.files.get(file_id).document()), _JSON


def _content(
    request: HttpRequest,
    state: BatchState,
    run: LineRunner,
    file_id: str,
    _: bool,
    session: str | None,
) -> Answer:
    stored = state.files.get(file_id)
    if isinstance(stored.data, bytearray):
        # First download of an output file: frozen once, so that every download (and the
        # request log's copy of each answer) shares one bytes object.
        stored.data = bytes(stored.data)
    return 200, stored.data, _OCTET


def _delete_file(
    request: HttpRequest,
    state: BatchState,
    run: LineRunner,
    file_id: str,
    _: bool,
    session: str | None,
) -> Answer:
    deleted = state.files.delete(file_id)
    return 200, pretty({"id": deleted.id, "object": "file", "deleted": True}), _JSON


def _list_files(
    request: HttpRequest,
    state: BatchState,
    run: LineRunner,
    _: str,
    azure: bool,
    session: str | None,
) -> Answer:
    query = request.query
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_enum("order", order, ("asc", "desc"), 20)
    limit = _limit(query.get("limit"), default=10_000, maximum=10_000)
    files: list[StoredFile] = state.files.listed(query.get("purpose") or None)
    if order == "desc":
        files.reverse()
    page, more = _page(files, query.get("after"), limit)
    return 200, pretty(_list([f.document() for f in page], more)), _JSON


# --- batches ------------------------------------------------------------------------------


def _create(
    request: HttpRequest,
    state: BatchState,
    run: LineRunner,
    _: str,
    azure: bool,
    session: str | None,
) -> Answer:
    body = parse_json_body(request.body)
    if not isinstance(body, Mapping):
        raise invalid_type("body", "an object", body)
    for key in body:
        if key not in _CREATE_KEYS:
            raise unknown_parameter(str(key))
    values = {}
    for key in ("input_file_id", "endpoint", "completion_window"):
        value = body.get(key)
        if value is None:
            raise missing_parameter(key)
        if not isinstance(value, str):
            raise invalid_type(key, "a string", value)
        values[key] = value
    rules = state.profile.batch
    endpoint = values["endpoint"]
    endpoints = rules.endpoints
    if azure:  # Azure names them without the version ("/chat/completions") or with it
        endpoints = (*endpoints, *(e[3:] for e in endpoints))
    if endpoint not in endpoints:
        raise invalid_enum("endpoint", endpoint, rules.endpoints, 40)
    if values["completion_window"] not in rules.completion_windows:
        raise invalid_enum(
            "completion_window", values["completion_window"], rules.completion_windows, 20
        )
    metadata = body.get("metadata")
    if metadata is not None:
        _check_metadata(metadata, state.profile)
    try:
        input_file = state.files.get(values["input_file_id"])
    except OpenAIError:
        raise invalid_request(
            f"No such File object: {values['input_file_id']}", param="input_file_id", status=404
        ) from None
    if input_file.purpose != "batch":
        raise wrong_input_purpose(input_file.id, input_file.purpose)
    batch = state.create(
        endpoint=endpoint,
        input_file=input_file,
        completion_window=values["completion_window"],
        metadata=dict(metadata) if metadata is not None else None,
        azure=azure,
        session=session,
    )
    return 200, _batch_json(batch.document()), _JSON


def _found(state: BatchState, batch_id: str) -> Batch:
    batch = state.batches.get(batch_id)
    if batch is None:
        raise batch_not_found(batch_id)
    return batch


def _retrieve(
    request: HttpRequest,
    state: BatchState,
    run: LineRunner,
    batch_id: str,
    _: bool,
    session: str | None,
) -> Answer:
    return 200, _batch_json(_found(state, batch_id).document()), _JSON


def _cancel(
    request: HttpRequest,
    state: BatchState,
    run: LineRunner,
    batch_id: str,
    _: bool,
    session: str | None,
) -> Answer:
    batch = _found(state, batch_id)
    if batch.status in ("validating", "in_progress"):
        batch.cancel(state.now(), run)
    elif batch.status != "cancelling":
        raise cannot_cancel(batch.status)
    # The cancel answer is the one compact batch body (reference §3.2).
    return 200, compact(batch.document()), _JSON


def _list_batches(
    request: HttpRequest,
    state: BatchState,
    run: LineRunner,
    _: str,
    azure: bool,
    session: str | None,
) -> Answer:
    query = request.query
    limit = _limit(query.get("limit"), default=20, maximum=100)
    batches = [b for b in reversed(state.batches.values()) if b.azure == azure]
    page, more = _page(batches, query.get("after"), limit)
    return 200, _batch_json(_list([b.document() for b in page], more)), _JSON


# --- shared ---------------------------------------------------------------------------------


def _limit(text: str | None, *, default: int, maximum: int) -> int:
    if text is None:
        return default
    try:
        limit = int(text)
    except ValueError:
        raise invalid_type("limit", "an integer", text) from None
    if not 1 <= limit <= maximum:
        raise out_of_range(
            "limit", limit, maximum if limit > maximum else 1, above=limit > maximum, integer=True
        )
    return limit


def _page(items: list[Any], after: str | None, limit: int) -> tuple[list[Any], bool]:
    start = 0
    if after:
        ids = [item.id for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    page = items[start : start + limit]
    return page, start + limit < len(items)


def _list(data: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": more,
    }


_ROUTES: dict[tuple[str, str, bool, str | None], Route] = {
    ("POST", "files", False, None): _upload,
    ("GET", "files", False, None): _list_files,
    ("GET", "files", True, None): _file,
    ("GET", "files", True, "content"): _content,
    ("DELETE", "files", True, None): _delete_file,
    ("POST", "batches", False, None): _create,
    ("GET", "batches", False, None): _list_batches,
    ("GET", "batches", True, None): _retrieve,
    ("POST", "batches", True, "cancel"): _cancel,
}
