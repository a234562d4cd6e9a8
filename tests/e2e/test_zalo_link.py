"""One member on Telegram and Zalo (/lienket): both accounts act as the same member, pushes go to
the channel used last, /thanhvien shows both, and unlinking removes the other account. The real
PTB Application against the fake Telegram Bot API and the Zalo adapter against the fake Zalo
Bot API, over one database."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from support import peek
from support.fakebotapi import FakeBotApi, FakeUser
from support.fakezaloapi import FakeZaloApi
from support.telegram import Bot as TelegramBot
from support.telegram import join as telegram_join
from support.zalo import Bot as ZaloBot
from support.zalo import join, say, staff_code

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.services.demo import Demo

CODE = re.compile(r"\b(\d{4} \d{4})\b")


@pytest.fixture
async def bots(db_url: str, content: Content, clock: FixedClock, seeded: Demo
               ) -> AsyncIterator[tuple[FakeBotApi, TelegramBot, FakeZaloApi, ZaloBot]]:
    async with FakeBotApi() as telegram_api, FakeZaloApi() as zalo_api:
        telegram = await TelegramBot(telegram_api, db_url, content, clock).start()
        zalo = await ZaloBot(zalo_api, db_url, content, clock).start()
        try:
            yield telegram_api, telegram, zalo_api, zalo
        finally:
            await zalo.stop()
            await telegram.stop()


async def telegram_say(user: FakeUser, text: str) -> str:
    await user.send(text)
    first = await user.next_reply()
    return first.plain_text or ""


async def test_a_telegram_and_a_zalo_account_act_as_one_member(bots, seeded: Demo, clock: FixedClock):
    telegram_api, _telegram, zalo_api, zalo = bots
    lan_t = telegram_api.user(701, "Lan")
    await telegram_join(lan_t, seeded.villages[0].member_code)
    assert "VNeID: 2 người" in await telegram_say(lan_t, "vneid 2")
    offer = await telegram_say(lan_t, "/lienket")
    code = CODE.search(offer)
    assert code is not None and "10 phút" in offer

    lan_z = zalo_api.user("z-701", "Lan Zalo")
    assert "không đúng" in await say(lan_z, "/lienket 0000 0000")
    done = await say(lan_z, f"/lienket {code.group(1)}")
    assert "Đã liên kết" in done and "Telegram" in done
    assert "VNeID: 3 người" in await say(lan_z, "vneid 3")  # reports as the same member
    reports = await peek.rows(zalo.db, "reports", "DISTINCT member_id", where="voided_at IS NULL")
    assert len(reports) == 1
    assert "5" in await say(lan_z, "/cuatoi")  # her totals: both channels' reports
    stranger = zalo_api.user("z-799", "Khác")
    assert "không đúng" in await say(stranger, f"/lienket {code.group(1)}")  # used once

    staff = zalo_api.user("z-710", "Cán bộ")
    await join(staff, await staff_code(zalo, seeded, clock))
    roster = await say(staff, "/thanhvien")
    line = next(row for row in roster.splitlines() if "Lan" in row)
    assert "Telegram" in line and "Zalo" in line

    # Pushes go to the channel she used last: Zalo now, Telegram after she writes there.
    assert "Gửi thông báo" in await say(staff, "/thongbao all Họp tổ 8h")
    await say(staff, "1")
    member_id = reports[0][0]
    rows = await peek.rows(zalo.db, "outbox", "channel", where="rule = 'announce' AND member_id = ?",
                           params=(member_id,))
    assert rows == [("zalo",)]
    clock.advance(minutes=1)
    await telegram_say(lan_t, "/cuatoi")
    assert "Gửi thông báo" in await say(staff, "/thongbao all Họp tổ 9h")
    await say(staff, "1")
    rows = await peek.rows(zalo.db, "outbox", "channel", where="rule = 'announce' AND member_id = ?",
                           params=(member_id,), order="id")
    assert rows == [("zalo",), ("telegram",)]

    assert "Đã gỡ liên kết" in await say(lan_z, "/lienket huy")
    assert await peek.rows(zalo.db, "identities", "channel", where="member_id = ?", params=(member_id,)) == [("zalo",)]
    assert "mã mời" in (await telegram_say(lan_t, "vneid 1")).lower()  # the Telegram account is a guest again
