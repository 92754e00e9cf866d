"""minidouble: a faithful test double for GPT-4o mini.

The public names are few; everything else lives in ``_private`` modules and may change.
Imports are lazy so that ``import minidouble`` (and pytest start-up) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minidouble._cassettes import CassetteWarning
    from minidouble._fake import FakeCheckError, FakeGPT4oMini, ResilienceError
    from minidouble._model._errors import OpenAIError
    from minidouble._model._profile import GPT4O_MINI, ModelProfile
    from minidouble._model._tokens import count_prompt_tokens
    from minidouble._options import Options, mark
    from minidouble._scripting import ToolCall
    from minidouble._validation import validate_request

__all__ = [
    "GPT4O_MINI",
    "CassetteWarning",
    "FakeCheckError",
    "FakeGPT4oMini",
    "ModelProfile",
    "OpenAIError",
    "Options",
    "ResilienceError",
    "ToolCall",
    "count_prompt_tokens",
    "mark",
    "validate_request",
]

__version__ = "0.1.0"

_LAZY = {
    "CassetteWarning": "minidouble._cassettes",
    "FakeCheckError": "minidouble._fake",
    "FakeGPT4oMini": "minidouble._fake",
    "ResilienceError": "minidouble._fake",
    "GPT4O_MINI": "minidouble._model._profile",
    "ModelProfile": "minidouble._model._profile",
    "OpenAIError": "minidouble._model._errors",
    "count_prompt_tokens": "minidouble._model._tokens",
    "validate_request": "minidouble._validation",
    "Options": "minidouble._options",
    "ToolCall": "minidouble._scripting",
    "mark": "minidouble._options",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'minidouble' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
