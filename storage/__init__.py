"""Storage: repositories and a unit of work. Knows nothing of the bot or any channel."""

from __future__ import annotations

from storage.sqlite.database import SqliteDatabase, UnitOfWork

Database = SqliteDatabase


def database_from_url(url: str) -> SqliteDatabase:
    """Pick the backend for ``TCNS_DB``: a SQLite path (or ``sqlite:///path``) today."""
    if url.startswith(("postgresql://", "postgres://")):
        raise NotImplementedError("PostgreSQL is not supported yet: set TCNS_DB to a SQLite file path")
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///"):]
    return SqliteDatabase(url)


__all__ = ["Database", "SqliteDatabase", "UnitOfWork", "database_from_url"]
