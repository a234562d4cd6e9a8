"""Staff run their teams from the chat, each commune seeing only its own."""

from __future__ import annotations

import re

import pytest
from support import peek
from support.helpers import ChatUser

from bot.domain.messages import Inbound
from bot.flows.engine import COMMANDS, Engine
from bot.services.demo import Demo
from storage import Database

ADMIN_COMMANDS = ("moi", "maimoi", "thuhoi", "vaitro", "khoa", "mokhoa", "nhatky")  # /thanhvien: leaders too


@pytest.fixture
async def other_commune(db: Database, clock, engine: Engine):
    """A second commune with one village, its own staff member and one team member."""
    async with db.uow() as uow:
        commune = await uow.units.add("commune", "XA-KHAC", "Xã Khác")
        village = await uow.units.add("village", "THON-1", "Thôn Bí Mật", commune.id, 100, 200)
        staff = await uow.members.add("Cán bộ B", "staff", commune.id, clock.now())
        await uow.members.link_identity(staff.id, "telegram", "9001", "9001", clock.now())
        member = await uow.members.add("Người B", "member", village.id, clock.now())
        await uow.members.link_identity(member.id, "telegram", "9002", "9002", clock.now())
    return {"staff": ChatUser(engine, "9001", "Cán bộ B"), "member_id": member.id, "village": village}


@pytest.fixture
def staff(engine: Engine, demo: Demo) -> ChatUser:
    return ChatUser(engine, demo.staff_user, channel="terminal")


async def join(engine: Engine, user_id: str, code: str, name: str = "Mới") -> ChatUser:
    user = ChatUser(engine, user_id, name)
    assert "Chào mừng" in await user.send(f"/start {code}")
    return user


async def test_invite_by_village_name_and_join(staff: ChatUser, engine: Engine, db: Database):
    answer = await staff.send("/moi my phu totruong")
    code = re.search(r"Mã mời (\w+)", answer).group(1)
    assert "Ấp Mỹ Phú" in answer and "tổ trưởng" in answer and f"/start {code}" in answer
    assert "Telegram hay Zalo" not in answer  # no deep link here: "/start CODE" is already the way
    leader = await join(engine, "7001", code, "Trưởng ấp")
    assert "tổ trưởng" in leader.last[0].text
    assert "hết lượt" in await ChatUser(engine, "7002").send(f"/start {code}")  # a leader code is single-use


async def test_telegram_invite_has_a_deep_link(engine: Engine, demo: Demo, db: Database, clock):
    async with db.uow() as uow:
        staff = await uow.members.by_identity("terminal", demo.staff_user)
        await uow.members.link_identity(staff.id, "telegram", "8800", "8800", clock.now())
    inbound = Inbound("telegram", "x1", "8800", "8800", "CB", text="/moi an binh",
                      invite_link="https://t.me/tcns_bot?start=")
    replies = await engine.handle(inbound)
    link = re.search(r"https://t\.me/tcns_bot\?start=(\w{6})", replies[0].text)
    assert link
    # The link opens Telegram only: the reply also says how to join on any channel (Zalo too).
    assert f"trên Telegram hay Zalo: /start {link.group(1)}" in replies[0].text


async def test_list_and_revoke_invites(staff: ChatUser, engine: Engine):
    code = re.search(r"Mã mời (\w+)", await staff.send("/moi Ấp Hòa Long")).group(1)
    assert code in await staff.send("/maimoi")
    assert "Đã thu hồi" in await staff.send(f"/thuhoi {code}")
    assert "thu hồi trước đó" in await staff.send(f"/thuhoi {code}")
    assert code not in await staff.send("/maimoi")
    assert "hết hạn hoặc bị thu hồi" in await ChatUser(engine, "7101").send(f"/start {code}")


async def test_members_roles_and_disable(staff: ChatUser, engine: Engine, demo: Demo, db: Database):
    lan = await join(engine, "7201", demo.villages[0].member_code, "Lan")
    await lan.send("vneid 3")
    listing = await staff.send("/thanhvien my thanh")
    number = re.search(r"#(\d+) Lan – thành viên, Ấp Mỹ Thạnh – Telegram – báo cáo gần nhất: 22/11/2026",
                       listing).group(1)
    assert "tổ trưởng" in await staff.send(f"/vaitro {number} totruong")
    assert "Tổ trưởng có thể" in await lan.send("/help")
    assert "cấp xã" in await staff.send(f"/vaitro {number} canbo")  # staff belong to the commune, not a village
    assert "tạm khóa" in await staff.send(f"/khoa {number}")
    assert "tạm khóa" in await lan.send("vneid 2")  # the member is told, nothing recorded
    assert "🔒" in await staff.send("/thanhvien")
    assert "Đã mở khóa" in await staff.send(f"/mokhoa {number}")
    assert "Đã ghi nhận" in await lan.send("vneid 2")
    rows = await peek.live_reports(db, "count")
    assert [r[0] for r in rows] == [3, 2]
    audit = await staff.send("/nhatky")
    for action in ("tham gia", "đổi vai trò", "tạm khóa", "mở khóa"):
        assert action in audit
    assert "Cán bộ Văn hóa" in audit


async def test_staff_cannot_change_themselves(staff: ChatUser, db: Database, demo: Demo):
    own = (await peek.rows(db, "members", "id", where="role = 'staff'"))[0][0]
    assert "Không thể" in await staff.send(f"/khoa {own}")
    assert "Không thể" in await staff.send(f"/vaitro {own} thanhvien")


async def test_no_leak_between_communes(staff: ChatUser, other_commune, db: Database, demo: Demo):
    other = other_commune["staff"]
    secret_id = other_commune["member_id"]
    assert "Thôn Bí Mật" not in await staff.send("/thanhvien")
    assert "Người B" not in await staff.send("/thanhvien")
    for command in (f"/khoa {secret_id}", f"/vaitro {secret_id} totruong", f"/mokhoa {secret_id}"):
        assert f"Không có thành viên «{secret_id}»" in await staff.send(command)
    assert "Không tìm thấy" in await staff.send("/thanhvien Thôn Bí Mật")
    assert "Không tìm thấy thôn" not in await other.send("/thanhvien Thôn Bí Mật")
    code = re.search(r"Mã mời (\w+)", await other.send("/moi thon bi mat")).group(1)
    assert "Không tìm thấy mã" in await staff.send(f"/thuhoi {code}")
    assert code not in await staff.send("/maimoi")
    assert "Thôn Bí Mật" not in await staff.send("/moi")  # the usage lists own villages only
    assert "XA-KHAC" not in await staff.send("/nhatky") and "unit:" + str(other_commune["village"].id) not in (
        await staff.send("/nhatky"))
    rows = await peek.rows(db, "members", "status, role", where="id = ?", params=(secret_id,))
    assert rows == [("active", "member")]


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_members_and_guests_cannot_use_staff_commands(command, engine: Engine, demo: Demo, db: Database):
    assert command in COMMANDS
    member = await join(engine, "7301", demo.villages[1].member_code, "Ba")
    leader = await join(engine, "7302", demo.villages[1].leader_code, "Tư")
    before = await peek.count(db, "invites")
    assert "dành cho cán bộ xã" in await member.send(f"/{command} 1")
    assert "dành cho cán bộ xã" in await leader.send(f"/{command} 1")
    assert "chưa tham gia" in await ChatUser(engine, "7303").send(f"/{command} 1")
    assert await peek.count(db, "invites") == before
