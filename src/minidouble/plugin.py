"""The pytest plugin: thin fixtures over the library. Imports nothing heavy at start-up."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gpt4o_mini(**kwargs): keyword arguments for the FakeGPT4oMini behind the "
        "gpt4o_mini fixtures (see docs/fixtures.md).",
    )
