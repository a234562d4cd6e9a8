"""End to end on Telegram: the real PTB Application, polling a local fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from support import peek
from support.fakebotapi import FakeBotApi
from support.telegram import TOKEN, Bot, join

from bot.flows.engine import MENUS
from bot.services.demo import Demo


async def test_commands_are_registered(bot: Bot, server: FakeBotApi):
    await server.wait_until(lambda: server.commands is not None, what="setMyCommands")
    assert {c["command"] for c in server.commands} >= {"baocao", "cuatoi", "huy", "help", "start"}


async def test_join_and_report_by_buttons(bot: Bot, server: FakeBotApi, seeded: Demo):
    lan = server.user(501, first_name="Lan <b>")
    await join(lan, seeded.villages[0].member_code)
    await lan.send("/baocao")
    ask = await lan.next_reply()
    await lan.tap(ask, ask.data_for("VNeID"))
    count = await lan.next_reply()
    await server.wait_until(lambda: ask.buttons == [], what="used buttons removed")
    await lan.tap(count, count.data_for("4"))
    confirm = await lan.next_reply()
    assert "VNeID" in confirm.plain_text and "4" in confirm.plain_text
    await lan.tap(confirm, confirm.data_for("✔ Ghi nhận"))
    done = await lan.next_reply()
    assert "Đã ghi nhận" in done.plain_text
    # The persistent menu comes back, one row of the menu labels, kept on screen.
    assert done.keyboard == [[bot.content.texts(key) for key in row] for row in MENUS["member"]]
    assert done.reply_markup is not None and done.reply_markup["is_persistent"] is True
    assert await bot.live_reports() == [("vneid", 4, "buttons")]
    assert len(server.callback_answers) == 3


async def test_the_common_button_report_takes_four_taps(bot: Bot, server: FakeBotApi, seeded: Demo):
    """Counted from the menu button to the stored report: menu, service, count, confirm."""
    hoa = server.user(509, first_name="Hoa")
    await join(hoa, seeded.villages[4].member_code)
    taps = 0
    await hoa.send(bot.content.texts("menu.report"))  # 1: the keyboard's "📝 Báo cáo" button sends its label
    taps += 1
    services = await hoa.next_reply()
    await hoa.tap(services, services.data_for("Chữ ký số"))  # 2
    taps += 1
    counts = await hoa.next_reply()
    await hoa.tap(counts, counts.data_for("2"))  # 3
    taps += 1
    confirm = await hoa.next_reply()
    assert "Hôm nay, 22/11/2026" in confirm.plain_text and confirm.data_for("📅 Ngày khác")
    await hoa.tap(confirm, confirm.data_for("✔ Ghi nhận"))  # 4
    taps += 1
    assert "Đã ghi nhận" in (await hoa.next_reply()).plain_text
    assert await bot.live_reports() == [("chu_ky_so", 2, "buttons")] and taps == 4
    # A zero report can take another day: menu, zero, another day, yesterday, confirm.
    await hoa.send(bot.content.texts("menu.report"))
    services = await hoa.next_reply()
    await hoa.tap(services, services.data_for("🚫 Không hỗ trợ ai"))
    confirm = await hoa.next_reply()
    await hoa.tap(confirm, confirm.data_for("📅 Ngày khác"))
    day = await hoa.next_reply()
    await hoa.tap(day, day.data_for("Hôm qua"))
    confirm = await hoa.next_reply()
    assert "21/11/2026" in confirm.plain_text
    await hoa.tap(confirm, confirm.data_for("✔ Ghi nhận"))
    assert "Đã ghi nhận" in (await hoa.next_reply()).plain_text
    assert await bot.live_reports() == [("chu_ky_so", 2, "buttons"), ("none", 0, "buttons")]


async def test_report_by_text_then_undo(bot: Bot, server: FakeBotApi, seeded: Demo):
    ba = server.user(502, first_name="Ba")
    await join(ba, seeded.villages[1].member_code)
    await ba.send("hom qua vneid 5, cks 2")
    reply = await ba.next_reply()
    assert "VNeID" in reply.plain_text and "21/11/2026" in reply.plain_text
    assert await bot.live_reports() == [("vneid", 5, "text"), ("chu_ky_so", 2, "text")]
    await ba.tap(reply, reply.data_for("↩ Hoàn tác"))
    assert "Đã hủy" in (await ba.next_reply()).plain_text
    assert await bot.live_reports() == []


async def test_bad_input_gets_an_answer_and_records_nothing(bot: Bot, server: FakeBotApi, seeded: Demo):
    tu = server.user(503, first_name="Tư")
    await tu.send("vneid 5")
    assert "chưa tham gia" in (await tu.next_reply()).plain_text
    await join(tu, seeded.villages[2].member_code)
    for text, expected in [("vneid -2", "âm"), ("<script>x</script>", "chưa hiểu"), ("/abc", "Không có lệnh")]:
        await tu.send(text)
        assert expected in (await tu.next_reply()).plain_text
    await tu.send("", photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 10, "height": 10}])
    assert "ảnh" in (await tu.next_reply()).plain_text
    assert await bot.live_reports() == []


async def test_a_photo_caption_is_read_as_a_report_and_the_photo_is_not_kept(bot: Bot, server: FakeBotApi,
                                                                             seeded: Demo):
    sau = server.user(511, first_name="Sáu")
    await join(sau, seeded.villages[2].member_code)
    update = sau.message_update("", photo=[{"file_id": "p9", "file_unique_id": "u9", "width": 90, "height": 90}],
                                caption="vneid 3")
    del update["message"]["text"]  # as Telegram sends a captioned photo
    server.queue_raw_update(update)
    recorded = (await sau.next_reply()).plain_text
    assert "Đã ghi nhận" in recorded and "VNeID: 3" in recorded
    assert "ảnh, tệp không được lưu" in (await sau.next_reply()).plain_text
    assert await bot.live_reports() == [("vneid", 3, "text")]
    assert not [call for call in server.calls if call.method.lower() == "getfile"]  # the photo is never fetched


async def test_redelivered_update_records_once(bot: Bot, server: FakeBotApi, seeded: Demo):
    nam = server.user(504, first_name="Năm")
    await join(nam, seeded.villages[3].member_code)
    update = nam.message_update("ssk 3")
    server.queue_raw_update(update)
    await nam.next_reply()
    await server.wait_until_delivered()
    server.queue_raw_update(dict(update))
    await server.wait_until_delivered()
    await nam.no_more_replies(wait=0.5)
    assert await bot.live_reports() == [("so_suc_khoe", 3, "text")]


async def test_restart_mid_conversation(bot: Bot, server: FakeBotApi, seeded: Demo):
    sau = server.user(505, first_name="Sáu")
    await join(sau, seeded.villages[4].member_code)
    await sau.send("/baocao")
    ask = await sau.next_reply()
    await sau.tap(ask, ask.data_for("Thanh toán"))
    count = await sau.next_reply()
    await bot.stop()
    await bot.start()  # a new process: new connection, new engine, new PTB application
    await sau.tap(count, count.data_for("2"))
    confirm = await sau.next_reply()
    await sau.tap(confirm, confirm.data_for("✔ Ghi nhận"))
    assert "Đã ghi nhận" in (await sau.next_reply()).plain_text
    assert await bot.live_reports() == [("thanh_toan", 2, "buttons")]


async def test_flood_limit_and_network_error_still_deliver(bot: Bot, server: FakeBotApi, seeded: Demo):
    bay = server.user(506, first_name="Bảy")
    await join(bay, seeded.villages[0].member_code)
    server.flood(bay.chat_id, retry_after=1, times=1)
    await bay.send("vneid 1")
    assert "Đã ghi nhận" in (await bay.next_reply(timeout=10)).plain_text
    server.fail_next("sendMessage", times=1, status=502)
    await bay.send("cks 1")
    assert "Đã ghi nhận" in (await bay.next_reply(timeout=10)).plain_text
    assert await bot.live_reports() == [("vneid", 1, "text"), ("chu_ky_so", 1, "text")]


async def test_blocked_user_keeps_report_and_bot_keeps_running(bot: Bot, server: FakeBotApi, seeded: Demo):
    tam, chin = server.user(507, first_name="Tám"), server.user(508, first_name="Chín")
    await join(tam, seeded.villages[1].member_code)
    await join(chin, seeded.villages[1].member_code)
    server.block_user(tam.chat_id)
    await tam.send("vneid 3")
    await server.wait_until(lambda: any(e.status == 403 for e in server.errors), what="a 403")
    await chin.send("vneid 2")
    assert "Đã ghi nhận" in (await chin.next_reply()).plain_text
    assert await bot.live_reports() == [("vneid", 3, "text"), ("vneid", 2, "text")]
    assert bot.db is not None
    rows = await peek.rows(bot.db, "identities", "active", where="external_id = '507'")
    assert [r[0] for r in rows] == [0]


async def test_tcns_run_process_serves_telegram_and_stops_cleanly(server: FakeBotApi, tmp_path: Path, seeded: Demo,
                                                                   db_url: str):
    """`tcns run` as its own process, pointed at the fake server by TELEGRAM_API_BASE_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_"))}
    env.update(TCNS_DB=db_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=server.base_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await server.wait_until(lambda: server.commands is not None, timeout=30, what="the bot to start")
        hoa = server.user(601, first_name="Hoa")
        await join(hoa, seeded.villages[5].member_code)
        await hoa.send("kns 9")
        assert "Kỹ năng số" in (await hoa.next_reply(timeout=10)).plain_text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0, stderr.decode()
