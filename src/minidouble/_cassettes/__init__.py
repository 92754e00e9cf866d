"""Cassettes: record live GPT-4o mini sessions and replay them offline (``docs/cassettes.md``).

Private: users reach cassettes through ``FakeGPT4oMini(cassette=..., record_mode=...,
upstream=...)``, the ``gpt4o_mini`` marker, ``--minidouble-record-mode`` and
``minidouble cassette verify|import``.
"""

from __future__ import annotations

from minidouble._cassettes._layer import (
    RECORD_MODES,
    CassetteError,
    CassetteLayer,
    CassetteReport,
    CassetteWarning,
    RecordMode,
)

__all__ = [
    "RECORD_MODES",
    "CassetteError",
    "CassetteLayer",
    "CassetteReport",
    "CassetteWarning",
    "RecordMode",
]
