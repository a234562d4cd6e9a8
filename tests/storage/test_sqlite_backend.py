"""What only the SQLite backend has: its migrations files and the `tcns db upgrade` command,
its PRAGMAs (WAL, foreign keys, synchronous), units of work run wholly in aiosqlite's thread
(UnitOfWorkSuspended), the WAL checkpointer, and the lock file that `tcns restore` respects.
Everything a backend must do is in the contract suite (tests/storage/test_contract_*.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from support.helpers import NOW

import storage.sqlite.database as sqlite_module
from bot.runtime.backend import database_from_url
from storage.sqlite import lock as dblock
from storage.sqlite.database import SqliteDatabase, UnitOfWorkSuspended, in_db_thread
from storage.sqlite.migrations import MIGRATIONS


@pytest.fixture
async def sqlite_db(db_path: Path) -> AsyncIterator[SqliteDatabase]:
    db = await SqliteDatabase(str(db_path)).open()
    try:
        yield db
    finally:
        await db.close()


async def test_migrations_apply_once_and_record_the_version(db_path: Path):
    db = await SqliteDatabase(str(db_path)).open(migrate=False)
    try:
        assert await db.schema_version() == 0
        assert await db.upgrade() == [v for v, _ in MIGRATIONS]
        assert await db.upgrade() == []
        assert await db.schema_version() == MIGRATIONS[-1][0]
        tables = {r[0] for r in await db.conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"units", "members", "identities", "invites", "reports", "conversations",
                "inbox", "audit"} <= tables
        mode = await db.conn.execute_fetchall("PRAGMA journal_mode")
        assert mode[0][0] == "wal"
    finally:
        await db.close()


async def test_audit_rows_written_without_their_commune_get_it_on_upgrade(db_path: Path, monkeypatch):
    """Migration 0011: rows of /hanchot them, /nhaclai and member forget written before the fix;
    0030 then gives them their commune."""
    monkeypatch.setattr("storage.sqlite.database.MIGRATIONS", [m for m in MIGRATIONS if m[0] <= 10])
    db = await SqliteDatabase(str(db_path)).open()
    try:
        async with db.uow() as uow:
            commune = await uow.units.add("commune", "XA", "Xã A")
            village = await uow.units.add("village", "T1", "Thôn 1", commune.id)
            staff = await uow.members.add("Cán bộ", "staff", commune.id, NOW)
            lan = await uow.members.add("Lan", "member", village.id, NOW)
            custom = await uow.reminders.add_deadline(commune.id, "Chiến dịch", date(2026, 11, 1),
                                                      date(2026, 11, 30), staff.id, NOW)
            assert custom is not None
        # Rows as the code of that time wrote them (today's repositories write columns added since).
        await db.conn.executemany(
            "INSERT INTO audit (actor_id, action, object, at) VALUES (?, ?, ?, '2026-11-01T00:00:00')",
            [(staff.id, "deadline.add", f"custom_deadline:{custom.id}"), (staff.id, "reminder.adhoc", "quy:2026-Q4"),
             (None, "member_forget", f"member:{lan.id}"), (staff.id, "invite", "unit:1")])  # the last: left alone
        await db.conn.commit()
        monkeypatch.setattr("storage.sqlite.database.MIGRATIONS", MIGRATIONS)
        assert {11, 30} <= set(await db.upgrade())
        rows = await db.conn.execute_fetchall("SELECT action, unit_id, commune_id FROM audit ORDER BY id")
        assert [tuple(r) for r in rows] == [("deadline.add", commune.id, commune.id),
                                            ("reminder.adhoc", commune.id, commune.id),
                                            ("member_forget", commune.id, commune.id), ("invite", None, None)]
    finally:
        await db.close()


def test_db_upgrade_command(tmp_path: Path):
    env = {"TCNS_DB": str(tmp_path / "x.db"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], capture_output=True, text=True,
                         env=env, check=True, cwd=tmp_path)
    assert f"nay ở phiên bản {MIGRATIONS[-1][0]:04d}" in run.stdout
    again = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], capture_output=True, text=True,
                           env=env, check=True, cwd=tmp_path)
    assert "không có gì phải nâng cấp" in again.stdout


def test_a_backend_is_chosen_by_the_url():
    assert type(database_from_url("postgresql://localhost/tcns")).__name__ == "PostgresDatabase"
    assert type(database_from_url("sqlite:///x.db")).__name__ == "SqliteDatabase"
    assert type(database_from_url("plain.db")).__name__ == "SqliteDatabase"


async def test_the_connection_pragmas(sqlite_db: SqliteDatabase):
    async def pragma(name: str) -> int:
        return (await sqlite_db.conn.execute_fetchall(f"PRAGMA {name}"))[0][0]

    assert (await pragma("foreign_keys"), await pragma("synchronous"), await pragma("temp_store")) == (1, 1, 2)


async def test_a_durable_commit_returns_only_once_the_wal_holding_it_is_on_disk(
        sqlite_db: SqliteDatabase, db_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``durable=True`` (what a channel is told has arrived): the WAL file is synced after the
    commit and before ``run`` returns; the other units' commits are not waited on."""
    real_sync = sqlite_module.os.fdatasync
    returned: list[str] = []
    syncs: list[tuple[bool, list[str], bool]] = []

    def spy(fd: int) -> None:
        wal = sqlite_module.os.stat(f"{db_path}-wal")
        reader = sqlite3.connect(str(db_path))
        try:
            stored = [r[0] for r in reader.execute("SELECT code FROM units ORDER BY code")]
        finally:
            reader.close()
        syncs.append((sqlite_module.os.fstat(fd).st_ino == wal.st_ino, stored, "C2" in returned))
        real_sync(fd)

    monkeypatch.setattr(sqlite_module.os, "fdatasync", spy)

    def unit(code: str):  # type: ignore[no-untyped-def]
        async def work(uow):  # type: ignore[no-untyped-def]
            await uow.units.add("commune", code, f"Xã {code}")
            return code
        return work

    async def run(code: str, durable: bool) -> None:
        returned.append(await sqlite_db.run(unit(code), durable=durable))

    await run("C1", durable=False)
    assert syncs == []  # an ordinary commit is not synced
    await asyncio.gather(run("C2", durable=True), run("C3", durable=False))
    # The WAL file, after C2's commit (C3 may have been grouped with it or not), before C2 returned.
    assert [(wal, stored[:2], c2_returned) for wal, stored, c2_returned in syncs] == [(True, ["C1", "C2"], False)]
    assert returned[-1] == "C2"


async def test_a_round_trip_runs_in_aiosqlites_own_thread_on_the_raw_connection(sqlite_db: SqliteDatabase):
    """``in_db_thread`` leans on aiosqlite's private ``Connection._execute``: this fails first if it goes."""
    def where(raw: sqlite3.Connection) -> tuple[int, tuple]:
        return threading.get_ident(), raw.execute("SELECT 40 + 2").fetchone()

    ident, row = await in_db_thread(sqlite_db.conn, where)
    assert ident != threading.get_ident() and row == (42,)


async def test_a_unit_of_work_that_awaits_something_else_is_refused_and_leaves_nothing(sqlite_db: SqliteDatabase):
    async def suspending(uow):  # type: ignore[no-untyped-def]
        await uow.units.add("commune", "C4", "Xã Bốn")
        await asyncio.sleep(0)  # not the database: a bug in a flow

    with pytest.raises(UnitOfWorkSuspended):
        await sqlite_db.run(suspending)
    async with sqlite_db.uow() as uow:  # the lock was released
        assert await uow.units.by_code("commune", "C4") is None


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


async def test_opening_the_database_waits_while_a_restore_holds_it(tmp_path: Path):
    path = str(tmp_path / "tcns.db")
    await (await SqliteDatabase(path).open()).close()
    with dblock.exclusive(path):
        opening = asyncio.create_task(SqliteDatabase(path).open())
        await asyncio.sleep(3 * dblock.POLL_SECONDS)
        assert not opening.done()
    db = await asyncio.wait_for(opening, 10)
    with pytest.raises(dblock.DatabaseInUse), dblock.exclusive(path):
        pass
    await db.close()
    with dblock.exclusive(path):  # closed: free again
        pass


async def test_a_migration_that_breaks_a_foreign_key_is_refused_and_changes_nothing(db_path: Path, monkeypatch):
    """The check covers the tables a migration writes and the ones pointing at them: deleting
    villages that members still belong to is caught through ``members``, which the migration
    never names, and the villages are back."""
    db = await SqliteDatabase(str(db_path)).open()
    try:
        async with db.uow() as uow:
            commune = await uow.units.add("commune", "XA", "Xã A")
            village = await uow.units.add("village", "T1", "Thôn 1", commune.id)
            await uow.members.add("Lan", "member", village.id, NOW)
        broken = (MIGRATIONS[-1][0] + 1, "DELETE FROM units WHERE kind = 'village';\n")
        monkeypatch.setattr("storage.sqlite.database.MIGRATIONS", [*MIGRATIONS, broken])
        with pytest.raises(RuntimeError, match="breaks foreign keys"):
            await db.upgrade()
        rows = await db.conn.execute_fetchall("SELECT code FROM units ORDER BY id")
        assert [r[0] for r in rows] == ["XA", "T1"]
        assert await db.schema_version() == MIGRATIONS[-1][0]
    finally:
        await db.close()


def test_a_migration_names_the_tables_it_writes():
    script = ("CREATE TABLE IF NOT EXISTS link_attempts (id INTEGER);\nINSERT OR IGNORE INTO Members (id) VALUES (1);\n"
              "ALTER TABLE reports_new RENAME TO reports;\nCREATE INDEX outbox_due ON outbox (status);\n"
              "CREATE TRIGGER t AFTER INSERT ON reports BEGIN UPDATE report_months SET n = 1; END;")
    written = sqlite_module.migration_tables(script)
    assert {"link_attempts", "members", "reports_new", "reports", "report_months"} <= written
    assert "outbox" not in written  # an index changes no row
