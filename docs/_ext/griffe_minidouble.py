"""Griffe extension for the docs site: show the public API as a user calls it.

Loaded by mkdocstrings (mkdocs.yml); the docstrings themselves stay plain reST-flavoured text
for ``help()``. Two adjustments, both about rendering, never about content:

- a Hypothesis ``@composite`` function is called without its ``draw`` parameter and returns
  a ``SearchStrategy``: the signature griffe reads from the source says neither;
- Sphinx roles (``:func:`tools```) are not Markdown: they would print as ``:func:tools``,
  so they become code spans (``tools()``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(func|meth|class|mod|attr|exc|data|obj):`~?([^`]+)`")


def _code_span(match: re.Match[str]) -> str:
    role, target = match.groups()
    call = "()" if role in ("func", "meth") and not target.endswith(")") else ""
    return f"``{target}{call}``"


class MinidoubleDocs(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_code_span, obj.docstring.value)

    def on_function_instance(self, *, func: griffe.Function, **kwargs: Any) -> None:
        if not any(str(d.value).endswith("composite") for d in func.decorators):
            return
        if func.parameters and func.parameters[0].name == "draw":
            del func.parameters["draw"]
        if func.returns is not None:
            func.returns = f"SearchStrategy[{func.returns}]"
