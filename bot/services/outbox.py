"""The outbox sender: drains due rows under a rate limit, channel-agnostic.

Delivery guarantees
-------------------
Every pushed message is an outbox row written (with a unique key) before anything is
sent, so planning twice never sends twice. Sending one row is three steps:

1. **claim**: one transaction sets ``status = 'sending'``, a lease (``claimed_until``),
   the sender's id and ``attempts + 1``; it only succeeds on a ``pending`` row, so two
   senders (or two processes) never both send it;
2. **deliver**: the channel call (Telegram ``sendMessage``);
3. **settle**: one transaction marks the row ``sent`` (or ``blocked``/``failed``, or back
   to ``pending`` with a later ``due_at`` for a transient error).

If the process dies between 1 and 3, the row stays ``sending``. Telegram has no
idempotency key and no way to ask whether a message arrived, so such a row is
ambiguous. We choose **at most once** for it: once its lease has run out, housekeeping
marks it ``uncertain`` and it is never sent again (logged and counted by
``tcns reminders status``). A duplicate nag is what volunteers complain about; a
missed one is covered by the next step of the ladder. The window is one row per
concurrent delivery (``concurrency``) and lasts one HTTP round trip: rows are claimed
one at a time just before their call and settled just after, never in batches.
Everything not yet claimed when a process dies is sent exactly once after a restart.

Stopping (SIGTERM, Ctrl-C: ``drain(stop=...)``, ``run(stop)``): once the stop event is
set, no new row is claimed; the deliveries already in flight (at most ``concurrency``)
finish and are settled like any other, and the drain returns. So a graceful stop leaves
no ambiguous row: what was sent is ``sent``, the rest is still ``pending`` and goes out
once after the restart. Only a delivery still running ``stop_grace`` seconds after the
stop is cancelled; its row is marked ``uncertain`` at once (the hard-crash case, above).
A flood-control wait interrupted by a stop puts its row back to ``pending``.

Errors: a blocked chat (Telegram 403) is ``blocked``, its identity is marked inactive
and its other pending rows are dropped; flood control (``RetryAfter``) pauses the
whole sender for the time asked and retries the same row; network errors are retried
with backoff up to ``max_attempts``, then ``failed``; a refused request (400) is
``failed`` at once.

Rate limits: at most ``rate`` messages per second overall (Telegram: about 30) and at
least ``per_chat_interval`` seconds between two messages to one chat (Telegram: 1 s),
for all the workers of ``tcns serve --workers N`` together. A shared token bucket in the
database rather than a share of the rate per live worker: each claim takes the channel's
next slot (``send_budget``) and reserves the chat (``chat_pace``) in the claim's own
transaction (``OutboxRepository.claim_paced``), so the budget is exact at every moment,
also while a worker starts or dies (a per-worker share is wrong until the worker count
catches up, and splits one chat's 1 s between workers that cannot see each other); the
cost is one small row update per message, nothing at 30 msg/s. The local
:class:`RateLimiter` still paces this process (no claim runs far ahead of its slot).
Nothing is sent during the quiet hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.clock import Clock
from bot.services import metrics
from bot.services.quota import Quotas
from storage import Database
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

SENT, BLOCKED, RETRY_AFTER, TRANSIENT, PERMANENT = "sent", "blocked", "retry_after", "transient", "permanent"
# The channel stopped pushing (Zalo: its quota is spent, 429, or its token refused, 401): the row
# waits, pending, and the channel is paused (bot.services.quota); ``reason``: quota | token.
PAUSE = "pause"
# The request may have reached the channel (a read timeout, a connection dropped after
# sending): resending could duplicate, so it is settled ``uncertain`` like a crash mid-call.
UNCERTAIN = "uncertain"
PACE_KEPT_SECONDS = 60.0  # a chat's pace row is forgotten this long after it ran out
CLAIM_RETRY_SECONDS = 0.05  # a claim lost to another worker (or its chat's pace): look again this soon
LATE_SEND_SECONDS = 0.01  # a send this much after its slot moves its chat's next slot back (_keep_chat_pace)


@dataclass(frozen=True)
class Delivery:
    outcome: str  # sent | blocked | retry_after | transient | permanent | uncertain | pause
    error: str = ""
    retry_after: float = 0.0
    reason: str = ""
    messages: int = 1  # messages the channel counts for a sent row (a long text goes out in parts)


Deliver = Callable[[OutboxMessage], Awaitable[Delivery]]


class RateLimiter:
    """Paces sends to ``rate`` per second overall and ``per_chat_interval`` s per chat (monotonic time)."""

    def __init__(self, rate: float, per_chat_interval: float = 1.0, burst: int = 1,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.per_chat_interval = per_chat_interval
        self.burst = burst
        self._monotonic = monotonic
        self._next = 0.0
        self._chats: dict[str, float] = {}

    async def acquire(self) -> None:
        now = self._monotonic()
        slot = max(self._next, now - self.burst * self.interval)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)

    def chat_wait(self, chat: str) -> float:
        return max(0.0, self._chats.get(chat, 0.0) - self._monotonic())

    def note_chat(self, chat: str) -> None:
        if self.per_chat_interval > 0:
            self._chats[chat] = self._monotonic() + self.per_chat_interval
            if len(self._chats) > 50_000:  # forget chats whose interval is long over
                now = self._monotonic()
                self._chats = {c: t for c, t in self._chats.items() if t > now}

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, self._monotonic() + seconds)


@dataclass
class DrainResult:
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    expired: int = 0
    uncertain: int = 0
    paused: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    paused_channels: set[str] = field(default_factory=set)  # stopped pushing during this drain


class OutboxSender:
    def __init__(
        self,
        db: Database,
        deliveries: dict[str, Deliver],
        clock: Clock,
        *,
        is_quiet: Callable[[datetime], bool] | None = None,
        rate: float = 30.0,
        per_chat_interval: float = 1.0,
        concurrency: int = 8,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        backoff: tuple[float, ...] = (2.0, 10.0, 60.0, 300.0),
        max_inline_retry_after: float = 30.0,
        batch: int = 200,
        owner: str | None = None,
        followups: Callable[[datetime], Awaitable[int]] | None = None,
        stop_grace: float = 6.0,
        quota: Quotas | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.deliveries = deliveries
        self.clock = clock
        self.is_quiet = is_quiet or (lambda _when: False)
        self.limiter = RateLimiter(rate, per_chat_interval)
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_inline_retry_after = max_inline_retry_after
        self.batch = batch
        self.owner = owner or uuid.uuid4().hex[:12]
        # Called when a drain finds nothing left; returns how many rows it enqueued (e.g. the
        # delivery summary of an announcement whose last copy just settled).
        self.followups = followups
        # On a stop, how long deliveries already in flight may take to finish (docker stop waits 10 s).
        self.stop_grace = stop_grace
        # Push budgets and pauses per channel (Zalo's monthly quota); none by default.
        self.quota = quota or Quotas(ZoneInfo("UTC"))
        # Wall-clock seconds for the send budget shared with other workers (real time, whatever
        # ``clock`` says: a test's fixed clock must not hold the pacing still).
        self.wall = wall
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was enqueued: drain now instead of at the next poll."""
        self._wake.set()

    async def drain(self, channel: str | None = None, chat_id: str | None = None,
                    stop: asyncio.Event | None = None) -> DrainResult:
        """Send everything due now (optionally only one channel / chat); return when nothing is left.

        Once ``stop`` is set, no new row is claimed: the deliveries in flight finish and are
        settled (for at most ``stop_grace`` seconds; then they are cancelled and their rows
        marked ``uncertain``), and the drain returns. Rows not claimed stay ``pending``.
        """
        stop = stop or asyncio.Event()
        result = DrainResult()
        inflight: dict[asyncio.Task[None], OutboxMessage] = {}
        failures: list[BaseException] = []
        stopping = asyncio.create_task(stop.wait())

        def done(task: asyncio.Task[None]) -> None:
            inflight.pop(task, None)
            if not task.cancelled() and task.exception() is not None and task.exception() not in failures:
                failures.append(task.exception())  # type: ignore[arg-type]

        async def wait_any(timeout: float | None = None) -> None:
            """Until a delivery ends, ``stop`` is set or ``timeout`` passes."""
            await asyncio.wait([stopping, *inflight], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if failures:  # a settle that failed (database gone) or the process being torn down
                raise failures[0]

        try:
            while not stop.is_set():
                if failures:
                    raise failures[0]
                now = self.clock.now()
                if self.is_quiet(now):
                    break
                async with self.db.uow() as uow:
                    settled = await uow.outbox.housekeep(now)
                    await uow.leases.prune_pace(self.wall() - PACE_KEPT_SECONDS)
                    held = await self.quota.holds(uow, list(self.deliveries), now)
                    rows = await uow.outbox.due(now, self.batch, channel, chat_id, held)
                    rooms = {c: await self.quota.room(uow, c, now) for c in {r.channel for r in rows}}
                result.skipped += settled["skipped"]
                result.expired += settled["expired"]
                result.uncertain += settled["uncertain"]
                if settled["uncertain"]:
                    log.warning("%d outbox rows were in delivery when a sender stopped: marked uncertain, "
                                "not resent", settled["uncertain"])
                rows = _within(rows, rooms, self.deliveries, inflight.values())
                if not rows:
                    if inflight:
                        await wait_any()
                        continue
                    if self.followups is not None and await self.followups(now):
                        continue
                    break
                started = 0
                waits = []
                for row in rows:
                    wait = self.limiter.chat_wait(row.chat_id)
                    if wait > 0:
                        waits.append(wait)
                        continue
                    while len(inflight) >= self.concurrency and not stop.is_set():
                        await wait_any()
                    if stop.is_set():
                        break
                    if row.channel in result.paused_channels:  # its quota ran out meanwhile: it waits
                        continue
                    await self.limiter.acquire()
                    if stop.is_set():  # checked right before the claim: nothing is claimed after a stop
                        break
                    now = self.clock.now()
                    async with self.db.uow() as uow:
                        slot = await uow.outbox.claim_paced(
                            row.id, row.channel, row.chat_id, now + self.lease, self.owner, self.wall(),
                            self.limiter.interval, self.limiter.per_chat_interval)
                    if slot is None:  # another worker has it, or sent to this chat a moment ago
                        waits.append(CLAIM_RETRY_SECONDS)
                        continue
                    self.limiter.note_chat(row.chat_id)
                    task = asyncio.create_task(self._send(row, result, failures, stop, slot))
                    inflight[task] = row
                    task.add_done_callback(done)
                    started += 1
                if not started and not stop.is_set():
                    await wait_any(None if inflight else min(waits, default=0.0))
            if stop.is_set():
                await self._stop_inflight(inflight, result)
            elif inflight:
                await asyncio.gather(*inflight)
        finally:
            stopping.cancel()
        if failures:
            raise failures[0]
        return result

    async def _stop_inflight(self, inflight: dict[asyncio.Task[None], OutboxMessage], result: DrainResult) -> None:
        """A stop: let the deliveries in flight finish and settle, for at most ``stop_grace`` seconds."""
        log.info("outbox sender stopping: %d deliveries in flight, waiting up to %.0fs", len(inflight),
                 self.stop_grace)
        if not inflight:
            return
        rows = dict(inflight)
        _, late = await asyncio.wait(rows, timeout=self.stop_grace)
        if not late:
            return
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        # Cancelled during the call: the message may or may not have arrived. At most once.
        async with self.db.uow() as uow:
            abandoned = await uow.outbox.mark_uncertain([rows[t].id for t in late], self.owner,
                                                        "sender stopped during delivery")
        result.uncertain += abandoned
        log.warning("%d deliveries still in flight after %.0fs: cancelled, marked uncertain, not resent",
                    abandoned, self.stop_grace)

    async def _send(self, row: OutboxMessage, result: DrainResult, failures: list[BaseException],
                    stop: asyncio.Event, slot: float = 0.0) -> None:
        try:
            deliver = self.deliveries[row.channel]
            wait = slot - self.wall()
            if wait > 0:  # the shared budget's slot (other workers send too): not before it
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                    # Stopped before the call: not sent, so back to pending at once.
                    await self._settle(row, Delivery(TRANSIENT, "sender stopped before sending", 0.0), result,
                                       retry_now=True)
                    return
            await self._keep_chat_pace(row, slot)
            while True:
                try:
                    outcome = await deliver(row)
                except Exception as exc:  # a bug in a delivery function must not kill the sender
                    log.exception("delivery of outbox row %s raised", row.id)
                    outcome = Delivery(TRANSIENT, f"{type(exc).__name__}: {exc}")
                if outcome.outcome == RETRY_AFTER and outcome.retry_after <= self.max_inline_retry_after:
                    log.warning("flood control: pausing the sender for %.1fs", outcome.retry_after)
                    self.limiter.pause(outcome.retry_after)
                    async with self.db.uow() as uow:  # every worker's sender of this channel waits too
                        await uow.leases.pause_budget(row.channel, self.wall() + outcome.retry_after)
                    with contextlib.suppress(TimeoutError):
                        # A stop during the wait: not sent, so back to pending (settled as a retry below).
                        await asyncio.wait_for(stop.wait(), outcome.retry_after)
                        break
                    await self.limiter.acquire()
                    continue
                break
            await self._settle(row, outcome, result)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # recorded at once, so no new claim starts after it
            failures.append(exc)
            raise

    async def _keep_chat_pace(self, row: OutboxMessage, slot: float) -> None:
        """A send starting well after its slot (a busy machine) moves its chat's next slot back by
        as much, so that the next message to that chat, from any worker, still comes a whole
        ``per_chat_interval`` after this one really went."""
        interval = self.limiter.per_chat_interval
        if slot <= 0 or interval <= 0:
            return
        now = self.wall()
        if now - slot < LATE_SEND_SECONDS:
            return
        self.limiter.note_chat(row.chat_id)
        async with self.db.uow() as uow:
            await uow.leases.push_chat_pace(row.channel, row.chat_id, now + interval)

    async def _settle(self, row: OutboxMessage, outcome: Delivery, result: DrainResult,
                      retry_now: bool = False) -> None:
        now = self.clock.now()
        metrics.PUSHED.labels(row.channel, outcome.outcome).inc()
        async with self.db.uow() as uow:
            if retry_now:
                await uow.outbox.mark_retry(row.id, now, outcome.error)
                result.retried += 1
            elif outcome.outcome == SENT:
                await uow.outbox.mark_sent(row.id, now)
                await self.quota.counted(uow, row.channel, now, outcome.messages)
                result.sent += 1
            elif outcome.outcome == PAUSE:
                await uow.outbox.release(row.id, outcome.error)
                await self.quota.pause(uow, row.channel, outcome.reason or "quota", now)
                result.paused += 1
                result.paused_channels.add(row.channel)
            elif outcome.outcome == BLOCKED:
                await uow.outbox.mark_final(row.id, "blocked", outcome.error or "blocked")
                await uow.outbox.drop_pending_for_chat(row.channel, row.chat_id, "recipient blocked the bot")
                await uow.members.set_identity_active(row.channel, row.chat_id, False)
                result.blocked += 1
                log.info("chat %s/%s blocked the bot: marked inactive", row.channel, row.chat_id)
            elif outcome.outcome == UNCERTAIN:
                await uow.outbox.mark_uncertain([row.id], self.owner, outcome.error or "sent or not: unknown")
                result.uncertain += 1
                log.warning("outbox row %s may or may not have arrived (%s): not resent", row.id, outcome.error)
            elif outcome.outcome == PERMANENT or row.attempts + 1 >= self.max_attempts:
                await uow.outbox.mark_final(row.id, "failed", outcome.error)
                result.failed += 1
                log.error("outbox row %s failed for good: %s", row.id, outcome.error)
            else:  # transient, or a flood wait longer than we hold a lease for
                delay = outcome.retry_after if outcome.outcome == RETRY_AFTER else \
                    self.backoff[min(row.attempts, len(self.backoff) - 1)]
                await uow.outbox.mark_retry(row.id, now + timedelta(seconds=delay), outcome.error)
                result.retried += 1

    async def run(self, stop: asyncio.Event, poll_seconds: float = 5.0) -> None:
        """Drain whenever something is due, until ``stop`` is set; then settle what is in flight and return."""
        while not stop.is_set():
            try:
                await self.drain(stop=stop)
            except Exception:
                log.exception("outbox drain failed; retrying shortly")
            self._wake.clear()
            waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
            await asyncio.wait(waiters, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()


def _within(rows: list[OutboxMessage], rooms: dict[str, int | None], deliveries: dict[str, Deliver],
            inflight: Iterable[OutboxMessage]) -> list[OutboxMessage]:
    """The rows this sender delivers, no more per channel than its budget has room for (counting
    the deliveries in flight, not counted yet)."""
    busy: dict[str, int] = {}
    for row in inflight:
        busy[row.channel] = busy.get(row.channel, 0) + 1
    kept, taken = [], dict(busy)
    for row in rows:
        if row.channel not in deliveries:
            continue
        room = rooms.get(row.channel)
        if room is not None and taken.get(row.channel, 0) >= room:
            continue
        taken[row.channel] = taken.get(row.channel, 0) + 1
        kept.append(row)
    return kept
