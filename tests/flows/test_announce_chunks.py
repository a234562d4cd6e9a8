"""/thongbao to a whole commune queues its copies in chunks, each a unit of work of its own
(issue 11, item 6), and still sends each member one copy, once, whatever dies midway."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from support import peek
from support.helpers import ChatUser, add_members

from bot.handlers.telegram_outbox import CHANNEL
from bot.services import announcements
from bot.services.announcements import fan_out, summary_followup
from bot.services.outbox import SENT, Delivery, OutboxSender

CHUNK = 7


class Killed(BaseException):
    """The process dying between two chunks."""


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(announcements, "FANOUT_CHUNK", CHUNK)


@pytest.fixture
def staff(engine, demo) -> ChatUser:
    return ChatUser(engine, demo.staff_user, channel="terminal")


def sender(db, clock, content, received: Counter) -> OutboxSender:
    async def deliver(message) -> Delivery:  # type: ignore[no-untyped-def]
        received[message.chat_id] += 1
        return Delivery(SENT)

    return OutboxSender(db, {CHANNEL: deliver}, clock, rate=10_000, per_chat_interval=0,
                        followups=summary_followup(db, content))


async def copies(db) -> Counter:
    rows = await peek.rows(db, "outbox", "chat_id", where="rule = 'announce' AND step = 'msg'")
    return Counter(r[0] for r in rows)


async def summaries(db) -> list[str]:
    rows = await peek.rows(db, "outbox", "payload", where="rule = 'announce' AND step = 'summary'")
    return [r[0] for r in rows]


async def test_confirming_queues_one_chunk_and_the_sender_the_rest(staff, demo, db, clock, content):
    ids = await add_members(db, demo, clock, 40)
    await staff.send("/thongbao all Họp dân lúc 8 giờ")
    assert "40" in await staff.tap("📣 Gửi")  # the count is all of them, as the confirmation said
    assert 0 < len(await copies(db)) <= CHUNK  # the rest are not queued in the staff's unit of work
    assert await summaries(db) == []  # no summary while copies are still to be queued
    received: Counter = Counter()
    await sender(db, clock, content, received).drain()
    assert received == Counter({str(i): 1 for i in ids})  # every member once
    [summary] = await summaries(db)
    assert "40/40" in summary


async def test_a_fan_out_cut_short_goes_on_where_it_stood_after_a_restart(staff, demo, db, clock, content,
                                                                          monkeypatch):
    ids = await add_members(db, demo, clock, 50)
    await staff.send("/thongbao all Tiêm chủng thứ Bảy")
    await staff.tap("📣 Gửi")
    real_run, chunks = db.run, 0

    async def dies_after_three_chunks(work, durable=False):  # type: ignore[no-untyped-def]
        nonlocal chunks
        if getattr(work, "func", None) is announcements._next_chunk:
            chunks += 1
            if chunks > 3:
                raise Killed
        return await real_run(work, durable)

    monkeypatch.setattr(db, "run", dies_after_three_chunks)
    with pytest.raises(Killed):
        await fan_out(db, content, clock.now())
    monkeypatch.setattr(db, "run", real_run)
    queued = await copies(db)
    assert CHUNK < sum(queued.values()) < 50 and max(queued.values()) == 1  # stopped midway, nothing twice
    assert await summaries(db) == []
    added_late = await add_members(db, demo, clock, 1, first_id=90_000)  # joined while it fanned out
    received: Counter = Counter()
    await sender(db, clock, content, received).drain()  # the next start
    assert received == Counter({str(i): 1 for i in [*ids, *added_late]})
    [summary] = await summaries(db)
    assert "51/51" in summary  # the copies actually queued


async def test_two_fan_outs_at_once_queue_each_copy_once(staff, demo, db, clock, content):
    ids = await add_members(db, demo, clock, 30)
    await staff.send("/thongbao all Nộp báo cáo tháng")
    await staff.tap("📣 Gửi")


    await asyncio.gather(fan_out(db, content, clock.now()), fan_out(db, content, clock.now()))
    assert await copies(db) == Counter({str(i): 1 for i in ids})
