"""Leaders and staff correct reports in their scope; the original row and the reason stay."""

from __future__ import annotations

import re

from helpers import ChatUser

from bot.flows.engine import Engine
from bot.services.demo import Demo
from storage.sqlite.database import SqliteDatabase


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


async def test_leader_corrects_a_count_the_old_row_stays_and_the_reporter_is_told(engine: Engine, demo: Demo,
                                                                                    db: SqliteDatabase):
    lan = await join(engine, "8401", demo.villages[0].member_code, "Lan")
    leader = await join(engine, "8402", demo.villages[0].leader_code, "Trưởng ấp")
    other = await join(engine, "8403", demo.villages[1].leader_code, "Trưởng ấp khác")
    await lan.send("vneid 50 cks 2")
    old_id = (await rows(db, "SELECT id FROM reports WHERE service = 'vneid'"))[0][0]
    before = await rows(db, "SELECT * FROM reports ORDER BY id")

    assert "Cách dùng" in await leader.send(f"/suabc {old_id} 5")  # a reason is required
    assert "số nguyên từ 1 đến 500" in await leader.send(f"/suabc {old_id} 0 gõ nhầm")
    assert "số nguyên từ 1 đến 500" in await leader.send(f"/suabc {old_id} 5,5 gõ nhầm")
    assert "đã là 50 hộ" in await leader.send(f"/suabc {old_id} 50 gõ nhầm")
    assert "Không tìm thấy báo cáo" in await other.send(f"/suabc {old_id} 5 gõ nhầm")  # another village
    assert "Vai trò của bạn không dùng được" in await lan.send(f"/suabc {old_id} 5 gõ nhầm")
    assert await rows(db, "SELECT * FROM reports ORDER BY id") == before  # nothing changed so far

    answer = await leader.send(f"/suabc {old_id} 5 gõ nhầm 50")
    assert "Đã sửa báo cáo" in answer and "VNeID 50 → 5 hộ" in answer
    lan_id, leader_id = (await rows(db, "SELECT id FROM members WHERE name IN ('Lan', 'Trưởng ấp') ORDER BY id"))
    assert await rows(db, "SELECT member_id, service, count, voided_by, void_reason, supersedes, entered_by "
                          "FROM reports WHERE service = 'vneid' ORDER BY id") == [
        (lan_id[0], "vneid", 50, leader_id[0], "gõ nhầm 50", None, None),
        (lan_id[0], "vneid", 5, None, None, old_id, leader_id[0]),
    ]
    new_id = (await rows(db, "SELECT id FROM reports WHERE supersedes = ?", old_id))[0][0]
    listing = await leader.send("/gannhat")  # the new row says what it corrected; the old one is gone
    assert f"#{new_id} " in listing and f"VNeID: 5 – Lan (tin nhắn), sửa từ #{old_id}" in listing
    assert f"#{old_id} " not in listing
    mine = await lan.send("/cuatoi")  # the member's own totals follow the correction
    assert "• VNeID: 5\n" in mine and "): 7 hộ" in mine
    told = await rows(db, "SELECT chat_id, payload FROM outbox WHERE rule = 'correct'")
    assert told[0][0] == "8401" and "50 → 5 hộ" in told[0][1] and "gõ nhầm 50" in told[0][1]
    assert "đã được hủy trước đó" in await leader.send(f"/suabc {old_id} 6 lại nhầm")
    assert "sửa báo cáo" in await ChatUser(engine, demo.staff_user, channel="terminal").send("/nhatky")


async def test_a_zero_report_has_no_count_to_correct(engine: Engine, demo: Demo, db: SqliteDatabase):
    lan = await join(engine, "8501", demo.villages[0].member_code, "Lan")
    await lan.send("/baocao")
    await lan.send("không có")  # "no household this time"
    await lan.send("1")  # ✔ Ghi nhận
    zero = await rows(db, "SELECT id, service FROM reports")
    assert zero and zero[0][1] == "none", zero
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    assert "không có số để sửa" in await staff.send(f"/suabc {zero[0][0]} 3 nhầm")
    assert await rows(db, "SELECT COUNT(*) FROM reports WHERE voided_at IS NULL") == [(1,)]
