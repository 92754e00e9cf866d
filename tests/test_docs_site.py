"""The docs site (mkdocs.yml) and the README list every page; the plugin reference is complete.

`mkdocs build --strict` (run by .ci/run) fails on a nav entry whose file is missing but only
notes a page left out of the nav; this test makes a forgotten page fail, and names its file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

import minidouble.plugin

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _nav_files(entries: Any) -> Iterator[str]:
    # A nav entry is "file.md", {"Title": "file.md"} or {"Section": [entries...]}.
    if isinstance(entries, str):
        yield entries
    elif isinstance(entries, list):
        for entry in entries:
            yield from _nav_files(entry)
    elif isinstance(entries, dict):
        for value in entries.values():
            yield from _nav_files(value)


def _config() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def _pages() -> set[str]:
    return {
        page.relative_to(DOCS).as_posix()
        for page in DOCS.rglob("*.md")
        if not page.relative_to(DOCS).parts[0].startswith("_")
    }


def test_every_page_is_in_the_nav() -> None:
    in_nav = set(_nav_files(_config()["nav"]))
    missing = sorted(_pages() - in_nav)
    assert not missing, (
        f"minidouble: docs page(s) {missing} are not in the nav of mkdocs.yml, so the site "
        "has no link to them. Add each under the section the comment above `nav:` names."
    )


def test_every_nav_entry_is_a_page_once() -> None:
    listed = list(_nav_files(_config()["nav"]))
    assert len(listed) == len(set(listed)), f"a page is listed twice in the nav: {listed}"
    assert set(listed) <= _pages(), f"nav entries without a page: {set(listed) - _pages()}"


class _OptionRecorder:
    """Stands in for pytest's parser and option group: keeps the names of the options."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def getgroup(self, *args: object, **kwargs: object) -> _OptionRecorder:
        return self

    def addoption(self, *names: str, **kwargs: object) -> None:
        self.names.extend(names)


def test_plugin_reference_lists_every_option_and_fixture() -> None:
    page = (DOCS / "api-pytest-plugin.md").read_text(encoding="utf-8")
    recorder = _OptionRecorder()
    minidouble.plugin.pytest_addoption(recorder)  # type: ignore[arg-type]
    assert len(recorder.names) >= 10
    # Each option and fixture has its own row in the page's tables: "| `name ...` |".
    rows = [*recorder.names, *minidouble.plugin.__all__]
    undocumented = [name for name in rows if f"\n| `{name}" not in page]
    if "`@pytest.mark.gpt4o_mini(" not in page:
        undocumented.append("the gpt4o_mini marker")
    assert not undocumented, f"docs/api-pytest-plugin.md has no row for {undocumented}"


def test_readme_links_every_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    unlinked = sorted(page for page in _pages() if f"](docs/{page})" not in readme)
    assert not unlinked, (
        f"minidouble: README.md does not link docs page(s) {unlinked}; add each to its "
        "Documentation section, under the same heading as in the nav of mkdocs.yml."
    )
