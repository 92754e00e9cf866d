"""``fake.reply`` and ``fake.fail``, typed for ``help()``, IDEs and mypy.

The handler's own ``reply``/``fail`` check their arguments at run time (``make_reply``,
``check_fail_arguments``); this mixin gives ``FakeGPT4oMini`` and ``FakeServer`` the same
calls as overloads, so a misspelt keyword or a detail that the failure kind does not take is
a type error before the test runs. The overloads list exactly what the run-time checks accept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, overload

if TYPE_CHECKING:
    from minidouble._service._app import GPT4oMiniApp

__all__ = ["FilterCategory", "FilterSeverity", "Scripting", "ToolCall"]

FilterCategory = Literal["hate", "jailbreak", "self_harm", "sexual", "violence"]
FilterSeverity = Literal["low", "medium", "high"]
_UNSET: Any = object()


class _ToolCallName(TypedDict):
    name: str


class ToolCall(_ToolCallName, total=False):
    """One scripted tool call: ``{"name": "get_weather", "arguments": {"city": "Oslo"}}``.

    ``arguments`` is a dict of JSON values or a JSON string (default ``{}``).
    """

    arguments: Mapping[str, Any] | str


class Scripting:
    """The scripting calls, forwarded to the handler that ``_scripted()`` returns."""

    def _scripted(self) -> GPT4oMiniApp:
        raise NotImplementedError

    @overload
    def reply(self, text: str, *, custom_id: str | None = None) -> None: ...
    @overload
    def reply(self, *, tool_calls: Sequence[ToolCall], custom_id: str | None = None) -> None: ...
    @overload
    def reply(self, *, json: Any, custom_id: str | None = None) -> None: ...
    @overload
    def reply(self, *, refusal: str, custom_id: str | None = None) -> None: ...

    def reply(
        self,
        text: str | None = None,
        *,
        tool_calls: Sequence[ToolCall] | None = None,
        json: Any = _UNSET,
        refusal: str | None = None,
        custom_id: str | None = None,
    ) -> None:
        """Queue the next completion: exactly one of ``text``, ``tool_calls=``, ``json=``
        (a structured output, checked against the request's schema) or ``refusal=``.

        Replies are answered first in, first out; each is checked against the request it
        answers (a tool that was not offered, JSON that breaks the schema: a 400 naming the
        fix, and a failed test). ``custom_id="..."`` aims it at the batch line with that id
        instead (``docs/batch.md``).
        """
        scripted = self._scripted()
        if json is _UNSET:
            scripted.reply(text, tool_calls=tool_calls, refusal=refusal, custom_id=custom_id)
        else:
            scripted.reply(
                text, tool_calls=tool_calls, json=json, refusal=refusal, custom_id=custom_id
            )

    # One overload per kind of failure, each with the details that kind takes; all share
    # times, probability and seed.
    @overload
    def fail(
        self,
        status: int = 429,
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int = 0,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None: ...
    @overload
    def fail(
        self,
        status: int = 429,
        *,
        custom_id: str,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None: ...
    @overload
    def fail(
        self,
        status: Literal["timeout"],
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int = 0,
        stall: float | None = None,
    ) -> None: ...
    @overload
    def fail(
        self,
        status: Literal["connection_reset"],
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int = 0,
    ) -> None: ...
    @overload
    def fail(
        self,
        status: Literal["stream_cut", "malformed_chunk"],
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int = 0,
        after_chunks: int | None = None,
    ) -> None: ...
    @overload
    def fail(
        self,
        status: Literal["stream_error"],
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int = 0,
        after_chunks: int | None = None,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None: ...
    @overload
    def fail(
        self,
        status: Literal["filtered_prompt", "filtered_completion"],
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int = 0,
        category: FilterCategory | None = None,
        severity: FilterSeverity | None = None,
    ) -> None: ...

    def fail(
        self,
        status: int | str = 429,
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int = 0,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        stall: float | None = None,
        after_chunks: int | None = None,
        category: FilterCategory | None = None,
        severity: FilterSeverity | None = None,
        custom_id: str | None = None,
    ) -> None:
        """Make the next ``times`` requests fail as the real service fails.

        ``status`` is an HTTP status (400, 401, 403, 404, 409, 429, 500, 502, 503), answered
        with the real body and headers; ``message``, ``type``, ``code`` and ``param``
        override the error body, ``retry_after`` (seconds) and ``headers`` the headers
        (``fail(429, code="insufficient_quota")`` is the out-of-credit error). Or a fault:
        ``"timeout"`` (``stall=`` seconds on a socket), ``"connection_reset"``,
        ``"stream_cut"`` / ``"malformed_chunk"`` (``after_chunks=N``), ``"stream_error"``
        (``after_chunks``, and the error's ``message``/``type``/``code``/``param``),
        ``"filtered_prompt"`` / ``"filtered_completion"`` (Azure's content filter:
        ``category=``, ``severity=``). A detail left at None keeps the real default.

        With ``probability=p`` the failure stands instead of queueing: every request fails
        with chance ``p``, drawn from a generator seeded with ``seed``, at most ``times``
        times (``times=None``: without end).

        ``custom_id="..."`` aims an HTTP status at the batch line with that id instead
        (``docs/batch.md``): a batch line fails only with a status.
        """
        given = {
            "message": message,
            "type": type,
            "code": code,
            "param": param,
            "retry_after": retry_after,
            "headers": headers,
            "stall": stall,
            "after_chunks": after_chunks,
            "category": category,
            "severity": severity,
        }
        details = {name: value for name, value in given.items() if value is not None}
        self._scripted().fail(
            status,
            times=times,
            probability=probability,
            seed=seed,
            custom_id=custom_id,
            **details,
        )
