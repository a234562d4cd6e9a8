"""Every answer arrives on Telegram: a reply longer than 4,096 characters goes out in parts, cut at
line ends, each balanced HTML (the fake Bot API refuses what Telegram refuses), buttons with the last.

Through the real PTB application and Bot at the local fake Bot API, as tests/e2e/test_telegram_e2e.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from support.fakebotapi import FakeUser, SentMessage
from support.helpers import TZ
from support.telegram import served_commune

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.domain.messages import Markup, Option, Reply
from bot.handlers.plain import split_text, utf16_length
from bot.handlers.telegram import MAX_TEXT
from bot.handlers.telegram_outbox import CHANNEL, telegram_delivery
from bot.services.demo import Demo
from bot.services.outbox import OutboxSender
from bot.services.reminders import scheduling_pass
from storage import UnitOfWork

VILLAGES = 300
NAME = "Thôn Nguyễn Thị Minh Khai Phường Hoàng Văn Thụ số {n:03d}"  # 51 characters


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


@pytest.fixture
async def setup(db_url: str, content: Content) -> AsyncIterator[tuple]:
    """A commune with 306 villages (long names), none has reported; its staff member on Telegram."""
    clock = FixedClock(at("2026-11-18 10:00"))

    async def long_named_villages(uow: UnitOfWork, demo: Demo) -> None:
        for n in range(VILLAGES):
            await uow.units.add("village", f"T{n:03d}", NAME.format(n=n), demo.commune.id, 100, 300)

    async with served_commune(db_url, content, clock, long_named_villages) as (server, app, db, _, staff_code):
        staff = server.user(801, "Cán bộ Hà")
        await staff.send(f"/start {staff_code}")
        assert "Chào mừng" in (await staff.next_reply()).plain_text
        await staff.next_reply()  # first steps
        yield server, app, db, clock, staff


async def all_replies(user: FakeUser, quiet: float = 1.0) -> list[SentMessage]:
    replies = [await user.next_reply(timeout=10)]
    while True:
        try:
            replies.append(await user.next_reply(timeout=quiet))
        except (AssertionError, TimeoutError):
            return replies


def balanced(message: SentMessage) -> bool:
    """Every tag closed in the same message (the fake refuses the message otherwise)."""
    stack: list[str] = []
    for closing, name in re.findall(r"<(/?)(\w+)[^>]*>", message.text or ""):
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return not stack


async def test_a_tally_with_hundreds_of_villages_arrives_whole(setup):
    server, _app, _db, _clock, staff = setup
    await staff.send("/thang")
    replies = await all_replies(staff)
    assert not [e for e in server.errors if e.status == 400]  # nothing refused
    assert all(utf16_length(m.plain_text or "") <= MAX_TEXT for m in replies)
    missing = [m for m in replies if "🔇 Chưa báo cáo: 306" in (m.plain_text or "")]
    assert missing  # the summary: its list of 306 silent villages (about 16,000 characters) on one line
    first = replies.index(missing[0])
    last = next(i for i, m in enumerate(replies) if m.keyboard)  # the persistent menu comes with the last part
    assert last >= first + 3 and not any(m.keyboard for m in replies[first:last])
    summary = "".join(m.plain_text or "" for m in replies[first:last + 1])  # cut between two words of the line
    pages = "\n".join(m.plain_text or "" for m in replies[last + 1:])  # then a page per few dozen villages
    for n in range(VILLAGES):
        assert NAME.format(n=n) in summary and NAME.format(n=n) in pages


async def test_a_long_reply_is_cut_at_line_ends_with_balanced_html_and_buttons_last(setup):
    server, app, _db, _clock, staff = setup
    lines = [f"<b>Dòng {n}:</b> {'chữ ' * 20}" for n in range(200)]
    text = Markup("<i>" + "\n".join(lines) + "</i>")  # one tag around everything: open across every cut
    reply = Reply(text, ((Option("Xem tiếp ▶", "g:x", "tiep"),),))
    assert await app.bot_data["adapter"].send(app.bot, staff.chat_id, reply)
    parts = await all_replies(staff, quiet=0.3)
    assert len(parts) >= 3 and not server.errors
    assert all(balanced(p) and p.text.startswith("<i>") and p.text.endswith("</i>") for p in parts)
    assert all(p.plain_text.split("\n")[-1].endswith("chữ ") for p in parts)  # cut at a line end, not inside one
    assert [p.buttons for p in parts] == [[]] * (len(parts) - 1) + [[[("Xem tiếp ▶", "g:x")]]]
    assert "\n".join(p.plain_text for p in parts) == "\n".join(re.sub(r"<[^>]+>", "", line) for line in lines)


async def test_a_reminder_listing_hundreds_of_villages_reaches_staff(setup, content: Content):
    _server, app, db, clock, staff = setup
    sender = OutboxSender(db, {CHANNEL: telegram_delivery(app.bot)}, clock, rate=1000, per_chat_interval=0)
    clock.set(at("2026-11-20 07:30"))  # due day of the monthly report: staff get the villages still missing
    await scheduling_pass(db, content, TZ, clock.now())
    result = await sender.drain()
    assert result.sent >= 1 and result.failed == 0
    parts = await all_replies(staff, quiet=0.3)
    assert len(parts) >= 4 and all(balanced(p) for p in parts)
    assert all(utf16_length(p.plain_text) <= MAX_TEXT for p in parts)
    assert "\n".join(p.plain_text for p in parts).count("Thôn Nguyễn Thị Minh Khai") == VILLAGES
    assert [bool(p.buttons) for p in parts] == [False] * (len(parts) - 1) + [True]  # 🔔 Nhắc lại, once, last
    await staff.tap(parts[-1], parts[-1].data_for("🔔 Nhắc lại"))
    assert "Đã gửi nhắc" in (await staff.next_reply()).plain_text  # the button of the last part works


def test_split_counts_as_telegram_does_and_never_cuts_a_tag_or_an_entity():
    emoji = "🔔" * 3000  # 6,000 UTF-16 code units in 3,000 characters
    parts = split_text(emoji, MAX_TEXT, markup=True, length=utf16_length)
    assert len(parts) == 2 and all(utf16_length(p) <= MAX_TEXT for p in parts) and "".join(parts) == emoji
    text = ("a &amp; b <b>c</b> " * 400).strip()
    parts = split_text(text, 1000, markup=True, length=utf16_length)
    assert all(not re.search(r"&[a-z]*$|<[^>]*$", p) and not re.match(r"^[a-z]*;", p) for p in parts)
    assert split_text("ngắn", MAX_TEXT, markup=True) == ["ngắn"]
