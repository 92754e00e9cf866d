"""Patching a client library at its first import, so that a fake never imports it.

aiohttp costs a few hundred milliseconds to import. A process where it is installed but
unused (most test runs) should not pay that at its first fake: the patch waits for the
library's own first import, if it comes while the fake is active.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from types import ModuleType
from typing import Any

__all__ = ["patched_on_import"]


class _ThenLoader(importlib.abc.Loader):
    """The module's own loader, and ``then()`` right after the module has run."""

    def __init__(self, loader: importlib.abc.Loader, then: Callable[[], None]) -> None:
        self._loader = loader
        self._then = then

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._then()

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, get_resource_reader...: the real loader's.
        return getattr(self._loader, name)


class _AfterImport(importlib.abc.MetaPathFinder):
    def __init__(self, module: str, then: Callable[[], None]) -> None:
        self._module = module
        self._then = then
        self._live = True

    def _fire(self) -> None:
        # Once, and only while the block lasts: a later reload of the module runs the
        # loader again, and must not patch for a fake that has stopped.
        if self._live:
            self._live = False
            self._then()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self._module:
            return None
        # Out of the way at once: the finders asked below must not include this one.
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec: importlib.machinery.ModuleSpec | None = (
                find_spec(fullname, path, target) if find_spec is not None else None
            )
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _ThenLoader(spec.loader, self._fire)
                return spec
        return None

    def cancel(self) -> None:
        self._live = False
        if self in sys.meta_path:
            sys.meta_path.remove(self)


@contextmanager
def patched_on_import(
    module: str, patch: Callable[[], AbstractContextManager[None]]
) -> Iterator[None]:
    """Hold ``patch()`` for the block: from now if ``module`` is imported already, else from
    the moment it is first imported during the block (by whatever imports it)."""
    with ExitStack() as held:
        if module in sys.modules:
            held.enter_context(patch())
        else:
            hook = _AfterImport(module, lambda: held.enter_context(patch()))
            sys.meta_path.insert(0, hook)
            held.callback(hook.cancel)
        yield
