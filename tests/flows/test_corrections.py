"""Leaders and staff correct reports in their scope; the original row and the reason stay."""

from __future__ import annotations

import re

from support import peek
from support.helpers import ChatUser

from bot.flows.engine import Engine
from bot.services.demo import Demo
from storage import Database


async def join(engine: Engine, user_id: str, code: str, name: str) -> ChatUser:
    user = ChatUser(engine, user_id, name)
    assert "Chào mừng" in await user.send(f"/start {code}")
    return user


async def test_leader_voids_a_report_with_a_reason_and_the_reporter_is_told(engine: Engine, demo: Demo,
                                                                             db: Database):
    lan = await join(engine, "8101", demo.villages[0].member_code, "Lan")
    leader = await join(engine, "8102", demo.villages[0].leader_code, "Trưởng ấp")
    await lan.send("vneid 50")
    listing = await leader.send("/gannhat")
    number = re.search(r"#(\d+) \d\d/\d\d Ấp Mỹ Thạnh – VNeID: 50 người – Lan \(tin nhắn\)", listing).group(1)
    assert "Cách dùng" in await leader.send(f"/xoabc {number}")  # a reason is required
    assert "Đã hủy báo cáo" in await leader.send(f"/xoabc {number} gõ nhầm, đúng là 5")
    assert "đã được hủy trước đó" in await leader.send(f"/xoabc {number} lần nữa")
    assert await peek.rows(db, "reports", "count, voided_by IS NOT NULL, void_reason") == [
        (50, 1, "gõ nhầm, đúng là 5")]
    told = await peek.rows(db, "outbox", "chat_id, payload", where="rule = 'void'")
    assert told[0][0] == "8101" and "gõ nhầm" in told[0][1]
    assert "hủy báo cáo" in await ChatUser(engine, demo.staff_user, channel="terminal").send("/nhatky")


async def test_leader_cannot_touch_another_village(engine: Engine, demo: Demo, db: Database):
    ba = await join(engine, "8201", demo.villages[1].member_code, "Ba")
    leader = await join(engine, "8202", demo.villages[0].leader_code, "Trưởng ấp")
    await ba.send("cks 2")
    report_id = (await peek.rows(db, "reports", "id"))[0][0]
    assert "Ấp Mỹ Phú" not in await leader.send("/gannhat")
    assert "Không tìm thấy báo cáo" in await leader.send(f"/xoabc {report_id} sai")
    ba_id = (await peek.rows(db, "members", "id", where="name = 'Ba'"))[0][0]
    assert f"Không có thành viên «{ba_id}»" in await leader.send(f"/baothay {ba_id} vneid 3")
    assert await peek.rows(db, "reports", "count, voided_at") == [(2, None)]


async def test_staff_reports_on_behalf_of_a_member_without_a_phone(engine: Engine, demo: Demo, db: Database,
                                                                   clock):
    async with db.uow() as uow:  # a member registered by staff, with no chat at all
        member = await uow.members.add("Bà Năm", "member", demo.villages[2].village.id, clock.now())
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    answer = await staff.send(f"/baothay {member.id} hôm qua vneid 3 cks 1")
    assert "Đã ghi thay cho Bà Năm" in answer and "21/11/2026" in answer
    staff_id = (await peek.rows(db, "members", "id", where="role = 'staff'"))[0][0]
    assert await peek.rows(db, "reports", "member_id, service, count, source, entered_by", order="id") == [
        (member.id, "vneid", 3, "proxy", staff_id), (member.id, "chu_ky_so", 1, "proxy", staff_id)]
    assert "âm" in await staff.send(f"/baothay {member.id} vneid -3")
    assert f"ví dụ /baothay {member.id} vneid 3" in await staff.send(f"/baothay {member.id}")
    assert len(await peek.rows(db, "reports", "id")) == 2
    assert "báo thay" in await staff.send("/gannhat")


async def test_leader_corrects_a_count_the_old_row_stays_and_the_reporter_is_told(engine: Engine, demo: Demo,
                                                                                    db: Database):
    lan = await join(engine, "8401", demo.villages[0].member_code, "Lan")
    leader = await join(engine, "8402", demo.villages[0].leader_code, "Trưởng ấp")
    other = await join(engine, "8403", demo.villages[1].leader_code, "Trưởng ấp khác")
    await lan.send("vneid 50 cks 2")
    old_id = (await peek.rows(db, "reports", "id", where="service = 'vneid'"))[0][0]
    before = await peek.rows(db, "reports", order="id")

    assert "Cách dùng" in await leader.send(f"/suabc {old_id} 5")  # a reason is required
    assert "số nguyên từ 1 đến 500" in await leader.send(f"/suabc {old_id} 0 gõ nhầm")
    assert "số nguyên từ 1 đến 500" in await leader.send(f"/suabc {old_id} 5,5 gõ nhầm")
    assert "đã là 50 người" in await leader.send(f"/suabc {old_id} 50 gõ nhầm")
    assert "Không tìm thấy báo cáo" in await other.send(f"/suabc {old_id} 5 gõ nhầm")  # another village
    assert "Lệnh /suabc dành cho tổ trưởng" in await lan.send(f"/suabc {old_id} 5 gõ nhầm")
    assert await peek.rows(db, "reports", order="id") == before  # nothing changed so far

    answer = await leader.send(f"/suabc {old_id} 5 gõ nhầm 50")
    assert "Đã sửa báo cáo" in answer and "VNeID 50 → 5 người" in answer
    lan_id, leader_id = (await peek.rows(db, "members", "id", where="name IN ('Lan', 'Trưởng ấp')", order="id"))
    assert await peek.rows(db, "reports", "member_id, service, count, voided_by, void_reason, supersedes, entered_by",
                           where="service = 'vneid'", order="id") == [
        (lan_id[0], "vneid", 50, leader_id[0], "gõ nhầm 50", None, None),
        (lan_id[0], "vneid", 5, None, None, old_id, leader_id[0]),
    ]
    new_id = (await peek.rows(db, "reports", "id", where="supersedes = ?", params=(old_id,)))[0][0]
    listing = await leader.send("/gannhat")  # the new row says what it corrected; the old one is gone
    assert f"#{new_id} " in listing and f"VNeID: 5 người – Lan (tin nhắn), sửa từ #{old_id}" in listing
    assert f"#{old_id} " not in listing
    mine = await lan.send("/cuatoi")  # the member's own totals follow the correction
    assert "• VNeID: 5 người\n" in mine and "): 7 người" in mine
    told = await peek.rows(db, "outbox", "chat_id, payload", where="rule = 'correct'")
    assert told[0][0] == "8401" and "50 → 5 người" in told[0][1] and "gõ nhầm 50" in told[0][1]
    assert "đã được hủy trước đó" in await leader.send(f"/suabc {old_id} 6 lại nhầm")
    assert "sửa báo cáo" in await ChatUser(engine, demo.staff_user, channel="terminal").send("/nhatky")


async def test_a_zero_report_has_no_count_to_correct(engine: Engine, demo: Demo, db: Database):
    lan = await join(engine, "8501", demo.villages[0].member_code, "Lan")
    await lan.send("/baocao")
    await lan.send("không có")  # "no household this time"
    await lan.send("1")  # ✔ Ghi nhận
    zero = await peek.rows(db, "reports", "id, service")
    assert zero and zero[0][1] == "none", zero
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    assert "không có số để sửa" in await staff.send(f"/suabc {zero[0][0]} 3 nhầm")
    assert await peek.count(db, "reports", "voided_at IS NULL") == 1
