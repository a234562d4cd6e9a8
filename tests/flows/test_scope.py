"""Scope, the other half of the permission table: every role x every command that takes a place x
(their own unit, another commune of the same province, a commune of another province).

A village member or leader sees their village, commune staff their commune, province staff their
province, an admin everything; a place outside the scope is refused (tallies say so by name),
and nothing of it is shown or changed.
"""

from __future__ import annotations

from datetime import date

import pytest
from support.helpers import ChatUser, text_of
from support.places import HOME, OTHER, SAME, Places, seed_places

from bot.flows.engine import COMMANDS, Engine
from bot.services.demo import Demo
from storage import Database

ROLES = ("member", "leader", "staff", "province_staff", "admin")
NOT_ALLOWED = "Các lệnh của bạn: /trogiup"  # "Lệnh /xuat dành cho cán bộ xã, ..."
NOT_FOUND = ("Không tìm thấy", "Không có thành viên")  # outside the scope is answered as not there
# Where each role may look and act (the places of tests/fixtures/provinces.yaml).
VISIBLE = {
    "member": {HOME}, "leader": {HOME}, "staff": {HOME},
    "province_staff": {HOME, SAME}, "admin": {HOME, SAME, OTHER},
}
YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)
TALLIES = ("tuan", "thang", "quy", "nam", "ky", "bieudo", "xuat")


@pytest.fixture
async def places(db: Database, demo: Demo, clock) -> Places:
    return await seed_places(db, demo, clock)


def user(engine: Engine, places: Places, role: str) -> ChatUser:
    return ChatUser(engine, places.users[role])


def own_scope_name(places: Places, role: str) -> str:
    home = places[HOME]
    return {"member": home.village.name, "leader": home.village.name, "staff": home.commune.name,
            "province_staff": home.province.name, "admin": home.commune.name}[role]


@pytest.mark.parametrize("command", TALLIES)
@pytest.mark.parametrize("role", ROLES)
async def test_tallies_charts_and_exports_stay_in_scope(engine, places, role, command):
    person = user(engine, places, role)
    if role not in COMMANDS[command].roles:
        assert NOT_ALLOWED in await person.send(f"/{command} XA-TAN-HOI")
        return
    own = await person.send(f"/{command}")
    assert own_scope_name(places, role) in own
    if command != "xuat":  # the chart's caption and the tallies carry the figures
        assert str(places[HOME].count + (places[SAME].count if role == "province_staff" else 0)) in own
    assert str(places[OTHER].count) not in own
    for where in (SAME, OTHER):
        place = places[where]
        answer = await person.send(f"/{command} {place.commune.code}")
        if where in VISIBLE[role]:
            assert place.commune.name in answer, answer
            if command != "xuat":
                assert str(place.count) in answer
        else:
            assert f"«{place.commune.code}» nằm ngoài phạm vi của bạn" in answer, answer
            assert str(place.count) not in answer and place.commune.name not in answer
    # A province named by its code: the caller's own (province staff, an admin) or another one.
    other_province = places[OTHER].province
    answer = await person.send(f"/{command} {other_province.code}")
    if role == "admin":
        assert other_province.name in answer
    else:
        assert "nằm ngoài phạm vi của bạn" in answer and str(places[OTHER].count) not in answer


async def test_province_staff_see_one_line_per_commune_and_the_province_total(engine, places, content):
    province_staff = user(engine, places, "province_staff")
    replies = await engine.handle(province_staff._inbound(text="/thang"))
    answer = text_of(replies)
    assert "Tỉnh Đồng Tháp – tháng 11/2026" in answer
    # 47 in Xã Mỹ Hiệp + 71 in Xã Bình Thạnh; not the 83 of Tây Ninh
    assert "Tổng (so với kỳ trước): 118 người (+118)" in answer
    communes = text_of(replies[1:])
    assert "Xã Mỹ Hiệp: 47 người (+47) – 1/6 thôn, ấp đã báo cáo" in communes
    assert "Xã Bình Thạnh: 71 người (+71) – 1/1 thôn, ấp đã báo cáo" in communes
    assert "Toàn tỉnh (Tỉnh Đồng Tháp): 118 người (+118)" in communes
    assert "Tân Hội" not in answer and "83" not in answer
    assert "Ấp Mỹ Phú" not in communes  # communes, not their 3,000 villages
    # One commune of the province, village by village; then one village of it.
    commune = await province_staff.send("/thang XA-MY-HIEP")
    assert "Xã Mỹ Hiệp – tháng 11/2026" in commune and "Ấp Mỹ Thạnh: 47 người" in commune
    village = await province_staff.send("/thang XA-MY-HIEP Mỹ Thạnh")
    assert "Ấp Mỹ Thạnh – tháng 11/2026" in village
    assert "Xã Bình Thạnh – tháng 11/2026" in await province_staff.send("/thang Bình Thạnh")  # by name
    assert "Xã Tân Hội" not in await province_staff.send("/thang Tân Hội")


async def test_province_targets_give_the_province_coverage(engine, places):
    province_staff = user(engine, places, "province_staff")
    set_answer = await province_staff.send("/chitieu tinh vneid 2026 200")
    assert "Đã đặt chỉ tiêu" in set_answer and "Tỉnh Đồng Tháp" in set_answer
    assert "VNeID: 118/200 người" in await province_staff.send("/nam")  # the whole province against its target
    # Commune staff set their commune's targets, never the province's; province staff only the province's.
    assert "Gõ /chitieu TÊN-THÔN" in await user(engine, places, "staff").send("/chitieu tinh dvc 2026 10")
    assert "/chitieu tinh" in await province_staff.send("/chitieu xa dvc 2026 10")


@pytest.mark.parametrize("typed", ("/thang", "/nam", "/quy", "/tuan", "/tuan 30/12/2025", "/ky 1/2026"))
async def test_a_province_answer_is_the_same_summed_per_commune_or_village_by_village(engine, places, db, clock,
                                                                                   monkeypatch, typed):
    """The province's answer is summed per commune by the database; read village by village
    (as it was before), it is the same text: every total, commune line, villages reported and
    coverage (the demo's villages have targets of their own; one set here has no report; an
    explicit zero and a voided report in two more villages, on both sides of New Year)."""
    from bot.flows import tally as tally_flow
    from bot.services.tallies import build_tally
    from storage.models import NewReport

    staff, province_staff = user(engine, places, "staff"), user(engine, places, "province_staff")
    assert "Đã đặt" in await staff.send("/chitieu Mỹ Phú vneid 2026 50")
    async with db.uow() as uow:
        villages = [u for u in await uow.units.children(places[HOME].commune.id) if u.kind == "village"]
        zero, voided = [v for v in villages if v.id != places[HOME].village.id][:2]
        member = await uow.members.add("Người báo thêm", "member", zero.id, clock.now())
        for day in (date(2025, 12, 31), date(2026, 1, 1), clock.now().date()):
            await uow.reports.add_batch(f"zero-{day}", member.id, zero.id, [NewReport("none", 0)], day, "text",
                                        clock.now())
            await uow.reports.add_batch(f"void-{day}", member.id, voided.id, [NewReport("vneid", 9)], day, "text",
                                        clock.now())
            await uow.reports.void_batch(f"void-{day}", member.id, "test", clock.now())
    summed = await province_staff.send(typed)
    monkeypatch.setattr(tally_flow, "build_province_tally", build_tally)
    assert await province_staff.send(typed) == summed
    assert "Tỉnh Đồng Tháp" in summed
    if typed in ("/thang", "/nam", "/quy"):
        assert "Đã báo cáo: 3/7 thôn, ấp" in summed and "Tiến độ năm 2026" in summed
        assert "Xã Mỹ Hiệp: 47 người (+47) – 2/6 thôn, ấp đã báo cáo" in summed
    if typed == "/tuan 30/12/2025":
        assert "Đã báo cáo: 1/7 thôn, ấp" in summed


# Commands that act on a member, a report or an invite by its number or code.
def _acting(place, command: str) -> tuple[str, str]:
    """The command typed for ``place``, and what its success says."""
    return {
        "vaitro": (f"/vaitro {place.member_id} totruong", "Đã đổi"),
        "khoa": (f"/khoa {place.member_id}", "Đã tạm khóa"),
        "baothay": (f"/baothay {place.member_id} vneid 2", "Đã ghi thay"),
        "xoabc": (f"/xoabc {place.report_id} gõ nhầm số", "Đã hủy báo cáo"),
        "suabc": (f"/suabc {place.report_id} 5 gõ nhầm số", "Đã sửa báo cáo"),
        "thuhoi": (f"/thuhoi {place.invite}", "Đã thu hồi"),
    }[command]


@pytest.mark.parametrize("where", (HOME, SAME, OTHER))
@pytest.mark.parametrize("command", ("vaitro", "khoa", "baothay", "xoabc", "suabc", "thuhoi"))
@pytest.mark.parametrize("role", ROLES)
async def test_acting_on_a_member_report_or_invite_stays_in_scope(engine, places, db, role, command, where):
    place = places[where]
    typed, success = _acting(place, command)
    async with db.uow() as uow:
        before = await uow.tallies.totals("village", place.village.id, YEAR_START, YEAR_END)
        member_before = await uow.members.get(place.member_id)
    answer = await user(engine, places, role).send(typed)
    if role not in COMMANDS[command].roles:
        assert NOT_ALLOWED in answer
    elif where in VISIBLE[role]:
        assert success in answer, answer
        return
    else:
        assert any(refusal in answer for refusal in NOT_FOUND), answer
    async with db.uow() as uow:  # refused: nothing changed there
        assert await uow.tallies.totals("village", place.village.id, YEAR_START, YEAR_END) == before
        assert await uow.members.get(place.member_id) == member_before
        assert (await uow.invites.get(place.invite)).revoked_at is None


@pytest.mark.parametrize("typed", ("/thanhvien Ấp Bình Hòa", "/gannhat Ấp Bình Hòa", "/moi Ấp Bình Hòa"))
async def test_commune_staff_do_not_find_another_communes_villages(engine, places, typed):
    answer = await user(engine, places, "staff").send(typed)
    assert "Không tìm thấy «Ấp Bình Hòa»" in answer and "Ấp Mỹ Thạnh" in answer  # their own villages offered
    assert "Người báo" not in answer and "Mã mời" not in answer


async def test_a_province_staff_member_is_invited_joins_and_reads_their_province(engine, places):
    admin = user(engine, places, "admin")
    assert "/moi [MÃ-TỈNH] cán bộ tỉnh" in await user(engine, places, "staff").send("/moi cantinh")
    elsewhere = await admin.send("/moi TN cantinh")
    assert "cán bộ tỉnh, Tỉnh Tây Ninh" in elsewhere
    created = await admin.send("/moi cán bộ tỉnh")  # the admin's own province
    assert "cán bộ tỉnh, Tỉnh Đồng Tháp" in created
    code = created.split("Mã mời ")[1].split(" ")[0]
    newcomer = ChatUser(engine, "new-province-staff", "Chị Hoa")
    welcome = await newcomer.send(f"/start {code}")
    assert "Tỉnh Đồng Tháp" in welcome and "cán bộ tỉnh" in welcome
    help_text = await newcomer.send("/trogiup")
    assert "Cán bộ tỉnh có thể" in help_text and "chỉ xem được các xã thuộc tỉnh mình" in help_text
    assert "118 người (+118)" in await newcomer.send("/thang")
    assert NOT_ALLOWED in await newcomer.send("/thanhvien")


async def test_the_admin_help_says_it_is_deployment_wide(engine, places):
    assert "toàn hệ thống" in await user(engine, places, "admin").send("/trogiup")


async def test_a_province_chart_draws_one_bar_per_commune(db, places, content, clock):
    from bot.domain.periods import month
    from bot.domain.tally import per_commune
    from bot.services.tallies import build_province_tally, build_tally

    province = places[HOME].province
    async with db.uow() as uow:
        tally = await build_tally(uow, province, month(2026, 11), content.catalogue.codes, clock.now())
        communes = [u for u in await uow.units.children(province.id) if u.kind == "commune"]
    bars = per_commune(tally, communes)
    assert [(c.unit.name, c.total) for c in bars.villages] == [("Xã Bình Thạnh", 71), ("Xã Mỹ Hiệp", 47)]
    assert bars.total == tally.total == 118
    async with db.uow() as uow:  # what /bieudo draws: the province summed per commune by the database
        summed = await build_province_tally(uow, province, month(2026, 11), content.catalogue.codes, clock.now())
    drawn = per_commune(summed, communes).villages
    assert [(c.unit.name, c.current, c.reported) for c in drawn] == [
        (c.unit.name, c.current, c.reported) for c in bars.villages]


async def test_a_province_export_totals_the_province(db, places, content, clock):
    from bot.domain.periods import month
    from bot.services.export_report import village_table
    from bot.services.tallies import build_tally

    async with db.uow() as uow:
        tally = await build_tally(uow, places[HOME].province, month(2026, 11), content.catalogue.codes, clock.now())
    table = village_table(content, tally, None)
    assert table.rows[-1][1] == "Toàn tỉnh"
    assert "Tân Long" not in str(table.rows)  # nothing of the other province
