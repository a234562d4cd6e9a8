"""The one place that turns ``TCNS_DB`` into a storage backend.

Everything else speaks the storage contract (``storage.Database``); only this module names
a backend. ``./tcns test`` checks it (import-linter, "Only the runtime opens a backend").
"""

from __future__ import annotations

from pathlib import Path

from storage import Database
from storage.sqlite import backup
from storage.sqlite.database import SqliteDatabase


def database_from_url(url: str) -> Database:
    """The backend for ``TCNS_DB``: a SQLite path (or ``sqlite:///path``) today."""
    if url.startswith(("postgresql://", "postgres://")):
        raise NotImplementedError("PostgreSQL is not supported yet: set TCNS_DB to a SQLite file path")
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///"):]
    return SqliteDatabase(url)


def _file(url: str) -> str:
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
