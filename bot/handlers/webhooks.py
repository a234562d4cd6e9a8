"""The channels' webhook endpoints, store first: a 200 only once the update is durable (in
the inbox, or handled with its effects committed); a redelivered update is answered 200 and
changes nothing (the inbox's key); a wrong or missing secret gets 403 and nothing is stored.

* Telegram ``POST /webhook/telegram``: the header ``X-Telegram-Bot-Api-Secret-Token`` must
  equal ``TELEGRAM_WEBHOOK_SECRET`` (set with ``setWebhook``'s ``secret_token``). A private
  text is handled in its request, in a group with the texts that arrive together (one
  transaction, :class:`GroupStore`), its reply in the answer when it is one plain message.
  Any other update is stored as Telegram sent it and handled later by PTB's
  ``Application.process_update``, through the same dispatcher as polling (in order per chat).
* Zalo ``POST /webhook/zalo``: the header ``X-Bot-Api-Secret-Token`` must equal
  ``ZALO_WEBHOOK_SECRET``. The body is either ``{"ok": true, "result": {event}}`` or the bare
  event; the Zalo adapter's webhook entry (``ZaloAdapter.receive``) keys, stores and hands it
  on, as for polling; a store that failed is a 500 (Zalo may send it again).

A webhook waits for room in the dispatcher before storing (bounded memory under a burst: the
channel holds its next request meanwhile, as polling does not fetch). The endpoints take the
secret header and the body and return the status and the answer's body; the ASGI plumbing is
bot/runtime/web.py's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

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
GATHER_SECONDS = 0.005  # under load, how long a group may wait for the requests the last one answered

OK, BAD, FORBIDDEN, FAILED, UNAVAILABLE = 200, 400, 403, 500, 503


GroupHandler = Callable[[Sequence[Delivered]], Awaitable[list[bytes | None]]]


class GroupStore:
    """Group commit of the webhook's stores: the updates whose requests arrive while a store is
    under way are stored together by the next one, in one statement and one durable commit
    (:meth:`Inbox.accept` takes a batch), and each request returns once its own update is
    stored. A lone update is stored at once; under load, the commits per update fall.

    Under load a group waits a moment for company (at most ``gather`` seconds): the requests
    that the last group answered come back at about the same time (the channel sends its next
    update on each connection as soon as it has the answer), and the first of them would
    otherwise start a group on its own, the others following in the next: twice the groups,
    each costing its round trips and its commit. So when the last group, of n updates, ended
    less than ``gather`` ago, the next one waits until its n requests are back beside those
    that were waiting when it ended, or the time is up. A group of one, or one that ended
    longer ago, makes nobody wait. (Figures: README, "Webhooks and workers".)

    With ``handle`` (Telegram's :meth:`~bot.handlers.telegram.TelegramAdapter.handle_group`),
    the group's ``direct`` updates (private texts) whose chat has nothing waiting in the
    dispatcher (and while no replay of the table is under way) are not stored to wait: they
    are handled in the group's one transaction, which stores them with their effects, and each
    request returns once that committed, with the body of its answer (its reply, or None).
    Should that fail, they are stored to wait like the others (nothing of them was committed).
    A group takes one update per chat: a second one of a chat waits for the next group."""

    def __init__(self, inbox: Inbox, handle: GroupHandler | None = None, gather: float = GATHER_SECONDS) -> None:
        self.inbox = inbox
        self.handle = handle
        self.gather = gather
        self._waiting: list[tuple[Delivered, bool, asyncio.Future[bytes | None]]] = []
        self._storing: asyncio.Task[None] | None = None
        self._answered = 0  # the size of the last group
        self._ended = 0.0  # when it ended (the loop's clock)
        self._expected = 0  # those it answered and those waiting then: the next group, under load
        self._company: asyncio.Future[None] | None = None  # a gathering's wake-up, once ``_expected`` wait

    async def store(self, update: Delivered, direct: bool = False) -> bytes | None:
        """Return once ``update`` is durably stored (raise if its store failed): None, or the
        body of the webhook's answer when it was handled in its group (``direct``)."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((update, direct, done))
        if self._company is not None and len(self._waiting) >= self._expected and not self._company.done():
            self._company.set_result(None)
        if self._storing is None:
            self._storing = asyncio.ensure_future(self._store_all())
        return await done  # a request that goes away (its future cancelled) leaves the others' store alone

    def _next_group(self) -> list[tuple[Delivered, bool, asyncio.Future[bytes | None]]]:
        """What waits, one update per chat (a chat's next one waits for the next group)."""
        group, later, chats = [], [], set()
        for entry in self._waiting:
            if len(group) < MAX_GROUP and entry[0].chat not in chats:
                group.append(entry)
                chats.add(entry[0].chat)
            else:
                later.append(entry)
        self._waiting = later
        return group

    async def _store_all(self) -> None:
        """One group after the other (one at a time: measured, two under way at once made each
        group half as big and a report 10-15% dearer; more workers are what scales)."""
        try:
            while True:
                try:
                    await self._gather()
                except BaseException as exc:  # cancelled (a stop) while gathering: no request left waiting
                    _settle(self._waiting, exc)
                    self._waiting = []
                    raise
                if not (group := self._next_group()):
                    break
                metrics.GROUPS.labels(self.inbox.channel).observe(len(group))
                try:
                    await self._store_group(group)
                except BaseException as exc:  # every request of the group answers 500: the channel sends again
                    _settle(group, exc)
                    if not isinstance(exc, Exception):  # cancelled (a stop): the requests waiting after it too
                        _settle(self._waiting, exc)
                        self._waiting = []
                        raise
                finally:  # what comes back: the requests it answered; with those waiting, the next group
                    self._answered, self._ended = len(group), asyncio.get_running_loop().time()
                    self._expected = min(MAX_GROUP, len(group) + len(self._waiting))
        finally:
            self._storing = None

    async def _gather(self) -> None:
        """Under load (the last group was of several and ended within ``gather``), wait until
        the requests it answered are back, for ``gather`` at most (see the class)."""
        loop = asyncio.get_running_loop()
        if self._answered < 2 or len(self._waiting) >= self._expected or loop.time() - self._ended >= self.gather:
            return
        self._company = loop.create_future()
        timer = loop.call_later(self.gather, _wake, self._company)
        try:
            await self._company
        finally:
            timer.cancel()
            self._company = None

    async def _store_group(self, group: list[tuple[Delivered, bool, asyncio.Future[bytes | None]]]) -> None:
        # Handled here only when nothing older of its chat can be waiting: none in the dispatcher,
        # and no replay under way (it may be about to hand over one of the chat's from the table).
        direct = [e for e in group if e[1] and not self.inbox.dispatcher.busy(e[0].chat)] \
            if self.handle and not self.inbox.replaying else []
        if direct:
            try:
                bodies = await self.handle([update for update, _, _ in direct])  # type: ignore[misc]
            except Exception:  # nothing of them stored: they wait in the inbox as any update does
                log.exception("could not handle a group of %d webhook updates; storing them", len(direct))
            else:
                for (_, _, done), body in zip(direct, bodies, strict=True):
                    if not done.done():
                        done.set_result(body)
                handled = {id(entry) for entry in direct}
                group = [entry for entry in group if id(entry) not in handled]
        if group:
            await self.inbox.accept([update for update, _, _ in group])
            _settle(group, None)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _settle(group: Sequence[tuple[Delivered, bool, asyncio.Future[bytes | None]]], error: BaseException | None) -> None:
    for _, _, done in group:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


class TelegramWebhook:
    """``POST /webhook/telegram`` into the Telegram adapter (the route's ASGI plumbing is in
    bot/runtime/web.py: this takes the secret header and the body, returns the status and the
    answer's JSON body, if any). A private text is handled in its group's transaction before
    the 200 (:class:`GroupStore` with the adapter's ``handle_group``), its reply in the answer
    when it is one plain message; any other update is stored to wait for the dispatcher."""

    def __init__(self, adapter: telegram.TelegramAdapter, secret: str | None, stop: asyncio.Event,
                 gather: float = GATHER_SECONDS) -> None:
        self.adapter, self.inbox, self.secret, self.stop = adapter, adapter.inbox, secret, stop
        self._group = GroupStore(adapter.inbox, adapter.handle_group, gather)

    async def handle(self, secret: str | None, body: bytes) -> tuple[int, bytes | None]:
        if not zalo.secret_matches(self.secret or "", secret):  # constant time
            return FORBIDDEN, None
        started = time.perf_counter()
        text = body.decode("utf-8", "replace")
        try:
            data = json.loads(text)
            key = str(int(data["update_id"]))
        except (ValueError, TypeError, KeyError):
            return BAD, None  # not an update: nothing stored
        await self.inbox.dispatcher.wait_for_room(self.stop)
        if self.stop.is_set():
            return UNAVAILABLE, None  # stopping: not stored, Telegram sends it again
        direct = telegram.text_inbound(data) is not None
        try:
            answer = await self._group.store(Delivered(key, telegram.chat_of_update(data), text, data), direct)
        except Exception:  # not stored: a 500, Telegram sends it again
            log.exception("could not store a Telegram webhook update")
            return FAILED, None
        metrics.WEBHOOK.labels(telegram.CHANNEL).observe(time.perf_counter() - started)
        return OK, answer


class ZaloWebhook:
    """``POST /webhook/zalo`` into the Zalo adapter: its own secret check and its webhook entry
    (:meth:`bot.handlers.zalo.ZaloAdapter.receive`: either body shape, keyed, stored, handed on)."""

    def __init__(self, adapter: zalo.ZaloAdapter, secret: str | None, stop: asyncio.Event) -> None:
        self.adapter, self.secret, self.stop = adapter, secret, stop

    async def handle(self, secret: str | None, body: bytes) -> tuple[int, bytes | None]:
        return await self._handle(secret, body), None

    async def _handle(self, secret: str | None, body: bytes) -> int:
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
