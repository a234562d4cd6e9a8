"""SQLite backend over aiosqlite: WAL mode, versioned migrations, a unit of work.

One connection per process; units of work are serialised by an asyncio lock and
run as ``BEGIN IMMEDIATE`` transactions, so two processes on the same file also
take turns (``busy_timeout``) instead of failing. The transaction starts with the
unit's first statement: the sqlite3 module opens it implicitly before a first write
(no extra round trip to the database thread), and the executor opens it explicitly
before a first read.
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

from storage.announcements import AnnouncementRepository
from storage.migrations import MIGRATIONS
from storage.models import Conversation, Member
from storage.outbox import OutboxRepository
from storage.reminders import ReminderRepository
from storage.repositories import (
    AuditRepository,
    ConversationRepository,
    InviteRepository,
    MemberRepository,
    ProcessedUpdateRepository,
    ReportRepository,
    UnitRepository,
)
from storage.tallies import TallyRepository, TargetRepository

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class _SqliteExecutor:
    """Runs a unit of work's statements; each call is one round trip to aiosqlite's thread."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._begun = False

    async def _begin(self, sql: str) -> None:
        if self._begun:
            return
        self._begun = True
        # sqlite3 (isolation_level="IMMEDIATE") issues BEGIN IMMEDIATE itself before a first
        # write, in the same round trip; a first read needs it said explicitly.
        if not sql.lstrip()[:7].upper().startswith(_WRITES) and not self._conn.in_transaction:
            await self._conn.execute("BEGIN IMMEDIATE")

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        await self._begin(sql)
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        await self._begin(sql)
        cursor = await self._conn.execute(sql, params)
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._begin(sql)
        await self._conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        await self._begin(sql)
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        # One round trip (execute + fetchone + close would be three).
        await self._begin(sql)
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)


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
        self.outbox, self.reminders = OutboxRepository(executor), ReminderRepository(executor)
        self.tallies, self.targets = TallyRepository(executor), TargetRepository(executor)
        self.announcements = AnnouncementRepository(executor)

    async def __aenter__(self) -> UnitOfWork:
        await self._db.lock.acquire()
        return self

    async def open_inbound(
        self, channel: str, update_key: str, user_id: str, chat_id: str, now: datetime
    ) -> tuple[bool, Member | None, Conversation]:
        """Claim an inbound update and load its sender and conversation (one round trip)."""
        return await self.updates.claim_and_load(channel, update_key, user_id, chat_id, now)

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
        self._conn = await aiosqlite.connect(self.path, isolation_level="IMMEDIATE")
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
            await self.schema_version()  # creates the table on a new database
            done = {r[0] for r in await self.conn.execute_fetchall("SELECT version FROM schema_migrations")}
            for version, sql in MIGRATIONS:
                if version in done:  # by set, not by maximum: migrations written in parallel leave gaps
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
