"""One behaviour suite, many transports.

Every test here talks to the fake through the ``send`` fixture: ``send(HttpRequest) ->
HttpResponse``. ``SENDERS`` maps a mode name to a factory that wires a
:class:`~minidouble._service._app.GPT4oMiniApp` to a way of reaching it; the suite runs once per
mode.
Transports register their modes (in-process interception, loopback server) by adding to
``SENDERS``, so each case proves the same behaviour through every path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from minidouble._http import HttpRequest, HttpResponse
from minidouble._service._app import GPT4oMiniApp
from tests.behaviour.transport_senders import TRANSPORT_SENDERS

Send = Callable[[HttpRequest], HttpResponse]
# A factory gets the app and yields a sender; it may set up and tear down around the yield.
SenderFactory = Callable[[GPT4oMiniApp], Iterator[Send]]


def _direct(app: GPT4oMiniApp) -> Iterator[Send]:
    yield app.handle


SENDERS: dict[str, SenderFactory] = {"handle": _direct}
SENDERS.update(TRANSPORT_SENDERS)


@pytest.fixture
def app() -> GPT4oMiniApp:
    return GPT4oMiniApp()


@pytest.fixture(params=sorted(SENDERS))
def send(request: pytest.FixtureRequest, app: GPT4oMiniApp) -> Iterator[Send]:
    factory = SENDERS[request.param]
    yield from factory(app)
