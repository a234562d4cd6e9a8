"""What a report is, beyond its numbers."""

from __future__ import annotations

NONE_SERVICE = "none"
"""The service code of an explicit "no household this time" report (stored with count 0).

It counts toward "has reported" in the period of its day and never appears among the
services in tallies, charts or exports."""
