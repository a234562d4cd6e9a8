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

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.handlers.telegram import CHANNEL, KeepsRawUpdates, TelegramAdapter, _seconds
from bot.services.inbox import Delivered

log = logging.getLogger(__name__)

POLL_SECONDS = 30  # long-poll window of one getUpdates call
MAX_BATCH = 100  # Telegram's limit per getUpdates
ALLOWED_UPDATES = ("message", "callback_query")
BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
STOP_GRACE_SECONDS = 6.0  # updates being handled at a stop get this long (docker stop waits 10 s)


def payload_of(update: Update) -> str:
    """An update as JSON text, from PTB's object (when the request kept no raw copy)."""
    # ASCII escapes: a lone surrogate (a broken emoji in a name) is stored and read back unchanged.
    return json.dumps(update.to_dict(), separators=(",", ":"))


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
            poll = asyncio.ensure_future(bot.get_updates(
                offset=offset, limit=min(room, MAX_BATCH), timeout=int(self.poll_seconds),
                allowed_updates=list(ALLOWED_UPDATES),
            ))
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
            delivered = [Delivered(str(u.update_id), _chat_key(u), raw.get(u.update_id) or payload_of(u), u)
                         for u in updates]
            try:
                await self.inbox.accept(delivered)  # durable: from here the next offset may confirm them
            except Exception:  # not stored, so not confirmed: the same batch comes again
                log.exception("could not store %d Telegram update(s); fetching them again", len(updates))
                await self._sleep(BACKOFF_SECONDS[0])
                continue
            offset = max(u.update_id for u in updates) + 1

    def _raw(self) -> dict[int, str]:
        request = self.application.bot_data.get("updates_request")
        return request.take_raw_updates() if isinstance(request, KeepsRawUpdates) else {}

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


def _chat_key(update: Update) -> str:
    chat = update.effective_chat
    user = update.effective_user
    return str(chat.id if chat is not None else user.id if user is not None else "")


__all__ = ["CHANNEL", "TelegramPolling"]
