"""A text report naming several days records each item on its own day (issue 16, item 7)."""

from __future__ import annotations

from datetime import timedelta

from support import peek
from support.helpers import ChatUser

from bot.services.demo import Demo
from storage import Database


async def _live(db: Database) -> list[tuple]:
    return sorted(await peek.live_reports(db, "service, count, occurred_on"))


async def test_each_item_on_its_day_one_undo_and_a_resend_asked_about(user: ChatUser, demo: Demo, db: Database,
                                                                     clock):
    today = clock.now().date()
    yesterday = today - timedelta(days=1)
    both = sorted([("vneid", 3, yesterday.isoformat()), ("chu_ky_so", 3, today.isoformat())])
    await user.send(f"/start {demo.villages[0].member_code}")
    answer = await user.send("hom qua vneid 3 hom nay ba hộ cks")
    assert "Đã ghi nhận" in answer and f"Ngày {yesterday:%d/%m/%Y}" in answer and f"Ngày {today:%d/%m/%Y}" in answer
    assert await _live(db) == both

    again = await user.send("hom qua vneid 3 hom nay ba hộ cks")  # the confirmation did not arrive: sent again
    assert "Ghi thêm một lần nữa?" in again
    assert "không ghi thêm" in await user.tap("Không ghi")
    assert await _live(db) == both

    confirm = await user.send("huy")  # typed undo takes the whole line back, both days
    assert f"{yesterday:%d/%m/%Y}, {today:%d/%m/%Y}" in confirm
    assert "Đã hủy" in await user.tap("Hủy báo cáo này")
    assert await _live(db) == []


async def test_a_proxy_line_naming_two_days(user: ChatUser, demo: Demo, db: Database, engine, clock):
    leader = ChatUser(engine, "2002", "Tổ trưởng")
    await leader.send(f"/start {demo.villages[0].leader_code}")
    await user.send(f"/start {demo.villages[0].member_code}")
    members = await peek.rows(db, "members", "id", where="name = 'Nguyễn Thị Lan'")
    answer = await leader.send(f"/baothay {members[0][0]} hôm qua vneid 2 hôm nay vneid 1")
    assert "vneid" in answer.lower() or "VNeID" in answer
    today = clock.now().date()
    assert await _live(db) == sorted([("vneid", 1, today.isoformat()),
                                      ("vneid", 2, (today - timedelta(days=1)).isoformat())])
