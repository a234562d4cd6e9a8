"""/thongbao: staff announcements through the outbox, exactly once, with a delivery summary."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from support import peek
from support.fakebotapi import FakeBotApi
from support.helpers import ChatUser, add_members
from telegram import Bot

from bot.content import Content
from bot.flows.engine import Engine
from bot.handlers.telegram_outbox import CHANNEL, telegram_delivery
from bot.services.announcements import summary_followup
from bot.services.demo import Demo
from bot.services.outbox import OutboxSender
from storage import Database


class Killed(BaseException):
    """The process dying between two sends."""


async def outbox(db: Database) -> list[tuple]:
    return await peek.rows(db, "outbox", "step, chat_id, status", where="rule = 'announce'")


@pytest.fixture
def staff(engine: Engine, demo: Demo) -> ChatUser:
    return ChatUser(engine, demo.staff_user, channel="terminal")


async def test_confirmation_shows_the_count_and_cancel_sends_nothing(staff, demo, db, clock):
    await add_members(db, demo, clock, 12)
    answer = await staff.send("/thongbao all Họp tổ lúc <b>8h</b> sáng thứ Hai")
    assert "Gửi thông báo tới 12 người (cả xã)" in answer and "<b>8h</b>" in answer  # shown as typed, escaped
    assert "&lt;b&gt;8h" in staff.last[0].text
    assert "Đã hủy" in await staff.tap("✖ Hủy")
    assert await outbox(db) == []


async def test_one_village_only(staff, demo, db, clock):
    await add_members(db, demo, clock, 12)  # two per village
    assert "Gửi thông báo tới 2 người (Ấp Mỹ Phú)" in await staff.send("/thongbao ấp mỹ phú Mai nộp báo cáo")
    assert "Đang gửi" in await staff.tap("📣 Gửi")
    assert len(await outbox(db)) == 2
    assert "gửi thông báo" in await staff.send("/nhatky")


async def test_bad_use_changes_nothing(staff, engine, demo, db, clock):
    await add_members(db, demo, clock, 3)
    assert "Gõ /thongbao cả xã" in await staff.send("/thongbao")
    assert "Gõ /thongbao cả xã" in await staff.send("/thongbao Thôn Không Có nội dung")
    assert "quá dài" in await staff.send("/thongbao all " + "x" * 1200)
    member = ChatUser(engine, "50000")
    assert "dành cho cán bộ xã" in await member.send("/thongbao all xin chào")
    assert await outbox(db) == []


async def test_hundreds_of_members_one_blocked_restart_midway(
    staff, engine: Engine, demo: Demo, db: Database, clock, content: Content
):
    async with FakeBotApi() as server:
        ids = await add_members(db, demo, clock, 300)
        users = {chat: server.user(chat, f"TV {chat}") for chat in ids}
        server.block_user(ids[7])
        async with db.uow() as uow:  # the author reads the summary on Telegram
            author = await uow.members.by_identity("terminal", demo.staff_user)
            await uow.members.link_identity(author.id, CHANNEL, "49999", "49999", clock.now())
        server.user(49999, "Cán bộ")
        on_telegram = ChatUser(engine, "49999", "Cán bộ")
        await on_telegram.send("/thongbao all Lịch tiêm chủng đã có trên VNeID")
        assert "Đang gửi thông báo số" in await on_telegram.tap("📣 Gửi")

        async with Bot("123:TEST", base_url=server.base_url, base_file_url=server.base_file_url) as bot:
            followups = summary_followup(db, content)
            first = OutboxSender(db, {CHANNEL: telegram_delivery(bot)}, clock, rate=10_000, per_chat_interval=0,
                                 concurrency=1, followups=followups)
            calls = 0
            real_acquire = first.limiter.acquire

            async def acquire_then_die() -> None:
                nonlocal calls
                calls += 1
                if calls > 120:
                    raise Killed
                await real_acquire()

            first.limiter.acquire = acquire_then_die  # type: ignore[method-assign]
            with pytest.raises(Killed):
                await first.drain()
            statuses = Counter(status for _, _, status in await outbox(db))
            assert 0 < statuses["sent"] < 300 and statuses["pending"] > 0  # really stopped halfway

            second = OutboxSender(db, {CHANNEL: telegram_delivery(bot)}, clock, rate=10_000, per_chat_interval=0,
                                  followups=followups)
            await second.drain()

        received = {chat: len(user.replies_so_far()) for chat, user in users.items()}
        assert received[ids[7]] == 0
        assert all(count == 1 for chat, count in received.items() if chat != ids[7])
        assert all("Lịch tiêm chủng" in users[c].replies_so_far()[0].plain_text for c in ids if c != ids[7])
        summary = server.messages(49999)[-1].plain_text
        assert re.search(r"đã gửi 299/300; 1 người đã chặn bot; 0 không gửi được", summary)
        assert Counter(status for step, _, status in await outbox(db) if step == "msg") == {"sent": 299, "blocked": 1}
