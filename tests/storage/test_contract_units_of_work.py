"""Storage: migrations, WAL, exactly-once claims, invites, append-only reports."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from support.helpers import NOW

from bot.runtime.backend import database_from_url
from storage.models import NewReport
from storage.sqlite.database import SqliteDatabase, UnitOfWorkSuspended
from storage.sqlite.migrations import MIGRATIONS


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
    """Migration 0011: rows of /hanchot them, /nhaclai and member forget written before the fix."""
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
            await uow.audit.add(staff.id, "deadline.add", f"custom_deadline:{custom.id}", NOW)
            await uow.audit.add(staff.id, "reminder.adhoc", "quy:2026-Q4", NOW)
            await uow.audit.add(None, "member_forget", f"member:{lan.id}", NOW)
            await uow.audit.add(staff.id, "invite", "unit:1", NOW)  # not one of them: left alone
        monkeypatch.setattr("storage.sqlite.database.MIGRATIONS", MIGRATIONS)
        assert 11 in await db.upgrade()
        rows = await db.conn.execute_fetchall("SELECT action, unit_id FROM audit ORDER BY id")
        assert [tuple(r) for r in rows] == [("deadline.add", commune.id), ("reminder.adhoc", commune.id),
                                            ("member_forget", commune.id), ("invite", None)]
    finally:
        await db.close()


def test_db_upgrade_command(tmp_path: Path):
    env = {"TCNS_DB": str(tmp_path / "x.db"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], capture_output=True, text=True,
                         env=env, check=True, cwd=tmp_path)
    assert f"schema version {MIGRATIONS[-1][0]}" in run.stdout
    again = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], capture_output=True, text=True,
                           env=env, check=True, cwd=tmp_path)
    assert "applied nothing" in again.stdout


def test_postgres_url_is_refused_clearly():
    try:
        database_from_url("postgresql://localhost/tcns")
    except NotImplementedError as exc:
        assert "PostgreSQL" in str(exc)
    else:
        raise AssertionError("a PostgreSQL URL must not silently become a SQLite file")


async def test_claim_is_exactly_once(db: SqliteDatabase):
    async with db.uow() as uow:
        assert await uow.inbox.claim("telegram", "1", NOW)
        assert not await uow.inbox.claim("telegram", "1", NOW)
        assert await uow.inbox.claim("zalo", "1", NOW)


async def test_failed_unit_of_work_leaves_nothing(db: SqliteDatabase):
    try:
        async with db.uow() as uow:
            await uow.inbox.claim("telegram", "9", NOW)
            await uow.units.add("commune", "C1", "Xã Một")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with db.uow() as uow:
        assert await uow.units.by_code("commune", "C1") is None
        assert await uow.inbox.claim("telegram", "9", NOW)


async def test_unit_of_work_in_the_database_thread_commits_or_leaves_nothing(db: SqliteDatabase):
    async def good(uow):  # type: ignore[no-untyped-def]
        await uow.inbox.claim("telegram", "40", NOW)
        return (await uow.units.add("commune", "C2", "Xã Hai")).id

    async def failing(uow):  # type: ignore[no-untyped-def]
        await uow.units.add("commune", "C3", "Xã Ba")
        raise ValueError("boom")

    async def suspending(uow):  # type: ignore[no-untyped-def]
        await uow.units.add("commune", "C4", "Xã Bốn")
        await asyncio.sleep(0)  # not the database: a bug in a flow

    unit_id = await db.run(good)
    with pytest.raises(ValueError):
        await db.run(failing)
    with pytest.raises(UnitOfWorkSuspended):
        await db.run(suspending)
    async with db.uow() as uow:  # the lock was released each time
        assert (await uow.units.by_code("commune", "C2")).id == unit_id  # type: ignore[union-attr]
        assert await uow.units.by_code("commune", "C3") is None
        assert await uow.units.by_code("commune", "C4") is None
        assert not await uow.inbox.claim("telegram", "40", NOW)


async def test_deferred_writes_run_in_order_and_fail_the_whole_unit(db: SqliteDatabase):
    async with db.uow() as uow:
        commune = await uow.units.add("commune", "C5", "Xã Năm")
        await uow.audit.add(None, "test", "first", NOW, unit_id=commune.id)  # deferred
        # A read after a deferred write sees it: the write rides along with the read.
        assert [e.object for e in await uow.audit.latest(unit_ids=[commune.id])] == ["first"]
    with pytest.raises(sqlite3.IntegrityError):
        async with db.uow() as uow:
            await uow.units.add("commune", "C6", "Xã Sáu")
            # Deferred, so it fails only at the commit: a report for a member that does not exist.
            await uow.reports.add_batch("b1", 999_999, commune.id, [NewReport("vneid", 1)], NOW.date(), "text", NOW)
    async with db.uow() as uow:
        assert await uow.units.by_code("commune", "C6") is None
        assert await uow.reports.count() == 0


async def test_invite_uses_never_exceed_the_limit(db: SqliteDatabase):
    async with db.uow() as uow:
        commune = await uow.units.add("commune", "C1", "Xã Một")
        await uow.invites.add("ABC234", commune.id, "member", NOW + timedelta(days=1), 2, NOW)
        assert [await uow.invites.use("ABC234") for _ in range(3)] == [True, True, False]
        invite = await uow.invites.get("ABC234")
        assert invite is not None and invite.uses == 2 and not invite.usable(NOW)


async def test_void_keeps_the_row(db: SqliteDatabase):
    async with db.uow() as uow:
        commune = await uow.units.add("commune", "C1", "Xã Một")
        village = await uow.units.add("village", "V1", "Thôn Một", commune.id, 100, 250)
        member = await uow.members.add("Lan", "member", village.id, NOW)
        items = [NewReport("vneid", 3), NewReport("chu_ky_so", 1)]
        await uow.reports.add_batch("b1", member.id, village.id, items, date(2026, 11, 20), "text", NOW)
        assert await uow.reports.void_batch("b1", member.id, "test", NOW) == 2
        assert await uow.reports.void_batch("b1", member.id, "test", NOW) == 0
        rows = await uow.reports.all_for_village(village.id)
        assert [(r.service, r.count, r.void_reason) for r in rows] == [("vneid", 3, "test"), ("chu_ky_so", 1, "test")]
        assert await uow.reports.count() == 0
        assert await uow.reports.count(live_only=False) == 2


async def test_same_batch_id_of_two_members_never_mixes(db: SqliteDatabase):
    """Batch ids are short random tokens: when two members draw the same one, undo stays per member."""
    async with db.uow() as uow:
        commune = await uow.units.add("commune", "C1", "Xã Một")
        village = await uow.units.add("village", "V1", "Thôn Một", commune.id, 100, 250)
        lan = await uow.members.add("Lan", "member", village.id, NOW)
        minh = await uow.members.add("Minh", "member", village.id, NOW)
        await uow.reports.add_batch("same", lan.id, village.id, [NewReport("vneid", 3)], NOW.date(), "text", NOW)
        await uow.reports.add_batch("same", minh.id, village.id, [NewReport("cks", 2)], NOW.date(), "text", NOW)
        assert [r.service for r in await uow.reports.batch("same", minh.id)] == ["cks"]
        assert await uow.reports.void_batch("same", lan.id, "test", NOW) == 1
        live = [(r.member_id, r.service) for r in await uow.reports.all_for_village(village.id) if r.voided_at is None]
        assert live == [(minh.id, "cks")]


async def test_old_claims_are_pruned_recent_ones_kept(db: SqliteDatabase):
    async with db.uow() as uow:
        await uow.inbox.claim("telegram", "old", NOW - timedelta(days=8))
        await uow.inbox.claim("telegram", "new", NOW - timedelta(hours=1))
        assert await uow.inbox.prune(NOW - timedelta(days=7)) == 1
        assert await uow.inbox.claim("telegram", "old", NOW)  # forgotten
        assert not await uow.inbox.claim("telegram", "new", NOW)  # still a redelivery


async def test_units_arriving_together_commit_together_and_fail_alone(db: SqliteDatabase):
    """Group commit: a failing unit in a group is rolled back alone; the others are stored."""
    def unit(code: str, fail: bool = False):  # type: ignore[no-untyped-def]
        async def work(uow):  # type: ignore[no-untyped-def]
            await uow.inbox.claim("telegram", code, NOW)
            await uow.units.add("commune", code, f"Xã {code}")
            if fail:
                raise ValueError(code)
            return code
        return work

    results = await asyncio.gather(*(db.run(unit(f"G{i}", fail=i == 3)) for i in range(6)), return_exceptions=True)
    assert [r if isinstance(r, str) else type(r).__name__ for r in results] == [
        "G0", "G1", "G2", "ValueError", "G4", "G5"]
    async with db.uow() as uow:
        stored = [code for code in (f"G{i}" for i in range(6)) if await uow.units.by_code("commune", code)]
        assert stored == ["G0", "G1", "G2", "G4", "G5"]
        assert await uow.inbox.claim("telegram", "G3", NOW)  # the failed unit's claim was rolled back too
