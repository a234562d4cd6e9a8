"""One resolver for places, roles and people (bot/flows/resolve.py), across every command that takes them."""

from __future__ import annotations

import pytest
from support import peek
from support.helpers import ChatUser

from bot.domain.places import PlaceIndex
from bot.flows.engine import Engine
from bot.services.demo import Demo
from storage import Database
from storage.models import Unit

PREFIXES = ("thôn", "ấp", "khu phố", "bản", "tổ dân phố")
VILLAGES = [Unit(i, "village", 1, code, name) for i, (code, name) in enumerate([
    ("AP-MY-THANH", "Ấp Mỹ Thạnh"), ("AP-MY-PHU", "Ấp Mỹ Phú"), ("TH-DONG", "Thôn Đông"),
    ("KP-3", "Khu phố 3"), ("TDP-HOA", "Tổ dân phố Hòa Bình"), ("BAN-NA", "Bản Nà Lừa")], start=1)]


@pytest.mark.parametrize(("typed", "code"), [
    ("AP-MY-PHU", "AP-MY-PHU"), ("ap-my-phu", "AP-MY-PHU"), ("ap my phu", "AP-MY-PHU"),
    ("Ấp Mỹ Phú", "AP-MY-PHU"), ("mỹ phú", "AP-MY-PHU"), ("MY PHU", "AP-MY-PHU"), ("phú", "AP-MY-PHU"),
    ("thôn đông", "TH-DONG"), ("dong", "TH-DONG"), ("Đông", "TH-DONG"),
    ("khu phố 3", "KP-3"), ("kp-3", "KP-3"), ("tổ dân phố hòa bình", "TDP-HOA"), ("hoa binh", "TDP-HOA"),
    ("bản nà lừa", "BAN-NA"), ("na lua", "BAN-NA"), ("thạnh", "AP-MY-THANH"),
])
def test_a_village_by_code_name_prefix_or_start(typed: str, code: str):
    found = PlaceIndex(VILLAGES, PREFIXES).match(typed).found
    assert found is not None and found.code == code


@pytest.mark.parametrize("typed", ["mỹ", "my", "ấp mỹ"])
def test_an_ambiguous_start_gives_the_candidates(typed: str):
    match = PlaceIndex(VILLAGES, PREFIXES).match(typed)
    assert match.ambiguous and {p.code for p in match.places} == {"AP-MY-THANH", "AP-MY-PHU"}


@pytest.mark.parametrize("typed", ["ấp", "thôn", "x", "bắc", "AP-KHAC", ""])
def test_nothing_or_a_bare_prefix_names_no_village(typed: str):
    assert PlaceIndex(VILLAGES, PREFIXES).match(typed).places == ()


def test_the_longest_leading_words_that_name_a_village():
    index = PlaceIndex(VILLAGES, PREFIXES)
    match = index.leading(["Ấp", "Mỹ", "Phú", "họp", "lúc", "8", "giờ"])
    assert match.found.code == "AP-MY-PHU" and match.words == 3
    assert index.trailing(["10", "mỹ", "phú"]).words == 2


@pytest.fixture
def staff(engine: Engine, demo: Demo) -> ChatUser:
    return ChatUser(engine, demo.staff_user, channel="terminal")


async def join(engine: Engine, user_id: str, code: str, name: str) -> ChatUser:
    user = ChatUser(engine, user_id, name)
    assert "Chào mừng" in await user.send(f"/start {code}")
    return user


async def test_every_staff_command_takes_a_village_name(staff: ChatUser, engine: Engine, demo: Demo, db: Database):
    phu = demo.villages[1].village
    assert "Ấp Mỹ Phú" in await staff.send("/moi mỹ phú tổ trưởng")
    assert "tổ trưởng, Ấp Mỹ Phú" in await staff.send("/maimoi")
    lan = await join(engine, "9301", demo.villages[1].member_code, "Trần Thị Lan")
    await lan.send("vneid 2")
    assert "Trần Thị Lan" in await staff.send("/thanhvien phú")
    assert "Ấp Mỹ Phú" in await staff.send("/gannhat my phu")
    assert "Gửi thông báo tới" in await staff.send("/thongbao mỹ phú Họp tổ lúc 8 giờ")
    await staff.send("không")
    assert "Ấp Mỹ Phú: 50% số hộ" in await staff.send("/chitieu mỹ phú ssk 2026 50%")
    assert "Ấp Mỹ Phú: 300 hộ, 800 người lớn" in await staff.send("/thon so mỹ phú 300 800")
    assert "Đã ẩn Ấp Mỹ Phú" in await staff.send("/thon an phú")
    assert "Đã hiện lại Ấp Mỹ Phú" in await staff.send("/thon hien Ấp Mỹ Phú")
    assert "Ấp Mỹ Phú – tháng 11/2026" in await staff.send("/thang mỹ phú")
    assert "Ấp Mỹ Phú – tháng 10/2026" in await staff.send("/thang 10 mỹ phú")
    assert "Mỹ Phú" in await staff.send("/bieudo mỹ phú")
    units = await peek.rows(db, "units", "households, adults", where=f"id = {phu.id}")
    assert units == [(300, 800)]


async def test_staff_name_their_own_commune_by_code_or_name(staff: ChatUser):
    for typed in ("/thang XA-MY-HIEP 10", "/thang xã mỹ hiệp 10", "/thang 10 Mỹ Hiệp"):
        assert "Xã Mỹ Hiệp – tháng 10/2026" in await staff.send(typed), typed
    assert "Xã Mỹ Hiệp: 500 người" in await staff.send("/chitieu Xã Mỹ Hiệp cks 2026 500")


@pytest.mark.parametrize("command", [
    "/moi mỹ", "/thanhvien mỹ", "/gannhat mỹ", "/thongbao mỹ Họp lúc 8 giờ", "/chitieu mỹ vneid 2026 80%",
    "/thon so mỹ 300 800", "/thon an mỹ", "/thang mỹ", "/bieudo mỹ",
])
async def test_an_ambiguous_name_is_answered_with_the_candidates(staff: ChatUser, db: Database, command: str):
    answer = await staff.send(command)
    assert "«mỹ» có thể là" in answer and "Ấp Mỹ Thạnh" in answer and "Ấp Mỹ Phú" in answer, answer
    assert await peek.rows(db, "invites", "code", where="role = 'leader' AND created_by IS NOT NULL") == []


@pytest.mark.parametrize("command", ["/moi xyz", "/thanhvien xyz", "/gannhat xyz", "/thon an xyz",
                                     "/chitieu xyz vneid 2026 80%"])
async def test_an_unknown_name_says_what_to_type(staff: ChatUser, command: str):
    answer = await staff.send(command)
    assert "Không tìm thấy «xyz»" in answer and "Ấp Mỹ Thạnh" in answer and "Ví dụ" in answer, answer


async def test_roles_in_vietnamese_with_or_without_diacritics_and_spaces(staff: ChatUser, engine: Engine,
                                                                        demo: Demo, db: Database):
    await join(engine, "9302", demo.villages[0].member_code, "Võ Văn Ba")
    number = (await peek.rows(db, "members", "id", where="name = 'Võ Văn Ba'"))[0][0]
    assert "thành tổ trưởng" in await staff.send(f"/vaitro {number} tổ trưởng")
    assert "thành thành viên" in await staff.send(f"/vaitro {number} thanh vien")
    assert "thành tổ trưởng" in await staff.send(f"/vaitro {number} To Truong")
    assert "tổ trưởng, Ấp Mỹ Thạnh" in await staff.send("/moi mỹ thạnh tổ trưởng")
    assert "Đã tạm khóa" in await staff.send("/khoa võ văn ba")  # a member by name too
    assert "Đã mở khóa" in await staff.send("/mokhoa Ba")


async def test_a_member_sees_their_village_and_the_name_is_echoed_as_typed(engine: Engine, demo: Demo):
    lan = await join(engine, "9303", demo.villages[0].member_code, "Lan")
    assert "Ấp Mỹ Thạnh – tháng 11/2026" in await lan.send("/thang mỹ thạnh")
    refused = await lan.send("/thang mỹ phú")
    assert "«mỹ phú»" in refused and "Ấp Mỹ Thạnh" in refused


async def test_a_leader_asking_for_another_village_is_told_what_they_can_see(engine: Engine, demo: Demo):
    leader = await join(engine, "9304", demo.villages[0].leader_code, "Tư")
    answer = await leader.send("/gannhat mỹ phú")
    assert "«mỹ phú»" in answer and "Ấp Mỹ Thạnh" in answer and "/gannhat" in answer


async def test_proxy_report_for_a_member_named(staff: ChatUser, engine: Engine, demo: Demo, db: Database):
    await join(engine, "9305", demo.villages[2].member_code, "Đỗ Thị Năm")
    assert "Đã ghi thay cho Đỗ Thị Năm" in await staff.send("/baothay Năm vneid 3")
    assert await peek.live_reports(db, "service, count, source") == [("vneid", 3, "proxy")]
