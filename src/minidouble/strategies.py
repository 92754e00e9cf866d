"""Hypothesis strategies for property-testing code that talks to GPT-4o mini.

Needs the ``hypothesis`` extra: ``pip install 'minidouble[hypothesis]'``. Every strategy takes
keyword arguments, checks them when a value is drawn (raising ``InvalidArgument``), reads
its limits from the model profile and counts tokens with :func:`minidouble.count_prompt_tokens`.
Values are plain JSON-able dicts and lists in the API's shapes. See ``docs/strategies.md``.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "minidouble: minidouble.strategies needs Hypothesis, which is not installed. "
        "Install the extra: pip install 'minidouble[hypothesis]'"
    ) from exc

from minidouble._strategies._batch import BATCH_MISTAKES, BatchFile, batch_files
from minidouble._strategies._compile import from_tool_schema
from minidouble._strategies._completions import (
    CompletionStream,
    chat_completion_chunks,
    chat_completions,
)
from minidouble._strategies._invalid import INVALID_KINDS, InvalidRequest, invalid_requests
from minidouble._strategies._limits import LIMITS, NearLimitRequest, near_limit_requests
from minidouble._strategies._messages import conversations, messages
from minidouble._strategies._requests import chat_requests
from minidouble._strategies._schemas import tool_schemas, tools
from minidouble._strategies._tool_calls import tool_calls

__all__ = [
    "BATCH_MISTAKES",
    "INVALID_KINDS",
    "LIMITS",
    "BatchFile",
    "CompletionStream",
    "InvalidRequest",
    "NearLimitRequest",
    "batch_files",
    "chat_completion_chunks",
    "chat_completions",
    "chat_requests",
    "conversations",
    "from_tool_schema",
    "invalid_requests",
    "messages",
    "near_limit_requests",
    "tool_calls",
    "tool_schemas",
    "tools",
]
