"""The errors of the Files and Batch endpoints, and the batch-level validation codes.

Texts the reference records are used verbatim; the others (marked [I] there) are our choice
in the API's voice, kept here so a recorded text is a one-line change.
"""

from __future__ import annotations

from typing import Any

from minidouble._model._errors import OpenAIError, invalid_request

__all__ = [
    "BATCH_CANCELLED",
    "BATCH_EXPIRED",
    "batch_not_found",
    "cannot_cancel",
    "file_not_found",
    "file_too_large",
    "line_error",
    "malformed_upload",
    "not_jsonl",
    "wrong_input_purpose",
]


def file_not_found(file_id: str) -> OpenAIError:
    # [T] "No such File object: file-abc123", param "id", no code.
    return invalid_request(f"No such File object: {file_id}", param="id", status=404)


def batch_not_found(batch_id: str) -> OpenAIError:
    # The code is what proxies report OpenAI answering (batch_not_found); the text is [I].
    return invalid_request(
        f"No batch found with id '{batch_id}'.", code="batch_not_found", status=404
    )


def not_jsonl() -> OpenAIError:
    return invalid_request("Invalid file format for Batch API. Must be .jsonl")


def file_too_large() -> OpenAIError:
    return invalid_request("File is too large.")


def malformed_upload(detail: str) -> OpenAIError:
    """A ``POST /v1/files`` body that is not the multipart form the API reads."""
    return invalid_request(
        "Could not parse multipart form: "
        + detail
        + " (expected multipart/form-data with a 'file' part and a 'purpose' part)."
    )


def wrong_input_purpose(file_id: str, purpose: str) -> OpenAIError:
    return invalid_request(
        f"The input file {file_id} has purpose '{purpose}'; a batch reads only files "
        "uploaded with purpose 'batch'.",
        param="input_file_id",
    )


def cannot_cancel(status: str) -> OpenAIError:
    return invalid_request(f"Cannot cancel a batch with status '{status}'.")


# --- batch-level validation (errors.data entries) ------------------------------------------


def line_error(
    code: str, message: str, *, param: str | None = None, line: int | None = None
) -> dict[str, Any]:
    """One ``errors.data`` entry, keys in the spec's order."""
    return {"code": code, "message": message, "param": param, "line": line}


INVALID_JSON_LINE = "This line is not parseable as valid JSON."
DUPLICATE_CUSTOM_ID = "The custom_id for this request is a duplicate of another request."
# Azure's text, three spaces included (the docs print it so).
EMPTY_FILE = (
    "The input file is empty. Please ensure that the batch contains at least one   request."
)


def url_mismatch(url: str, endpoint: str) -> str:
    return f"The provided URL '{url}' does not match the batch endpoint '{endpoint}'."


def model_mismatch(model: str, batch_model: str) -> str:
    return f"The provided model '{model}' does not match the model of the batch '{batch_model}'."


def too_many_tasks(count: int, maximum: int) -> str:
    return (
        f"The batch input file contains {count:,} requests, more than the limit of "
        f"{maximum:,} requests per batch."
    )


def token_limit(model: str, organization: str, limit: int) -> str:
    return (
        f"Enqueued token limit reached for {model} in organization {organization}. "
        f"Limit: {limit:,} enqueued tokens. Please try again once some in_progress batches "
        "have been completed."
    )


# Error-file lines for requests that never ran (GUIDE verbatim; the cancel text is [I]).
BATCH_EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}
BATCH_CANCELLED = {
    "code": "batch_cancelled",
    "message": "This request was not executed because the batch was cancelled.",
}
