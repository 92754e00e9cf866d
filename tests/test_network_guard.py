"""The network guard: while a fake is active, no other way reaches OpenAI; after it, all do.

Nothing here touches the network: the layer under the guard is a stub the test installs
first, so "reaches the network layer again" means "reaches the stub", never a real host.
"""

from __future__ import annotations

import errno
import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from minidouble import FakeGPT4oMini
from minidouble._cassettes._upstream import Upstream, UpstreamError
from minidouble._http import HttpRequest, HttpResponse
from minidouble._transports import intercept
from minidouble._transports._guard import NetworkGuardError, guard_active
from minidouble._transports._server import LoopbackServer

OPENAI = "api.openai.com"
AZURE = "x.openai.azure.com"
HOSTS = [pytest.param(OPENAI, id="openai"), pytest.param(AZURE, id="azure")]


class NetworkReached(OSError):
    """Raised by the stubbed network layer: the call got past the guard."""


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    """Stub the socket layer the guard wraps; each call is logged, then fails harmlessly."""
    calls: list[tuple[str, Any]] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(("getaddrinfo", host))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(("create_connection", address[0]))
        raise NetworkReached(errno.ENETUNREACH, "stub network")

    def connect(sock: socket.socket, address: Any) -> None:
        calls.append(("connect", address[0]))
        raise NetworkReached(errno.ENETUNREACH, "stub network")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    assert not guard_active()
    yield calls
    assert not guard_active()


def _assert_minidouble_refusal(error: BaseException, host: str) -> None:
    assert isinstance(error, NetworkGuardError)
    assert isinstance(error, ConnectionRefusedError)
    message = str(error)
    assert message.startswith("minidouble: refused ")
    assert host in message
    assert "minidouble serve" in message and "aiohttp" in message and "requests" in message


@pytest.mark.parametrize("host", HOSTS)
def test_urllib_is_refused_while_a_fake_is_active_and_reaches_the_network_after(
    host: str, network: list[tuple[str, Any]]
) -> None:
    url = f"https://{host}/v1/models"
    with FakeGPT4oMini(), pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(url, timeout=1)
    _assert_minidouble_refusal(refused.value.reason, host)
    assert network == []  # refused at once, before any lookup or connection
    with pytest.raises(urllib.error.URLError) as reached:
        urllib.request.urlopen(url, timeout=1)
    assert isinstance(reached.value.reason, NetworkReached)
    assert network == [("create_connection", host)]


@pytest.mark.parametrize("host", HOSTS)
def test_a_raw_socket_is_refused_and_reaches_the_network_after(
    host: str, network: list[tuple[str, Any]]
) -> None:
    with FakeGPT4oMini():
        with pytest.raises(NetworkGuardError) as created:
            socket.create_connection((host, 443), timeout=1)
        _assert_minidouble_refusal(created.value, host)
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError) as connected:
            sock.connect((host, 443))
        _assert_minidouble_refusal(connected.value, host)
        with socket.socket() as sock:
            assert sock.connect_ex((host, 443)) == errno.ECONNREFUSED
    assert network == []
    with pytest.raises(NetworkReached):
        socket.create_connection((host, 443), timeout=1)
    with socket.socket() as sock, pytest.raises(NetworkReached):
        sock.connect((host, 443))
    assert network == [("create_connection", host), ("connect", host)]


@pytest.mark.parametrize("host", HOSTS)
def test_a_name_lookup_is_refused_then_is_the_ordinary_lookup_again(
    host: str, network: list[tuple[str, Any]]
) -> None:
    with FakeGPT4oMini(), pytest.raises(socket.gaierror) as refused:
        socket.getaddrinfo(host, 443)
    _assert_minidouble_refusal(refused.value, host)
    with pytest.raises(socket.gaierror) as ordinary:
        socket.getaddrinfo(host, 443)
    assert not isinstance(ordinary.value, NetworkGuardError)
    assert network == [("getaddrinfo", host)]


def test_the_guard_ignores_case_and_a_trailing_dot() -> None:
    with FakeGPT4oMini(), pytest.raises(NetworkGuardError):
        socket.getaddrinfo("API.OpenAI.com.", 443)


def test_other_hosts_are_untouched() -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, [("content-type", "text/plain")], b"loopback")

    with LoopbackServer(answer) as server, FakeGPT4oMini():
        assert guard_active()
        with urllib.request.urlopen(server.url + "/x", timeout=5) as response:
            assert response.read() == b"loopback"
        assert socket.getaddrinfo("localhost", 80)
        # A host that merely contains OpenAI's name is somebody else's.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/x", headers={"host": "api.openai.com.example.org"})
        assert conn.getresponse().read() == b"loopback"
        conn.close()


def test_nested_fakes_keep_the_guard_until_the_last_stops(network: list[tuple[str, Any]]) -> None:
    with intercept(lambda request: HttpResponse(200)):
        with FakeGPT4oMini():
            assert guard_active()
        assert guard_active()  # the outer interception still holds it
        with pytest.raises(NetworkGuardError):
            socket.getaddrinfo(OPENAI, 443)
    assert not guard_active()


def test_the_guard_is_process_wide(network: list[tuple[str, Any]]) -> None:
    errors: list[BaseException] = []

    def elsewhere() -> None:
        try:
            socket.create_connection((OPENAI, 443), timeout=1)
        except BaseException as error:
            errors.append(error)

    with FakeGPT4oMini():
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert len(errors) == 1 and isinstance(errors[0], NetworkGuardError)


def test_the_fakes_own_upstream_connection_while_recording_is_exempt(
    network: list[tuple[str, Any]],
) -> None:
    request = HttpRequest("POST", f"https://{OPENAI}/v1/chat/completions", {}, b"{}")
    with FakeGPT4oMini():
        with pytest.raises(UpstreamError) as raised:
            Upstream(None).send(request)  # where a recording forwards by default
        # It got past the guard to the (stubbed) network; user code still does not.
        assert isinstance(raised.value.__cause__, NetworkReached)
        with pytest.raises(NetworkGuardError):
            socket.create_connection((OPENAI, 443))
    assert network == [("create_connection", OPENAI)]


def test_the_guard_is_gone_even_when_the_block_raises() -> None:
    before = (socket.getaddrinfo, socket.create_connection, socket.socket.connect)
    with pytest.raises(KeyError), FakeGPT4oMini():
        assert socket.getaddrinfo is not before[0]
        raise KeyError("boom")
    assert (socket.getaddrinfo, socket.create_connection, socket.socket.connect) == before
    assert "connect" not in socket.socket.__dict__
