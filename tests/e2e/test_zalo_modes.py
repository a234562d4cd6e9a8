"""A working week on Zalo, the same over long polling and over the webhook (issue 15's list):
join, a one-line report, the report by typed digits, undo, a tally, /bieudo by URL, an
announcement pushed through the outbox and a pushed request to confirm answered by its digit.
The Zalo adapter against the fake Zalo Bot API, over HTTP."""

from __future__ import annotations

import pytest
from support import peek
from support.zalo import fake_and_bot, join, say, staff_code

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.handlers.zalo_outbox import zalo_delivery
from bot.services.demo import Demo
from bot.services.outbox import OutboxSender


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_a_week_on_zalo(webhook: bool, db_url: str, content: Content, clock: FixedClock, seeded: Demo):
    async with fake_and_bot(db_url, content, clock, webhook=webhook, files=True) as (server, bot):
        lan = server.user("z-801", "Lan")
        leader = server.user("z-802", "Trưởng ấp")
        staff = server.user("z-803", "Cán bộ")
        await join(lan, seeded.villages[0].member_code)
        await join(leader, seeded.villages[0].leader_code)
        await join(staff, await staff_code(bot, seeded, clock))

        assert "VNeID: 5 người" in await say(lan, "vneid 5")  # one line
        assert "Đã hủy báo cáo" in await say(lan, "0")  # undone by its digit
        steps = await say(lan, "/baocao")  # by typed digits, no buttons
        assert "[4] Dịch vụ công" in steps and "[0] ✖ Hủy" in steps
        assert "bao nhiêu" in await say(lan, "4")
        assert "Ghi nhận?" in await say(lan, "3")
        assert "Đã ghi nhận" in await say(lan, "1")
        assert await bot.live_reports() == [("dich_vu_cong", 3, "buttons")]

        tally = await say(staff, "/tuan")  # a tally
        assert "Ấp Mỹ Thạnh" in tally and "3" in tally
        await staff.send("/bieudo")  # the chart by a short-lived URL
        photo = await staff.next_reply(timeout=15)
        assert photo.photo is not None and photo.photo_bytes is not None and photo.photo_bytes[:4] == b"\x89PNG"
        await staff.replies_until_quiet()

        asked = await say(staff, "/thongbao cả xã Họp tổ lúc 8 giờ sáng thứ Hai")  # an announcement
        assert "[1]" in asked and "[0] ✖ Hủy" in asked
        assert "Đang gửi thông báo" in await say(staff, "1")
        assert "Đã chốt số liệu" in await say(leader, "/chot 11") + await say(leader, "1")
        await say(lan, "20/11 vneid 2")  # reopens the confirmed month: the leader is asked again
        sender = OutboxSender(bot.db, {"zalo": zalo_delivery(bot.adapter)}, clock, rate=1000)
        await sender.drain()
        assert any("Họp tổ lúc 8 giờ" in (m.text or "") for m in server.messages("z-801"))
        request = server.messages("z-802")[-1].text or ""
        assert "[1] ✅ Đúng, gửi xã" in request and "bấm" not in request.lower()
        assert "Đã chốt số liệu" in await say(leader, "1")  # answered by typing the push's digit
        assert await peek.count(bot.db, "inbox", "processed_at IS NULL") == 0
        assert (server.calls_to("getUpdates") == []) is webhook  # the mode really in use
        assert (set(bot.answers) == {200}) if webhook else not bot.answers
