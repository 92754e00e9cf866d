"""``minidouble cassette verify`` and ``minidouble cassette import``.

``verify`` is the CI gate: every cassette has a known format and version, a valid shape, a
summary that still matches its response, and nothing shaped like a credential. ``import``
turns vcrpy / pytest-recording cassettes of OpenAI traffic into minidouble cassettes:
decompressed, streams split into events, bodies structured, headers allowlisted, secrets out.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from minidouble._cassettes._errors import CassetteError
from minidouble._cassettes._format import (
    FORMAT,
    VERSION,
    decode_body,
    encode_event,
    encode_request_body,
    encode_response_body,
    parse_document,
    render_document,
    split_frames,
    summarize,
)
from minidouble._cassettes._match import stored_key
from minidouble._cassettes._secrets import (
    ERROR_RESPONSE_HEADERS_KEPT,
    REQUEST_HEADERS_KEPT,
    RESPONSE_HEADERS_KEPT,
    Secrets,
    find_key_like,
    kept_headers,
)
from minidouble._cassettes._store import write_if_changed

__all__ = ["convert_vcr", "verify_paths"]


# ---------------------------------------------------------------------------------------------
# verify


def _cassette_files(paths: Sequence[str]) -> Iterable[tuple[Path, str | None]]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(path.rglob("*.json"))
            if not found:
                yield path, f"{path} holds no *.json cassettes"
            for file in found:
                yield file, None
        elif path.is_file():
            yield path, None
        else:
            yield path, f"{path} does not exist"


def verify_file(path: Path) -> tuple[int, list[str]]:
    """The number of interactions and every problem found in one cassette."""
    try:
        document = parse_document(path.read_bytes(), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        return 0, [f"cannot read {path}: {exc}"]
    except CassetteError as exc:
        return 0, [str(exc).removeprefix("minidouble: ")]
    problems = [f"{path}: {problem}" for problem in find_key_like(document)]
    interactions = document["interactions"]
    for position, interaction in enumerate(interactions, start=1):
        label = f"{path} interaction #{interaction['seq']}"
        if interaction["seq"] != position:
            problems.append(f"{label} is at position {position}: seq must count 1, 2, 3...")
        try:
            decode_body(interaction["request"])
            decode_body(interaction["response"])
        except ValueError as exc:
            problems.append(f"{label} has a body that does not decode: {exc}")
            continue
        derived = summarize(interaction["response"])
        if interaction.get("summary") != derived:
            problems.append(
                f"{label}: its summary no longer matches its response (was the response edited "
                "by hand?); the summary is derived, so re-record the cassette or restore it."
            )
    return len(interactions), problems


def verify_paths(paths: Sequence[str], write: Any = print) -> int:
    """Check every cassette under ``paths``; print one line per file; 1 if any problem."""
    failed = False
    for path, missing in _cassette_files(paths):
        if missing is not None:
            write(f"FAIL {missing}")
            failed = True
            continue
        count, problems = verify_file(path)
        if problems:
            failed = True
            write(f"FAIL {path}")
            for problem in problems:
                write(f"  - {problem}")
        else:
            write(f"ok   {path} ({count} interaction(s))")
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------
# import from vcrpy


def _vcr_headers(headers: Any) -> list[tuple[str, str]]:
    """vcrpy stores ``{name: [values]}`` (older versions: ``{name: value}``)."""
    pairs: list[tuple[str, str]] = []
    if not isinstance(headers, Mapping):
        return pairs
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((str(name).lower(), str(value)))
    return pairs


def _vcr_bytes(body: Any, where: str) -> bytes:
    if isinstance(body, Mapping):  # responses: {"string": ...}
        body = body.get("string")
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    raise CassetteError(f"minidouble: {where} has a body of type {type(body).__name__}.")


def _decompress(data: bytes, encoding: str, where: str) -> bytes:
    encoding = encoding.lower().strip()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "br":
        try:
            import brotli  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise CassetteError(
                f"minidouble: {where} is brotli-compressed; install brotli "
                "(pip install brotli) to import it."
            ) from None
        result: bytes = brotli.decompress(data)
        return result
    raise CassetteError(f"minidouble: {where} uses the unknown content-encoding {encoding!r}.")


def _load_vcr(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ImportError:
            raise CassetteError(
                "minidouble: importing YAML cassettes needs PyYAML: pip install 'minidouble[vcr]'."
            ) from None
        try:
            # Never the full loader: a cassette must not be able to run code (GHSA-rpj2-4hq8-938g).
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
            raw = yaml.load(text, Loader=loader)
        except yaml.YAMLError as exc:
            raise CassetteError(f"minidouble: {path} is neither JSON nor YAML: {exc}") from None
    if isinstance(raw, Mapping) and raw.get("format") == FORMAT:
        raise CassetteError(f"minidouble: {path} is already a minidouble cassette.")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("interactions"), list):
        raise CassetteError(
            f"minidouble: {path} is not a vcrpy cassette: expected a top-level "
            "'interactions' list (vcrpy / pytest-recording YAML or JSON)."
        )
    interactions: list[Any] = raw["interactions"]
    return interactions


def convert_vcr(path: Path) -> dict[str, Any]:
    """A minidouble cassette document equivalent to the vcrpy cassette at ``path``."""
    secrets = Secrets()
    converted: list[dict[str, Any]] = []
    origin: str | None = None
    for index, item in enumerate(_load_vcr(path), start=1):
        where = f"{path} interaction {index}"
        try:
            request, response = item["request"], item["response"]
            uri = urlsplit(str(request["uri"]))
            method = str(request["method"]).upper()
            status = int(response["status"]["code"])
        except (KeyError, TypeError, ValueError):
            raise CassetteError(
                f"minidouble: {where} lacks request.uri/method or response.status.code."
            ) from None
        origin = origin or f"{uri.scheme}://{uri.netloc.rpartition('@')[2]}"
        request_headers = _vcr_headers(request.get("headers"))
        secrets.add_headers(dict(request_headers))
        response_headers = _vcr_headers(response.get("headers"))
        encoding = next((v for k, v in response_headers if k == "content-encoding"), "")
        body = _decompress(_vcr_bytes(response.get("body"), where), encoding, where)
        content_type = next((v for k, v in response_headers if k == "content-type"), "")
        fields: dict[str, Any]
        if content_type.startswith("text/event-stream"):
            frames, rest = split_frames(body)
            fields = {"events": [encode_event(f) for f in (*frames, *([rest] if rest else []))]}
        else:
            fields = encode_response_body(body)
        allowed = RESPONSE_HEADERS_KEPT if status < 400 else ERROR_RESPONSE_HEADERS_KEPT
        stored_response = {
            "status": status,
            "headers": kept_headers(response_headers, allowed),
            **secrets.scrub_value(fields),
        }
        path_and_query = uri.path + (f"?{uri.query}" if uri.query else "")
        raw_request = _vcr_bytes(request.get("body"), where)
        stored_request = {
            "method": method,
            "path": secrets.scrub(path_and_query),
            "headers": kept_headers(request_headers, REQUEST_HEADERS_KEPT),
            **secrets.scrub_value(encode_request_body(raw_request)),
        }
        key = stored_key(stored_request)
        converted.append(
            {
                "seq": index,
                "key": key.digest,
                "summary": summarize(stored_response),
                "request": stored_request,
                "response": stored_response,
            }
        )
    document = {
        "format": FORMAT,
        "version": VERSION,
        "recorded_with": {"imported_from": "vcrpy"},
        "upstream": origin,
        "interactions": converted,
    }
    problems = find_key_like(document)
    if problems:
        raise CassetteError(
            f"minidouble: refused to import {path}: " + "; ".join(problems) + ". Put the key "
            "in OPENAI_API_KEY while importing (its value is then replaced wherever it "
            "occurs), or remove it from the source cassette. Nothing was written."
        )
    return document


def import_paths(
    sources: Sequence[str], output: str | None, force: bool, write: Any = print
) -> int:
    if output is not None and len(sources) > 1 and not Path(output).is_dir():
        write("minidouble: --output must be a directory when importing several cassettes.")
        return 2
    status = 0
    for name in sources:
        source = Path(name)
        if output is None:
            target = source.with_suffix(".json")
            if target == source:
                target = source.with_name(f"{source.stem}.minidouble.json")
        elif Path(output).is_dir():
            target = Path(output) / f"{source.stem}.json"
        else:
            target = Path(output)
        try:
            if target.exists() and not force:
                raise CassetteError(
                    f"minidouble: {target} already exists; pass --force to replace it, or "
                    "--output to write elsewhere."
                )
            document = convert_vcr(source)
        except (OSError, CassetteError) as exc:
            write(str(exc))
            status = 1
            continue
        write_if_changed(target, render_document(document))
        write(f"imported {source} -> {target} ({len(document['interactions'])} interaction(s))")
    return status
