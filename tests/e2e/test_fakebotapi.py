"""The fake Bot API server, exercised with the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import textwrap
import time

import aiohttp
import pytest
from support.fakebotapi import BOT_USERNAME, FakeBotApi
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, EndPointNotFound, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

TOKEN = "123:TEST"


@pytest.fixture
async def server():
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotApi):
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as client:
        yield client


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)] for text, data in buttons])


# --------------------------------------------------------------------------------------------
# Plain Bot client
# --------------------------------------------------------------------------------------------


async def test_urls_have_the_shape_ptb_expects(server: FakeBotApi) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/bot"
    assert server.base_file_url == f"http://127.0.0.1:{server.port}/file/bot"
    assert server.port > 0


async def test_bot_methods_are_served_and_recorded(server: FakeBotApi, bot: Bot) -> None:
    lan = server.user(42, first_name="Lan")

    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123, True, BOT_USERNAME)
    assert server.token_seen == TOKEN

    sent = await bot.send_message(42, "Chọn <b>một</b>", parse_mode="HTML", reply_markup=keyboard(("Có", "yes")))
    assert sent.chat.id == 42 and sent.chat.type == "private"
    assert sent.from_user is not None and sent.from_user.username == BOT_USERNAME
    assert sent.text == "Chọn một"  # Telegram returns the text without markup
    assert sent.reply_markup is not None and sent.reply_markup.inline_keyboard[0][0].callback_data == "yes"
    assert abs(sent.date.timestamp() - time.time()) < 60

    reply = await lan.next_reply()
    assert (reply.message_id, reply.kind, reply.parse_mode) == (sent.message_id, "text", "HTML")
    assert reply.text == "Chọn <b>một</b>" and reply.plain_text == "Chọn một"
    assert reply.buttons == [[("Có", "yes")]]
    assert reply.data_for("Có") == "yes"

    # Like Telegram, an edit without reply_markup drops the inline keyboard.
    edited = await bot.edit_message_text("Đã chọn", chat_id=42, message_id=sent.message_id)
    assert edited.text == "Đã chọn" and edited.edit_date is not None
    assert reply.text == "Đã chọn" and reply.buttons == [] and len(reply.edits) == 1

    await bot.edit_message_reply_markup(42, sent.message_id, reply_markup=keyboard(("Lại", "again")))
    assert reply.buttons == [[("Lại", "again")]]

    doc = await bot.send_document(42, b"a,b\n1,2\n", filename="report.csv", caption="Báo cáo")
    assert doc.document is not None and doc.document.file_name == "report.csv"
    assert doc.caption == "Báo cáo"
    document = await lan.next_reply()
    assert (document.kind, document.filename, document.file_bytes) == ("document", "report.csv", b"a,b\n1,2\n")
    assert document.message_id == sent.message_id + 1

    photo = await bot.send_photo(42, b"\x89PNG fake", caption="Ảnh")
    assert photo.photo and photo.caption == "Ảnh"
    assert (await lan.next_reply()).kind == "photo"

    # The file URL serves what was uploaded.
    file = await bot.get_file(doc.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"a,b\n1,2\n"

    assert await bot.send_chat_action(42, "typing")
    assert await bot.set_my_commands([("start", "Bắt đầu"), ("help", "Trợ giúp")])
    assert server.commands == [
        {"command": "start", "description": "Bắt đầu"},
        {"command": "help", "description": "Trợ giúp"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert await bot.delete_webhook()

    methods = [call.method for call in server.calls]
    for method in ("getMe", "sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument"):
        assert method in methods
    assert server.calls_to("sendMessage")[0]["reply_markup"] == {
        "inline_keyboard": [[{"text": "Có", "callback_data": "yes"}]]
    }
    assert server.calls_to("sendMessage")[0]["chat_id"] == 42
    assert server.errors == []
    server.assert_no_unknown_methods()
    await lan.no_more_replies(wait=0)


async def test_telegram_validation_errors_are_reproduced(server: FakeBotApi, bot: Bot) -> None:
    server.user(42)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "hi")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(42, "1 < 2", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Unsupported start tag"):
        await bot.send_message(42, "line<br/>break", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(42, "hi", reply_markup=keyboard(("x", "d" * 65)))

    sent = await bot.send_message(42, "same", reply_markup=keyboard(("a", "a")))
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("same", chat_id=42, message_id=sent.message_id, reply_markup=keyboard(("a", "a")))
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=12345)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("nope")
    assert [error.status for error in server.errors] == [400] * 8


# --------------------------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------------------------


# PTB itself reads the deprecated int-valued RetryAfter.retry_after while building the exception.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_blocked_user_flood_and_transient_failures(server: FakeBotApi, bot: Bot) -> None:
    lan = server.user(42)
    server.user(43)

    server.block_user(42)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(42, "hi")
    assert await bot.send_message(43, "others still work")
    server.unblock_user(42)

    server.flood(42, retry_after=3, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(42, "hi")
        retry_after = caught.value.retry_after  # an int, or a timedelta under PTB_TIMEDELTA (tcns opts in)
        assert (retry_after.total_seconds() if isinstance(retry_after, dt.timedelta) else retry_after) == 3
    await bot.send_message(42, "after the flood")
    assert [m.text for m in lan.replies_so_far()] == ["after the flood"]

    server.fail_next("sendMessage", times=1, status=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(42, "lost")
    await bot.send_message(42, "retried")
    assert [m.text for m in lan.replies_so_far()] == ["after the flood", "retried"]
    assert len(server.calls_to("sendMessage")) == 7


async def test_unknown_methods_are_404_and_recorded(server: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("getTeapot", api_kwargs={"chat_id": 1})
    assert server.unknown_methods == ["getTeapot"]
    with pytest.raises(AssertionError, match="getTeapot"):
        server.assert_no_unknown_methods()


async def test_held_calls_are_carried_out_only_when_released(server: FakeBotApi, bot: Bot) -> None:
    lan = server.user(42, first_name="Lan")
    gate = server.hold("sendMessage", after=1)
    await bot.send_message(42, "một")  # the first call passes
    second = asyncio.create_task(bot.send_message(42, "hai"))
    await server.wait_until(lambda: gate.waiting == 1, what="the second call held")
    assert [m.text for m in server.messages(lan.id)] == ["một"]  # held: not carried out yet
    gate.release()
    assert (await second).text == "hai"
    await bot.send_message(42, "ba")  # after the release nothing waits
    assert [m.text for m in server.messages(lan.id)] == ["một", "hai", "ba"]


# --------------------------------------------------------------------------------------------
# getUpdates
# --------------------------------------------------------------------------------------------


async def test_get_updates_offsets_long_polling_and_redelivery(server: FakeBotApi, bot: Bot) -> None:
    lan = server.user(42)
    first = await lan.send("/start ABC")
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first]
    message = updates[0].message
    assert message is not None and message.text == "/start ABC" and message.chat.id == 42
    assert message.entities[0].type == "bot_command" and message.entities[0].length == len("/start")

    # Unconfirmed updates are delivered again; a higher offset confirms them.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [first]
    assert await bot.get_updates(offset=first + 1, timeout=0) == ()
    assert server.pending_updates == []

    # A long poll returns as soon as an update is queued.
    poll = asyncio.create_task(bot.get_updates(offset=first + 1, timeout=10))
    await asyncio.sleep(0.1)
    assert not poll.done()
    started = time.monotonic()
    second = await lan.send("hello")
    assert [u.update_id for u in await poll] == [second]
    assert time.monotonic() - started < 1

    # Redelivery: the same update dict queued twice reaches the bot twice.
    update = lan.message_update("twice")
    server.queue_raw_update(update)
    server.queue_raw_update(update)
    again = await bot.get_updates(offset=second + 1, timeout=0)
    assert [u.update_id for u in again] == [update["update_id"]] * 2

    # A long poll with nothing to fetch ends after its timeout.
    started = time.monotonic()
    assert await bot.get_updates(offset=update["update_id"] + 1, timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 2


async def test_stop_releases_a_pending_long_poll_at_once() -> None:
    async with FakeBotApi() as fake, Bot(TOKEN, base_url=fake.base_url) as client:
        poll = asyncio.create_task(client.get_updates(timeout=30))
        await fake.wait_for_call("getUpdates")
        started = time.monotonic()
        await fake.stop()
        assert await poll == ()
        assert time.monotonic() - started < 1.5


# --------------------------------------------------------------------------------------------
# A real Application in polling mode
# --------------------------------------------------------------------------------------------


async def greet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.effective_user is not None
    argument = " ".join(context.args or [])
    await update.message.reply_text(
        f"Xin chào {update.effective_user.first_name}: {argument}",
        reply_markup=keyboard(("Tiếp", f"next:{argument}")),
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Đã nhận")
    await query.edit_message_text(f"Bạn chọn {query.data}")


async def test_application_polls_replies_and_handles_taps(server: FakeBotApi) -> None:
    app: Application = (
        ApplicationBuilder().token(TOKEN).base_url(server.base_url).base_file_url(server.base_file_url).build()
    )
    app.add_handler(CommandHandler("start", greet))
    app.add_handler(CallbackQueryHandler(on_button))
    lan = server.user(42, first_name="Lan")

    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        await lan.send("/start ABC")
        reply = await lan.next_reply()
        assert reply.text == "Xin chào Lan: ABC"
        assert reply.buttons == [[("Tiếp", "next:ABC")]]

        query_id = await lan.tap(reply, "next:ABC")
        answer = await lan.callback_answer(query_id)
        assert answer["text"] == "Đã nhận"
        await server.wait_until(lambda: reply.edits, what="the edit after the tap")
        assert reply.text == "Bạn chọn next:ABC" and reply.buttons == []

        with pytest.raises(ValueError, match="no button"):
            await lan.tap(reply, "next:ABC")  # the keyboard is gone
        await lan.no_more_replies(wait=0.2)
    finally:
        started = time.monotonic()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        assert time.monotonic() - started < 2

    methods = {call.method for call in server.calls}
    assert {"getMe", "deleteWebhook", "getUpdates", "sendMessage", "answerCallbackQuery"} <= methods
    assert server.pending_updates == []  # the final getUpdates confirmed everything
    assert server.errors == []
    server.assert_no_unknown_methods()


# --------------------------------------------------------------------------------------------
# A bot in another process
# --------------------------------------------------------------------------------------------

SUBPROCESS_BOT = textwrap.dedent(
    """
    import asyncio
    from telegram import Bot
    from bot.runtime.settings import Settings

    async def main():
        settings = Settings()
        base_url, file_url = settings.telegram_api_base_url, settings.file_base_url
        async with Bot(settings.telegram_bot_token, base_url=base_url, base_file_url=file_url) as bot:
            await bot.send_message(42, f"hello from a subprocess; files at {file_url}")

    asyncio.run(main())
    """
)


async def test_a_bot_in_a_subprocess_reaches_the_server(server: FakeBotApi, tmp_path) -> None:
    lan = server.user(42)
    env = {**os.environ, "TELEGRAM_API_BASE_URL": server.base_url, "TELEGRAM_BOT_TOKEN": TOKEN}
    env.pop("TELEGRAM_FILE_BASE_URL", None)
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", SUBPROCESS_BOT, cwd=tmp_path, env=env)
    assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    reply = await lan.next_reply()
    assert reply.text == f"hello from a subprocess; files at {server.base_file_url}"
    assert server.token_seen == TOKEN


async def test_json_bodies_are_accepted_too(server: FakeBotApi) -> None:
    server.user(42)
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with aiohttp.ClientSession() as session:
        for reply_markup in (markup, json.dumps(markup)):  # an object, or a JSON-encoded string
            url = f"{server.base_url}{TOKEN}/sendMessage"
            async with session.post(url, json={"chat_id": 42, "text": "42", "reply_markup": reply_markup}) as response:
                body = await response.json()
            assert body["ok"] and body["result"]["text"] == "42" and body["result"]["reply_markup"] == markup
        async with session.post(f"{server.base_url}{TOKEN}/getMe") as response:
            assert (await response.json())["result"]["is_bot"] is True
    assert [m.text for m in server.messages(42)] == ["42", "42"]
