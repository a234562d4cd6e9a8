"""End to end on Zalo by webhook: the fake Zalo Bot API POSTs each event to the bot's route.

The route is the stand-in of ``tests/support/zalo.py`` over the adapter's webhook entry
(:meth:`ZaloAdapter.receive`) until ``tcns serve``'s ``/webhook/zalo`` lands; the parsing,
the store-first and the handling are the adapter's own.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from support import peek
from support.fakezaloapi import FakeZaloApi
from support.zalo import Bot, fake_and_bot, join, say, staff_code

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.services.demo import Demo


@pytest.fixture
async def both(db_url: str, content: Content, clock: FixedClock, seeded: Demo
               ) -> AsyncIterator[tuple[FakeZaloApi, Bot]]:
    async with fake_and_bot(db_url, content, clock, webhook=True) as running:
        yield running


@pytest.fixture
def server(both: tuple[FakeZaloApi, Bot]) -> FakeZaloApi:
    return both[0]


@pytest.fixture
def bot(both: tuple[FakeZaloApi, Bot]) -> Bot:
    return both[1]


async def test_join_report_and_undo_by_webhook_in_both_body_shapes(bot: Bot, server: FakeZaloApi, seeded: Demo):
    assert server.webhook_url and server.webhook_secret == bot.secret
    lan = server.user("z-601", "Lan")
    await join(lan, seeded.villages[0].member_code)  # {"ok": true, "result": event}, as documented
    server.webhook_shape = "bare"  # the event alone, as clients in the wild also receive it
    assert "VNeID: 5 người" in await say(lan, "vneid 5")
    assert await bot.live_reports() == [("vneid", 5, "text")]
    assert "Đã hủy báo cáo" in await say(lan, "0")
    assert await bot.live_reports() == []
    assert set(bot.answers) == {200} and server.calls_to("getUpdates") == []
    assert await peek.count(bot.db, "inbox", "processed_at IS NULL") == 0


async def test_a_wrong_secret_is_refused_and_nothing_is_stored(bot: Bot, server: FakeZaloApi, seeded: Demo):
    lan = server.user("z-602", "Lan")
    await join(lan, seeded.villages[0].member_code)
    inbox = await peek.count(bot.db, "inbox")
    event = {"event_name": "message.text.received",
             "message": {"from": {"id": "z-602", "display_name": "Lan", "is_bot": False},
                         "chat": {"id": "z-602", "chat_type": "PRIVATE"}, "text": "vneid 9",
                         "message_id": "ffff0000ffff0000ffff", "date": 1_764_000_000_000}}
    assert await server.push(event, secret="not-the-secret") == 403
    assert await server.push(event, secret="") == 403
    assert await peek.count(bot.db, "inbox") == inbox
    assert await bot.live_reports() == [] and await lan.replies_until_quiet(quiet=0.5) == []


async def test_a_redelivered_event_changes_nothing(bot: Bot, server: FakeZaloApi, seeded: Demo):
    an = server.user("z-603", "An")
    await join(an, seeded.villages[1].member_code)
    await say(an, "vneid 3")
    server.redeliver_last()
    await server.wait_until_pushed()
    assert bot.answers[-1] == 200  # acknowledged, and nothing else
    assert await an.replies_until_quiet(quiet=0.5) == []
    assert await bot.live_reports() == [("vneid", 3, "text")]


async def test_a_body_that_is_no_event_is_acknowledged_and_ignored(bot: Bot, server: FakeZaloApi):
    assert await server.push({"hello": "world"}, shape="bare") == 200
    assert await peek.count(bot.db, "inbox") == 0


async def test_a_protected_users_event_by_webhook(bot: Bot, server: FakeZaloApi):
    child = server.user("z-604", "Bé")
    message_id = await child.send_protected()
    answer = (await child.next_reply()).text or ""
    assert "không đọc được tin nhắn này" in answer
    assert await peek.rows(bot.db, "inbox", "update_key, payload") == [(message_id, None)]  # its id only
    server.redeliver_last()
    await server.wait_until_pushed()
    assert bot.answers[-1] == 200  # acknowledged, and nothing else
    await bot.adapter.drain()
    assert await child.replies_until_quiet(quiet=0.5) == []
    assert await peek.count(bot.db, "conversations", "channel = 'zalo'") == 0
    assert await peek.count(bot.db, "identities", "channel = 'zalo'") == 0


async def test_chart_by_photo_url_and_the_export_as_a_link(db_url: str, content: Content, clock: FixedClock,
                                                          seeded: Demo):
    async with fake_and_bot(db_url, content, clock, webhook=True, files=True) as (server, bot):
        lan = server.user("z-611", "Lan")
        await join(lan, seeded.villages[0].member_code)
        assert "VNeID: 6 người" in await say(lan, "vneid 6")
        staff = server.user("z-612", "Cán bộ")
        await join(staff, await staff_code(bot, seeded, clock))
        await staff.send("/bieudo")
        photo = await staff.next_reply(timeout=15)
        assert photo.photo is not None and "/files/" in photo.photo
        assert photo.photo_bytes is not None and photo.photo_bytes.startswith(b"\x89PNG")  # Zalo could read it
        assert "Xã Mỹ Hiệp" in (photo.caption or "")
        await staff.replies_until_quiet()
        export = await say(staff, "/xuat")
        link = re.search(r"(http://\S+/files/\S+\.xlsx)", export)
        assert link is not None and "Zalo chưa nhận được tệp" not in export
        async with httpx.AsyncClient() as client:
            assert (await client.get(link.group(1))).content[:2] == b"PK"  # an XLSX (a zip)
