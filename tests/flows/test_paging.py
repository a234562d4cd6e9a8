"""Long lists come a page per message with a "xem tiếp" option: /thanhvien, /thon, /gannhat, /maimoi."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from support.helpers import ChatUser

from bot.flows.engine import Engine
from bot.flows.paging import PAGE_CHARS
from bot.handlers.plain import render_plain
from bot.services.demo import Demo
from bot.services.invites import create_invite
from storage import Database
from storage.models import NewReport

MORE = "Xem tiếp ▶"
LONG = "Nguyễn Thị Phương Thảo Hoàng Lê Minh Khai Trần Quốc Tuấn "  # a display name of 58 characters


@pytest.fixture
def staff(engine: Engine, demo: Demo) -> ChatUser:
    return ChatUser(engine, demo.staff_user, channel="terminal")


@pytest.fixture
async def staff_tg(engine: Engine, demo: Demo, db: Database, clock) -> ChatUser:
    """The demo's staff member, also on Telegram (buttons)."""
    async with db.uow() as uow:
        member = await uow.members.by_identity("terminal", demo.staff_user)
        await uow.members.link_identity(member.id, "telegram", "8800", "8800", clock.now())
    return ChatUser(engine, "8800", "Cán bộ")


async def add_members(db: Database, demo: Demo, clock, count: int) -> list[int]:
    """``count`` members spread over the demo's villages, with long names."""
    ids = []
    async with db.uow() as uow:
        for n in range(count):
            village = demo.villages[n % len(demo.villages)].village
            member = await uow.members.add(f"{LONG}{n:03d}", "member", village.id, clock.now())
            await uow.members.link_identity(member.id, "telegram", f"70{n:03d}", f"70{n:03d}", clock.now())
            ids.append(member.id)
    return ids


def shown_numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^#(\d+) ", text, re.MULTILINE)]


def has_more(user: ChatUser) -> bool:
    return any(o.label == MORE for r in user.last for row in r.options for o in row)


async def test_members_page_by_page_on_telegram(staff_tg: ChatUser, db: Database, demo: Demo, clock):
    ids = await add_members(db, demo, clock, 70)
    seen: list[int] = []
    text = await staff_tg.send("/thanhvien")
    pages = 1
    while True:
        assert len(staff_tg.last) == 1  # one message per page
        assert len(staff_tg.last[0].text) < PAGE_CHARS + 200
        seen += shown_numbers(text)
        if not has_more(staff_tg):
            break
        option = staff_tg.option(MORE)
        if pages == 1:  # the button still works after other messages
            await staff_tg.send("/cuatoi")
            await staff_tg.send("/thon")
        text = await staff_tg.tap_data(option.data)
        pages += 1
        assert f"trang {pages}" in text
    assert pages >= 3
    assert set(ids) <= set(seen) and len(seen) == len(set(seen)) == len(ids) + 1  # everyone (and the staff) once


async def test_members_next_page_typed_on_a_text_channel(staff: ChatUser, db: Database, demo: Demo, clock):
    await add_members(db, demo, clock, 40)
    await staff.send("/thanhvien")
    rendered = render_plain(staff.last[0])
    assert f"[1] {MORE}" in rendered  # a digit to type, as every option on a text channel
    first = shown_numbers(rendered)
    second = shown_numbers(await staff.send("1"))
    assert first and second and not set(first) & set(second)


async def test_members_of_one_village_are_paged_within_it(staff_tg: ChatUser, db: Database, demo: Demo,
                                                          clock):
    await add_members(db, demo, clock, 6 * 35)  # 35 per village
    village = demo.villages[2].village
    text = await staff_tg.send(f"/thanhvien {village.name}")
    text += await staff_tg.tap_data(staff_tg.option(MORE).data)
    assert not has_more(staff_tg)
    lines = [line for line in text.splitlines() if line.startswith("#")]
    assert len(lines) == 35 and all(village.name in line for line in lines)


async def test_recent_reports_page_newest_first(staff_tg: ChatUser, db: Database, demo: Demo, clock):
    [member] = await add_members(db, demo, clock, 1)
    village = demo.villages[0].village
    async with db.uow() as uow:
        for n in range(40):
            await uow.reports.add_batch(f"b{n}", member, village.id, [NewReport("vneid", 1 + n % 5)],
                                        clock.now().date(), "text", clock.now())
    first = shown_numbers(await staff_tg.send("/gannhat"))
    assert len(first) == 15 and first == sorted(first, reverse=True)
    async with db.uow() as uow:  # a report arrives, one is voided, between two pages
        await uow.reports.add_batch("new", member, village.id, [NewReport("cks", 2)], clock.now().date(), "text",
                                    clock.now())
        await uow.reports.void_one(first[-1] - 1, member, "nhầm", clock.now())
    second = shown_numbers(await staff_tg.tap_data(staff_tg.option(MORE).data))
    assert second[0] == first[-1] - 2 and len(second) == 15  # continues below the cursor; the void is gone
    third = shown_numbers(await staff_tg.tap_data(staff_tg.option(MORE).data))
    assert not has_more(staff_tg) and len(third) == 40 - 30 - 1
    assert "Sửa số liệu" in staff_tg.last[0].text  # the hint on every page


async def test_villages_list_is_paged(staff: ChatUser, db: Database, demo: Demo):
    async with db.uow() as uow:
        for n in range(70):
            await uow.units.add("village", f"T{n:03d}", f"Thôn {LONG}{n:03d}", demo.commune.id, 100 + n, 300)
    codes: list[str] = []
    text = await staff.send("/thon")
    assert "Thêm: /thon them" in text  # the usage comes with the first page
    while True:
        assert len(staff.last[0].text) < PAGE_CHARS + 400
        codes += re.findall(r"• ([A-Z0-9-]+) –", text)
        if not has_more(staff):
            break
        text = await staff.send("1")
    assert len(codes) == 76 and len(set(codes)) == 76


async def test_invites_are_paged(staff: ChatUser, db: Database, demo: Demo, clock):
    async with db.uow() as uow:
        made = [(await create_invite(uow, demo.villages[0].village.id, "member", clock.now(), timedelta(days=7))).code
                for _ in range(40)]
    text = await staff.send("/maimoi")
    while has_more(staff):
        text += await staff.send("1")
    assert all(text.count(code) == 1 for code in made)


async def test_a_page_button_is_checked_like_its_command(engine: Engine, demo: Demo, staff_tg: ChatUser, db, clock):
    await add_members(db, demo, clock, 40)
    await staff_tg.send("/thanhvien")
    data = staff_tg.option(MORE).data
    leader = ChatUser(engine, "9301")
    await leader.send(f"/start {demo.villages[0].leader_code}")
    assert "Vai trò của bạn" in await leader.tap_data(data)  # a leader cannot page the commune's roster
    assert "cũ" in await staff_tg.tap_data("g:tv:0:2:abc")  # a damaged button changes nothing
