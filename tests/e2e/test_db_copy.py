"""`tcns db copy`: a commune that outgrows its SQLite file moves to PostgreSQL in one command
(and back), everything kept: ids, voids and corrections, audit, queued messages, chats; the
tallies read the same on both sides; a target that already holds data is refused."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

from support import peek
from support.cli import tcns
from support.helpers import NOW, TZ, ChatUser
from support.postgres import fresh_database

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.domain.periods import month, year_of
from bot.flows.engine import Engine
from bot.runtime.backend import database_from_url
from bot.services.demo import Demo, seed_demo
from bot.services.tallies import build_tally
from storage import Database
from storage.models import NewMessage, NewReport

SERVICES = ("vneid", "chu_ky_so", "thanh_toan", "dich_vu_cong")


async def _fill(db: Database, demo: Demo, content: Content) -> None:
    """The demo commune after a few weeks: members who joined and reported in a chat, reports
    over three months with voids and corrections, a queued reminder."""
    engine = Engine(db, content, FixedClock(NOW), TZ)
    lan = ChatUser(engine, "7001", "Lan")
    await lan.send(f"/start {demo.villages[0].member_code}")
    await lan.send("vneid 5 cks 2")
    async with db.uow() as uow:
        members = []
        for n, village in enumerate(demo.villages):
            member = await uow.members.add(f"TV {n}", "member", village.village.id, NOW)
            await uow.members.link_identity(member.id, "telegram", f"9{n}", f"9{n}", NOW)
            members.append((member, village.village))
        for n in range(300):
            member, village = members[n % len(members)]
            day = date(2026, 9, 1) + timedelta(days=n % 80)
            items = [NewReport(SERVICES[n % 4], 1 + n % 7), NewReport(SERVICES[(n + 1) % 4], 2)]
            await uow.reports.add_batch(f"b{n}", member.id, village.id, items, day, "text", NOW)
            if n % 10 == 3:
                await uow.reports.void_batch(f"b{n}", member.id, "member_undo", NOW)
            elif n % 10 == 7:
                old = (await uow.reports.batch(f"b{n}", member.id))[0]
                await uow.reports.supersede(old, old.count + 10, member.id, "correction", NOW)
        await uow.outbox.enqueue([NewMessage("thang", "2026-11", "due", members[0][0].id, "telegram", "90",
                                             {"text": "Nhắc báo cáo"}, NOW + timedelta(days=1))], NOW)


async def _tallies(url: str, commune_id: int, content: Content) -> list:
    db = await database_from_url(url).open()
    try:
        async with db.uow() as uow:
            commune = await uow.units.get(commune_id)
            assert commune is not None
            codes = content.catalogue.codes
            return [await build_tally(uow, commune, period, codes, NOW)
                    for period in (month(2026, 9), month(2026, 10), year_of(date(2026, 11, 1)))]
    finally:
        await db.close()


async def _counts(url: str) -> dict[str, int]:
    async with peek.opened(url) as db:
        tables = await peek.tables(db)
        return {t: await peek.count(db, t) for t in sorted(tables) if t != "schema_migrations"}


def _copy(tmp_path: Path, source: str, target: str):  # type: ignore[no-untyped-def]
    return tcns(tmp_path, "db", "copy", "--from", source, "--to", target, "--chunk", "97")


async def test_a_commune_moves_to_postgresql_and_back_with_everything(tmp_path: Path, content: Content,
                                                                      postgres_server: str):
    sqlite_file = str(tmp_path / "tcns.db")
    db = await database_from_url(sqlite_file).open()
    demo = await seed_demo(db, content, NOW)
    await _fill(db, demo, content)
    await db.close()
    before = await _counts(sqlite_file)
    assert before["reports"] > 600 and before["audit"] > 0 and before["conversations"] > 0

    async with fresh_database(postgres_server, migrated=False) as pg:  # an empty database: the copy migrates it
        run = await asyncio.to_thread(_copy, tmp_path, f"sqlite:///{sqlite_file}", pg)
        assert run.returncode == 0, run.stderr
        assert "Xong:" in run.stdout and "KHÔNG KHỚP" not in run.stdout
        assert "report_months" in run.stdout and "đích tự tính lại" in run.stdout
        assert await _counts(pg) == before
        assert await _tallies(pg, demo.commune.id, content) == await _tallies(sqlite_file, demo.commune.id, content)
        async with peek.opened(pg) as copied:
            assert await peek.rows(copied, "reports", "id, supersedes, voided_at, commune_id", order="id") == \
                await _report_rows(sqlite_file)
            async with copied.uow() as uow:  # ids go on after the copied ones
                unit = await uow.units.add("village", "MOI", "Ấp Mới", demo.commune.id)
            assert unit.id == before["units"] + 1

        again = await asyncio.to_thread(_copy, tmp_path, f"sqlite:///{sqlite_file}", pg)
        assert again.returncode == 1
        assert "đã có dữ liệu" in again.stderr and "Chưa thay đổi gì" in again.stderr
        assert (await _counts(pg))["units"] == before["units"] + 1

        back = tmp_path / "back.db"
        run = await asyncio.to_thread(_copy, tmp_path, pg, str(back))
        assert run.returncode == 0, run.stderr
        assert (await _counts(str(back)))["reports"] == before["reports"]


async def _report_rows(url: str) -> list[tuple]:
    async with peek.opened(url) as db:
        return await peek.rows(db, "reports", "id, supersedes, voided_at, commune_id", order="id")


def test_copy_refuses_a_missing_source_and_itself(tmp_path: Path):
    missing = tcns(tmp_path, "db", "copy", "--from", str(tmp_path / "none.db"), "--to", str(tmp_path / "x.db"))
    assert missing.returncode == 1 and "Chưa có cơ sở dữ liệu nguồn" in missing.stderr
    assert not (tmp_path / "x.db").exists()
    same = tcns(tmp_path, "db", "copy", "--to", str(tmp_path / "tcns.db"))
    assert same.returncode == 1 and "cùng một cơ sở dữ liệu" in same.stderr
