"""Speaks like a colleague (issue 16): each role greeted for what it does, small talk answered,
words that fit the channel, refusals that say what to type instead."""

from __future__ import annotations

import re

import pytest
from support import peek
from support.helpers import ChatUser

from bot.flows.engine import Engine
from bot.flows.registry import MENUS
from bot.services.demo import Demo
from storage import Database


async def joined(engine: Engine, user_id: str, code: str, name: str = "Nguyễn Văn Lâm") -> ChatUser:
    user = ChatUser(engine, user_id, name)
    await user.send(f"/start {code}")
    return user


async def staff_on_telegram(engine: Engine, demo: Demo) -> ChatUser:
    desk = ChatUser(engine, demo.staff_user, channel="terminal")
    code = re.search(r"Mã mời (\w+)", await desk.send("/moi cán bộ")).group(1)
    return await joined(engine, "8801", code, "Phạm Thu Hà")


# 1. Each role greeted for what it does ---------------------------------------------------------
async def test_a_member_is_welcomed_to_report(engine: Engine, demo: Demo):
    lan = await joined(engine, "8701", demo.villages[0].member_code)
    welcome = lan.last
    text = "\n".join(r.text for r in welcome)
    assert "vneid 5 cks 2" in text and "Báo cáo" in text and "/gannhat" not in text
    assert welcome[0].menu and welcome[0].menu_role == "member" and welcome[0].commands_for == "member"


async def test_a_leader_is_told_about_the_corrections(engine: Engine, demo: Demo):
    leader = await joined(engine, "8702", demo.villages[0].leader_code)
    answer = "\n".join(r.text for r in leader.last)
    for command in ("/gannhat", "/suabc", "/xoabc", "/baothay"):
        assert command in answer
    assert "ấp" in answer and leader.last[0].menu_role == "leader"
    answer = await leader.send("/trogiup")
    assert all(command in answer for command in ("/gannhat", "/suabc", "/xoabc", "/baothay"))


async def test_staff_never_see_the_members_report_prompt(engine: Engine, demo: Demo):
    staff = await staff_on_telegram(engine, demo)
    welcome = "\n".join(r.text for r in staff.last)
    assert "/thang" in welcome and "/hanchot" in welcome and "vneid 5" not in welcome
    assert staff.last[0].menu_role == "staff" and staff.last[0].commands_for == "staff"
    for typed in ("báo cáo", "/baocao", "vneid 5", "xin chào", "5"):
        answer = await staff.send(typed)
        assert "bấm" not in answer.lower() or "Báo cáo" not in answer, typed
        assert "Chỉ thành viên" not in answer and "Mình chưa hiểu" not in answer, typed
    assert "Cán bộ xã không gửi báo cáo" in await staff.send("/huy")  # and what to do instead
    assert "/xoabc" in staff.last[0].text


@pytest.mark.parametrize("role", sorted(MENUS))
def test_each_role_has_its_own_keyboard(content, role: str):
    from bot.handlers.telegram import menu_markup

    labels = re.findall(r'"text":"([^"]+)"', menu_markup(content, role))
    assert "❓ Trợ giúp" in labels
    assert ("📝 Báo cáo" in labels) == (role in ("member", "leader"))
    assert ("📊 Số liệu tháng" in labels) == (role in ("staff", "admin"))


async def test_help_names_the_villages_as_the_commune_does(engine: Engine, demo: Demo):
    lan = await joined(engine, "8703", demo.villages[0].member_code)
    answer = await lan.send("/trogiup")
    assert "ấp mình đã chốt số liệu" in answer and "thôn mình" not in answer


async def test_the_staff_keyboard_buttons_work(engine: Engine, demo: Demo):
    staff = await staff_on_telegram(engine, demo)
    assert "Xã Mỹ Hiệp – tháng 11/2026" in await staff.send("📊 Số liệu tháng")
    assert "Thành viên" in await staff.send("👥 Thành viên")


# 2. Small talk -------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["xin chào", "Chào!", "cảm ơn", "cám ơn", "ok", "👍", "Cảm ơn nhiều"])
async def test_greetings_and_thanks_get_a_greeting_and_the_next_step(engine: Engine, demo: Demo, db: Database,
                                                                     typed: str):
    lan = await joined(engine, "8704", demo.villages[0].member_code)
    answer = await lan.send(typed)
    assert answer.startswith(("Chào bạn Lâm", "Không có gì")) and "vneid 5" in answer, answer
    assert "chưa hiểu" not in answer.lower()
    staff = await staff_on_telegram(engine, demo)
    answer = await staff.send(typed)
    assert "/thang" in answer and "vneid" not in answer
    assert await peek.live_reports(db, "service") == []


async def test_a_guest_greeting_is_told_how_to_join(engine: Engine):
    assert "/start MÃ" in await ChatUser(engine, "8705").send("xin chào")


@pytest.mark.parametrize("typed", ["help", "menu", "trợ giúp", "Trợ giúp", "tro giup"])
async def test_help_words_open_the_help(engine: Engine, demo: Demo, typed: str):
    lan = await joined(engine, "8706", demo.villages[0].member_code)
    assert "Thành viên tổ có thể" in await lan.send(typed)


async def test_a_lone_number_asks_which_service_then_records(engine: Engine, demo: Demo, db: Database):
    lan = await joined(engine, "8707", demo.villages[0].member_code)
    answer = await lan.send("5")
    assert "Số 5: cho dịch vụ nào?" in answer and "VNeID" in str(lan.last[0].options)
    assert await peek.live_reports(db, "service") == []
    assert "VNeID: 5 người" in await lan.tap("VNeID")
    assert "Đã ghi nhận" in await lan.tap("✔ Ghi nhận")
    assert await peek.live_reports(db, "service, count, source") == [("vneid", 5, "buttons")]


# 4. Refusals say what to type instead ---------------------------------------------------------
async def test_refusals_give_one_fitting_example(engine: Engine, demo: Demo):
    desk = ChatUser(engine, demo.staff_user, channel="terminal")
    lan = await joined(engine, "8708", demo.villages[0].member_code)
    number = re.search(r"#(\d+) Nguyễn Văn Lâm", await desk.send("/thanhvien")).group(1)
    assert f"ví dụ: /khoa {number}" in await desk.send("/khoa")
    assert "Ví dụ: /thanhvien An Bình" in await desk.send("/thanhvien xyz")
    assert "ví dụ /bieudo" in (await desk.send("/bieudo abc")).replace("Ví dụ: /bieudo", "ví dụ /bieudo")
    assert "/thang" not in await desk.send("/bieudo abc")
    assert "ví dụ /cuatoi" in await lan.send("/moi mỹ phú")
    leader = await joined(engine, "8709", demo.villages[0].leader_code)
    assert "Ấp Mỹ Thạnh" in await leader.send("/gannhat mỹ phú")


# 6. Words fit the channel ----------------------------------------------------------------------
async def test_tap_on_telegram_type_on_text_channels(engine: Engine, demo: Demo):
    on_telegram = await joined(engine, "8710", demo.villages[0].member_code)
    assert "Sai thì bấm Hoàn tác" in await on_telegram.send("vneid 2")
    on_terminal = ChatUser(engine, "8711", "Ba", channel="terminal")
    await on_terminal.send(f"/start {demo.villages[0].member_code}")
    answer = await on_terminal.send("vneid 2")
    assert "Sai thì gõ 0 để hoàn tác" in answer and "bấm" not in answer
    assert "Đã hủy" in await on_terminal.send("0")  # what the text says to type works
    await on_terminal.send("vneid 2")
    assert "Đã hủy" in await on_terminal.send("hoàn tác")  # the words too
    assert "bấm" not in (await on_terminal.send("/trogiup")).lower()


async def test_numbers_are_written_one_way(engine: Engine, demo: Demo):
    desk = ChatUser(engine, demo.staff_user, channel="terminal")
    assert "Ấp Bình Hàng Trung – 521 hộ – 1.388 người" in await desk.send("/thon")
    assert "Ấp Mỹ Phú: 1.200 lượt" in await desk.send("/chitieu mỹ phú dvc 2026 1200")
    assert "chỉ có 975 người lớn, chỉ tiêu Chữ ký số 1.200 người" in await desk.send("/chitieu mỹ phú cks 2026 1200")
