"""The cassette exceptions, light enough to import wherever they may need catching."""

from __future__ import annotations

__all__ = ["CassetteError", "CassetteWarning"]


class CassetteError(AssertionError):
    """A cassette problem that must fail the test (a miss, a refused replay, a secret)."""


class CassetteWarning(UserWarning):
    """A cassette problem worth knowing (unused interactions, drifted usage)."""
