"""A repeat is recognised, and no question traps a member (issue 11, items 2 and 3)."""

from __future__ import annotations

from support import peek
from support.helpers import ChatUser

from bot.domain.clock import FixedClock
from bot.services.demo import Demo
from storage import Database


async def joined(user: ChatUser, demo: Demo) -> ChatUser:
    assert "Chào mừng" in await user.send(f"/start {demo.villages[0].member_code}")
    return user


async def live(db: Database) -> list[tuple[str, int]]:
    return await peek.live_reports(db)


# Repeats ----------------------------------------------------------------------
async def test_the_same_report_again_is_asked_about_with_the_time_of_the_first(
        user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    line = "VNeID: 12; CKS: 4; TTKDTM: 6"
    assert "Đã ghi nhận" in await user.send(line)
    again = await user.send(line)  # a resend after a confirmation that never arrived
    assert "đã ghi nhận" in again and "09:30" in again and "Ghi thêm" in again
    assert len(await live(db)) == 3  # not counted twice
    assert "không ghi thêm" in await user.tap("Không ghi")
    assert len(await live(db)) == 3
    await user.send(line)
    assert "Đã ghi nhận" in await user.tap("➕ Ghi thêm")  # a second, real visit: recorded on request
    assert len(await live(db)) == 6


async def test_a_resend_is_recognised_after_a_burst_of_other_reports(user: ChatUser, demo: Demo, db: Database):
    """A member sends a dozen reports in a row; the first one's confirmation never arrived (a crash
    between the commit and the reply), so they send it again after the others."""
    await joined(user, demo)
    for k in range(1, 13):
        assert "Đã ghi nhận" in await user.send(f"vneid {k}")
    again = await user.send("vneid 1")
    assert "Ghi thêm" in again and "đã ghi nhận" in again
    assert len(await live(db)) == 12


async def test_a_repeat_can_be_answered_by_typing(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("vneid 3")
    await user.send("vneid 3")
    assert "không ghi thêm" in await user.send("không")
    await user.send("vneid 3")
    assert "Đã ghi nhận" in await user.send("có")
    assert await live(db) == [("vneid", 3), ("vneid", 3)]


async def test_the_same_items_after_the_window_or_for_another_day_are_new_reports(
        user: ChatUser, demo: Demo, db: Database, clock: FixedClock):
    await joined(user, demo)
    await user.send("vneid 3")
    assert "Đã ghi nhận" in await user.send("hôm qua vneid 3")  # another day
    clock.advance(hours=2, minutes=1)
    assert "Đã ghi nhận" in await user.send("vneid 3")  # outside the two-hour window
    assert "Đã ghi nhận" in await user.send("vneid 3 cks 1")  # not the same items
    assert len(await live(db)) == 5


async def test_an_undone_report_sent_again_is_recorded_without_a_question(user: ChatUser, demo: Demo,
                                                                         db: Database):
    await joined(user, demo)
    await user.send("ssk 2")
    await user.tap("↩ Hoàn tác")
    assert "Đã ghi nhận" in await user.send("ssk 2")
    assert await live(db) == [("so_suc_khoe", 2)]


async def test_the_bots_own_confirmation_pasted_back_is_not_a_report(user: ChatUser, demo: Demo,
                                                                    db: Database):
    await joined(user, demo)
    confirmation = await user.send("vneid 3")
    assert "xác nhận của bot" in await user.send(confirmation)
    assert "xác nhận của bot" in await user.send("✅ Đã ghi nhận: • VNeID: 3 hộ")
    assert "xác nhận của bot" in await user.send("• VNeID: 3 hộ")
    assert await live(db) == [("vneid", 3)]


async def test_an_explicit_zero_for_a_day_is_recorded_once(user: ChatUser, demo: Demo, db: Database,
                                                          clock: FixedClock):
    await joined(user, demo)
    assert "không hỗ trợ ai" in await user.send("không có")
    for _ in range(3):
        assert "Không cần gửi lại" in await user.send("khong co")
    clock.advance(hours=5)  # the same day, later: still once
    assert "Không cần gửi lại" in await user.send("không có")
    await user.send("/baocao")
    await user.tap("🚫 Không hỗ trợ ai")
    assert "Không cần gửi lại" in await user.tap("✔ Ghi nhận")
    assert await live(db) == [("none", 0)]
    assert "không hỗ trợ ai" in await user.send("hôm qua không có")  # another day is its own zero
    assert await live(db) == [("none", 0), ("none", 0)]


async def test_nothing_for_a_day_that_has_reports_is_said_not_recorded(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("vneid 5 cks 2")
    refused = await user.send("không có")
    assert "đã có báo cáo:\n• VNeID: 5 người\n• Chữ ký số: 2 người" in refused  # in the catalogue's order
    await user.send("/baocao")
    await user.tap("🚫 Không hỗ trợ ai")
    assert "đã có báo cáo" in await user.tap("✔ Ghi nhận")
    assert await live(db) == [("vneid", 5), ("chu_ky_so", 2)]
    await user.send("/huy")
    await user.tap("Hủy báo cáo này")
    assert "không hỗ trợ ai" in await user.send("không có")  # nothing left for the day: now it is the truth
    assert await live(db) == [("none", 0)]


# No step traps ------------------------------------------------------------------
async def test_a_stray_word_after_huy_shows_the_question_again_and_its_buttons_still_work(
        user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("vneid 5")
    await user.send("/huy")
    question = user.last
    again = await user.send("abc")
    assert "Chưa hiểu" in again and "Hủy báo cáo này?" in again
    labels = [o.label for row in user.last[-1].options for o in row]
    assert labels == ["Hủy báo cáo này", "Giữ lại"]  # the options come with it
    # The buttons of the first question are not stale: tapping one still works.
    assert "Đã hủy" in await user.tap("Hủy báo cáo này", question)
    assert await live(db) == []


async def test_keys_and_labels_keep_working_after_a_stray_word(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("vneid 5")
    await user.send("/huy")
    await user.send("😀")
    await user.send("???")
    assert "giữ nguyên" in await user.send("Giữ lại")  # the label, typed
    await user.send("/huy")
    await user.send("abc")
    assert "Đã hủy" in await user.send("1")  # the key, typed
    assert await live(db) == []


async def test_no_keeps_the_report_and_a_new_report_line_is_recorded(user: ChatUser, demo: Demo,
                                                                    db: Database):
    await joined(user, demo)
    await user.send("vneid 5")
    await user.send("/huy")
    assert "giữ nguyên" in await user.send("không")
    await user.send("/huy")
    assert "Chữ ký số" in await user.send("cks 2")  # a report while the question is pending
    assert await live(db) == [("vneid", 5), ("chu_ky_so", 2)]
    assert "Không có lệnh" not in await user.send("2")  # the question is over: "2" is no longer an answer
    assert await live(db) == [("vneid", 5), ("chu_ky_so", 2)]


async def test_every_step_of_the_button_report_asks_again_and_takes_a_report_line(
        user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("/baocao")
    assert "dịch vụ nào" in await user.send("xin chào")  # the services again, with their keys
    assert ("1", "VNeID") in [(o.key, o.label) for row in user.last[-1].options for o in row]
    await user.send("1")  # VNeID
    await user.send("4")
    assert "Chưa hiểu" in await user.send("hmm")  # the confirmation again
    await user.send("2")  # another day
    assert "ngày nào" in await user.send("abc")  # the day question again
    await user.send("hôm nay")
    assert "Đã ghi nhận" in await user.send("ok")
    await user.send("/baocao")
    await user.tap("Thanh toán")
    assert "Chữ ký số" in await user.send("cks 2")  # a whole line in the middle: recorded as such
    assert await live(db) == [("vneid", 4), ("chu_ky_so", 2)]


async def test_typed_undo_works_at_any_time_in_the_window(user: ChatUser, demo: Demo, db: Database,
                                                         clock: FixedClock):
    await joined(user, demo)
    await user.send("vneid 5")
    await user.send("/cuatoi")
    clock.advance(hours=3)
    for spelling in ("hủy", "Hoàn tác", "huy bao cao"):
        asked = await user.send(spelling)
        assert "Hủy báo cáo này?" in asked and "VNeID" in asked
        assert "giữ nguyên" in await user.send("không")
    await user.send("hoàn tác")
    assert "Đã hủy" in await user.send("có")
    assert await live(db) == []
    clock.advance(hours=50)
    assert "48 giờ" in await user.send("hủy")


async def test_undo_right_under_a_text_report_is_immediate(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    await user.send("vneid 5")
    assert "Đã hủy" in await user.send("hoàn tác")  # the button's label, typed: as the button
    assert await live(db) == []


async def test_a_bare_no_is_not_a_zero_report(user: ChatUser, demo: Demo, db: Database):
    await joined(user, demo)
    for word in ("không", "ko", "k"):
        await user.send(word)
    assert await live(db) == []
