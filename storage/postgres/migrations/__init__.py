"""PostgreSQL's versioned schema migrations (numbered on their own: 0001 is the schema the
SQLite migrations 0001-0014 end at)."""

from __future__ import annotations

from storage.migrations import load

MIGRATIONS: list[tuple[int, str]] = load(__name__)
