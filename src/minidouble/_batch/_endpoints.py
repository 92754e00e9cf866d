"""The Files and Batches endpoints as functions of a request, the state and a LineRunner.

``handle(request, state, run)`` answers every ``/v1/files...`` and ``/v1/batches...`` path
(and Azure's ``/openai/files...``, ``/openai/batches...`` with ``api-version``, and the
``/openai/v1/...`` forms without it), or returns None for any other path. Authentication is
the caller's (the router's) job, as for every endpoint.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from minidouble._batch._errors import batch_not_found, cannot_cancel, wrong_input_purpose
from minidouble._batch._files import StoredFile, check_upload
from minidouble._batch._multipart import form_text, parse_form
from minidouble._batch._store import Batch, BatchState, LineRunner
from minidouble._errors import (
    OpenAIError,
    invalid_enum,
    invalid_request,
    invalid_type,
    missing_parameter,
    out_of_range,
    unknown_parameter,
)
from minidouble._faults import azure_error, invalid_url
from minidouble._http import HttpRequest, HttpResponse
from minidouble._validate import _check_metadata, parse_json_body
from minidouble._wire import (
    OPENAI,
    Flavor,
    api_headers,
    compact,
    error_response,
    json_response,
    new_request_id,
    pretty,
)

__all__ = ["handle", "is_batch_path"]

_PATH = re.compile(
    r"^(/v1|/openai/v1|/openai)/(files|batches)(?:/([^/]+))?(?:/(content|cancel))?/?$"
)
_OCTET = "application/octet-stream"
_JSON = "application/json"
_CREATE_KEYS = frozenset(
    {"input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"}
)
_AZURE_MIN_FILE_EXPIRY = 1_209_600


def is_batch_path(path: str) -> bool:
    return _PATH.match(path) is not None


def handle(request: HttpRequest, state: BatchState, run: LineRunner) -> HttpResponse | None:
    match = _PATH.match(request.path)
    if match is None:
        return None
    prefix, collection, item, action = match.groups()
    azure = prefix.startswith("/openai")
    flavor = Flavor(azure=True) if azure else OPENAI
    request_id = new_request_id()
    started = time.perf_counter()
    if prefix == "/openai" and "api-version" not in request.query:
        return error_response(
            azure_error("404"), _headers(request_id, started, flavor), flavor=flavor
        )
    route = _ROUTES.get((request.method, collection, item is not None, action))
    if route is None:
        refused = azure_error("404") if azure else invalid_url(request.method, request.path)
        return error_response(refused, [("x-request-id", request_id)], flavor=flavor)
    try:
        with state.lock:
            state.advance(run)
            status, body, content_type = route(request, state, run, item or "", azure)
    except OpenAIError as error:
        return error_response(error, _headers(request_id, started, flavor), flavor=flavor)
    return json_response(status, body, content_type, _headers(request_id, started, flavor))


def _headers(request_id: str, started: float, flavor: Flavor) -> list[tuple[str, str]]:
    # Files and batches answers carry the service headers but no x-ratelimit-* (reference §1).
    elapsed = round((time.perf_counter() - started) * 1000)
    limits: dict[str, str] | None = None if flavor.azure else {}
    return api_headers(request_id, processing_ms=elapsed, rate_limits=limits, flavor=flavor)


Answer = tuple[int, bytes, str]
Route = Callable[[HttpRequest, BatchState, LineRunner, str, bool], Answer]


def _batch_json(document: Any) -> bytes:
    # Batch objects are pretty-printed without the trailing newline of other objects.
    return pretty(document)[:-1]


# --- files ------------------------------------------------------------------------------


def _upload(
    request: HttpRequest, state: BatchState, run: LineRunner, _: str, azure: bool
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
    request: HttpRequest, state: BatchState, run: LineRunner, file_id: str, _: bool
) -> Answer:
    return 200, pretty(state.files.get(file_id).document()), _JSON


def _content(
    request: HttpRequest, state: BatchState, run: LineRunner, file_id: str, _: bool
) -> Answer:
    stored = state.files.get(file_id)
    if isinstance(stored.data, bytearray):
        # First download of an output file: frozen once, so that every download (and the
        # request log's copy of each answer) shares one bytes object.
        stored.data = bytes(stored.data)
    return 200, stored.data, _OCTET


def _delete_file(
    request: HttpRequest, state: BatchState, run: LineRunner, file_id: str, _: bool
) -> Answer:
    deleted = state.files.delete(file_id)
    return 200, pretty({"id": deleted.id, "object": "file", "deleted": True}), _JSON


def _list_files(
    request: HttpRequest, state: BatchState, run: LineRunner, _: str, azure: bool
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
    request: HttpRequest, state: BatchState, run: LineRunner, _: str, azure: bool
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
    )
    return 200, _batch_json(batch.document()), _JSON


def _found(state: BatchState, batch_id: str) -> Batch:
    batch = state.batches.get(batch_id)
    if batch is None:
        raise batch_not_found(batch_id)
    return batch


def _retrieve(
    request: HttpRequest, state: BatchState, run: LineRunner, batch_id: str, _: bool
) -> Answer:
    return 200, _batch_json(_found(state, batch_id).document()), _JSON


def _cancel(
    request: HttpRequest, state: BatchState, run: LineRunner, batch_id: str, _: bool
) -> Answer:
    batch = _found(state, batch_id)
    if batch.status in ("validating", "in_progress"):
        batch.cancel(state.now(), run)
    elif batch.status != "cancelling":
        raise cannot_cancel(batch.status)
    # The cancel answer is the one compact batch body (reference §3.2).
    return 200, compact(batch.document()), _JSON


def _list_batches(
    request: HttpRequest, state: BatchState, run: LineRunner, _: str, azure: bool
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
