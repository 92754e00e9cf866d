"""Repository-wide test configuration: where the shared fidelity recordings live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
# CI clones the project with shared/ beside it; git worktrees sit one level deeper; a
# developer may point elsewhere with MINIDOUBLE_FIDELITY_DIR.
_FIDELITY_CANDIDATES = [
    ROOT.parent / "shared" / "fidelity",
    ROOT.parent.parent / "shared" / "fidelity",
]
FIDELITY_DIR = Path(
    os.environ.get("MINIDOUBLE_FIDELITY_DIR")
    or next((p for p in _FIDELITY_CANDIDATES if p.is_dir()), _FIDELITY_CANDIDATES[0])
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sdk: drives the real openai SDK (CI runs the suite under openai 2.x and 3.x)"
    )


@pytest.fixture(scope="session")
def fidelity_dir() -> Path:
    if not FIDELITY_DIR.is_dir():
        pytest.skip(f"fidelity recordings not found at {FIDELITY_DIR}")
    return FIDELITY_DIR
