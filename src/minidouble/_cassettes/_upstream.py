"""Forwarding a recorded request to the real API over ``http.client``.

Interception patches httpx, httpx2, aiohttp and urllib3; ``http.client`` is none of them, so a
recording can never loop back into the fake it runs inside. The network guard refuses
``http.client`` connections to OpenAI while a fake is active; these connections are the
fake's own, so they connect exempt. The caller's own credentials travel as they came; only the
stored copy is scrubbed.
"""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from minidouble._http import HttpRequest
from minidouble._transports._guard import exempt

__all__ = ["Upstream", "UpstreamError", "UpstreamResponse"]

# Hop-by-hop headers, and those that describe the body's encoding on the wire rather than the
# body: the client gets a decoded body of whatever length it has.
_REQUEST_DROPPED = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "accept-encoding",
     "proxy-authorization", "te", "upgrade"}
)  # fmt: skip
_RESPONSE_DROPPED = frozenset(
    {"content-length", "connection", "keep-alive", "transfer-encoding", "content-encoding"}
)
DEFAULT_UPSTREAM = "https://api.openai.com/v1"


class UpstreamError(ConnectionError):
    """The upstream could not be reached or broke off; nothing was recorded."""


@dataclass
class UpstreamResponse:
    status: int
    headers: list[tuple[str, str]]
    _response: http.client.HTTPResponse
    _connection: http.client.HTTPConnection
    headers_at: float = 0.0  # time.monotonic() when the status line and headers arrived

    @property
    def is_stream(self) -> bool:
        content_type = next((v for k, v in self.headers if k == "content-type"), "")
        return content_type.startswith("text/event-stream")

    def read(self) -> bytes:
        try:
            return self._decode(self._response.read())
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamError(f"the upstream broke off the response: {exc}") from exc
        finally:
            self.close()

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives, without waiting for the end (streams are read this way)."""
        decoder = self._decoder()
        try:
            while True:
                data = self._response.read1(65536)
                if not data:
                    break
                yield decoder.decompress(data) if decoder else data
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamError(f"the upstream broke off the stream: {exc}") from exc
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()
        self._connection.close()

    def _decoder(self) -> zlib._Decompress | None:
        encoding = self._response.getheader("content-encoding", "").lower()
        if encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            return zlib.decompressobj()
        return None

    def _decode(self, data: bytes) -> bytes:
        decoder = self._decoder()
        return decoder.decompress(data) + decoder.flush() if decoder else data


class Upstream:
    """Where recorded requests go: a base URL such as ``https://api.openai.com/v1``."""

    def __init__(self, base_url: str | None, *, timeout: float = 600.0) -> None:
        self.explicit = base_url is not None
        self.base_url = (base_url or DEFAULT_UPSTREAM).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"minidouble: upstream must be an http(s) URL such as "
                f"'{DEFAULT_UPSTREAM}', got {base_url!r}."
            )
        self._parts = parts
        self.timeout = timeout

    def target(self, request: HttpRequest) -> tuple[str, str, int, str]:
        """(scheme, host, port, path-and-query) the request is forwarded to."""
        original = urlsplit(request.url)
        base = self._parts
        if not self.explicit and original.hostname and not _is_loopback(original.hostname):
            # Intercepted in-process: the request already names the real service.
            base = original._replace(path="")
        base_path = base.path.rstrip("/")
        path = original.path
        if base_path.endswith("/v1") and path.startswith("/v1/"):
            path = path[3:]
        path = base_path + path
        if original.query:
            path += "?" + original.query
        scheme = base.scheme
        port = base.port or (443 if scheme == "https" else 80)
        return scheme, base.hostname or "", port, path

    def describe(self, request: HttpRequest) -> str:
        scheme, host, port, path = self.target(request)
        return f"{scheme}://{host}:{port}{path}"

    def send(self, request: HttpRequest) -> UpstreamResponse:
        scheme, host, port, path = self.target(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _REQUEST_DROPPED}
        # Stored bodies must be readable, and a decoded stream is what the client reads anyway.
        headers["accept-encoding"] = "identity"
        connection = _connect(scheme, host, port, self.timeout)
        try:
            connection.request(request.method, path, body=request.body or None, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise UpstreamError(
                f"could not reach the upstream {scheme}://{host}:{port}: {exc}"
            ) from exc
        kept = [
            (name.lower(), value)
            for name, value in response.getheaders()
            if name.lower() not in _RESPONSE_DROPPED
        ]
        return UpstreamResponse(response.status, kept, response, connection, time.monotonic())


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1", "testserver") or host.startswith("127.")


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        with exempt():
            super().connect()


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        with exempt():
            super().connect()


def _connect(scheme: str, host: str, port: int, timeout: float) -> http.client.HTTPConnection:
    if scheme == "http":
        return _HTTPConnection(host, port, timeout=timeout)
    context = ssl.create_default_context()
    try:
        import certifi

        context.load_verify_locations(certifi.where())
    except ImportError:  # pragma: no cover - httpx brings certifi
        pass
    proxy = urllib.request.getproxies().get("https")
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        connection = _HTTPSConnection(
            proxy_parts.hostname or "", proxy_parts.port or 8080, timeout=timeout, context=context
        )
        connection.set_tunnel(host, port)
        return connection
    return _HTTPSConnection(host, port, timeout=timeout, context=context)
