"""The channels' webhook endpoints (Starlette), store first: a 200 only once the update is
durably in the inbox (``Inbox.accept``); a redelivered update is answered 200 and changes
nothing (the inbox's key); a wrong or missing secret gets 403 and nothing is stored.

* Telegram ``POST /webhook/telegram``: the header ``X-Telegram-Bot-Api-Secret-Token`` must
  equal ``TELEGRAM_WEBHOOK_SECRET`` (set with ``setWebhook``'s ``secret_token``). The body is
  stored as Telegram sent it; PTB's ``Application.process_update`` handles it later, through
  the same dispatcher as polling (in order per chat).
* Zalo ``POST /webhook/zalo``: the header ``X-Bot-Api-Secret-Token`` must equal
  ``ZALO_WEBHOOK_SECRET``. The body is either ``{"ok": true, "result": {event}}`` or the bare
  event; the Zalo adapter's webhook entry (``ZaloAdapter.receive``) keys, stores and hands it
  on, as for polling; a store that failed is a 500 (Zalo may send it again).

A webhook waits for room in the dispatcher before storing (bounded memory under a burst: the
channel holds its next request meanwhile, as polling does not fetch).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from starlette.requests import Request
from starlette.responses import Response
from telegram import Bot
from telegram.error import TelegramError

from bot.handlers import telegram, zalo
from bot.handlers.telegram_polling import ALLOWED_UPDATES
from bot.services import metrics
from bot.services.inbox import Delivered, Inbox

log = logging.getLogger(__name__)

TELEGRAM_PATH = "/webhook/telegram"
ZALO_PATH = "/webhook/zalo"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ZALO_SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_CONNECTIONS = 40  # Telegram's default: requests it keeps open at once


FORBIDDEN = Response(status_code=403)
BAD = Response(status_code=400)
OK = Response(status_code=200)


class TelegramWebhook:
    """``POST /webhook/telegram`` into the Telegram adapter's inbox."""

    def __init__(self, inbox: Inbox, secret: str | None, stop: asyncio.Event) -> None:
        self.inbox, self.secret, self.stop = inbox, secret, stop

    async def __call__(self, request: Request) -> Response:
        if not zalo.secret_matches(self.secret or "", request.headers.get(TELEGRAM_SECRET_HEADER)):  # constant time
            return FORBIDDEN
        started = time.perf_counter()
        body = (await request.body()).decode("utf-8", "replace")
        try:
            data = json.loads(body)
            key = str(int(data["update_id"]))
        except (ValueError, TypeError, KeyError):
            return BAD  # not an update: nothing stored
        await self.inbox.dispatcher.wait_for_room(self.stop)
        if self.stop.is_set():
            return Response(status_code=503)  # stopping: not stored, Telegram sends it again
        await self.inbox.accept([Delivered(key, telegram.chat_of(body), body)])
        metrics.WEBHOOK.labels(telegram.CHANNEL).observe(time.perf_counter() - started)
        return OK


class ZaloWebhook:
    """``POST /webhook/zalo`` into the Zalo adapter: its own secret check and its webhook entry
    (:meth:`bot.handlers.zalo.ZaloAdapter.receive`: either body shape, keyed, stored, handed on)."""

    def __init__(self, adapter: zalo.ZaloAdapter, secret: str | None, stop: asyncio.Event) -> None:
        self.adapter, self.secret, self.stop = adapter, secret, stop

    async def __call__(self, request: Request) -> Response:
        if not zalo.secret_matches(self.secret or "", request.headers.get(ZALO_SECRET_HEADER)):
            return FORBIDDEN
        started = time.perf_counter()
        try:
            body = json.loads(await request.body())
        except ValueError:
            return BAD
        await self.adapter.inbox.dispatcher.wait_for_room(self.stop)
        if self.stop.is_set():
            return Response(status_code=503)
        try:
            await self.adapter.receive(body)  # no event in it: nothing stored, 200 all the same
        except Exception:  # not stored: a 500, so that Zalo may deliver it again
            log.exception("could not store a Zalo webhook event")
            return Response(status_code=500)
        metrics.WEBHOOK.labels(zalo.CHANNEL).observe(time.perf_counter() - started)
        return OK


async def set_telegram_webhook(bot: Bot, public_url: str, secret: str) -> bool:
    """Point Telegram at this server (``setWebhook`` with the secret); False if it refused."""
    try:
        return bool(await bot.set_webhook(url=public_url.rstrip("/") + TELEGRAM_PATH, secret_token=secret,
                                          allowed_updates=list(ALLOWED_UPDATES), max_connections=MAX_CONNECTIONS))
    except TelegramError as exc:
        log.error("Telegram refused setWebhook: %s", exc)
        return False


async def set_zalo_webhook(client: zalo.ZaloClient, public_url: str, secret: str) -> bool:
    """Point Zalo at this server (``setWebhook`` with the secret); False if it refused."""
    try:
        await client.set_webhook(public_url.rstrip("/") + ZALO_PATH, secret)
        return True
    except (zalo.ZaloError, zalo.ZaloNetworkError) as exc:
        log.error("Zalo refused setWebhook: %s", exc)
        return False
