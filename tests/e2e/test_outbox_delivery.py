"""Telegram delivery outcomes through the real PTB Bot and HTTP: what may have arrived is never resent."""

from __future__ import annotations

import socket
from collections import Counter

import pytest
from support import peek
from support.fakebotapi import FakeBotApi
from support.helpers import NOW
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.domain.clock import FixedClock
from bot.handlers.telegram_outbox import telegram_delivery
from bot.handlers.telegram_request import AiohttpRequest
from bot.services.outbox import OutboxSender
from storage import Database
from storage.models import NewMessage

TOKEN = "123:TEST"
# The bot's own request (aiohttp) and PTB's default (httpx, which a deployment may still pass in).
REQUESTS = pytest.mark.parametrize("make_request", [AiohttpRequest, HTTPXRequest], ids=["aiohttp", "httpx"])


async def enqueue(db: Database, chats: list[int]) -> None:
    async with db.uow() as uow:
        await uow.outbox.enqueue([
            NewMessage("test", "p1", "before", None, "telegram", str(chat), {"text": "Nhắc báo cáo"}, NOW)
            for chat in chats
        ], NOW)


async def statuses(db: Database) -> dict[str, str]:
    return {r[0]: r[1] for r in await peek.rows(db, "outbox", "chat_id, status")}


def sender(db: Database, bot: Bot) -> OutboxSender:
    return OutboxSender(db, {"telegram": telegram_delivery(bot)}, FixedClock(NOW), rate=1000, per_chat_interval=0,
                        backoff=(60.0,))


@REQUESTS
async def test_an_answer_lost_after_telegram_took_the_message_is_not_sent_again(db: Database, make_request):
    async with FakeBotApi() as server:
        for chat in (4001, 4002):
            server.user(chat)
        server.lose_answer("sendMessage", hold=3.0)  # the first send arrives, its answer does not
        await enqueue(db, [4001, 4002])
        request = make_request(read_timeout=0.5)
        async with Bot(TOKEN, base_url=server.base_url, request=request) as bot:
            first = await sender(db, bot).drain()
            again = await sender(db, bot).drain()
        arrived = Counter({chat: len(server.messages(chat)) for chat in (4001, 4002)})
    assert arrived == {4001: 1, 4002: 1}  # the timed-out one arrived once and was not resent
    assert sorted((await statuses(db)).values()) == ["sent", "uncertain"]
    assert (first.sent, first.uncertain, again.sent) == (1, 1, 0)


@REQUESTS
async def test_a_connection_that_never_opened_is_tried_again(db: Database, make_request):
    with socket.socket() as probe:  # a local port with nobody listening: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await enqueue(db, [4003])
    request = make_request()
    await request.initialize()  # not the Bot: its getMe would fail the same way
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=request)
    try:
        result = await sender(db, bot).drain()
    finally:
        await request.shutdown()
    assert result.retried == 1 and result.uncertain == 0
    assert await statuses(db) == {"4003": "pending"}  # it goes out later, when Telegram is reachable
