"""Bad input changes nothing and is never fatal: names that cannot be stored as they came,
a unit of work that fails, /baothay for members who cannot report, resident data in staff text.
The same on the command line: tests/e2e/test_cli_bad_input.py."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator

import pytest
from support import peek
from support.helpers import NOW, ChatUser

from bot.domain.cleantext import clean_line
from bot.flows.engine import Engine
from bot.services.demo import Demo
from storage import Database, UnitOfWork


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[str]]:
    """What the event loop would log as unhandled ("Future exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context["message"]))
    yield seen
    loop.set_exception_handler(None)


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()


# A failing unit of work -------------------------------------------------------------------------
async def test_a_unit_of_work_that_fails_raises_once_and_leaves_nothing_unretrieved(db: Database,
                                                                                     demo: Demo, loop_errors):
    async def unstorable(uow: UnitOfWork) -> None:
        await uow.members.add("Lan\ud800", "member", demo.villages[0].village.id, NOW)

    with pytest.raises(ValueError):  # SQLite: UnicodeEncodeError; PostgreSQL: asyncpg's DataError, as a ValueError
        await db.run(unstorable)
    # The next trip frees what the database thread still held of the failed one.
    assert await peek.count(db, "members", "role = 'member'") == 0
    await _settle()
    assert loop_errors == []


async def test_a_caller_cancelled_while_its_unit_fails_leaves_nothing_unretrieved(db: Database, loop_errors):
    started, release = threading.Event(), threading.Event()

    async def slow_then_failing(uow: UnitOfWork) -> None:
        started.set()
        release.wait(10)  # in the database thread: holds the trip until the caller is gone
        raise ValueError("unit failed")

    async def nothing(uow: UnitOfWork) -> int:
        return 1

    caller = asyncio.create_task(db.run(slow_then_failing))
    await asyncio.to_thread(started.wait, 10)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    release.set()
    assert await db.run(nothing) == 1  # the database carries on
    await _settle()
    assert loop_errors == []


# Display names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Lan\ud800", "Lan"),  # a lone surrogate (half an emoji): SQLite cannot store it as UTF-8
        ("\ud83dNguyễn Thị Lan", "Nguyễn Thị Lan"),
        ("Lan\x00\x07\x1b[31m Ba", "Lan [31m Ba"),  # control characters
        ("\u202eLan\u200b\u2060", "Lan"),  # bidi override, zero-width characters
        ("\u3164\u3164", None),  # invisible "blank" letters only
        ("\u200b\u200d \u2800", None),
        ("Nguyễn Văn A " + "B" * 10_000, "Nguyễn Văn A " + "B" * 51),  # cut to 64 characters
        ("Lan Zalo 0912 345 678", "Lan Zalo"),  # a phone number in a Zalo name is not kept
        ("Tư 001203004567", "Tư"),
        ("e\u0302\u0323e" + "\u0301" * 50, "ệé\u0301\u0301"),  # decomposed letters composed; 50 marks cut to 2
    ],
)
async def test_any_display_name_can_join_and_is_stored_clean(engine: Engine, demo: Demo, db: Database,
                                                              loop_errors, raw: str, stored: str | None):
    for channel, user_id in (("telegram", "9101"), ("zalo", "z-9101")):
        user = ChatUser(engine, user_id, raw, channel=channel)
        assert "Chào mừng" in await user.send(f"/start {demo.villages[0].member_code}")
        assert "Đã ghi nhận" in await user.send("vneid 2")
    assert await peek.rows(db, "members", "name", where="role = 'member'") == [(stored,), (stored,)]
    await _settle()
    assert loop_errors == []


# /baothay for members who cannot report --------------------------------------------------------
async def test_proxy_reports_are_refused_for_disabled_and_forgotten_members(engine: Engine, demo: Demo,
                                                                          db: Database, clock):
    village = demo.villages[0].village.id
    async with db.uow() as uow:
        disabled = await uow.members.add("Bà Năm", "member", village, clock.now())
        forgotten = await uow.members.add("Ông Sáu", "member", village, clock.now())
        await uow.members.set_status(disabled.id, "disabled")
        await uow.members.forget(forgotten.id)
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    answer = await staff.send(f"/baothay {disabled.id} vneid 3")
    assert "đang bị khóa" in answer and f"/mokhoa {disabled.id}" in answer
    assert "đã rời tổ" in await staff.send(f"/baothay {forgotten.id} vneid 3")
    assert await peek.count(db, "reports") == 0
    assert await peek.count(db, "audit", "action = 'proxy_report'") == 0
    assert "đã mở khóa" in (await staff.send(f"/mokhoa {disabled.id}")).lower()
    assert "Đã ghi thay cho Bà Năm" in await staff.send(f"/baothay {disabled.id} vneid 3")


# Resident data in staff free text ----------------------------------------------------------------
RESIDENT = "ba Nguyen Thi Lan CCCD 001203004567 sdt 0912345678"
PHONE_ONLY = "nhờ gọi 0912.345.678"
ID_ONLY = "hộ bà Lan 001 203 004 567"
STORED_TABLES = ("reports", "audit", "announcements", "outbox", "custom_deadlines", "units", "conversations")


async def snapshot(db: Database) -> dict[str, list[tuple]]:
    tables = {}
    for table in STORED_TABLES:
        tables[table] = await peek.rows(db, table, order="1, 2")
    tables["conversations"] = [r[:4] for r in tables["conversations"]]  # the version moves with every message
    return tables


async def holds_digits(db: Database, *digits: str) -> list[str]:
    """Every table and text column where one of ``digits`` is stored, separators removed."""
    found = []
    for table, columns in (await peek.tables(db)).items():
        for column in columns:
            for (value,) in await peek.rows(db, table, f'"{column}"'):
                plain = "".join(c for c in str(value) if c.isdigit())
                found += [f"{table}.{column}" for d in digits if d in plain]
    return found


async def test_resident_data_in_staff_text_is_refused_and_nothing_is_stored(engine: Engine, demo: Demo,
                                                                           db: Database):
    lan = ChatUser(engine, "9301", "Lan")
    await lan.send(f"/start {demo.villages[0].member_code}")
    await lan.send("vneid 50")
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    report_id = (await peek.rows(db, "reports", "id"))[0][0]
    before = await snapshot(db)
    id_number, phone = "giống số CCCD/CMND", "giống số điện thoại"
    commands = [
        (f"/xoabc {report_id} {RESIDENT}", id_number),
        (f"/xoabc {report_id} {PHONE_ONLY}", phone),
        (f"/suabc {report_id} 5 {ID_ONLY}", id_number),
        (f"/thongbao all {RESIDENT}", id_number),
        (f"/thongbao all Liên hệ cán bộ {PHONE_ONLY}", phone),
        (f"/thongbao ap-my-thanh {ID_ONLY}", id_number),
        (f'/hanchot them 30/11 "Gọi lại {RESIDENT}"', id_number),
        (f"/hanchot them 30/11 {PHONE_ONLY}", phone),
        (f"/thon them AP-MOI {RESIDENT}", id_number),
        (f"/thon them AP-MOI {ID_ONLY}", id_number),
        (f"/thon doiten AP-MY-THANH {PHONE_ONLY}", phone),
        ("/thon them 001203004567 Ấp Mới", id_number),
    ]
    for command, kind in commands:
        answer = await staff.send(command)
        assert "Chưa lưu gì" in answer and "bot chỉ giữ các con số" in answer and kind in answer, (command, answer)
    assert await snapshot(db) == before
    assert await holds_digits(db, "001203004567", "0912345678") == []


async def test_staff_text_without_resident_data_is_kept_as_typed(engine: Engine, demo: Demo, db: Database):
    lan = ChatUser(engine, "9401", "Lan")
    await lan.send(f"/start {demo.villages[0].member_code}")
    await lan.send("vneid 50 cks 2")
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    vneid, cks = [r[0] for r in await peek.rows(db, "reports", "id", order="id")]
    assert "Đã hủy" in await staff.send(f"/xoabc {vneid} trùng với #{cks}, nhập 15/11/2026")
    assert "Đã sửa" in await staff.send(f"/suabc {cks} 1 gõ nhầm 2 thay vì 1")
    assert "Gửi" in await staff.send("/thongbao all Họp tổ 08:00 ngày 15/11/2026, mục tiêu 1.200 hộ")
    assert "Đã thêm" in await staff.send('/hanchot them 30/11 "Chiến dịch VNeID 2026"')
    assert "Đã thêm" in await staff.send("/thon them AP-12 Ấp 12\u200b (khu 3)")
    assert await peek.rows(db, "reports", "void_reason", where="void_reason IS NOT NULL", order="id") == [
        ("trùng với #2, nhập 15/11/2026",), ("gõ nhầm 2 thay vì 1",)]
    assert await peek.rows(db, "custom_deadlines", "name") == [("Chiến dịch VNeID 2026",)]
    assert await peek.rows(db, "units", "name", where="code = 'AP-12'") == [("Ấp 12 (khu 3)",)]


async def test_a_village_name_with_nothing_visible_is_refused(engine: Engine, demo: Demo, db: Database):
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    assert "không có chữ nào" in await staff.send("/thon them AP-X \u0301\u0302")  # marks on no letter
    assert "không có chữ nào" in await staff.send("/thon doiten AP-MY-THANH \ue000\u0300")
    assert await peek.count(db, "units", "code = 'AP-X'") == 0
    assert await peek.rows(db, "units", "name", where="code = 'AP-MY-THANH'") == [("Ấp Mỹ Thạnh",)]


def test_a_cut_never_leaves_a_letter_without_its_marks():
    decomposed = "Nguye\u0302\u0303n"  # "Nguyễn" with its two marks typed separately: NFC composes them
    assert clean_line("a" * 4 + "x\u0301\u0302\u0303", 5) == "aaaa"  # the cut falls inside x's marks: x goes
    assert clean_line(decomposed, 64) == "Nguyễn"
    assert clean_line("  Lan \n\t Ba  ", None) == "Lan Ba"
    assert clean_line("\u0301\u0301", None) == ""
