"""The conversation core, driven in-process over a temporary SQLite file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support import peek
from support.helpers import TZ, ChatUser

from bot.domain.messages import Inbound
from bot.flows.engine import Engine
from bot.runtime.backend import database_from_url
from bot.services.demo import Demo
from storage import Database


async def live_reports(db: Database) -> list[tuple]:
    return await peek.live_reports(db, "service, count, occurred_on, source")


async def all_reports(db: Database) -> list[tuple]:
    return await peek.rows(db, "reports", "service, count, voided_at IS NOT NULL, voided_by, void_reason", order="id")


async def joined(user: ChatUser, demo: Demo, leader: bool = False) -> ChatUser:
    village = demo.villages[0]
    answer = await user.send(f"/start {village.leader_code if leader else village.member_code}")
    assert "Chào mừng" in answer
    return user


# Joining ---------------------------------------------------------------------
async def test_join_with_code_binds_user_to_village(user: ChatUser, demo: Demo, db: Database):
    answer = await user.send(f"/start {demo.villages[0].member_code}")
    assert "Ấp Mỹ Thạnh" in answer and "thành viên" in answer
    assert user.last[0].menu  # the persistent menu appears
    row = await peek.rows(db, "members", "name, role, unit_id", where="name = 'Nguyễn Thị Lan'")
    assert row == [("Nguyễn Thị Lan", "member", demo.villages[0].village.id)]


async def test_code_typed_after_start_and_lowercase(user: ChatUser, demo: Demo):
    assert "mã mời" in (await user.send("/start")).lower()
    answer = await user.send(demo.villages[1].leader_code.lower())
    assert "Ấp Mỹ Phú" in answer and "tổ trưởng" in answer


async def test_a_report_typed_while_the_bot_waits_for_a_code_is_told_to_join_first(user: ChatUser, demo: Demo,
                                                                                 db: Database):
    await user.send("/start")
    for line in ("vneid 5 cks 2", "xin chào", "😀😀", "abc"):
        answer = await user.send(line)
        assert "chưa tham gia" in answer and "K7M2QX" in answer and "không đúng" not in answer
    assert "không đúng" in await user.send("WRONG1")  # what looks like a code is tried as one
    assert "Ấp Mỹ Thạnh" in await user.send(demo.villages[0].member_code.lower())
    assert await live_reports(db) == []


async def test_wrong_code_gives_no_access(user: ChatUser, demo: Demo, db: Database):
    assert "không đúng" in await user.send("/start WRONG1")
    assert "chưa tham gia" in await user.send("vneid 5")
    assert "chưa tham gia" in await user.send("/baocao")
    assert await live_reports(db) == []


async def test_expired_and_used_up_codes(engine: Engine, demo: Demo, db: Database, clock):
    from bot.services.invites import create_invite

    async with db.uow() as uow:
        one_use = await create_invite(uow, demo.villages[2].village.id, "member", clock.now(), max_uses=1)
        short = await create_invite(uow, demo.villages[2].village.id, "member", clock.now(),
                                    valid_for=timedelta(hours=1))
    first, second = ChatUser(engine, "2001"), ChatUser(engine, "2002")
    assert "Chào mừng" in await first.send(f"/start {one_use.code}")
    assert "hết lượt" in await second.send(f"/start {one_use.code}")
    clock.advance(hours=2)
    assert "hết hạn" in await second.send(f"/start {short.code}")
    assert "chưa tham gia" in await second.send("/cuatoi")


async def test_start_again_when_already_joined(user: ChatUser, demo: Demo):
    await joined(user, demo)
    assert "đã là thành viên" in await user.send(f"/start {demo.villages[3].member_code}")


# Reporting by buttons -----------------------------------------------------------
async def test_the_count_step_names_what_the_service_counts(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("/baocao")
    assert "bao nhiêu hộ?" in await user.tap("Thanh toán")  # households
    assert "Gõ số hộ Thanh toán bằng chữ số" in await user.send("4 người")  # not what it counts
    assert "Thanh toán: 4 hộ" in await user.send("4 hộ")
    assert "Thanh toán: 4 hộ" in await user.tap("✔ Ghi nhận")
    await user.send("/baocao")
    assert "bao nhiêu lượt?" in await user.tap("Dịch vụ công")  # sessions
    assert "Dịch vụ công: 2 lượt" in await user.send("2 lượt")
    assert "Dịch vụ công: 2 lượt" in await user.tap("✔ Ghi nhận")
    await user.send("/baocao")
    assert "bao nhiêu người?" in await user.tap("Kỹ năng số")  # people
    assert "Kỹ năng số: 12 người" in await user.send("12 người")
    assert await live_reports(db) == [("thanh_toan", 4, "2026-11-22", "buttons"),
                                      ("dich_vu_cong", 2, "2026-11-22", "buttons")]


async def test_report_by_buttons_in_four_taps(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("/baocao")
    assert "VNeID / định danh điện tử: bao nhiêu người?" in await user.tap("VNeID")  # VNeID counts people
    summary = await user.tap("3")  # the confirmation, for today
    assert "VNeID: 3 người" in summary and "Hôm nay, 22/11/2026" in summary
    assert await live_reports(db) == []  # nothing until confirmed
    assert "Đã ghi nhận" in await user.tap("✔ Ghi nhận")
    assert await live_reports(db) == [("vneid", 3, "2026-11-22", "buttons")]


async def test_another_day_is_one_tap_away(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("/baocao")
    await user.tap("VNeID")
    await user.tap("3")
    assert "ngày nào" in await user.tap("📅 Ngày khác")
    summary = await user.tap("Hôm qua")
    assert "VNeID: 3 người" in summary and "Ngày 21/11/2026" in summary
    assert "Đã ghi nhận" in await user.tap("✔ Ghi nhận")
    await user.send("/baocao")  # a zero report for another day, too
    await user.tap("🚫 Không hỗ trợ ai")
    await user.tap("📅 Ngày khác")
    assert "20/11/2026" in await user.send("20/11")
    await user.tap("✔ Ghi nhận")
    assert await live_reports(db) == [("vneid", 3, "2026-11-21", "buttons"), ("none", 0, "2026-11-20", "buttons")]


async def test_report_by_keys_on_a_text_only_channel(engine: Engine, demo: Demo, db: Database):
    user = ChatUser(engine, "term-1", "Ba", channel="terminal")
    await joined(user, demo)
    await user.send("/baocao")
    await user.send("2")  # Chữ ký số
    await user.send("12")  # a typed number, not a quick choice
    assert "Ghi nhận?" in await user.send("14/11")
    assert "Đã ghi nhận" in await user.send("1")
    assert await live_reports(db) == [("chu_ky_so", 12, "2026-11-14", "buttons")]


async def test_cancel_at_any_step_records_nothing(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    for taps in ([], ["VNeID"], ["VNeID", "2"], ["VNeID", "2", "📅 Ngày khác"]):
        await user.send("/baocao")
        for label in taps:
            await user.tap(label)
        assert "Đã hủy" in await user.tap("✖ Hủy")
    assert await live_reports(db) == []


async def test_bad_count_in_button_flow_reasks(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("/baocao")
    await user.tap("Thanh toán")
    assert "âm" in await user.send("-4")
    assert "số nguyên" in await user.send("2.5")
    assert "quá lớn" in await user.send("100000")
    assert "chữ số" in await user.send("nhiều")
    await user.send("6")
    assert "Ngày khác" in str(user.last[0].options)
    assert "chưa tới" in await user.send("30/11")
    await user.tap("✔ Ghi nhận")
    assert await live_reports(db) == [("thanh_toan", 6, "2026-11-22", "buttons")]
    await user.send("/baocao")
    await user.tap("Thanh toán")
    assert "Đã hủy" in await user.send("0")  # "0" takes back, at every step (the key of ✖ Hủy)


async def test_double_tap_on_confirm_records_once(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("/baocao")
    await user.tap("Sổ sức khỏe")
    await user.tap("4")
    confirm = user.option("✔ Ghi nhận")
    await user.tap_data(confirm.data)
    assert "đã dùng" in await user.tap_data(confirm.data)
    assert await live_reports(db) == [("so_suc_khoe", 4, "2026-11-22", "buttons")]


async def test_restart_mid_conversation_continues(db_url, content, clock, demo: Demo, db: Database):
    first = ChatUser(Engine(db, content, clock, TZ), "3001")
    await joined(first, demo)
    await first.send("/baocao")
    await first.tap("VNeID")
    count_prompt = first.last
    await db.close()
    # A new process: new connection, new engine, no memory of the old one.
    db2 = await database_from_url(db_url).open()
    try:
        second = ChatUser(Engine(db2, content, clock, TZ), "3001")
        await second.tap("5", count_prompt)
        await second.tap("✔ Ghi nhận")
        assert await live_reports(db2) == [("vneid", 5, "2026-11-22", "buttons")]
    finally:
        await db2.close()


# Reporting by text -------------------------------------------------------------
async def test_text_report_is_recorded_at_once_with_undo(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    answer = await user.send("vneid 5 cks 2")
    assert "Đã ghi nhận" in answer and "VNeID" in answer and "Chữ ký số" in answer
    assert await live_reports(db) == [("vneid", 5, "2026-11-22", "text"), ("chu_ky_so", 2, "2026-11-22", "text")]
    assert "Đã hủy" in await user.tap("↩ Hoàn tác")
    assert await live_reports(db) == []
    assert [r[2] for r in await all_reports(db)] == [1, 1]  # kept, marked void


async def test_text_report_with_yesterday(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("hôm qua hỗ trợ 7 hộ kích hoạt VNeID và 3 hộ cài chữ ký số")
    assert await live_reports(db) == [("vneid", 7, "2026-11-21", "text"), ("chu_ky_so", 3, "2026-11-21", "text")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vneid -3", "âm"),
        ("vneid 0", "lớn hơn 0"),
        ("vneid 2.5", "số nguyên"),
        ("vneid 9999", "quá lớn"),
        ("31/02 vneid 3", "không có thật"),
        ("😀😀😀", "chưa hiểu"),
        ("asdkjh qwe", "chưa hiểu"),
        ("<b>hack</b> <script>alert(1)</script>", "chưa hiểu"),
        ("x" * 5000, "quá dài"),
        ("/xoahet", "Không có lệnh"),
    ],
)
async def test_bad_text_is_answered_and_changes_nothing(user: ChatUser, demo: Demo, db: Database, text, expected):
    await joined(user, demo)
    assert expected in await user.send(text)
    assert await live_reports(db) == []


async def test_report_older_than_window_refused(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    assert "gần đây" in await user.send("01/01/2026 vneid 3")
    assert await live_reports(db) == []


async def test_staff_cannot_report(engine: Engine, demo: Demo, db: Database):
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    assert "Cán bộ xã không tự gửi báo cáo" in await staff.send("vneid 5")
    assert "Cán bộ xã không tự gửi báo cáo" in await staff.send("/baocao")
    assert await live_reports(db) == []


async def test_disabled_member_is_told_and_nothing_changes(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    async with db.uow() as uow:
        member = await uow.members.by_identity("telegram", user.user_id)
        await uow.members.set_status(member.id, "disabled")  # type: ignore[union-attr]
    assert "tạm khóa" in await user.send("vneid 5")
    assert await live_reports(db) == []


# Exactly once ------------------------------------------------------------------
async def test_redelivered_update_changes_nothing(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    inbound = Inbound("telegram", "u-777", user.user_id, user.user_id, "Lan", text="vneid 4")
    assert await user.deliver(inbound)
    assert await user.deliver(inbound) == []
    assert await live_reports(db) == [("vneid", 4, "2026-11-22", "text")]


async def test_same_update_id_on_another_channel_is_distinct(engine: Engine, demo: Demo, db: Database):
    tg, term = ChatUser(engine, "same"), ChatUser(engine, "same", channel="terminal")
    await joined(tg, demo)
    await joined(term, demo)
    await tg.deliver(Inbound("telegram", "k1", "same", "same", text="vneid 1"))
    await term.deliver(Inbound("terminal", "k1", "same", "same", text="vneid 2"))
    assert [r[1] for r in await live_reports(db)] == [1, 2]


# Undo and own totals -------------------------------------------------------------
async def test_huy_voids_last_report_after_confirmation(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("vneid 5")
    await user.send("cks 2")
    assert "Chữ ký số" in await user.send("/huy")
    assert "giữ nguyên" in await user.tap("Giữ lại")
    assert len(await live_reports(db)) == 2
    await user.send("/huy")
    assert "Đã hủy" in await user.tap("Hủy báo cáo này")
    assert await live_reports(db) == [("vneid", 5, "2026-11-22", "text")]
    member_id = await peek.member_id(db, "Nguyễn Thị Lan")
    assert (await all_reports(db))[1] == ("chu_ky_so", 2, 1, member_id, "member_undo")


async def test_huy_only_within_48_hours(user: ChatUser, demo: Demo, db: Database, clock):
    await joined(user, demo)
    await user.send("vneid 5")
    undo_button = user.option("↩ Hoàn tác")
    clock.advance(hours=49)
    assert "48 giờ" in await user.send("/huy")
    assert "48 giờ" in await user.tap_data(undo_button.data)
    assert len(await live_reports(db)) == 1


async def test_undo_button_twice_is_harmless(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("ssk 3")
    undo_button = user.option("↩ Hoàn tác")
    await user.tap_data(undo_button.data)
    assert "đã được hủy" in await user.tap_data(undo_button.data)


async def test_another_member_cannot_undo_my_report(engine: Engine, user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("vneid 5")
    undo_button = user.option("↩ Hoàn tác")
    other = await joined(ChatUser(engine, "4001", "Tư"), demo)
    await other.tap_data(undo_button.data)
    assert len(await live_reports(db)) == 1


async def test_cuatoi_shows_week_and_month(user: ChatUser, demo: Demo, clock):
    await joined(user, demo)
    await user.send("vneid 5 cks 2")  # Sunday 22/11: this week (16–22/11) and month
    await user.send("02/11 vneid 4")  # earlier this month only
    await user.send("31/10 ssk 9")  # last month: in neither
    answer = await user.send("/cuatoi")
    week, month = answer.split("Tháng này")
    assert "7 người" in week and "VNeID: 5 người" in week and "Chữ ký số: 2" in week
    assert "11 người" in month and "VNeID: 9 người" in month and "Sổ sức khỏe" not in month


async def test_help_depends_on_role(engine: Engine, user: ChatUser, demo: Demo):
    assert "/start" in await user.send("/help")
    await joined(user, demo)
    assert "/baocao" in await user.send("/trogiup")
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    assert "Cán bộ xã" in await staff.send("/help")


async def test_menu_buttons_work_as_commands(user: ChatUser, demo: Demo):
    await joined(user, demo)
    assert "dịch vụ nào" in await user.send("📝 Báo cáo")
    assert "Tuần này" in await user.send("📊 Của tôi")
    # On text-only channels (Zalo, terminal) people type the label without its emoji.
    assert "dịch vụ nào" in await user.send("bao cao")
    assert "Tuần này" in await user.send("Của tôi")


async def test_dates_are_local_vietnam_days(user: ChatUser, demo: Demo, db: Database, clock):
    await joined(user, demo)
    from datetime import datetime

    clock.set(datetime(2026, 11, 22, 23, 30, tzinfo=TZ))  # 16:30 UTC, still the 22nd in Vietnam
    await user.send("vneid 1")
    clock.set(datetime(2026, 11, 23, 0, 30, tzinfo=TZ))  # 17:30 UTC on the 22nd, already the 23rd here
    await user.send("vneid 2")
    assert [r[2] for r in await live_reports(db)] == ["2026-11-22", "2026-11-23"]
