"""SQLite backend over aiosqlite: WAL mode, versioned migrations, a unit of work.

One connection per process; units of work are serialised by an asyncio lock and
run as ``BEGIN IMMEDIATE`` transactions, so two processes on the same file also
take turns (``busy_timeout``) instead of failing. The transaction starts with the
unit's first statement, in the same round trip to the database thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiosqlite

from storage.models import Conversation, Member
from storage.sql.repository_set import RepositorySet
from storage.sqlite import lock as dblock
from storage.sqlite.migrations import MIGRATIONS

T = TypeVar("T")
WAL_AUTOCHECKPOINT_PAGES = 10_000
CHECKPOINT_INTERVAL_S = 1.0  # the WAL is checkpointed this often (when written), off the database thread
WAL_LONG_FRAMES = 2_500  # ~10 MB: past this, the next checkpoint comes soon and bulk writers pause for it
CHECKPOINT_SOON_S = 0.05
SNAPSHOT_BUSY_MS = 5000  # a read snapshot waits this long for a lock (only while the WAL is being reset)



class SqliteDialect:
    """SQLite's spelling of the functions that differ (:class:`~storage.sql.executor.Dialect`)."""

    def json_array(self, *exprs: str) -> str:
        return f"json_array({', '.join(exprs)})"

    def group_concat(self, expr: str, separator: str) -> str:
        return f"GROUP_CONCAT({expr}, '{separator}')"

    def chat_lock(self) -> str:
        return ""  # one unit of work at a time already

    def chat_locks(self, count: int) -> str:
        return ""

    def modifying_ctes(self) -> bool:
        return False

    def skip_locked(self) -> str:
        return ""  # one writer at a time: the claim's UPDATE ... WHERE status = 'pending' is enough

    def xact_lock(self, key: str, shared: bool) -> str | None:
        return None  # one writer at a time: a check and its write in one unit of work are atomic

    def hold_and_check(self) -> str | None:
        return None  # nothing to hold (xact_lock): CycleRepository checks with its own query

    def columns_sql(self) -> str:
        return ("SELECT m.name, p.name, p.pk > 0 FROM sqlite_master m JOIN pragma_table_info(m.name) p "
                "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid")

    def references_sql(self) -> str:
        return ("SELECT m.name, f.\"table\" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f "
                "WHERE m.type = 'table'")

    def identities_sql(self) -> str:
        return "SELECT NULL, NULL WHERE 0"  # an INTEGER PRIMARY KEY is the rowid: max + 1 by itself

    def sync_identity_sql(self, table: str, column: str) -> str:
        raise NotImplementedError("SQLite has no identity sequences")


SQLITE = SqliteDialect()


def in_db_thread(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
    """Run ``fn(sqlite3_connection)`` in aiosqlite's database thread: one round trip.

    aiosqlite runs every call of its public API this way (``Connection._execute``); using it
    directly lets a unit of work send several statements in one trip. Should a future
    aiosqlite drop it, ``tests/storage/test_sqlite_backend.py`` says so first.
    """
    return conn._execute(fn, conn._conn)


class _SqliteExecutor:
    """Runs a unit of work's statements in aiosqlite's thread (``async with db.uow()``):
    each awaited call is one round trip. The hot path does not come here: it runs wholly
    in the database thread (:meth:`SqliteDatabase.run`, :class:`_DirectExecutor`)."""

    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    def _trip(self, fn: Callable[[sqlite3.Cursor], T], sql: str, params: Any, many: bool = False) -> Awaitable[T]:
        def work(raw: sqlite3.Connection) -> T:
            if not raw.in_transaction:
                raw.execute("BEGIN IMMEDIATE")
            cursor = raw.executemany(sql, params) if many else raw.execute(sql, params)
            try:
                return fn(cursor)
            finally:
                cursor.close()

        return in_db_thread(self._conn, work)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._trip(lambda c: c.rowcount, sql, params)

    async def new_id(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = await self._trip(lambda c: c.fetchone(), sql, params)
        assert row is not None, "INSERT ... RETURNING id gave no row"
        return int(row[0])

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._trip(lambda c: None, sql, list(rows), many=True)

    async def append(self, head: str, rows: str, params: Sequence[Any]) -> None:
        await self.execute(f"{head} VALUES {rows}", params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self._trip(lambda c: c.fetchall(), sql, params)

    async def fetchrows(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        return await self.fetchall(sql, params)  # already tuples

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return await self._trip(lambda c: c.fetchone(), sql, params)

    async def finish(self, commit: bool) -> None:
        """Commit (or roll back), in one trip; roll back on any error."""

        def work(raw: sqlite3.Connection) -> None:
            try:
                if commit:
                    raw.commit()
                    return
            except BaseException:
                raw.rollback()
                raise
            raw.rollback()

        await in_db_thread(self._conn, work)


class _DirectExecutor:
    """Runs statements at once on the raw connection: for units of work that run wholly in
    the database thread (:meth:`SqliteDatabase.run`), where an await never suspends."""

    dialect = SQLITE

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = self._raw.execute(sql, params)
        cursor.close()
        return cursor.rowcount

    async def new_id(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = self._raw.execute(sql, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        assert row is not None, "INSERT ... RETURNING id gave no row"
        return int(row[0])

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._raw.executemany(sql, rows).close()

    async def append(self, head: str, rows: str, params: Sequence[Any]) -> None:
        self._raw.execute(f"{head} VALUES {rows}", params).close()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._raw.execute(sql, params).fetchall()

    async def fetchrows(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        return await self.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        cursor = self._raw.execute(sql, params)
        try:
            return cursor.fetchone()
        finally:
            cursor.close()


class UnitOfWorkSuspended(RuntimeError):
    """A unit of work given to :meth:`SqliteDatabase.run` awaited something other than the database."""


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, synchronously."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise UnitOfWorkSuspended("a unit of work run in the database thread awaited something else")


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a settled future's error as seen: its caller has already left (with that error or cancelled)."""
    if not future.cancelled():
        future.exception()


def _settle_group(futures: list[asyncio.Future[Any]], trip: asyncio.Future[list[tuple[bool, Any]]]) -> None:
    """Hand each caller of a group trip its own result or error."""
    if trip.cancelled() or trip.exception() is not None:
        error = asyncio.CancelledError() if trip.cancelled() else trip.exception()
        outcomes: list[tuple[bool, Any]] = [(False, error)] * len(futures)
    else:
        outcomes = trip.result()
    for future, (ok, value) in zip(futures, outcomes, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class SqliteUnitOfWork(RepositorySet):
    """One transaction. Commits when the block ends normally, rolls back on error."""

    def __init__(self, db: SqliteDatabase, executor: _SqliteExecutor | _DirectExecutor | None = None) -> None:
        self._db = db
        self._executor = executor = executor or _SqliteExecutor(db.conn)
        super().__init__(executor)

    @property
    def snapshot(self) -> SnapshotSource:
        """Where heavy reads go instead of this unit of work (:class:`SnapshotSource`)."""
        return SnapshotSource(self._db.path)

    async def __aenter__(self) -> SqliteUnitOfWork:
        await self._db.lock.acquire()
        return self

    async def open_inbound(
        self, channel: str, update_key: str, user_id: str, chat_id: str, now: datetime
    ) -> tuple[bool, Member | None, Conversation]:
        """Claim an inbound update and load its sender and conversation (one round trip; a
        sender with another channel too has this one marked as the one used last)."""
        return await self.inbox.claim_and_load(channel, update_key, user_id, chat_id, now)

    def defer_appends(self) -> None:
        """Nothing to defer: statements here cost no round trip of their own."""

    async def open_inbound_many(
        self, channel: str, updates: Sequence[tuple[str, str, str]], now: datetime
    ) -> list[tuple[bool, Member | None, Conversation]]:
        """:meth:`open_inbound` of several updates ``(update_key, user_id, chat_id)`` of different chats."""
        return await self.inbox.claim_and_load_many(channel, updates, now)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._executor.finish(commit=exc_type is None)
        finally:
            self._db.lock.release()


class ReadSnapshot:
    """One consistent read of the database on a read-only connection of its own.

    For heavy reads (a year's export) made outside the database thread, in a worker thread
    or another process: in WAL mode a reader neither waits for the writer nor blocks it, so
    the bot goes on serving messages meanwhile, and every read of the snapshot sees the same
    moment (one read transaction). ``run`` drives repository calls as a unit of work does; a
    write fails.
    """

    def __init__(self, db: SqliteDatabase, raw: sqlite3.Connection) -> None:
        self._raw = raw
        self._uow = SqliteUnitOfWork(db, _DirectExecutor(raw))

    def run(self, work: Callable[[SqliteUnitOfWork], Coroutine[Any, Any, T]]) -> T:
        """``work(uow)`` over the snapshot, synchronously (it may await repositories only)."""
        return _drive(work(self._uow))

    def renew(self) -> None:
        """End this read transaction; the next read starts a new one, at that moment. A reader
        holding one moment for minutes keeps the WAL from being checkpointed past it, and the
        first commit after it ends then copies all of it back at once: a long read renews."""
        self._raw.execute("COMMIT")
        self._raw.execute("BEGIN")


@dataclass(frozen=True)
class SnapshotSource:
    """Opens read snapshots (:class:`ReadSnapshot`) of one database file: ``with source() as snap:``.

    Plain data (the file's path), so it can be handed to another process. Opening one never
    takes :attr:`SqliteDatabase.lock`: everybody else's units of work go on meanwhile.
    """

    path: str

    @contextmanager
    def __call__(self) -> Iterator[ReadSnapshot]:
        if self.path == ":memory:":
            raise RuntimeError("a read snapshot needs a database file")
        raw = sqlite3.connect(f"{Path(self.path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                              check_same_thread=False)
        try:
            raw.execute(f"PRAGMA busy_timeout = {SNAPSHOT_BUSY_MS}")
            raw.execute("BEGIN")  # deferred: the snapshot is taken at its first read
            yield ReadSnapshot(SqliteDatabase(self.path), raw)
        finally:
            raw.close()


_Work = Callable[["SqliteUnitOfWork"], Coroutine[Any, Any, Any]]


class SqliteDatabase:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = asyncio.Lock()
        self._trips: set[asyncio.Future[Any]] = set()
        self._queued: list[tuple[_Work, asyncio.Future[Any]]] = []  # (work, its result)
        self._conn: aiosqlite.Connection | None = None
        self._open_lock: int | None = None  # the shared lock of storage.sqlite.lock, while open
        self._closing, self._wake, self._wal_copied = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self._wal_frames = 0  # frames in the WAL at the last checkpoint (_checkpoint_often)
        self._bulk_at = 0.0  # when a bulk writer last called bulk_pause (time.monotonic())
        self._checkpoints: asyncio.Task[None] | None = None
        self._wal_fd: int | None = None  # the WAL file, for durable commits' syncs (_sync_wal)
        self._wal_sync: asyncio.Future[None] | None = None  # the sync in flight
        self._wal_syncs_started = self._wal_synced = 0  # numbered syncs: the last started, the last done

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def open(self, migrate: bool = True) -> SqliteDatabase:
        if self._conn is not None:  # opened twice (``async with await db.open()``): one connection, not two
            return self
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._open_lock = await dblock.hold_shared(self.path)  # `tcns restore` refuses while it is held
        # isolation_level=None: we issue BEGIN ourselves, so transactions are explicit.
        self._conn = await aiosqlite.connect(self.path, isolation_level="IMMEDIATE")
        await self._conn.execute("PRAGMA journal_mode = WAL")
        await self._conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoints run off this connection (_checkpoint_often); its own automatic one is only a
        # safety net, at 2 x ~40 MB of WAL (SQLite's default is 4 MB), should the other not keep up.
        await self._conn.execute(f"PRAGMA wal_autocheckpoint = {2 * WAL_AUTOCHECKPOINT_PAGES}")
        # Group commit runs each unit in a savepoint; SQLite keeps a savepoint's undo pages in a
        # statement journal, a temporary file by default. In memory it is ~10 % less work per
        # message (and sorts for ORDER BY stay in memory too: every query here sorts little).
        await self._conn.execute("PRAGMA temp_store = MEMORY")
        await self._conn.execute("PRAGMA foreign_keys = ON")
        await self._conn.execute("PRAGMA busy_timeout = 5000")
        if migrate:
            await self.upgrade()
        if self.path != ":memory:":
            self._closing.clear()
            self._checkpoints = asyncio.create_task(self._checkpoint_often())
        return self

    async def _checkpoint_often(self) -> None:
        """Copy the WAL back into the database file from a connection and a thread of their own.

        SQLite's automatic checkpoint runs inside the commit that crosses its threshold: at
        ~40 MB of WAL that one commit copies it back and syncs, 100-300 ms of the database
        thread in which nobody's message is answered (bench/heavy.py: the worst latency of a
        reminder pass and of an export). A passive checkpoint here, every
        ``CHECKPOINT_INTERVAL_S`` when the WAL was written, runs beside the writer (SQLite
        releases the interpreter lock meanwhile) and blocks nobody; the first transaction after
        one that copied everything starts the WAL afresh. Under sustained writes the writer
        appends meanwhile: while the WAL is longer than ``WAL_LONG_FRAMES`` the rounds come
        every ``CHECKPOINT_SOON_S`` (each copies little) until one ends in a pause between two
        commits; a bulk writer, which leaves no pause, calls :meth:`bulk_pause` between its
        chunks. The writer's own automatic checkpoint stays as a safety net.
        """
        wal, seen, raw = f"{self.path}-wal", 0, None
        try:
            while not self._closing.is_set():
                with contextlib.suppress(TimeoutError):
                    soon = self._wal_frames >= WAL_LONG_FRAMES or time.monotonic() - self._bulk_at < 1
                    await asyncio.wait_for(self._wake.wait(), CHECKPOINT_SOON_S if soon else CHECKPOINT_INTERVAL_S)
                self._wake.clear()
                if self._closing.is_set():
                    return
                try:
                    written = os.stat(wal).st_mtime_ns
                except FileNotFoundError:
                    continue
                if written == seen:  # nothing written since a round that copied everything
                    self._wal_copied.set()
                    continue
                if raw is None:
                    raw = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                    raw.execute("PRAGMA synchronous = NORMAL")
                try:  # not cancelled midway: close() waits for it
                    busy, frames, copied = await asyncio.to_thread(
                        lambda raw=raw: raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
                except sqlite3.Error:  # locked: the next round (or the writer's own) does it
                    continue
                self._wal_frames = frames  # the WAL's length: it starts afresh only after a round like this
                if not busy and copied == frames:
                    seen = written
                    self._wal_copied.set()
        finally:
            if raw is not None:
                raw.close()
            self._wal_copied.set()

    async def bulk_pause(self, timeout: float = 2.0) -> None:
        """For a writer of many chunks (a reminder pass, an announcement's copies), between two:
        once the WAL has grown past ``WAL_LONG_FRAMES``, wait (up to ``timeout``) until a
        checkpoint has copied it all back, so that the next chunk starts the WAL afresh instead
        of the commit that crosses the writer's own threshold doing it, 100 ms or more of the
        database thread. Members' messages are answered meanwhile. Costs nothing otherwise."""
        if self._checkpoints is None:
            return
        self._bulk_at = time.monotonic()  # checkpoints come soon while a bulk writer is at work
        if self._wal_frames < WAL_LONG_FRAMES:
            return
        self._wal_copied.clear()  # set by the next round that copies everything, now that this writer waits
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wal_copied.wait(), timeout)
        self._wal_frames = 0  # the next transaction starts the WAL afresh (the next round tells)

    async def close(self) -> None:
        if self._checkpoints is not None:
            self._closing.set()
            self._wake.set()
            await self._checkpoints
            self._checkpoints = None
        if self._wal_sync is not None:
            with contextlib.suppress(Exception):
                await self._wal_sync
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        dblock.release(self._open_lock)
        self._open_lock = None

    def snapshot(self) -> AbstractContextManager[ReadSnapshot]:
        """``with db.snapshot() as snap: snap.run(lambda uow: uow.tallies.detail(...))`` in any
        thread: a new read-only connection, one read transaction, closed at the end."""
        return SnapshotSource(self.path)()

    def uow(self) -> SqliteUnitOfWork:
        """``async with db.uow() as uow``: a transaction whose statements each make a round trip."""
        return SqliteUnitOfWork(self)

    async def run(self, work: Callable[[SqliteUnitOfWork], Coroutine[Any, Any, T]], durable: bool = False,
                  single: bool = False) -> T:
        """Run ``work(uow)`` as one unit of work wholly in the database thread.

        The hot path of every inbound message. ``work`` may await the repositories, whose
        calls complete at once there; awaiting anything else (network, sleep, a thread) is
        a bug and raises :class:`UnitOfWorkSuspended` after rolling back. Keep CPU-heavy work
        (charts, spreadsheets) out of it: the database serves no one else meanwhile.

        Group commit: units that arrive while the database is busy are run together in the
        next trip, each inside its own savepoint, and committed once. A unit that raises is
        rolled back to its savepoint alone; a failed commit fails them all. Nobody's result
        is returned before the commit that made it durable.

        ``durable``: the commit survives a power loss, not only a crash of this process: the
        WAL is synced to disk after the commit and before this returns (what ``synchronous =
        FULL`` does inside the commit, :meth:`_sync_wal`). For what a channel is told has
        arrived (the inbox); everything else commits with ``NORMAL``, which a crash of the
        process never loses, and which a later durable commit makes durable too (the WAL is
        written in order). The sync runs in a thread of its own, after the trip: the database
        thread goes on with the next units meanwhile instead of waiting for the disk (a few
        milliseconds per sync, which every unit grouped with the durable one used to wait too).

        ``single`` (one statement) changes nothing here: the unit joins a group commit anyway.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queued.append((work, future))
        async with self.lock:
            if not future.done():  # otherwise an earlier trip already ran and committed it
                batch, self._queued = self._queued, []
                group = partial(self._run_group, [w for w, _ in batch])
                trip = asyncio.ensure_future(in_db_thread(self.conn, group))
                self._trips.add(trip)  # the loop keeps only weak references to tasks
                trip.add_done_callback(self._trips.discard)
                trip.add_done_callback(partial(_settle_group, [f for _, f in batch]))
                try:
                    await asyncio.shield(trip)  # a cancelled caller must not strand the others
                except BaseException:
                    # Leaving without awaiting ``future`` (cancelled, or the trip failed): its
                    # outcome, now or once the trip ends, is read by nobody but this callback.
                    future.add_done_callback(_consume)
                    raise
        result = await future
        if durable:
            await self._sync_wal()
        return result

    async def _sync_wal(self) -> None:
        """Make every commit so far survive a power loss: sync the WAL file to disk.

        A commit in WAL mode has written its frames (and the commit record) to the WAL file
        before it returns, whatever ``synchronous`` says; ``NORMAL`` only leaves out the sync
        that ``FULL`` does at that point. Syncing the file afterwards, from another descriptor
        (a sync is of the file, not of a descriptor), makes those frames durable as that sync
        would have. Frames a checkpoint copied meanwhile are durable too: a checkpoint syncs the
        database file before the WAL is started afresh. Concurrent callers share a sync that
        began after their commits; a later caller starts the next one.
        """
        if self.path == ":memory:":
            return  # nothing outlives the process anyway
        target = self._wal_syncs_started + 1  # a sync started after this commit
        while self._wal_synced < target:
            if self._wal_sync is None:
                self._wal_syncs_started += 1
                number = self._wal_syncs_started
                self._wal_sync = asyncio.ensure_future(asyncio.to_thread(self._fsync_wal))
                self._wal_sync.add_done_callback(partial(self._wal_sync_done, number))
            await asyncio.shield(self._wal_sync)

    def _wal_sync_done(self, number: int, sync: asyncio.Future[None]) -> None:
        self._wal_sync = None
        if not sync.cancelled() and sync.exception() is None:
            self._wal_synced = max(self._wal_synced, number)

    def _fsync_wal(self) -> None:
        """In a worker thread: fdatasync the WAL file (the one now at its path: it may have been
        deleted and made again while no connection was open)."""
        wal = f"{self.path}-wal"
        try:
            current = os.stat(wal)
        except FileNotFoundError:  # no WAL (SQLite makes it on the first read): every commit is in the
            return  # database file, which the last checkpoint synced
        fd = self._wal_fd
        if fd is not None and os.fstat(fd).st_ino != current.st_ino:
            os.close(fd)
            fd = self._wal_fd = None
        if fd is None:
            fd = self._wal_fd = os.open(wal, os.O_RDONLY)
        (os.fdatasync if hasattr(os, "fdatasync") else os.fsync)(fd)

    def _run_group(self, works: list[Callable[[SqliteUnitOfWork], Coroutine[Any, Any, Any]]],
                   raw: sqlite3.Connection) -> list[tuple[bool, Any]]:
        """In the database thread: run each unit (in a savepoint when grouped), then commit once
        (``durable`` units are synced afterwards, :meth:`_sync_wal`)."""
        grouped = len(works) > 1
        outcomes: list[tuple[bool, Any]] = []
        try:
            if not raw.in_transaction:
                raw.execute("BEGIN IMMEDIATE")
            for work in works:
                if grouped:
                    raw.execute("SAVEPOINT unit_of_work")
                try:
                    value = _drive(work(SqliteUnitOfWork(self, _DirectExecutor(raw))))
                except Exception as exc:
                    if not grouped:
                        raise
                    raw.execute("ROLLBACK TO unit_of_work")
                    raw.execute("RELEASE unit_of_work")
                    outcomes.append((False, exc))
                    continue
                if grouped:
                    raw.execute("RELEASE unit_of_work")
                outcomes.append((True, value))
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        return outcomes

    async def backup(self, destination: str) -> None:
        """A consistent copy of the database file, taken while the bot runs (online backup)."""
        from storage.sqlite.backup import copy

        Path(destination).parent.mkdir(parents=True, exist_ok=True)
        await copy(self.path, destination)

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
                # Foreign keys off while a migration runs, checked before its commit: SQLite's
                # procedure for rebuilding a table that others reference (a wider CHECK, say).
                await self.conn.execute("PRAGMA foreign_keys = OFF")
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(sql):
                        await self.conn.execute(statement)
                    broken = []
                    for table in await self._tables_to_check(migration_tables(sql)):
                        broken += await self.conn.execute_fetchall(f'PRAGMA foreign_key_check("{table}")')
                    if broken:
                        raise RuntimeError(f"migration {version} breaks foreign keys: {list(broken)[:5]}")
                    await self.conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        (version, datetime.now(UTC).isoformat(timespec="seconds")),
                    )
                    await self.conn.commit()
                except BaseException:
                    await self.conn.rollback()
                    raise
                finally:
                    await self.conn.execute("PRAGMA foreign_keys = ON")
                applied.append(version)
        return applied

    async def _tables_to_check(self, written: set[str]) -> list[str]:
        """The tables whose foreign keys a migration may have broken: those it wrote (created,
        rebuilt, filled, changed) and those whose rows point at them. Checking only these keeps
        a migration that adds a small table or an index from scanning every report of a big
        commune's file (a whole-database check read 40M reports for minutes)."""
        tables = {r[0] for r in await self.conn.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        written = {t for t in tables if t.lower() in written}
        children = {r[0] for r in await self.conn.execute_fetchall(SQLITE.references_sql())
                    if r[1].lower() in {t.lower() for t in written}}
        return sorted(written | children)

    async def __aenter__(self) -> SqliteDatabase:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


_WRITES = re.compile(
    r"\b(?:CREATE\s+TABLE(?:\s+IF\s+NOT\s+EXISTS)?|ALTER\s+TABLE|RENAME\s+TO|INSERT(?:\s+OR\s+\w+)?\s+INTO"
    r"|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM|DROP\s+TABLE(?:\s+IF\s+EXISTS)?)\s+[\"`\[]?(\w+)",
    re.IGNORECASE,
)


def migration_tables(script: str) -> set[str]:
    """The tables a migration script writes (lower case): created, altered, renamed to,
    inserted into, updated, deleted from or dropped, triggers' bodies included."""
    return {name.lower() for name in _WRITES.findall(script)}


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
