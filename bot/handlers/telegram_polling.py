"""Telegram long polling that never acknowledges an update before it is stored.

Telegram confirms every update below the ``offset`` of the next ``getUpdates`` call and
never sends a confirmed update again. PTB's ``Updater`` asks for the next batch as soon as
it has put the last one in a queue in memory, so a crash lost everything queued. Here:

1. the updates still waiting in the inbox table (a crash, a stop) are handed on first;
2. a batch is fetched only when the dispatcher has room for it (bounded memory);
3. the batch is stored in one durable commit (``Inbox.accept``);
4. only then does the next ``getUpdates`` carry the offset that confirms it.

On stop, fetching ends at once (a long poll in flight is abandoned: what it might have
returned is not confirmed, so Telegram sends it again), and the dispatcher gets a grace
period for the updates it is handling; the rest wait in the table for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from telegram import Bot
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.handlers.telegram import CHANNEL, KeepsRawUpdates, TelegramAdapter, _seconds, chat_of_update
from bot.services.inbox import Delivered

log = logging.getLogger(__name__)

POLL_SECONDS = 30  # long-poll window of one getUpdates call
MAX_BATCH = 100  # Telegram's limit per getUpdates
ALLOWED_UPDATES = ("message", "callback_query")
BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
DEFAULT_READ_SECONDS = 5.0  # PTB's default read timeout, for an updates connection that names none
STOP_GRACE_SECONDS = 6.0  # updates being handled at a stop get this long (docker stop waits 10 s)


def payload_of(update: dict[str, Any]) -> str:
    """An update as JSON text (when the request kept no raw copy)."""
    # ASCII escapes: a lone surrogate (a broken emoji in a name) is stored and read back unchanged.
    return json.dumps(update, separators=(",", ":"))


async def get_updates(bot: Bot, offset: int | None, limit: int, timeout: int,
                      read_timeout: float) -> list[dict[str, Any]]:
    """``getUpdates`` as ``Bot.get_updates`` calls it (on PTB's updates connection, with its
    errors), the updates left as the Bot API's JSON dicts.

    ``Bot.get_updates`` makes a tree of Telegram objects of every update (~60 us each, a third
    of the event loop's work per text report) that a text message never needs
    (:func:`bot.handlers.telegram.text_inbound`); the adapter makes one only for the others.
    ``Bot._post`` is private: tests/unit/test_telegram_raw_updates.py says so first if it goes.
    """
    data = {"offset": offset, "limit": limit, "timeout": timeout, "allowed_updates": list(ALLOWED_UPDATES)}
    result = await bot._post("getUpdates", data, read_timeout=read_timeout)
    return list(result or [])


class TelegramPolling:
    """One PTB application served by store-first long polling, from start to stop."""

    def __init__(self, application: Application, poll_seconds: float = POLL_SECONDS) -> None:  # type: ignore[type-arg]
        self.application = application
        self.adapter: TelegramAdapter = application.bot_data["adapter"]
        self.inbox = self.adapter.inbox
        self.poll_seconds = poll_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, poll: bool = True) -> None:
        """Initialize PTB, check the token (``getMe``), set the menu, start polling (unless
        ``poll`` is False: a webhook feeds the inbox instead)."""
        await self.application.initialize()
        await self.adapter.post_init(self.application)
        if not poll:
            return
        with contextlib.suppress(TelegramError):  # polling cannot work while a webhook is set
            await self.application.bot.delete_webhook()
        self._task = asyncio.create_task(self._run())

    async def stop(self, grace: float = STOP_GRACE_SECONDS, close: bool = True) -> None:
        """Stop fetching now; let updates being handled finish within ``grace``; close PTB
        (unless ``close`` is False: someone else still sends through its bot, see :meth:`close`)."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.inbox.dispatcher.stop(grace)
        if close:
            await self.close()

    async def close(self) -> None:
        """Shut PTB down (its HTTP connections): after every sender using its bot has stopped."""
        await self.application.shutdown()

    async def _run(self) -> None:
        await self.inbox.replay(self._stop)
        offset: int | None = None
        failures = 0
        bot = self.application.bot
        while not self._stop.is_set():
            room = await self.inbox.dispatcher.wait_for_room(self._stop)
            if self._stop.is_set():
                break
            timeout = int(self.poll_seconds)
            poll = asyncio.ensure_future(get_updates(bot, offset, min(room, MAX_BATCH), timeout,
                                                     self._read_timeout + timeout))
            stopped = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not poll.done():  # stopping: whatever this poll returns stays unconfirmed
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError, TelegramError):
                    await poll
                break
            try:
                updates = poll.result()
                failures = 0
            except InvalidToken:
                log.error("Telegram refused the bot token; polling stops")
                raise
            except RetryAfter as exc:
                await self._sleep(_seconds(exc.retry_after))
                continue
            except (Conflict, NetworkError) as exc:  # Conflict: another process polls this bot
                failures += 1
                log.warning("Telegram getUpdates failed (%s); retrying", exc)
                await self._sleep(BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1])
                continue
            if not updates:
                continue
            raw = self._raw()
            delivered = [Delivered(str(u["update_id"]), chat_of_update(u), raw.get(u["update_id"]) or payload_of(u), u)
                         for u in updates]
            try:
                await self.inbox.accept(delivered)  # durable: from here the next offset may confirm them
            except Exception:  # not stored, so not confirmed: the same batch comes again
                log.exception("could not store %d Telegram update(s); fetching them again", len(updates))
                await self._sleep(BACKOFF_SECONDS[0])
                continue
            offset = max(u["update_id"] for u in updates) + 1

    def _raw(self) -> dict[int, str]:
        request = self.application.bot_data.get("updates_request")
        return request.take_raw_updates() if isinstance(request, KeepsRawUpdates) else {}

    @property
    def _read_timeout(self) -> float:
        """The updates connection's own read timeout (a long poll's adds to it, as in PTB)."""
        request = self.application.bot_data.get("updates_request")
        return float(getattr(request, "read_timeout", None) or DEFAULT_READ_SECONDS)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


__all__ = ["CHANNEL", "TelegramPolling"]
