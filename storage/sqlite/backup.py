"""Backup and restore of a SQLite database file (SQLite's online backup API)."""

from __future__ import annotations

import sqlite3

import aiosqlite

from storage.sqlite.lock import exclusive


async def copy(source: str, destination: str) -> None:
    """Page by page, WAL included: consistent while the bot writes, never a torn copy."""
    async with aiosqlite.connect(source) as src, aiosqlite.connect(destination) as dst:
        await src.backup(dst)


def is_backup(path: str) -> bool:
    """A readable tcns database (integrity checked, migrations recorded)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as check:
            ok = check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            return bool(ok and check.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] > 0)
    except sqlite3.Error:
        return False


def check_unused(target: str) -> None:
    """Raise :class:`~storage.contract.DatabaseInUse` if any process has ``target`` open."""
    with exclusive(target):
        pass


async def restore(source: str, target: str) -> None:
    """Replace ``target`` with ``source``; raises ``DatabaseInUse`` while anyone has it open.
    The lock is held for the copy: a bot or command that starts meanwhile waits for it."""
    with exclusive(target):
        await copy(source, target)
