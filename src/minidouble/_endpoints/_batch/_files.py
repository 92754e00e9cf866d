"""The Files store: uploaded batch inputs and the batches' output and error files.

Bytes are kept exactly as uploaded (``GET /v1/files/{id}/content`` gives them back
unchanged). File objects are built field for field in the order the API sends them
(reference batch-files-caching §2.2; Azure's own order and id form, §7).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from minidouble._endpoints._batch._errors import file_not_found, file_too_large, not_jsonl
from minidouble._engine._ids import _base62, random_hex
from minidouble._model._errors import invalid_enum, missing_parameter
from minidouble._model._profile import BatchRules

__all__ = ["FileStore", "StoredFile", "check_upload"]


@dataclass(slots=True)
class StoredFile:
    id: str
    purpose: str
    filename: str
    # A batch's output is kept in the buffer it was written to (no second copy of a file
    # that may be hundreds of megabytes); served as bytes.
    data: bytes | bytearray
    created_at: int
    expires_at: int | None
    azure: bool = False

    def document(self) -> dict[str, Any]:
        if self.azure:
            # Azure's order, no status_details (reference §7's example).
            return {
                "status": "processed",
                "bytes": len(self.data),
                "purpose": self.purpose,
                "filename": self.filename,
                "expires_at": self.expires_at,
                "id": self.id,
                "created_at": self.created_at,
                "object": "file",
            }
        return {
            "object": "file",
            "id": self.id,
            "purpose": self.purpose,
            "filename": self.filename,
            "bytes": len(self.data),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "status": "processed",
            "status_details": None,
        }


def new_file_id(azure: bool) -> str:
    return "file-" + (random_hex(16) if azure else _base62(22))


def check_upload(
    purpose: str | None, filename: str | None, data: bytes | None, rules: BatchRules
) -> None:
    """Raise the API's 400 for an upload it refuses (checked in the order below)."""
    if data is None:
        raise missing_parameter("file")
    if purpose is None or purpose == "":
        raise missing_parameter("purpose")
    if purpose not in rules.upload_purposes:
        raise invalid_enum("purpose", purpose, rules.upload_purposes, 20)
    if len(data) > rules.max_file_bytes:
        raise file_too_large()
    if purpose == "batch" and not _looks_like_jsonl(filename, data):
        raise not_jsonl()


def _looks_like_jsonl(filename: str | None, data: bytes) -> bool:
    """The upload check is shallow: a file of bad lines passes and fails at validation
    (invalid_json_line on line 1 is recorded), so only a name with an extension other than
    .jsonl, or bytes that are not text (not UTF-8, or holding NUL), are refused."""
    base = (filename or "").rsplit("/", 1)[-1]
    if "." in base and not base.lower().endswith(".jsonl"):
        return False
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class FileStore:
    """Files by id, oldest first; thread-safe."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    def add(
        self,
        purpose: str,
        filename: str,
        data: bytes | bytearray,
        *,
        created_at: int,
        expires_after: int | None,
        azure: bool = False,
    ) -> StoredFile:
        stored = StoredFile(
            new_file_id(azure),
            purpose,
            filename,
            data,
            created_at,
            None if expires_after is None else created_at + expires_after,
            azure,
        )
        with self._lock:
            self._files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile:
        with self._lock:
            found = self._files.get(file_id)
        if found is None:
            raise file_not_found(file_id)
        return found

    def delete(self, file_id: str) -> StoredFile:
        with self._lock:
            found = self._files.pop(file_id, None)
        if found is None:
            raise file_not_found(file_id)
        return found

    def listed(self, purpose: str | None) -> list[StoredFile]:
        with self._lock:
            files = list(self._files.values())
        return [f for f in files if purpose is None or f.purpose == purpose]

    def __len__(self) -> int:
        return len(self._files)
