"""Reminders reach people through the real PTB Application and Bot, at a local fake Bot API."""

from __future__ import annotations

from datetime import datetime

from support import peek
from support.helpers import TZ
from support.telegram import join

from bot.content import Content
from bot.domain.deadlines import Planner
from bot.handlers.telegram_outbox import CHANNEL, telegram_delivery
from bot.services.outbox import OutboxSender
from bot.services.reminders import scheduling_pass


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


async def test_reminders_arrive_on_telegram_and_nhac_lai_works(telegram_commune, content: Content):
    server, app, db, clock, demo, staff_code = telegram_commune
    lan, ba, tu = server.user(701, "Lan"), server.user(702, "Ba"), server.user(703, "Tư")
    can_bo = server.user(704, "Cán bộ Hà")
    await join(lan, demo.villages[0].member_code)
    await join(ba, demo.villages[0].member_code)
    await join(tu, demo.villages[1].leader_code)
    await join(can_bo, staff_code)
    planner = Planner(content.deadlines, TZ)
    sender = OutboxSender(db, {CHANNEL: telegram_delivery(app.bot)}, clock, is_quiet=planner.is_quiet,
                          rate=1000, per_chat_interval=0)

    server.block_user(ba.chat_id)
    clock.set(at("2026-11-19 08:00"))  # T−1 of the monthly report
    await scheduling_pass(db, content, TZ, clock.now())
    result = await sender.drain()
    assert result.sent == 4 and result.blocked >= 1  # T−1, and the request to confirm (T−2) still standing
    first, second = await lan.next_reply(), await lan.next_reply()
    assert {"Chốt số liệu Ấp Mỹ Thạnh" in m.plain_text for m in (first, second)} == {True, False}
    assert any("Sắp hết hạn" in m.plain_text for m in (first, second))
    assert any("Tổ trưởng lưu ý" in m.plain_text for m in (await tu.next_reply(), await tu.next_reply()))
    assert any(e.status == 403 for e in server.errors)
    rows = await peek.rows(db, "identities", "active", where="external_id = '702'")
    assert [r[0] for r in rows] == [0]

    await lan.send("vneid 4")  # village 0 reports, and (no leader there) its member confirms
    assert "Đã ghi nhận" in (await lan.next_reply()).plain_text
    await lan.send("/chot dung 11")
    assert "Đã chốt số liệu Ấp Mỹ Thạnh" in (await lan.next_reply()).plain_text
    clock.set(at("2026-11-20 07:30"))  # due day: the staff member gets the list and the button
    await scheduling_pass(db, content, TZ, clock.now())
    await sender.drain()
    due = await can_bo.next_reply()
    assert "Đã chốt số liệu: 1/6" in due.plain_text and "Ấp Mỹ Phú" in due.plain_text
    assert "Ấp Mỹ Thạnh" not in due.plain_text
    await can_bo.tap(due, due.data_for("🔔 Nhắc lại"))
    done = await can_bo.next_reply()
    assert "Đã gửi nhắc tới 1 người ở 1 thôn" in done.plain_text
    await sender.drain()
    assert "Cán bộ xã nhắc" in (await tu.next_reply()).plain_text
    await lan.no_more_replies(wait=0.2)  # her village has confirmed
    assert len(ba.replies_so_far()) == 2  # the welcome only: blocked, never tried again
    server.assert_no_unknown_methods()
