"""The bot's one start/stop sequence: channels, the reminder scheduler and the outbox sender.

``tcns run`` (long polling) uses :class:`BotProcess`; ``tcns serve`` (bot/runtime/web.py)
starts the same process with ``poll=False`` in each worker and feeds the channels' inboxes
from its webhook endpoints; then the process replays what waits in the inboxes, registers
the webhooks (``TCNS_PUBLIC_URL``) and, while it holds the scheduler lease, sweeps updates a
dead worker left behind. ``tcns reminders run``
and the terminal chat take the outbox deliveries from here too, so no entry point wires
channels on its own.

Stopping (SIGTERM, Ctrl-C): nothing new is fetched; the outbox sender and every channel
get :data:`STOP_GRACE_SECONDS` at the same time for the work in hand (docker stop waits
10 s); what was fetched and not handled yet stays in the inbox for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.domain.clock import Clock
from bot.handlers import telegram_outbox, zalo, zalo_outbox
from bot.handlers.telegram import build_application
from bot.handlers.telegram_polling import TelegramPolling
from bot.handlers.terminal_outbox import terminal_inbox
from bot.runtime.core import Runtime
from bot.runtime.scheduler import ReminderScheduler
from bot.services.announcements import summary_followup
from bot.services.inbox import Inbox
from bot.services.leases import SCHEDULER, Lease, worker_id, worker_lease
from bot.services.outbox import Deliver, OutboxSender
from bot.services.quota import Quotas

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 6.0
SWEEP_AFTER_SECONDS = 60.0  # a stored update still waiting this long was left by a worker that died


class ChannelRefused(Exception):
    """A channel refused the bot at start (Zalo: the token); ``str()`` says what it answered."""


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (``kill``, systemd, docker stop, Ctrl-C): the graceful stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


class BotProcess:
    """Every channel with a token, the scheduler and the sender, on this event loop."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.telegram: TelegramPolling | None = None
        self.zalo: zalo.ZaloAdapter | None = None
        self.scheduler: ReminderScheduler | None = None
        self._stack = contextlib.AsyncExitStack()
        self._stop = asyncio.Event()
        self._zalo_polling: asyncio.Task[None] | None = None
        self._webhooks: dict[str, bool] = {}  # channel -> webhook registered at start
        self._replays: set[asyncio.Task[int]] = set()

    @property
    def stopping(self) -> asyncio.Event:
        """Set once :meth:`stop` begins (webhooks then store nothing more)."""
        return self._stop

    async def start(self, poll: bool = True) -> None:
        """Start the channels (Zalo's token is checked first), then reminders.

        Raises :class:`ChannelRefused` before anything runs if Zalo refuses the token.
        """
        settings, runtime = self.runtime.settings, self.runtime
        deliveries: dict[str, Deliver] = {}
        if settings.zalo_bot_token:
            client = await self._stack.enter_async_context(zalo.ZaloClient(settings.zalo_bot_token,
                                                                           settings.zalo_api_base_url))
            self.zalo = zalo.ZaloAdapter(runtime.engine, runtime.content, client,
                                         on_refused=zalo_refused(runtime), file_url=zalo_file_url(runtime))
            try:
                account = await self.zalo.start()
            except (zalo.ZaloError, zalo.ZaloNetworkError) as exc:
                await self._stack.aclose()
                raise ChannelRefused(str(exc)) from exc
            log.info("Zalo bot %s is ready", account.get("account_name") or account.get("id"))
            await quotas_of(runtime).publish(runtime.db, runtime.clock.now())
            deliveries[zalo.CHANNEL] = zalo_outbox.zalo_delivery(self.zalo)
        if settings.telegram_bot_token:
            application = build_application(settings.telegram_bot_token, runtime.engine, runtime.content,
                                            base_url=settings.telegram_api_base_url,
                                            base_file_url=settings.file_base_url,
                                            rate_limit=settings.telegram_rate_limit)
            self.telegram = TelegramPolling(application)
            await self.telegram.start(poll=poll)
            log.info("Telegram bot @%s is ready", application.bot.username)
            deliveries[telegram_outbox.CHANNEL] = telegram_outbox.telegram_delivery(application.bot, runtime.content)
        if poll and self.zalo is not None:
            self._zalo_polling = asyncio.create_task(self.zalo.run(self._stop))
        if not poll:  # webhooks feed the inboxes: what waits in them from before goes first
            for inbox in self.inboxes():
                self._replays.add(asyncio.create_task(inbox.replay(self._stop)))
            await self._set_webhooks()
        self._say_modes(poll)
        self.scheduler = start_reminders(runtime, deliveries, sweep=None if poll else self.sweep)
        gc.freeze()  # what start-up built (content, PTB, the registry) lives as long as the process:
        # the collector no longer walks it at every full pass (3% of tcns serve's CPU per update)

    def inboxes(self) -> list[Inbox]:
        return [adapter.inbox for adapter in (self.telegram and self.telegram.adapter, self.zalo) if adapter]

    async def sweep(self) -> None:
        """Webhooks with several workers: updates stored more than :data:`SWEEP_AFTER_SECONDS`
        ago and still waiting were left by a worker that died; handle them here (the
        engine's claim keeps one still being handled elsewhere from being done twice)."""
        for inbox in self.inboxes():
            await inbox.replay(self._stop, stored_before=time.time() - SWEEP_AFTER_SECONDS)

    async def _set_webhooks(self) -> None:
        settings = self.runtime.settings
        if not settings.public_url:
            return
        from bot.handlers import webhooks  # Starlette: only tcns serve loads it

        if self.telegram is not None and settings.telegram_webhook_secret:
            self._webhooks["Telegram"] = await webhooks.set_telegram_webhook(
                self.telegram.application.bot, settings.public_url, settings.telegram_webhook_secret)
        if self.zalo is not None and settings.zalo_webhook_token:  # configured, or generated from the token
            self._webhooks["Zalo"] = await webhooks.set_zalo_webhook(self.zalo.client, settings.public_url,
                                                                     settings.zalo_webhook_token)

    def _say_modes(self, poll: bool) -> None:
        """How each channel receives, in the operator's log: long polling (``tcns run``, for
        trying it out) or webhook (``tcns serve``), registered with the channel or not."""
        for name, running in (("Telegram", self.telegram), ("Zalo", self.zalo)):
            if running is None:
                continue
            if poll:
                log.info("%s: receiving by long polling; in production use tcns serve (webhook)", name)
            elif self._webhooks.get(name):
                log.info("%s: receiving by webhook at %s", name, self.runtime.settings.public_url)
            else:
                log.warning("%s: webhook mode, but no webhook is registered (TCNS_PUBLIC_URL not set or refused)",
                            name)

    async def stop(self) -> None:
        """Fetch nothing more; everyone settles the work in hand at once, within the grace."""
        log.info("stopping: no new updates are fetched; those not handled yet stay stored for the next start")
        self._stop.set()
        if self._replays:
            await asyncio.gather(*self._replays, return_exceptions=True)
        stopping: list[Awaitable[None]] = []
        if self.scheduler is not None:
            stopping.append(self.scheduler.stop())
        if self.zalo is not None:
            stopping.append(self._stop_zalo())
        if self.telegram is not None:  # PTB's bot stays open: the outbox sender's deliveries use it
            stopping.append(self.telegram.stop(STOP_GRACE_SECONDS, close=False))
        await asyncio.gather(*stopping)
        if self.telegram is not None:
            await self.telegram.close()  # once the sender settled what it had in flight
        await self._stack.aclose()  # the channels' HTTP clients, once nothing uses them

    async def _stop_zalo(self) -> None:
        assert self.zalo is not None
        if self._zalo_polling is not None:
            await self._zalo_polling  # returns at once once the stop is set: the poll in flight is abandoned
        await self.zalo.stop(STOP_GRACE_SECONDS)


def quotas_of(runtime: Runtime) -> Quotas:
    """The push budgets of the settings (Zalo: ``TCNS_ZALO_MONTHLY_BUDGET``)."""
    settings = runtime.settings
    budgets = {zalo.CHANNEL: settings.zalo_monthly_budget} if settings.zalo_monthly_budget is not None else {}
    return Quotas(settings.tz, budgets, settings.quota_reserve, runtime.content)


def zalo_file_url(runtime: Runtime) -> zalo.FileUrl | None:
    """Charts and spreadsheets for Zalo at short-lived signed URLs: ``tcns serve``'s file URLs
    (``runtime.files``, set with ``TCNS_PUBLIC_URL``), once the runtime has them; None otherwise
    (Zalo then says where to get them)."""
    files = getattr(runtime, "files", None)
    if files is None:
        return None

    async def publish(data: bytes, name: str, mime: str) -> str | None:
        return await files.publish(data, name, mime=mime)  # type: ignore[no-any-return]

    return publish


def zalo_refused(runtime: Runtime) -> zalo.Refused:
    """A reply Zalo refused with 429 (quota spent) or 401 (token): pushing on Zalo stops too."""
    quotas = quotas_of(runtime)

    async def refused(code: int, description: str) -> None:
        now = runtime.clock.now()
        async with runtime.db.uow() as uow:
            await quotas.pause(uow, zalo.CHANNEL, "quota" if code == zalo.QUOTA_EXCEEDED else "token", now)

    return refused


def start_reminders(runtime: Runtime, deliveries: dict[str, Deliver],
                    sweep: Callable[[], Awaitable[None]] | None = None) -> ReminderScheduler:
    """The scheduler (decides what is due, enqueues) and the outbox sender (sends), on this loop.

    Passes run in the one process that holds the ``scheduler`` lease (several workers, or a
    ``tcns run`` beside a ``tcns reminders run``); every process's sender drains the outbox."""
    planner = runtime.content.planner(runtime.settings.tz)
    owner = worker_id()
    sender = OutboxSender(runtime.db, deliveries, runtime.clock, is_quiet=planner.is_quiet,
                          rate=runtime.settings.outbox_rate, stop_grace=STOP_GRACE_SECONDS,
                          followups=summary_followup(runtime.db, runtime.content), quota=quotas_of(runtime),
                          owner=owner)
    scheduler = ReminderScheduler(runtime.db, runtime.content, runtime.clock, planner, sender,
                                  lease=Lease(runtime.db, SCHEDULER, owner), worker=worker_lease(runtime.db, owner),
                                  on_duty=sweep)
    scheduler.start()
    return scheduler


async def deliveries_for(runtime: Runtime, stack: contextlib.AsyncExitStack) -> dict[str, Deliver]:
    """A send-only delivery for every channel with a token (``tcns reminders run``); their
    HTTP clients close with ``stack``."""
    from telegram import Bot

    from bot.handlers.telegram_request import AiohttpRequest

    settings = runtime.settings
    deliveries: dict[str, Deliver] = {}
    if settings.telegram_bot_token:
        bot = await stack.enter_async_context(Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url,
                                                  base_file_url=settings.file_base_url, request=AiohttpRequest()))
        deliveries[telegram_outbox.CHANNEL] = telegram_outbox.telegram_delivery(bot, runtime.content)
    if settings.zalo_bot_token:
        client = await stack.enter_async_context(zalo.ZaloClient(settings.zalo_bot_token, settings.zalo_api_base_url))
        adapter = zalo.ZaloAdapter(runtime.engine, runtime.content, client, on_refused=zalo_refused(runtime))
        deliveries[zalo.CHANNEL] = zalo_outbox.zalo_delivery(adapter)
    return deliveries


def sender_at(runtime: Runtime, deliveries: dict[str, Deliver], clock: Clock) -> OutboxSender:
    """An outbox sender for one drain (``tcns reminders run --now``), under the same rules."""
    planner = runtime.content.planner(runtime.settings.tz)
    return OutboxSender(runtime.db, deliveries, clock, is_quiet=planner.is_quiet, rate=runtime.settings.outbox_rate,
                        quota=quotas_of(runtime))


def terminal_messages(runtime: Runtime, user: str) -> Callable[[], Awaitable[list[str]]]:
    """What the outbox holds for a terminal user, delivered when the chat asks (no push there)."""
    planner = runtime.content.planner(runtime.settings.tz)
    followups: Callable[[datetime], Awaitable[int]] = summary_followup(runtime.db, runtime.content)
    return terminal_inbox(runtime.db, runtime.clock, planner, user, followups)
