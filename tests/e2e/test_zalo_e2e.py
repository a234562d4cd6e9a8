"""End to end on Zalo: the Zalo adapter long-polling a local fake Zalo Bot API over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from support import peek
from support.channel_fixtures import channel_fixtures
from support.fakezaloapi import FakeZaloApi, FakeZaloUser
from support.helpers import TZ
from support.zalo import TOKEN, Bot, join, say, staff_code

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.handlers.zalo import ZaloClient
from bot.handlers.zalo_outbox import zalo_delivery
from bot.services.demo import Demo
from bot.services.outbox import OutboxSender
from bot.services.quota import Quotas
from storage.models import NewMessage

server, bot = channel_fixtures(FakeZaloApi, Bot)


async def test_join_then_report_in_one_line_then_undo_by_typing(bot: Bot, server: FakeZaloApi, seeded: Demo):
    lan = server.user("z-501", "Lan")
    await join(lan, seeded.villages[0].member_code)
    recorded = await say(lan, "hom qua vneid 5, cks 2")
    assert "Đã ghi nhận" in recorded and "VNeID: 5 người" in recorded
    assert "[0] ↩ Hoàn tác" in recorded and "Gõ số trong [ngoặc]" in recorded  # no buttons on Zalo
    assert "gõ 0 để hoàn tác" in recorded and "bấm" not in recorded.lower()
    assert "<b>" not in recorded  # plain text, no Telegram HTML
    assert await bot.live_reports() == [("vneid", 5, "text"), ("chu_ky_so", 2, "text")]
    member = await peek.rows(bot.db, "members m JOIN identities i ON i.member_id = m.id",
                             "m.name, i.channel, i.external_id", where="i.channel = 'zalo'")
    assert member == [("Lan", "zalo", "z-501")]
    assert "Đã hủy báo cáo" in await say(lan, "0")  # typing the key is tapping "↩ Hoàn tác"
    assert await bot.live_reports() == []


async def test_report_by_typed_choices(bot: Bot, server: FakeZaloApi, seeded: Demo):
    ba = server.user("z-502", "Ba")
    await join(ba, seeded.villages[1].member_code)
    assert "[1] VNeID" in await say(ba, "/baocao")
    assert "bao nhiêu người" in await say(ba, "1")
    confirm = await say(ba, "4")  # for today, another day one key away
    assert "VNeID: 4 người" in confirm and "Ghi nhận?" in confirm and "[2] 📅 Ngày khác" in confirm
    assert "Đã ghi nhận" in await say(ba, "1")
    assert await bot.live_reports() == [("vneid", 4, "buttons")]


async def test_a_redelivered_message_changes_nothing_and_gets_no_second_answer(bot: Bot, server: FakeZaloApi,
                                                                             seeded: Demo):
    an = server.user("z-503", "An")
    await join(an, seeded.villages[2].member_code)
    await say(an, "vneid 3")
    server.redeliver_last()
    await server.wait_until_delivered()
    assert await an.replies_until_quiet(quiet=0.5) == []
    assert await bot.live_reports() == [("vneid", 3, "text")]


async def test_a_photo_is_refused_and_never_stored_its_caption_is_read_as_a_report(bot: Bot, server: FakeZaloApi,
                                                                                   seeded: Demo):
    chi = server.user("z-504", "Chi")
    await join(chi, seeded.villages[0].member_code)
    await chi.send_photo("https://f.zalo.example/cccd-nguyen-van-a.jpg", caption="vneid 2")
    answer = "\n".join(m.text or "" for m in [await chi.next_reply(), *await chi.replies_until_quiet()])
    assert "Đã ghi nhận" in answer and "ảnh, tệp không được lưu" in answer
    assert await bot.live_reports() == [("vneid", 2, "text")]
    await chi.send_photo("https://f.zalo.example/cccd-2.jpg", caption="CCCD 0123456789")
    await chi.replies_until_quiet(quiet=0.5)
    await chi.send_photo("https://f.zalo.example/cccd-3.jpg")
    assert "chỉ đọc tin nhắn chữ" in ((await chi.next_reply()).text or "")
    await chi.send_sticker()
    assert "chỉ đọc tin nhắn chữ" in ((await chi.next_reply()).text or "")
    dump = ""
    for table in ("conversations", "inbox", "audit", "reports", "outbox"):
        dump += "\n".join(str(r) for r in await peek.rows(bot.db, table))
    assert "cccd" not in dump.lower() and "0123456789" not in dump and "f.zalo.example" not in dump


async def test_a_protected_users_message_is_answered_politely_once_and_only_its_id_is_stored(
        bot: Bot, server: FakeZaloApi, seeded: Demo):
    child = server.user("z-540", "Bé")
    before = {t: await peek.count(bot.db, t) for t in ("conversations", "identities", "members", "outbox")}
    message_id = await child.send_protected()
    answer = (await child.next_reply()).text or ""
    assert "không đọc được tin nhắn này" in answer and "tổ trưởng" in answer
    await bot.adapter.drain()
    assert {t: await peek.count(bot.db, t) for t in before} == before
    # The event id, as every handled event leaves for de-duplication: no content, nobody's id or chat.
    assert await peek.rows(bot.db, "inbox", "channel, update_key, payload") == [("zalo", message_id, None)]
    server.redeliver_last()  # Zalo hands the same event out again
    await server.wait_until_delivered()
    await bot.adapter.drain()
    assert await child.replies_until_quiet(quiet=0.5) == []  # not answered twice
    assert await peek.count(bot.db, "inbox") == 1


async def test_guessing_link_codes_is_cut_off_with_a_clear_answer(bot: Bot, server: FakeZaloApi, seeded: Demo):
    guesser = server.user("z-545", "Khách")
    for n in range(5):
        assert "không đúng" in await say(guesser, f"/lienket 3333 000{n}")
    answer = await say(guesser, "/lienket 3333 0009")
    assert "Đã gõ sai mã liên kết 5 lần" in answer and "thử lại sau 30 phút" in answer
    assert await peek.count(bot.db, "link_attempts") == 2  # this chat and this account, as hashes


async def test_group_messages_are_ignored(bot: Bot, server: FakeZaloApi, seeded: Demo):
    lan = server.user("z-505", "Lan")
    await lan.send_in_group("g-1", f"/start {seeded.villages[0].member_code}")
    await server.wait_until_delivered()
    assert await lan.replies_until_quiet(quiet=0.5) == []
    assert server.messages("g-1") == []
    assert await peek.count(bot.db, "identities", "channel = 'zalo'") == 0


async def test_files_are_replaced_by_a_clear_line(bot: Bot, server: FakeZaloApi, seeded: Demo, clock: FixedClock):
    staff = server.user("z-506", "Cán bộ")
    await join(staff, await staff_code(bot, seeded, clock))
    answer = await say(staff, "/xuat")  # the XLSX report
    assert "Zalo chưa nhận được tệp" in answer
    assert server.calls_to("sendPhoto") == [] and server.unknown_methods == []


async def test_403_is_a_server_error_retried_and_the_member_stays_reachable(bot: Bot, server: FakeZaloApi,
                                                                           seeded: Demo):
    lan = server.user("z-507", "Lan")
    await join(lan, seeded.villages[0].member_code)
    server.internal_error("sendMessage", times=2)
    assert "VNeID: 2 người" in await say(lan, "vneid 2")
    assert [e.error_code for e in server.errors] == [403, 403]
    assert await peek.rows(bot.db, "identities", "active", where="external_id = 'z-507'") == [(1,)]
    assert await bot.live_reports() == [("vneid", 2, "text")]


async def test_server_errors_are_retried_but_a_lost_answer_is_not_resent(bot: Bot, server: FakeZaloApi,
                                                                         seeded: Demo):
    lan = server.user("z-508", "Lan")
    await join(lan, seeded.villages[0].member_code)
    server.internal_error("sendMessage")
    server.fail_next("sendMessage", status=502)
    assert "VNeID: 1 người" in await say(lan, "vneid 1")
    server.lose_answer("sendMessage", hold=4.0)  # carried out, but the answer comes after the client's timeout
    await lan.send("cks 1")
    reply = await lan.next_reply()
    assert "Chữ ký số: 1 người" in (reply.text or "")
    await asyncio.sleep(4.5)
    assert await lan.replies_until_quiet(quiet=0.3) == []  # not sent a second time
    assert await bot.live_reports() == [("vneid", 1, "text"), ("chu_ky_so", 1, "text")]


async def announce(bot: Bot, server: FakeZaloApi, seeded: Demo, clock: FixedClock, text: str,
                   members: list[FakeZaloUser]) -> FakeZaloUser:
    staff = server.user("z-510", "Cán bộ")
    await join(staff, await staff_code(bot, seeded, clock))
    for n, member in enumerate(members):
        await join(member, seeded.villages[n].member_code)
    confirm = await say(staff, f"/thongbao all {text}")
    assert f"Gửi thông báo tới {len(members) + 1} người" in confirm and "[1]" in confirm  # with the author
    assert "Đang gửi thông báo số" in await say(staff, "1")
    return staff


async def test_an_announcement_reaches_zalo_members_through_the_outbox(bot: Bot, server: FakeZaloApi, seeded: Demo,
                                                                      clock: FixedClock):
    members = [server.user(f"z-51{n}", f"Thành viên {n}") for n in (1, 2, 3)]
    await announce(bot, server, seeded, clock, "Họp tổ công nghệ số lúc 8h sáng thứ Hai", members)
    server.internal_error("sendMessage")  # one 403 on the way: tried again later, not a blocked member
    sender = OutboxSender(bot.db, {"zalo": zalo_delivery(bot.adapter)}, clock, rate=1000, backoff=(0.0,))
    await sender.drain()
    for member in members:
        texts = [m.text or "" for m in member.messages]
        assert sum("Họp tổ công nghệ số lúc 8h" in t for t in texts) == 1
    statuses = await peek.rows(bot.db, "outbox", "status, COUNT(*)", where="rule = 'announce' AND channel = 'zalo'",
                               group="status")
    assert statuses == [("sent", 3)]
    assert await peek.count(bot.db, "identities", "active = 0") == 0


async def test_a_pushed_request_to_confirm_is_answered_by_typing_its_digit(bot: Bot, server: FakeZaloApi,
                                                                            seeded: Demo, clock: FixedClock):
    leader, lan = server.user("z-541", "Trưởng ấp"), server.user("z-542", "Lan")
    await join(leader, seeded.villages[0].leader_code)
    await join(lan, seeded.villages[0].member_code)
    await say(lan, "vneid 2")
    assert "[1] ✅ Đúng, gửi xã" in await say(leader, "/chot 11")
    assert "Đã chốt số liệu" in await say(leader, "1")
    await say(lan, "21/11 vneid 3")  # the month changed after it was confirmed: the leader is asked again
    sender = OutboxSender(bot.db, {"zalo": zalo_delivery(bot.adapter)}, clock, rate=1000)
    assert (await sender.drain()).sent == 1
    asked = server.messages("z-541")[-1].text or ""
    assert "vừa thay đổi" in asked and "[1] ✅ Đúng, gửi xã" in asked and "[2] ✏️ Sửa" in asked
    assert "bấm" not in asked.lower() and "/chot" not in asked
    assert "Đã chốt số liệu" in await say(leader, "1")
    assert await peek.count(bot.db, "confirmations", "reopened_at IS NULL") == 1


async def test_429_stops_pushing_until_resumed_and_the_budget_is_reported(bot: Bot, server: FakeZaloApi, seeded: Demo,
                                                                          clock: FixedClock):
    members = [server.user(f"z-52{n}", f"Thành viên {n}") for n in (1, 2)]
    await announce(bot, server, seeded, clock, "Họp tổ lúc 8h", members)
    quotas = Quotas(TZ, {"zalo": 100}, content=bot.content)
    sender = OutboxSender(bot.db, {"zalo": zalo_delivery(bot.adapter)}, clock, rate=1000, concurrency=1,
                          quota=quotas)
    server.exhaust_quota()
    calls = len(server.calls_to("sendMessage"))
    result = await sender.drain()
    assert (result.sent, result.paused) == (0, 1)
    assert len(server.calls_to("sendMessage")) == calls + 1  # nothing retried in a loop
    async with bot.db.uow() as uow:
        standing = {s.channel: s for s in await quotas.standing(uow, clock.now())}
    replies = standing["zalo"].replies  # the staff member's answers while announcing
    assert (standing["zalo"].sent, standing["zalo"].queued, standing["zalo"].left) == (0, 2, 100 - replies)
    assert standing["zalo"].paused == "quota"
    told = await peek.rows(bot.db, "outbox", "channel, payload", where="rule = 'channel_paused'")
    assert [channel for channel, _ in told] == ["terminal"]  # the demo's staff member, on their other channel
    assert "hết hạn mức tin nhắn" in told[0][1]
    assert (await sender.drain()).sent == 0 and len(server.calls_to("sendMessage")) == calls + 1  # still paused
    server.reset_quota()
    async with bot.db.uow() as uow:
        assert await uow.channels.resume("zalo", clock.now())
    assert (await sender.drain()).sent == 2
    async with bot.db.uow() as uow:
        standing = {s.channel: s for s in await quotas.standing(uow, clock.now())}
    assert (standing["zalo"].sent, standing["zalo"].queued, standing["zalo"].left) == (2, 0, 98 - replies)


async def test_a_low_budget_keeps_what_is_left_for_deadline_reminders(bot: Bot, server: FakeZaloApi, seeded: Demo,
                                                                       clock: FixedClock):
    members = [server.user(f"z-53{n}", f"Thành viên {n}") for n in (1, 2)]
    await announce(bot, server, seeded, clock, "Họp tổ lúc 8h", members)
    async with bot.db.uow() as uow:
        await uow.outbox.enqueue([NewMessage("monthly", "2026-11", "eve", None, "zalo", "z-531",
                                             {"text": "Mai là hạn báo cáo tháng"}, clock.now())], clock.now())
        await uow.channels.count_sent("zalo", Quotas(TZ).month(clock.now()), clock.now(), sent=8)
        replies = (await uow.channels.quota("zalo")).replies  # type: ignore[union-attr]  # answers count too
    quotas = Quotas(TZ, {"zalo": 10 + replies}, reserve=1.5 / (10 + replies))  # 2 left: the reserve (ceil)
    sender = OutboxSender(bot.db, {"zalo": zalo_delivery(bot.adapter)}, clock, rate=1000, quota=quotas)
    assert (await sender.drain()).sent == 1
    assert [m.text for m in server.messages("z-531")[-1:]] == ["Mai là hạn báo cáo tháng"]
    assert await peek.count(bot.db, "outbox", "rule = 'announce' AND channel = 'zalo' AND status = 'pending'") == 2


async def test_tcns_run_serves_zalo_and_stops_cleanly_on_sigterm(server: FakeZaloApi, tmp_path: Path,
                                                                seeded: Demo, db_url: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_", "ZALO_"))}
    env.update(TCNS_DB=db_url, ZALO_BOT_TOKEN=TOKEN, ZALO_API_BASE_URL=server.base_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        lan = server.user("z-520", "Lan")
        await lan.send(f"/start {seeded.villages[0].member_code}")
        assert "Chào mừng" in ((await lan.next_reply(timeout=30)).text or "")
        await lan.replies_until_quiet()
        assert "Đã ghi nhận" in await say(lan, "vneid 6")
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert server.token_seen == TOKEN
    assert "Zalo: tự hỏi tin mới (long polling), để chạy thử" in stderr.decode()  # which mode, said plainly


async def test_tcns_run_says_clearly_when_zalo_refuses_the_token(server: FakeZaloApi, tmp_path: Path):
    server.fail_next("getMe", status=401)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_", "ZALO_"))}
    env.update(TCNS_DB=str(tmp_path / "x.db"), ZALO_BOT_TOKEN="bad", ZALO_API_BASE_URL=server.base_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "Zalo không nhận ZALO_BOT_TOKEN" in stderr.decode()


async def test_a_webhook_left_set_is_deleted_so_that_polling_works(server: FakeZaloApi, db_url: str,
                                                                   content: Content, clock: FixedClock, seeded: Demo):
    async with ZaloClient(TOKEN, server.base_url) as client:
        await client.call("setWebhook", {"url": "https://old.example/hook", "secret_token": "s" * 16})
    running = await Bot(server, db_url, content, clock).start()
    try:
        await server.wait_until(lambda: server.calls_to("deleteWebhook"), what="the webhook deleted")
        lan = server.user("z-530", "Lan")
        await join(lan, seeded.villages[0].member_code)
    finally:
        await running.stop()


async def test_a_name_with_half_an_emoji_joins_and_reports(bot: Bot, server: FakeZaloApi, seeded: Demo):
    """A lone surrogate in a display name (a broken emoji) goes through the inbox and is cleaned."""
    lan = server.user("z-599", "Lan\ud83d")
    await join(lan, seeded.villages[0].member_code)
    assert "VNeID" in await say(lan, "vneid 2")
    assert await peek.rows(bot.db, "members", "name", where="name LIKE 'Lan%'") == [("Lan",)]
    assert await peek.count(bot.db, "inbox", "processed_at IS NULL") == 0


async def test_staff_see_how_many_zalo_messages_are_left_this_month(bot: Bot, server: FakeZaloApi, seeded: Demo,
                                                                    clock: FixedClock):
    quotas = Quotas(TZ, {"zalo": 2000})
    await quotas.publish(bot.db, clock.now())
    async with bot.db.uow() as uow:
        await uow.channels.count_sent("zalo", quotas.month(clock.now()), clock.now(), sent=1500)
    staff = server.user("z-560", "Cán bộ")
    await join(staff, await staff_code(bot, seeded, clock))
    answered = len(server.messages("z-560"))  # the bot's answers so far use the quota too
    assert f"Bot Zalo còn {500 - answered}/2000 tin nhắn trong tháng này" in await say(staff, "/hanchot")
    lan = server.user("z-561", "Lan")
    await join(lan, seeded.villages[0].member_code)
    assert "tin nhắn trong tháng" not in await say(lan, "/hanchot")  # members are not bothered with it


async def test_direct_replies_use_the_quota_and_are_reported_with_the_pushes(bot: Bot, server: FakeZaloApi,
                                                                              seeded: Demo, clock: FixedClock):
    """Zalo counts a bot's answers against its quota as well as its pushes (one sendMessage for
    both): each reply sent is counted, shown by tcns reminders status and in /metrics."""
    from bot.services import metrics

    before = metrics.REPLIES.labels("zalo")._value.get()
    lan = server.user("z-570", "Lan")
    await join(lan, seeded.villages[0].member_code)
    await say(lan, "vneid 2")
    await say(lan, "/cuatoi")
    await bot.adapter.drain()
    sent = len(server.messages("z-570"))
    quotas = Quotas(TZ, {"zalo": 100})
    async with bot.db.uow() as uow:
        standing = {s.channel: s for s in await quotas.standing(uow, clock.now())}
    assert (standing["zalo"].sent, standing["zalo"].replies, standing["zalo"].left) == (0, sent, 100 - sent)
    assert metrics.REPLIES.labels("zalo")._value.get() - before == sent
    async with bot.db.uow() as uow:  # with the budget down to its reserve, replies still go; pushes wait
        await uow.channels.count_replies("zalo", quotas.month(clock.now()), clock.now(), replies=100 - sent)
        held = await quotas.holds(uow, ["zalo"], clock.now())
    assert held == {"zalo": None}
    assert "VNeID: 1 người" in await say(lan, "vneid 1")


async def test_a_long_push_sent_in_parts_counts_each_part_against_the_quota(bot: Bot, server: FakeZaloApi,
                                                                             clock: FixedClock):
    long_text = "\n".join(f"Dòng {n}: " + "thông báo của xã " * 8 for n in range(40))  # over 2,000 characters
    async with bot.db.uow() as uow:
        await uow.outbox.enqueue([NewMessage("announce", "9", "msg", None, "zalo", "z-580",
                                             {"text": long_text}, clock.now())], clock.now())
    server.user("z-580", "Lan")
    quotas = Quotas(TZ, {"zalo": 100})
    sender = OutboxSender(bot.db, {"zalo": zalo_delivery(bot.adapter)}, clock, rate=1000, quota=quotas)
    assert (await sender.drain()).sent == 1
    parts = len(server.messages("z-580"))
    async with bot.db.uow() as uow:
        standing = {s.channel: s for s in await quotas.standing(uow, clock.now())}
    assert parts >= 2 and (standing["zalo"].sent, standing["zalo"].left) == (parts, 100 - parts)
