"""Housekeeping that touches many rows does it in bounded steps (issue 11, item 6): the inbox
prune a window of the table at a time, and the WAL is copied back off the database thread."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from support.helpers import TZ

import storage.sqlite.database as sqlite_module
from bot.runtime.scheduler import prune_inbox
from storage.sqlite.database import SqliteDatabase

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)


async def test_prune_in_windows_forgets_old_marks_keeps_recent_and_waiting(db: SqliteDatabase, monkeypatch):
    import storage.sql.inbox as inbox_module

    monkeypatch.setattr(inbox_module, "PRUNE_WINDOW", 7)  # many windows over 60 rows
    async with db.uow() as uow:
        for n in range(20):
            await uow.inbox.claim("telegram", f"old{n:02d}", NOW - timedelta(days=8))
            await uow.inbox.claim("zalo", f"new{n:02d}", NOW - timedelta(hours=1))
        await uow.inbox.store("telegram", [(f"wait{n:02d}", '{"x": 1}', n + 1) for n in range(20)],
                              NOW - timedelta(days=9))
    trips: list[int] = []
    real_run = db.run

    async def counting_run(work, durable=False):  # type: ignore[no-untyped-def]
        trips.append(1)
        return await real_run(work, durable)

    monkeypatch.setattr(db, "run", counting_run)
    assert await prune_inbox(db, NOW - timedelta(days=7)) == 20
    assert len(trips) > 5  # windows, each a unit of work of its own
    async with db.uow() as uow:
        assert await uow.inbox.claim("telegram", "old03", NOW)  # forgotten: would be handled again
        assert not await uow.inbox.claim("zalo", "new03", NOW)  # still known: a redelivery
        assert await uow.inbox.count_waiting("telegram") == 20  # waiting updates are never pruned
    assert await prune_inbox(db, NOW - timedelta(days=7)) == 0


async def test_prune_of_an_empty_inbox(db: SqliteDatabase):
    assert await prune_inbox(db, NOW) == 0


async def test_the_wal_is_copied_back_beside_the_writer_and_starts_afresh(db_path, monkeypatch):
    """A bulk writer that pauses between chunks keeps the WAL short: the checkpointer copies it
    back and the next chunk starts it afresh, instead of it growing to the writer's own threshold."""
    monkeypatch.setattr(sqlite_module, "WAL_LONG_FRAMES", 20)
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_INTERVAL_S", 0.01)
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_SOON_S", 0.01)
    db = await SqliteDatabase(str(db_path)).open()
    try:
        await db.conn.execute("PRAGMA wal_autocheckpoint = 0")  # only the checkpointer copies it back
        await db.conn.execute("CREATE TABLE bulk (id INTEGER PRIMARY KEY, body TEXT)")
        longest = 0
        for chunk in range(40):
            async def write(uow, chunk=chunk):  # type: ignore[no-untyped-def]
                for _n in range(20):
                    await uow.outbox.db.execute("INSERT INTO bulk (body) VALUES (?)", ("x" * 3000,))
            await db.run(write)
            await db.bulk_pause()
            await asyncio.sleep(0.005)
            longest = max(longest, db._wal_frames)
        rows = (await db.conn.execute_fetchall("SELECT COUNT(*) FROM bulk"))[0][0]
        assert rows == 800
        # 800 rows of 3 kB are ~600 pages: never in the WAL at once.
        assert 0 < longest < 300
    finally:
        await db.close()
