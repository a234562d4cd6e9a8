"""The one place that turns ``TCNS_DB`` into a storage backend.

Everything else speaks the storage contract (``storage.Database``); only this module names
a backend. ``./tcns test`` checks it (import-linter, "Only the runtime opens a backend").
``TCNS_DB`` is a SQLite file path (or ``sqlite:///path``), or a PostgreSQL URL
(``postgresql://user:password@host:5432/tcns``; ``postgres://`` too; a unix socket as
``postgresql://user@/tcns?host=/run/postgresql``).
"""

from __future__ import annotations

from pathlib import Path

from storage import Database
from storage.postgres.backup import BackupFailed, BackupToolMissing
from storage.postgres.database import PostgresDatabase
from storage.postgres.migrations import MIGRATIONS as POSTGRES_MIGRATIONS
from storage.sqlite import backup
from storage.sqlite.database import SqliteDatabase
from storage.sqlite.migrations import MIGRATIONS as SQLITE_MIGRATIONS

__all__ = ["BackupFailed", "BackupToolMissing", "check_unused", "database_file", "database_from_url",
           "is_backup", "is_postgres", "latest_schema", "restore"]
_POSTGRES = ("postgresql://", "postgres://")


def is_postgres(url: str) -> bool:
    """Whether ``TCNS_DB`` names a PostgreSQL database (rather than a SQLite file)."""
    return url.startswith(_POSTGRES)


def latest_schema(url: str) -> int:
    """The schema version this code's migrations reach on the backend ``url`` names."""
    return max(version for version, _ in (POSTGRES_MIGRATIONS if is_postgres(url) else SQLITE_MIGRATIONS))


def database_from_url(url: str | Path) -> Database:
    """The backend for ``TCNS_DB``: PostgreSQL for a ``postgresql://`` URL, else a SQLite file."""
    if is_postgres(url):
        return PostgresDatabase(url)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///"):]
    return SqliteDatabase(url)


def _file(url: str) -> str:
    if is_postgres(url):
        raise NotImplementedError("a PostgreSQL database is no file: restore it with pg_restore")
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else url


def database_file(url: str) -> Path:
    """The file a SQLite ``TCNS_DB`` names (backups and restores work on it)."""
    return Path(_file(url))


def is_backup(path: str) -> bool:
    """Whether ``path`` is a database tcns can restore from."""
    return backup.is_backup(path)


def check_unused(url: str) -> None:
    """Raise ``storage.DatabaseInUse`` while any process has the database open."""
    backup.check_unused(_file(url))


async def restore(url: str, source: str) -> None:
    """Replace the database with the backup ``source`` (raises ``storage.DatabaseInUse`` if in use)."""
    await backup.restore(source, _file(url))
