"""Drift check: probe the live API and the fake alike, report where they disagree.

Private: users reach it through ``minidouble drift`` and ``pytest --minidouble-drift``
(``docs/drift.md``).
"""

from __future__ import annotations

from minidouble._drift._probes import Probe, battery
from minidouble._drift._report import render_json_report, render_text_report
from minidouble._drift._run import DriftError, DriftResult, estimate_cost, run_drift

__all__ = [
    "DriftError",
    "DriftResult",
    "Probe",
    "battery",
    "estimate_cost",
    "render_json_report",
    "render_text_report",
    "run_drift",
]
