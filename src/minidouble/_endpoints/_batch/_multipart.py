"""A strict, total ``multipart/form-data`` reader for ``POST /v1/files``.

Total: every input ends in parsed parts or an :class:`~minidouble._model._errors.OpenAIError` (the
400 the API answers), never another exception. The file part's bytes are kept as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from minidouble._endpoints._batch._errors import malformed_upload

__all__ = ["Part", "form_text", "parse_form"]

_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    filename: str | None
    data: bytes


def _params(header: str) -> dict[str, str]:
    values = {}
    for key, raw in _PARAM.findall(header):
        value = raw.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        values[key.lower()] = value
    return values


def parse_form(content_type: str | None, body: bytes) -> dict[str, Part]:
    """The form's parts by name (the first of a repeated name wins)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind != "multipart/form-data":
        raise malformed_upload(f"the Content-Type is {kind or 'missing'!r}")
    boundary = _params(content_type or "").get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise malformed_upload("the Content-Type names no boundary")
    try:
        delimiter = b"--" + boundary.encode("latin-1")
    except UnicodeEncodeError:
        raise malformed_upload("the boundary is not latin-1") from None
    parts: dict[str, Part] = {}
    position = body.find(delimiter)
    if position < 0:
        raise malformed_upload("the body holds no part")
    while True:
        position += len(delimiter)
        if body.startswith(b"--", position):
            return parts  # the closing delimiter
        if body.startswith(b"\r\n", position):
            position += 2
        elif body.startswith(b"\n", position):
            position += 1
        else:
            raise malformed_upload("a boundary line does not end with CRLF")
        end = body.find(b"\r\n" + delimiter, position)
        if end < 0:
            raise malformed_upload("the body ends before its closing boundary")
        head_end = body.find(b"\r\n\r\n", position, end)
        if head_end < 0:
            if body.startswith(b"\r\n", position):
                head_end = position - 2  # a part without headers
            else:
                raise malformed_upload("a part's headers do not end")
        part = _part(body[position:head_end].decode("latin-1"), body[head_end + 4 : end])
        if part is not None and part.name not in parts:
            parts[part.name] = part
        position = end + 2


def _part(head: str, data: bytes) -> Part | None:
    disposition = ""
    for line in head.split("\r\n"):
        header, _, value = line.partition(":")
        if header.strip().lower() == "content-disposition":
            disposition = value
    if not disposition.strip().lower().startswith("form-data"):
        raise malformed_upload("a part has no Content-Disposition: form-data header")
    params = _params(disposition)
    name = params.get("name")
    if name is None:
        return None
    filename = params.get("filename")
    if "filename*" in params and filename is None:
        _, _, encoded = params["filename*"].partition("''")
        filename = unquote(encoded)
    if filename is not None:
        # Browsers and some clients send the client's path; the API keeps the base name.
        filename = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return Part(name, filename, data)


def form_text(part: Part) -> str:
    """A text field's value; the 400 if it is not UTF-8."""
    try:
        return part.data.decode("utf-8")
    except UnicodeDecodeError:
        raise malformed_upload(f"the {part.name!r} field is not UTF-8 text") from None
