"""The reminder scheduler: APScheduler decides *when* to look, the planner decides *what*
is due, the outbox sender sends it.

Cron triggers fire at each local time a ladder step or the digest can become due
(08:00, 07:30, …, in the bot's time zone). Each firing runs one scheduling pass, which
enqueues every step whose time has come and which has not expired; a pass is idempotent.
A pass works in short units of work (reads, then the messages in chunks: bot/reminders.py),
so members' messages are answered while it runs.

Downtime: APScheduler's job store is in memory, so it cannot know what fired while the
process was down. A pass runs once at start-up instead, and because a pass looks back
over every step not yet expired, steps missed while the bot was down are enqueued then
(once: the outbox key) and steps already sent are not. ``misfire_grace_time`` (6 h) and
``coalesce=True`` cover the in-process case (a suspended machine, a blocked loop): a
late firing still runs, and several missed firings run once, rather than APScheduler's
default of silently dropping a firing more than one second late.

Several workers (``tcns serve --workers N``): every worker runs the outbox sender, but only
the holder of the ``scheduler`` lease (:class:`bot.services.leases.Lease`) runs passes. Each
worker tries for the lease every ``ttl / 3`` seconds; the one that gets it runs a catch-up
pass at once (what was due while nobody held it is planned then) and its cron firings from
then on. A worker that lost it (a long stall) skips its firings. Even two passes at once
plan nothing twice: the outbox key is unique. The holder also runs ``on_duty`` (the sweep of
updates a dead worker stored and never handled) once per renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.content import Content
from bot.domain.clock import Clock
from bot.domain.deadlines import Planner
from bot.services.leases import Lease
from bot.services.outbox import OutboxSender
from bot.services.reminders import PassResult, scheduling_pass
from storage import Database

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 6 * 3600
PROCESSED_UPDATES_KEPT = timedelta(days=7)


async def prune_inbox(db: Database, before: datetime) -> int:
    """Housekeeping: processed marks older than ``before`` are dead weight (channels redeliver
    for a day at most). A window of the table per short unit of work, members' messages in
    between: a week of marks at 10,000 members is a large DELETE."""
    pruned, after, first = 0, None, True
    while first or after is not None:
        first = False
        deleted, after = await db.run(lambda uow, after=after: uow.inbox.prune_window(before, after))
        pruned += deleted
        await db.bulk_pause()
        await asyncio.sleep(0)  # whoever waits for the database goes first, alone
    return pruned


class ReminderScheduler:
    def __init__(self, db: Database, content: Content, clock: Clock, planner: Planner,
                 sender: OutboxSender | None = None, lease: Lease | None = None,
                 worker: Lease | None = None, on_duty: Callable[[], Awaitable[object]] | None = None) -> None:
        self.db, self.content, self.clock, self.planner, self.sender = db, content, clock, planner, sender
        self.lease, self.worker, self.on_duty = lease, worker, on_duty
        self._keeper: asyncio.Task[None] | None = None
        self._duty: asyncio.Future[object] | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self._stop = asyncio.Event()
        self._sender_task: asyncio.Task[None] | None = None
        self._ticks: set[asyncio.Task[object]] = set()

    async def tick(self, now: datetime | None = None) -> PassResult:
        now = now or self.clock.now()
        await prune_inbox(self.db, now - PROCESSED_UPDATES_KEPT)
        result = await scheduling_pass(self.db, self.content, self.planner.tz, now, planner=self.planner)
        if result.added and self.sender is not None:
            self.sender.wake()
        return result

    async def keep_lease(self) -> bool:
        """One renewal: take or renew the lease (and this worker's own); on taking it, a
        catch-up pass; while holding it, ``on_duty``. Whether this worker holds it."""
        assert self.lease is not None
        if self.worker is not None:
            await self.worker.acquire()
        had = self.lease.held
        held = await self.lease.acquire()
        if held and not had:  # its own task: a long pass must not hold up the renewals
            log.info("this worker plans the reminders now (scheduler lease taken)")
            self._ticks.add(asyncio.ensure_future(self._safe_tick(checked=True)))
        if held and self.on_duty is not None and (self._duty is None or self._duty.done()):
            self._duty = asyncio.ensure_future(self.on_duty())
        return held

    async def settled(self) -> None:
        """Wait for the passes and the duty started so far (tests)."""
        await asyncio.sleep(0)
        await asyncio.gather(*list(self._ticks), *([self._duty] if self._duty else []), return_exceptions=True)

    async def _keep_lease_forever(self) -> None:
        assert self.lease is not None
        while not self._stop.is_set():
            try:
                await self.keep_lease()
            except Exception:  # the database away for a moment: try again at the next renewal
                log.exception("scheduler lease renewal failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.lease.renew_every)

    async def _safe_tick(self, checked: bool = False) -> None:
        task = asyncio.current_task()
        if task is not None:  # so stop() can wait for a pass to unwind before the database closes
            self._ticks.add(task)
        try:
            if self.lease is not None and not checked and not await self.lease.acquire():
                return  # another worker holds the scheduler lease: its pass, not ours
            await self.tick()
        except Exception:
            log.exception("scheduling pass failed")
        finally:
            self._ticks.discard(task)  # type: ignore[arg-type]

    def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone=self.planner.tz)
        for moment in self.planner.cron_times:
            scheduler.add_job(
                self._safe_tick, CronTrigger(hour=moment.hour, minute=moment.minute, timezone=self.planner.tz),
                id=f"pass-{moment:%H%M}", misfire_grace_time=MISFIRE_GRACE_SECONDS, coalesce=True, max_instances=1,
            )
        if self.lease is None:  # with a lease, the catch-up pass runs when the lease is taken
            scheduler.add_job(self._safe_tick, id="pass-start", misfire_grace_time=MISFIRE_GRACE_SECONDS)  # now
        else:
            self._keeper = asyncio.create_task(self._keep_lease_forever())
        scheduler.start()
        self.scheduler = scheduler
        if self.sender is not None:
            self._sender_task = asyncio.create_task(self.sender.run(self._stop))
        log.info("reminders scheduled at %s (%s)", ", ".join(f"{t:%H:%M}" for t in self.planner.cron_times),
                 self.planner.tz)

    async def stop(self) -> None:
        """Stop firing (APScheduler cancels a pass in progress: the chunks it enqueued stay, and the
        start-up pass of the next process adds the rest, once: the outbox key); the sender claims
        nothing more, settles the
        deliveries in flight (``OutboxSender.stop_grace``) and returns. Call before closing the
        database and the channel's HTTP client."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        self._stop.set()
        if self._keeper is not None:
            await self._keeper
            self._keeper = None
        if self._duty is not None:
            self._duty.cancel()
            await asyncio.gather(self._duty, return_exceptions=True)
        if self._ticks:
            await asyncio.gather(*list(self._ticks), return_exceptions=True)
        if self._sender_task is not None:
            await self._sender_task
            self._sender_task = None
        for lease in (self.lease, self.worker):
            if lease is not None:
                with contextlib.suppress(Exception):  # the next worker then need not wait for the expiry
                    await lease.release()
