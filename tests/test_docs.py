"""Every ```python block of every docs/*.md page runs, so the docs cannot rot.

Blocks of one page run in order in one namespace (a page reads like a session); a block right
after a `<!-- no-test -->` line is shown to readers but not run (e.g. needs a live API key).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"(<!-- no-test -->\s*\n)?```python\n(.*?)```", re.DOTALL)


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def _runnable_blocks(page: Path) -> list[str]:
    return [code for skip, code in _BLOCK.findall(page.read_text(encoding="utf-8")) if not skip]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_page_examples_run(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for index, code in enumerate(_runnable_blocks(page)):
        compiled = compile(code, f"{page.name}[block {index}]", "exec")
        exec(compiled, namespace)


def test_readme_examples_run() -> None:
    readme = DOCS.parent / "README.md"
    namespace: dict[str, object] = {"__name__": "docs_readme"}
    for index, code in enumerate(_runnable_blocks(readme)):
        # Not "README.md": inspect (and so Hypothesis) would read that real file at the
        # block's line numbers and get the wrong lines as soon as text above moves.
        exec(compile(code, f"README.md[block {index}]", "exec"), namespace)
