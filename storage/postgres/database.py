"""PostgreSQL backend over asyncpg: a connection pool, one transaction per unit of work.

Selected by ``TCNS_DB=postgresql://…`` (``bot.runtime.backend``). Where the SQLite backend
serialises every unit of work on its one connection (and groups their commits), here each
unit of work takes a connection of the pool for one transaction: units of different chats
run side by side, and the server groups the commits that arrive together (every commit is
durable, as PostgreSQL's are by default). Several processes may share the database: the
migrations take an advisory lock, and a unit that loses a deadlock or a serialization
conflict to another is run again (:meth:`PostgresDatabase.run`).

Heavy reads (the XLSX export) go to a :class:`PostgresReadSnapshot`: its own connection and
event loop in a thread of its own, one ``REPEATABLE READ READ ONLY`` transaction, so a
worker thread or another process reads one consistent moment synchronously while the bot
goes on writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from storage.models import Conversation, Member
from storage.postgres.executor import PostgresExecutor
from storage.postgres.migrations import MIGRATIONS
from storage.sql.repository_set import RepositorySet

T = TypeVar("T")
POOL_MIN, POOL_MAX = 1, 10  # connections per process; a unit of work waits for a free one
MIGRATION_LOCK = 0x7C45_0001  # pg_advisory_lock key: one process migrates at a time
RETRIES = 3  # a unit of work that lost a deadlock or a serialization conflict is run again this often
SNAPSHOT_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_CONFLICTS = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)


class PostgresUnitOfWork(RepositorySet):
    """One transaction on one connection, and the repositories that work in it."""

    def __init__(self, conn: asyncpg.Connection, source: PostgresSnapshotSource, begin: bool = False) -> None:
        self._source = source
        self.executor = PostgresExecutor(conn, begin)  # begin: BEGIN goes with the first statement
        super().__init__(self.executor)

    @property
    def snapshot(self) -> PostgresSnapshotSource:
        """Where heavy reads go instead of this unit of work (plain data: may go to another process)."""
        return self._source

    async def open_inbound(
        self, channel: str, update_key: str, user_id: str, chat_id: str, now: datetime
    ) -> tuple[bool, Member | None, Conversation]:
        """Claim an inbound update and load its sender and conversation (one round trip; a
        sender with another channel too has this one marked as the one used last)."""
        return await self.inbox.claim_and_load(channel, update_key, user_id, chat_id, now)

    def defer_appends(self) -> None:
        """From now on, appends (reports) go with the unit's next statement (see ``PostgresExecutor.append``)."""
        self.executor.deferring = True

    async def open_inbound_many(
        self, channel: str, updates: Sequence[tuple[str, str, str]], now: datetime
    ) -> list[tuple[bool, Member | None, Conversation]]:
        """:meth:`open_inbound` of several updates ``(update_key, user_id, chat_id)`` of different
        chats: every chat held in one statement, in one order (see ``claim_and_load_many``)."""
        return await self.inbox.claim_and_load_many(channel, updates, now)


class PostgresReadSnapshot:
    """One consistent read of the database (a ``REPEATABLE READ READ ONLY`` transaction).

    Synchronous, callable from any thread, a thread with a running event loop included:
    the connection lives on an event loop of its own in a thread of its own, and
    :meth:`run` waits there for ``work(uow)``. A write fails (the transaction is read-only).
    """

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcns-pg-snapshot", daemon=True)
        self._conn: asyncpg.Connection | None = None
        self._uow: PostgresUnitOfWork | None = None

    def _wait(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _start(self) -> None:
        self._thread.start()
        self._conn = conn = self._wait(asyncpg.connect(self._dsn))
        self._wait(conn.execute(SNAPSHOT_BEGIN))
        self._uow = PostgresUnitOfWork(conn, PostgresSnapshotSource(self._dsn))

    def _stop(self) -> None:
        try:
            if self._conn is not None:
                self._wait(self._conn.close())  # the read transaction ends with the session
        finally:
            if self._thread.is_alive():
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join()
            self._loop.close()

    def run(self, work: Callable[[PostgresUnitOfWork], Coroutine[Any, Any, T]]) -> T:
        """``work(uow)`` over the snapshot, synchronously (it may await repositories only)."""
        assert self._uow is not None, "the snapshot is not open"
        return self._wait(work(self._uow))

    def renew(self) -> None:
        """End this read; the next one starts now (a long reader lets VACUUM go on meanwhile)."""
        assert self._conn is not None, "the snapshot is not open"
        self._wait(self._conn.execute(f"COMMIT; {SNAPSHOT_BEGIN}"))


@dataclass(frozen=True)
class PostgresSnapshotSource:
    """Opens read snapshots of one database: ``with source() as snap:``. Plain data (the
    connection URL), so it can be handed to another process."""

    dsn: str

    @contextmanager
    def __call__(self) -> Iterator[PostgresReadSnapshot]:
        snapshot = PostgresReadSnapshot(self.dsn)
        try:
            snapshot._start()
            yield snapshot
        finally:
            snapshot._stop()


async def _reset(conn: asyncpg.Connection) -> None:
    """A connection back in the pool: units of work leave no session state behind (they
    change settings with ``SET LOCAL`` only), so only a transaction left open is ended;
    asyncpg's default reset costs a round trip on every release, on the hot path."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class PostgresDatabase:
    """A PostgreSQL database (:class:`storage.contract.Database`), named by its URL."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database is not open")
        return self._pool

    async def open(self, migrate: bool = True) -> PostgresDatabase:
        if self._pool is not None:  # opened twice (``async with await db.open()``): one pool, not two
            return self
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=POOL_MIN, max_size=POOL_MAX, reset=_reset,
            server_settings={"application_name": "tcns"},
        )
        if migrate:
            try:
                await self.upgrade()
            except BaseException:
                await self.close()
                raise
        return self

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def __aenter__(self) -> PostgresDatabase:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def uow(self) -> AbstractAsyncContextManager[PostgresUnitOfWork]:
        """``async with db.uow() as uow``: one transaction on a pooled connection, committed
        when the block ends normally, rolled back on error."""
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[PostgresUnitOfWork]:
        # BEGIN goes with the unit's first statement (one round trip less, see PostgresExecutor);
        # COMMIT when the block ends normally. On an error nothing is committed: ROLLBACK here,
        # as asyncpg's transaction block did (left to the pool's reset, asyncpg reports every
        # such release as an error: "Resetting connection with an active transaction").
        async with self.pool.acquire() as conn:
            uow = PostgresUnitOfWork(conn, PostgresSnapshotSource(self.dsn), begin=True)
            try:
                yield uow
                await uow.executor.flush()  # deferred appends: an error in them rolls back as any other
            except BaseException:
                if uow.executor.begun and not conn.is_closed():
                    with contextlib.suppress(Exception):  # a busy or broken connection: the pool drops it
                        await conn.execute("ROLLBACK")
                raise
            if uow.executor.begun:
                await conn.execute("COMMIT")

    @asynccontextmanager
    async def _single(self) -> AsyncIterator[PostgresUnitOfWork]:
        async with self.pool.acquire() as conn:
            yield PostgresUnitOfWork(conn, PostgresSnapshotSource(self.dsn))

    async def run(self, work: Callable[[PostgresUnitOfWork], Coroutine[Any, Any, T]], durable: bool = False,
                  single: bool = False) -> T:
        """``work(uow)`` as one unit of work, in one transaction on a pooled connection.

        Units run concurrently, each on its own connection (the pool bounds how many).
        ``work`` may await anything, but holds its connection and its row locks meanwhile:
        keep network calls and CPU-heavy work out of it. A unit that loses a deadlock or a
        serialization conflict to another transaction is rolled back and run again from the
        start (up to ``RETRIES`` times): ``work`` must do nothing but database work that can
        be repeated, as the SQLite backend already requires. ``durable``: every commit here
        is (PostgreSQL's default ``synchronous_commit``), so it changes nothing. ``single``:
        ``work`` makes one statement, which commits by itself (no BEGIN and COMMIT around it:
        the webhook's store before its 200 is one round trip).
        """
        for attempt in range(RETRIES + 1):
            try:
                async with self._single() if single else self.uow() as uow:
                    return await work(uow)
            except _CONFLICTS:
                if attempt == RETRIES:
                    raise
            except asyncpg.exceptions.DataError as exc:
                # A value the database cannot take ('Lan\ud800', a number out of range): a ValueError,
                # as the SQLite backend raises (UnicodeEncodeError), so callers handle one kind.
                raise ValueError(str(exc)) from exc
            await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    async def bulk_pause(self, timeout: float = 2.0) -> None:
        """Between the chunks of a bulk write: give other units of work a turn (no WAL to wait for)."""
        await asyncio.sleep(0)

    def snapshot(self) -> AbstractContextManager[PostgresReadSnapshot]:
        """``with db.snapshot() as snap: snap.run(lambda uow: uow.tallies.detail(...))`` in any
        thread: a new connection, one read-only transaction, closed at the end."""
        return PostgresSnapshotSource(self.dsn)()

    async def schema_version(self) -> int:
        async with self.pool.acquire() as conn:
            if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
                return 0
            version = await conn.fetchval("SELECT MAX(version) FROM schema_migrations")
        return int(version) if version is not None else 0

    async def upgrade(self) -> list[int]:
        """Apply pending migrations, each in its own transaction, under an advisory lock (several
        workers may start at once: one migrates, the others then find nothing to do)."""
        applied: list[int] = []
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "applied_at TEXT NOT NULL)"
                )
                done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for version, sql in MIGRATIONS:
                    if version in done:  # by set, not by maximum: migrations written in parallel leave gaps
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)  # no arguments: the whole script in one simple query
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                            version, datetime.now(UTC).isoformat(timespec="seconds"),
                        )
                    applied.append(version)
            finally:
                with contextlib.suppress(asyncpg.PostgresError, OSError):
                    await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return applied

    async def backup(self, destination: str) -> None:
        """A consistent copy of everything, taken while the bot runs: ``pg_dump`` (custom format,
        for ``pg_restore``) when it is on the PATH, else :class:`~storage.postgres.backup.BackupToolMissing`."""
        from storage.postgres.backup import dump

        await dump(self.dsn, destination)
