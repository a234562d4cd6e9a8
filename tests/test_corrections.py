"""Leaders and staff correct reports in their scope; the original row and the reason stay."""

from __future__ import annotations

import re

from helpers import ChatUser

from bot.demo import Demo
from bot.flows.engine import Engine
from storage import SqliteDatabase


async def join(engine: Engine, user_id: str, code: str, name: str) -> ChatUser:
    user = ChatUser(engine, user_id, name)
    assert "Chào mừng" in await user.send(f"/start {code}")
    return user


async def rows(db: SqliteDatabase, sql: str, *params) -> list[tuple]:
    return [tuple(r) for r in await db.conn.execute_fetchall(sql, params)]


async def test_leader_voids_a_report_with_a_reason_and_the_reporter_is_told(engine: Engine, demo: Demo,
                                                                             db: SqliteDatabase):
    lan = await join(engine, "8101", demo.villages[0].member_code, "Lan")
    leader = await join(engine, "8102", demo.villages[0].leader_code, "Trưởng ấp")
    await lan.send("vneid 50")
    listing = await leader.send("/gannhat")
    number = re.search(r"#(\d+) \d\d/\d\d Ấp Mỹ Thạnh – VNeID: 50 – Lan \(tin nhắn\)", listing).group(1)
    assert "Cách dùng" in await leader.send(f"/xoabc {number}")  # a reason is required
    assert "Đã hủy báo cáo" in await leader.send(f"/xoabc {number} gõ nhầm, đúng là 5")
    assert "đã được hủy trước đó" in await leader.send(f"/xoabc {number} lần nữa")
    assert await rows(db, "SELECT count, voided_by IS NOT NULL, void_reason FROM reports") == [
        (50, 1, "gõ nhầm, đúng là 5")]
    told = await rows(db, "SELECT chat_id, payload FROM outbox WHERE rule = 'void'")
    assert told[0][0] == "8101" and "gõ nhầm" in told[0][1]
    assert "hủy báo cáo" in await ChatUser(engine, demo.staff_user, channel="terminal").send("/nhatky")


async def test_leader_cannot_touch_another_village(engine: Engine, demo: Demo, db: SqliteDatabase):
    ba = await join(engine, "8201", demo.villages[1].member_code, "Ba")
    leader = await join(engine, "8202", demo.villages[0].leader_code, "Trưởng ấp")
    await ba.send("cks 2")
    report_id = (await rows(db, "SELECT id FROM reports"))[0][0]
    assert "Ấp Mỹ Phú" not in await leader.send("/gannhat")
    assert "Không tìm thấy báo cáo" in await leader.send(f"/xoabc {report_id} sai")
    ba_id = (await rows(db, "SELECT id FROM members WHERE name = 'Ba'"))[0][0]
    assert "Không tìm thấy thành viên" in await leader.send(f"/baothay {ba_id} vneid 3")
    assert await rows(db, "SELECT count, voided_at FROM reports") == [(2, None)]


async def test_staff_reports_on_behalf_of_a_member_without_a_phone(engine: Engine, demo: Demo, db: SqliteDatabase,
                                                                   clock):
    async with db.uow() as uow:  # a member registered by staff, with no chat at all
        member = await uow.members.add("Bà Năm", "member", demo.villages[2].village.id, clock.now())
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    answer = await staff.send(f"/baothay {member.id} hôm qua vneid 3 cks 1")
    assert "Đã ghi thay cho Bà Năm" in answer and "21/11/2026" in answer
    staff_id = (await rows(db, "SELECT id FROM members WHERE role = 'staff'"))[0][0]
    assert await rows(db, "SELECT member_id, service, count, source, entered_by FROM reports ORDER BY id") == [
        (member.id, "vneid", 3, "proxy", staff_id), (member.id, "chu_ky_so", 1, "proxy", staff_id)]
    assert "âm" in await staff.send(f"/baothay {member.id} vneid -3")
    assert "Cách dùng" in await staff.send(f"/baothay {member.id}")
    assert len(await rows(db, "SELECT id FROM reports")) == 2
    assert "báo thay" in await staff.send("/gannhat")
