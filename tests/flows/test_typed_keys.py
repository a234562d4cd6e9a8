"""Words for typing (issue 15, item 6): on Zalo every option is shown with a short digit key,
the same key for the same thing in every step ("0" takes back: cancel, undo), typing the digit
does what the option does, and no text says "bấm".

The walk below goes through every keyboard the flows and pushes make (each module that builds
options is listed in :data:`WALKED`, and a new one fails this test until it is walked), types
the digits as a Zalo user does, and checks each rendering as the Zalo adapter sends it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from support import peek
from support.helpers import TZ, ChatUser, add_members

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.domain.messages import Reply, plain_text, reply_of
from bot.flows import pushed
from bot.flows.context import GLOBAL_PREFIX, KEYS_FIELD, PUSHED_FIELD
from bot.flows.engine import Engine
from bot.handlers.zalo import ZaloAdapter
from bot.services.demo import Demo
from bot.services.invites import create_invite
from bot.services.reminders import scheduling_pass
from storage import Database

ROOT = Path(__file__).resolve().parents[2]
# Every module that builds options (buttons on Telegram, typed digits on Zalo), walked below.
WALKED = {"bot/flows/announce.py", "bot/flows/context.py", "bot/flows/cycle.py", "bot/flows/guides.py",
          "bot/flows/paging.py", "bot/flows/report.py", "bot/flows/undo.py", "bot/services/cycle.py",
          "bot/services/reminders.py"}
_BUILDS_OPTIONS = re.compile(r"\b(?:option|global_option|cancel_option|Option)\(")


class ZaloUser(ChatUser):
    """A Zalo user: every answer is checked as the adapter renders it, then returned as sent."""

    def __init__(self, engine: Engine, content: Content, user_id: str, name: str = "Lan") -> None:
        super().__init__(engine, user_id, name, channel="zalo")
        self.adapter = ZaloAdapter(engine, content, client=None)  # type: ignore[arg-type]  # renders only
        self.keyboards = 0

    async def send(self, text: str) -> str:
        await super().send(text)
        return await self.check(self.last)

    async def check(self, replies: list[Reply]) -> str:
        keys = await stored_keys(self.engine.db, self.chat_id)
        shown = []
        for reply in replies:
            rendered = self.adapter.render(reply)
            assert "bấm" not in rendered.lower() and "nút" not in rendered.lower(), rendered
            for row in reply.options:
                for option in row:
                    assert option.key.isdigit() and len(option.key) <= 2, (option.key, rendered)
                    assert f"[{option.key}] {plain_text(option.label)}" in rendered
                    # Typing the key chooses this option (a global one may take back "the last report").
                    target = keys.get(option.key)
                    assert target == option.data or (option.data.startswith(GLOBAL_PREFIX) and target is not None
                                                     and target.startswith(GLOBAL_PREFIX)), (option, keys)
            if reply.options:
                self.keyboards += 1
                labels = [option.key for row in reply.options for option in row]
                assert len(labels) == len(set(labels)), labels  # one key, one option
            shown.append(rendered)
        return "\n".join(shown)

    @property
    def chat_id(self) -> str:
        return self.user_id

    async def push(self, payload: dict, content: Content, clock: FixedClock) -> str:
        """An outbox row for this chat, as the Zalo delivery sends it."""
        reply = await pushed.offer(self.engine.db, "zalo", self.chat_id, reply_of(payload), clock.now())
        return await self.check([reply])


async def stored_keys(db: Database, chat_id: str) -> dict[str, str]:
    async with db.uow() as uow:
        conv = await uow.conversations.load("zalo", chat_id)
    return {**(conv.data.get(PUSHED_FIELD) or {}), **(conv.data.get(KEYS_FIELD) or {})}


def test_every_module_that_builds_options_is_walked():
    builders = {str(path.relative_to(ROOT)) for folder in ("bot/flows", "bot/services")
                for path in (ROOT / folder).glob("*.py") if _BUILDS_OPTIONS.search(path.read_text())}
    assert builders == WALKED


async def test_a_zalo_user_types_digits_through_every_keyboard(engine: Engine, content: Content, demo: Demo,
                                                             db: Database, clock: FixedClock):
    lan = ZaloUser(engine, content, "z-1", "Lan")
    await lan.send(f"/start {demo.villages[0].member_code}")

    # The report by steps: services 1-6, "không có" after them, 0 cancels at every step.
    answer = await lan.send("/baocao")
    assert "[1] VNeID" in answer and "[7] 🚫 Không hỗ trợ ai" in answer and "[0] ✖ Hủy" in answer
    answer = await lan.send("3")
    assert "bao nhiêu" in answer and "[5] 5" in answer and "[0] ✖ Hủy" in answer
    answer = await lan.send("4")
    assert "[1] ✔ Ghi nhận" in answer and "[2] 📅 Ngày khác" in answer and "[0] ✖ Hủy" in answer
    assert "[1] Hôm nay" in await lan.send("2")
    assert "Ghi nhận?" in await lan.send("2")  # yesterday
    assert "Đã ghi nhận" in await lan.send("1")
    assert await peek.live_reports(db, "service, count, occurred_on, source") == [
        ("thanh_toan", 4, "2026-11-21", "buttons")]
    for step in (["/baocao"], ["/baocao", "1"], ["/baocao", "1", "2"], ["/baocao", "1", "2", "2"]):
        for typed in step:
            await lan.send(typed)
        assert "Đã hủy" in await lan.send("0")  # the same key cancels in every step
    await lan.send("/baocao")
    assert "Ghi nhận?" in await lan.send("7")  # nobody helped
    assert "Đã ghi nhận" in await lan.send("1")

    # A number first: which service? Then the confirmation.
    assert "[1] VNeID" in await lan.send("5")
    assert "Ghi nhận?" in await lan.send("1")
    assert "Đã ghi nhận" in await lan.send("1")

    # A one-line report: 0 undoes it; the same line again is asked about (1 again, 2 not).
    assert "[0] ↩ Hoàn tác" in await lan.send("cks 2")
    assert "Đã hủy báo cáo" in await lan.send("0")
    await lan.send("cks 3")
    assert "[1]" in (asked := await lan.send("cks 3")) and "[2]" in asked
    assert "[1] ➕ Ghi thêm" in asked and "[2] Không ghi" in asked
    assert "không ghi thêm" in await lan.send("2")
    # /huy asks which report; 1 takes it back.
    assert "[1] Hủy báo cáo này" in await lan.send("/huy")
    assert "Đã hủy" in await lan.send("1")

    # Guides: one digit each.
    assert "[1] 🪪 VNeID" in await lan.send("/huongdan")
    assert "Kích hoạt tài khoản định danh điện tử VNeID" in await lan.send("1")

    # A leader confirms the village's figures: 1 is "Đúng, gửi xã" in the chat and in a push.
    leader = ZaloUser(engine, content, "z-2", "Trưởng ấp")
    await leader.send(f"/start {demo.villages[0].leader_code}")
    asked = await leader.send("/chot 11")
    assert "[1] ✅ Đúng, gửi xã" in asked and "[2] ✏️ Sửa" in asked and "gõ số trước ✅ Đúng, gửi xã" in asked
    assert "Đã chốt số liệu" in await leader.send("1")
    await lan.send("21/11 vneid 3")  # a late report reopens the month: the leader is asked again (a push)
    rows = await peek.rows(db, "outbox", "payload", where="rule = 'chot' AND chat_id = 'z-2'")
    request = await leader.push(json.loads(rows[-1][0]), content, clock)
    assert "[1] ✅ Đúng, gửi xã" in request and "vừa thay đổi" in request
    assert "Đã chốt số liệu" in await leader.send("1")

    # Mid-step, a push takes digits the step does not use, and a typed count stays a count.
    await leader.send("/baocao")
    await leader.send("1")  # a count step: 1-5 and 0 are taken
    await lan.send("22/11 vneid 1")
    rows = await peek.rows(db, "outbox", "payload", where="rule = 'chot' AND chat_id = 'z-2'")
    request = await leader.push(json.loads(rows[-1][0]), content, clock)
    assert "[6] ✅ Đúng, gửi xã" in request and "[7] ✏️ Sửa" in request
    assert "Ghi nhận?" in await leader.send("6")  # six people, not "Đúng"
    assert "Đã ghi nhận" in await leader.send("1")

    # Staff: an announcement (1 sends, 0 cancels), a long list a page at a time (1 for more).
    canbo = ZaloUser(engine, content, "z-3", "Cán bộ")
    async with db.uow() as uow:
        code = (await create_invite(uow, demo.commune.id, "staff", clock.now())).code
    await canbo.send(f"/start {code}")
    asked = await canbo.send("/thongbao cả xã Họp tổ lúc 8 giờ sáng thứ Hai")
    assert "[1]" in asked and "[0] ✖ Hủy" in asked
    assert "Đã hủy" in await canbo.send("0")
    await add_members(db, demo, clock, 40)
    assert "[1] Xem tiếp ▶" in await canbo.send("/thanhvien")
    assert "trang 2" in await canbo.send("1")

    # The due-day note to staff: 1 reminds the villages still missing.
    clock.set(datetime(2026, 12, 10, 7, 30, tzinfo=TZ))  # the quarterly report's due day
    await scheduling_pass(db, content, TZ, clock.now())
    rows = await peek.rows(db, "outbox", "payload", where="chat_id = 'z-3' AND payload LIKE '%g:remind%'")
    note = await canbo.push(json.loads(rows[0][0]), content, clock)
    assert "[1] 🔔 Nhắc lại" in note
    assert "Đã gửi nhắc tới" in await canbo.send("1")

    assert lan.keyboards + leader.keyboards + canbo.keyboards >= 25
