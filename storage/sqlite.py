"""SQLite backend over aiosqlite: WAL mode, versioned migrations, a unit of work.

One connection per process; units of work are serialised by an asyncio lock and
run as ``BEGIN IMMEDIATE`` transactions, so two processes on the same file also
take turns (``busy_timeout``) instead of failing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from storage.migrations import MIGRATIONS
from storage.repositories import (
    AuditRepository,
    ConversationRepository,
    InviteRepository,
    MemberRepository,
    ProcessedUpdateRepository,
    ReportRepository,
    UnitRepository,
)


class _SqliteExecutor:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._conn.execute(sql, params)
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        async with self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()


class UnitOfWork:
    """One transaction. Commits when the block ends normally, rolls back on error."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        executor = _SqliteExecutor(db.conn)
        self.units = UnitRepository(executor)
        self.members = MemberRepository(executor)
        self.invites = InviteRepository(executor)
        self.reports = ReportRepository(executor)
        self.conversations = ConversationRepository(executor)
        self.updates = ProcessedUpdateRepository(executor)
        self.audit = AuditRepository(executor)

    async def __aenter__(self) -> UnitOfWork:
        await self._db.lock.acquire()
        try:
            await self._db.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._db.lock.release()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                await self._db.conn.commit()
            else:
                await self._db.conn.rollback()
        finally:
            self._db.lock.release()


class SqliteDatabase:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = asyncio.Lock()
        self._conn: aiosqlite.Connection | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def open(self, migrate: bool = True) -> SqliteDatabase:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN ourselves, so transactions are explicit.
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        await self._conn.execute("PRAGMA journal_mode = WAL")
        await self._conn.execute("PRAGMA synchronous = NORMAL")
        await self._conn.execute("PRAGMA foreign_keys = ON")
        await self._conn.execute("PRAGMA busy_timeout = 5000")
        if migrate:
            await self.upgrade()
        return self

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    async def schema_version(self) -> int:
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        row = await (await self.conn.execute("SELECT MAX(version) FROM schema_migrations")).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def upgrade(self) -> list[int]:
        """Apply pending migrations, each in its own transaction. Returns the versions applied."""
        applied: list[int] = []
        async with self.lock:
            current = await self.schema_version()
            for version, sql in MIGRATIONS:
                if version <= current:
                    continue
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(sql):
                        await self.conn.execute(statement)
                    await self.conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        (version, datetime.now(UTC).isoformat(timespec="seconds")),
                    )
                    await self.conn.commit()
                except BaseException:
                    await self.conn.rollback()
                    raise
                applied.append(version)
        return applied

    async def __aenter__(self) -> SqliteDatabase:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (complete_statement respects quotes)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        statements.append(buffer.strip())
    return statements
