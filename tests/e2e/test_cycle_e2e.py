"""The reporting cycle through the real PTB Application and the fake Bot API: a leader
confirms the village's figures with the button, staff close October, a backdated report is
refused with what to do instead (issue 13)."""

from __future__ import annotations

from support.fakebotapi import FakeBotApi
from support.telegram import Bot, join

from bot.services.demo import Demo


async def test_a_leader_confirms_with_the_button_and_a_closed_month_refuses_a_late_report(
        bot: Bot, server: FakeBotApi, seeded: Demo):
    lan, leader = server.user(701, first_name="Lan"), server.user(702, first_name="Cường")
    await join(lan, seeded.villages[0].member_code)
    await join(leader, seeded.villages[0].leader_code)
    await lan.send("vneid 6 cks 1")
    await lan.next_reply()
    await leader.send("/chot 11")
    ask = await leader.next_reply()
    assert "Chốt số liệu Ấp Mỹ Thạnh – tháng 11/2026 (01/11–30/11)" in ask.plain_text
    assert "• VNeID: 6" in ask.plain_text and "• Chữ ký số: 1" in ask.plain_text
    await leader.tap(ask, ask.data_for("✅ Đúng, gửi xã"))
    done = await leader.next_reply()
    assert "Đã chốt số liệu Ấp Mỹ Thạnh – tháng 11/2026" in done.plain_text

    await bot.add_staff(seeded.commune.id, 703)
    officer = server.user(703, first_name="Cán bộ")
    await officer.send("/thang")
    tally = await officer.next_reply()
    assert "⏰ Trễ hạn: 1" in tally.plain_text and "Tổ công nghệ số:" in tally.plain_text
    assert "Theo thôn, ấp" in (await officer.next_reply()).plain_text  # the villages, one line each
    await officer.send("/khoaky 10")
    assert "Đã khóa sổ tháng 10/2026 (01/10–31/10)" in (await officer.next_reply()).plain_text
    await lan.send("30/10 vneid 2")
    refusal = await lan.next_reply()
    assert "đã khóa sổ" in refusal.plain_text and "/moky 10/2026" in refusal.plain_text
    assert await bot.live_reports() == [("vneid", 6, "text"), ("chu_ky_so", 1, "text")]
    assert not server.errors
