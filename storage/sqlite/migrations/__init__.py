"""SQLite's versioned schema migrations: ``NNNN_name.sql`` files applied in order, once each."""

from __future__ import annotations

from storage.migrations import load

MIGRATIONS: list[tuple[int, str]] = load(__name__)
