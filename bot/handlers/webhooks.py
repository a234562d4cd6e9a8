"""The channels' webhook endpoints, store first: a 200 only once the update is
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
channel holds its next request meanwhile, as polling does not fetch). The stores of requests
that arrive together share one statement and one commit (:class:`GroupStore`), each request
answered once its own update is durable. The endpoints take the secret header and the body and
return the status; the ASGI plumbing is bot/runtime/web.py's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence

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
MAX_GROUP = 100  # updates one store takes at most (Telegram keeps at most MAX_CONNECTIONS in flight)

OK, BAD, FORBIDDEN, FAILED, UNAVAILABLE = 200, 400, 403, 500, 503


class GroupStore:
    """Group commit of the webhook's stores: the updates whose requests arrive while a store is
    under way are stored together by the next one, in one statement and one durable commit
    (:meth:`Inbox.accept` takes a batch), and each request returns once its own update is
    stored. Nothing waits for company: a request that finds no store under way starts one at
    once, so a lone update is stored as before, and under load the commits per update fall."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self._waiting: list[tuple[Delivered, asyncio.Future[None]]] = []
        self._storing: asyncio.Task[None] | None = None

    async def store(self, update: Delivered) -> None:
        """Return once ``update`` is durably stored (raise if its store failed)."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((update, done))
        if self._storing is None:
            self._storing = asyncio.ensure_future(self._store_all())
        await done  # a request that goes away (its future cancelled) leaves the others' store alone

    async def _store_all(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                try:
                    await self.inbox.accept([update for update, _ in group])
                except BaseException as exc:  # every request of the group answers 500: the channel sends again
                    _settle(group, exc)
                    if not isinstance(exc, Exception):  # cancelled (a stop): the requests waiting after it too
                        _settle(self._waiting, exc)
                        self._waiting = []
                        raise
                else:
                    _settle(group, None)
        finally:
            self._storing = None


def _settle(group: Sequence[tuple[Delivered, asyncio.Future[None]]], error: BaseException | None) -> None:
    for _, done in group:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


class TelegramWebhook:
    """``POST /webhook/telegram`` into the Telegram adapter's inbox (the route's ASGI plumbing
    is in bot/runtime/web.py: this takes the secret header and the body, returns the status)."""

    def __init__(self, inbox: Inbox, secret: str | None, stop: asyncio.Event) -> None:
        self.inbox, self.secret, self.stop = inbox, secret, stop
        self._group = GroupStore(inbox)

    async def handle(self, secret: str | None, body: bytes) -> int:
        if not zalo.secret_matches(self.secret or "", secret):  # constant time
            return FORBIDDEN
        started = time.perf_counter()
        text = body.decode("utf-8", "replace")
        try:
            data = json.loads(text)
            key = str(int(data["update_id"]))
        except (ValueError, TypeError, KeyError):
            return BAD  # not an update: nothing stored
        await self.inbox.dispatcher.wait_for_room(self.stop)
        if self.stop.is_set():
            return UNAVAILABLE  # stopping: not stored, Telegram sends it again
        try:
            await self._group.store(Delivered(key, telegram.chat_of_update(data), text, data))
        except Exception:  # not stored: a 500, Telegram sends it again
            log.exception("could not store a Telegram webhook update")
            return FAILED
        metrics.WEBHOOK.labels(telegram.CHANNEL).observe(time.perf_counter() - started)
        return OK


class ZaloWebhook:
    """``POST /webhook/zalo`` into the Zalo adapter: its own secret check and its webhook entry
    (:meth:`bot.handlers.zalo.ZaloAdapter.receive`: either body shape, keyed, stored, handed on)."""

    def __init__(self, adapter: zalo.ZaloAdapter, secret: str | None, stop: asyncio.Event) -> None:
        self.adapter, self.secret, self.stop = adapter, secret, stop

    async def handle(self, secret: str | None, body: bytes) -> int:
        if not zalo.secret_matches(self.secret or "", secret):
            return FORBIDDEN
        started = time.perf_counter()
        try:
            event = json.loads(body)
        except ValueError:
            return BAD
        await self.adapter.inbox.dispatcher.wait_for_room(self.stop)
        if self.stop.is_set():
            return UNAVAILABLE
        try:
            await self.adapter.receive(event)  # no event in it: nothing stored, 200 all the same
        except Exception:  # not stored: a 500, so that Zalo may deliver it again
            log.exception("could not store a Zalo webhook event")
            return FAILED
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
