"""/themtv: a leader or staff adds a member who has no phone; reports for them come by /baothay;
they can get a phone later (/lienket SỐ-TV); their data is minimal and can be erased."""

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


async def members(db: Database) -> list[tuple]:
    return await peek.rows(db, "members", "id, name, role, unit_id", order="id")


async def test_a_leader_adds_a_member_without_a_phone_and_reports_for_them(engine: Engine, demo: Demo,
                                                                            db: Database):
    leader = await join(engine, "9101", demo.villages[0].leader_code, "Trưởng ấp")
    answer = await leader.send("/themtv Mỹ Thạnh Nguyễn Văn Ba")
    number = int(re.search(r"Đã thêm #(\d+) Nguyễn Văn Ba vào Ấp Mỹ Thạnh", answer).group(1))
    assert f"/baothay {number} không có" in answer
    assert await peek.rows(db, "identities", "member_id", where=f"member_id = {number}") == []
    roster = await leader.send("/thanhvien")  # the numbers /baothay asks for, of the leader's own village
    assert f"#{number} Nguyễn Văn Ba – thành viên, Ấp Mỹ Thạnh" in roster and "Ấp Mỹ Phú" not in roster
    assert "Đã ghi thay cho Nguyễn Văn Ba" in await leader.send(f"/baothay {number} vneid 2")
    assert "Đã ghi thay cho Nguyễn Văn Ba" in await leader.send(f"/baothay {number} hôm qua không có")
    assert "đã có báo cáo" in await leader.send(f"/baothay {number} không có")  # today has their VNeID 2
    assert "Ấp Mỹ Thạnh – Không hỗ trợ ai – Nguyễn Văn Ba (báo thay)" in await leader.send("/gannhat")
    assert await peek.rows(db, "reports", "member_id, service, count, source", order="id") == [
        (number, "vneid", 2, "proxy"), (number, "none", 0, "proxy")]
    audit = await peek.rows(db, "audit", "action, object, detail", where="action = 'member_add'")
    assert audit == [("member_add", f"member:{number}", audit[0][2])] and "Nguyễn" not in (audit[0][2] or "")


async def test_bad_input_is_answered_and_changes_nothing(engine: Engine, demo: Demo, db: Database):
    leader = await join(engine, "9201", demo.villages[0].leader_code, "Trưởng ấp")
    member = await join(engine, "9202", demo.villages[0].member_code, "Lan")
    before = await members(db)
    assert "gõ /themtv THÔN TÊN" in await leader.send("/themtv")
    assert "Chưa rõ thôn, ấp trong «Xóm Lạ Bà Tư»" in await leader.send("/themtv Xóm Lạ Bà Tư")
    assert "chỉ thêm được thành viên của Ấp Mỹ Thạnh" in await leader.send("/themtv Mỹ Phú Bà Tư")
    assert "Thiếu tên người" in await leader.send("/themtv Mỹ Thạnh")
    assert "Thiếu tên người" in await leader.send("/themtv Mỹ Thạnh \"  \"")
    assert "tối đa 64 ký tự" in await leader.send("/themtv Mỹ Thạnh " + "Bà " * 30)
    assert "số điện thoại" in await leader.send("/themtv Mỹ Thạnh 0912 345 678")
    assert "CCCD" in await leader.send("/themtv Mỹ Thạnh Bà Tư CCCD 001203004567")
    assert "Tên phải có chữ" in await leader.send("/themtv Mỹ Thạnh 12345")
    assert "dành cho tổ trưởng" in await member.send("/themtv Mỹ Thạnh Bà Tư")
    assert await members(db) == before
    assert "Đã thêm" in await leader.send("/themtv AP-MY-THANH Bà Tư")  # the village's code works too
    assert "đã có thành viên" in await leader.send("/themtv Mỹ Thạnh ba tu")  # the same person twice
    assert len(await members(db)) == len(before) + 1
    assert "không xem được «Mỹ Phú»" in await leader.send("/thanhvien Mỹ Phú")


async def test_staff_add_in_any_village_of_their_commune(engine: Engine, demo: Demo, db: Database):
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    answer = await staff.send("/themtv Hòa Long Lê Thị Dung")
    assert "vào Ấp Hòa Long" in answer
    number = int(re.search(r"#(\d+)", answer).group(1))
    assert f"#{number} Lê Thị Dung" in await staff.send("/thanhvien Hòa Long")
    assert "Không tìm thấy" in await staff.send("/thanhvien Xóm Lạ")
    assert "Lê Thị Dung (Ấp Hòa Long), không có điện thoại" in await staff.send("/nhatky")


async def test_a_member_without_a_phone_gets_one_later_and_can_be_forgotten(engine: Engine, demo: Demo,
                                                                            db: Database, clock):
    leader = await join(engine, "9401", demo.villages[0].leader_code, "Trưởng ấp")
    number = int(re.search(r"#(\d+)", await leader.send("/themtv Mỹ Thạnh Bà Năm")).group(1))
    await leader.send(f"/baothay {number} vneid 3")
    assert "đã dùng bot rồi" in await leader.send(f"/lienket {(await members(db))[-2][0]}")  # the leader himself
    assert "Không có thành viên #999" in await leader.send("/lienket 999")
    answer = await leader.send(f"/lienket {number}")
    code = re.search(r"/lienket (\d{4} \d{4})", answer).group(1)
    phone = ChatUser(engine, "9402", "Zalo Năm", channel="zalo")
    assert "Chào Bà Năm" in await phone.send(f"/lienket {code}")
    assert "VNeID: 3 người" in await phone.send("/cuatoi")  # the reports entered for her are hers
    assert "Mã liên kết không đúng" in await ChatUser(engine, "9403", "Khác").send(f"/lienket {code}")  # once
    async with db.uow() as uow:  # `tcns member forget` (tests/e2e/test_admin_cli.py runs the command)
        await uow.members.forget(number)
    assert await peek.rows(db, "members", "name, status", where=f"id = {number}") == [(None, "forgotten")]
    assert await peek.rows(db, "identities", "member_id", where=f"member_id = {number}") == []
    assert "Bà Năm" not in await leader.send("/thanhvien")
    assert "rời tổ" in await leader.send(f"/baothay {number} vneid 1")
