"""Repository-wide test configuration: where the shared fidelity recordings live."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).parent
# CI clones the project with shared/ beside it; a developer may point elsewhere.
FIDELITY_DIR = ROOT.parent / "shared" / "fidelity"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sdk: drives the real openai SDK (run under openai 2.x and 3.x in CI)"
    )


@pytest.fixture(scope="session")
def fidelity_dir() -> Path:
    if not FIDELITY_DIR.is_dir():
        pytest.skip(f"fidelity recordings not found at {FIDELITY_DIR}")
    return FIDELITY_DIR
