"""A reminder pass never holds the database for long: members are answered while it runs (issue 11)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from support import peek
from support.helpers import TZ, ChatUser

from bot.content import Content
from bot.flows.engine import Engine
from bot.services import reminders
from bot.services.demo import Demo
from bot.services.reminders import scheduling_pass
from storage import Database
from storage.models import NewReport

RECIPIENTS = 3000


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


async def crowd(db: Database, demo: Demo, count: int) -> None:
    """``count`` members on Telegram over the demo's villages, none of which has reported."""
    first = 100_000
    async with db.uow() as uow:
        sql = peek.executor(uow)
        await sql.executemany(
            "INSERT INTO members (id, name, role, unit_id, created_at) "
            "VALUES (?, ?, 'member', ?, '2026-01-01T00:00:00')",
            [(first + n, f"Thành viên {n}", demo.villages[n % len(demo.villages)].village.id) for n in range(count)])
        await sql.executemany(
            "INSERT INTO identities (member_id, channel, external_id, chat_id, created_at) "
            "VALUES (?, 'telegram', ?, ?, '2026-01-01T00:00:00')",
            [(first + n, f"u{n}", f"c{n}") for n in range(count)])


async def outbox_rows(db: Database) -> int:
    return await peek.count(db, "outbox")


async def test_a_member_is_answered_while_a_big_pass_is_still_enqueueing(
        engine: Engine, demo: Demo, db: Database, content: Content, monkeypatch):
    await crowd(db, demo, RECIPIENTS)
    member = ChatUser(engine, "2001", "An")
    assert "Chào mừng" in await member.send(f"/start {demo.villages[0].member_code}")
    monkeypatch.setattr(reminders, "ENQUEUE_CHUNK", 100)
    passing = asyncio.create_task(scheduling_pass(db, content, TZ, at("2026-11-17 08:00")))  # T−3, everyone
    while await outbox_rows(db) == 0:  # the pass has planned and written its first chunk
        await asyncio.sleep(0.001)
    answer = await member.send("/cuatoi")
    queued_meanwhile = await outbox_rows(db)
    assert "tuần này" in answer.lower() and not passing.done()  # answered before the pass ended
    assert queued_meanwhile < RECIPIENTS
    result = await passing
    assert result.added == RECIPIENTS + 1 == await outbox_rows(db)  # every recipient once, the member too
    assert (await scheduling_pass(db, content, TZ, at("2026-11-17 08:00"))).added == 0


async def test_reminders_of_a_village_that_reported_are_never_handed_out(
        engine: Engine, demo: Demo, db: Database, content: Content):
    await crowd(db, demo, 60)  # 10 per village
    await scheduling_pass(db, content, TZ, at("2026-11-17 08:00"))
    village = demo.villages[0].village.id
    async with db.uow() as uow:  # village 0 reports and confirms after the pass queued its reminders
        await uow.reports.add_batch("b", 100_000, village, [NewReport("vneid", 2)], date(2026, 11, 16), "text",
                                    at("2026-11-17 08:05"))
        await uow.cycle.confirm(demo.commune.id, village, "2026-11", date(2026, 11, 1), date(2026, 11, 30), 100_000,
                                at("2026-11-17 08:05"), {"vneid": 2}, True)
    now = at("2026-11-17 08:06")
    async with db.uow() as uow:
        settled = await uow.outbox.housekeep(now, window=5)  # housekeeping looks at the head of the queue only
        due = await uow.outbox.due(now, 100)
    assert settled["skipped"] <= 5
    assert len(due) == 50 and not [m for m in due if (m.member_id - 100_000) % 6 == 0]  # none of village 0's ten
