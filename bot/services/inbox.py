"""Store first, then handle: the path every polled or pushed update takes.

A channel adapter hands what its channel delivered to :meth:`Inbox.accept`, which writes
it to the ``inbox`` table in one durable commit and only then returns: the adapter may
now acknowledge it (Telegram: the next ``getUpdates`` offset; a webhook: its 200). The
stored updates are handled by a :class:`Dispatcher`:

* concurrently across chats (at most ``concurrency`` at a time) and strictly in order
  within a chat, as the conversation flows need;
* with at most ``capacity`` updates in memory: the poller asks for :meth:`Dispatcher.room`
  before it fetches more, so a backlog waits at the channel or in the table, not in RAM;
* on start, what is still waiting in the table (a crash, a stop) is replayed first, in
  arrival order (:meth:`Inbox.replay`);
* on stop, nothing new is started; updates being handled get until the deadline, then are
  cancelled. Whatever was not finished stays in the table for the next start, where the
  engine's claim (same transaction as the effects) makes sure nothing is done twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.domain.clock import Clock
from bot.services import metrics
from storage import Database, UnitOfWork
from storage.models import StoredUpdate

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 32
DEFAULT_CAPACITY = 256
RETRY_SECONDS = (1.0, 5.0)  # a failed update is tried again after these pauses, then set aside


@dataclass(frozen=True)
class Delivered:
    """One update as its channel delivered it: the de-duplication key, the chat it belongs
    to (the ordering key), and the raw payload, JSON text, stored as it came."""

    key: str
    chat: str
    payload: str
    parsed: Any = field(default=None, compare=False, repr=False)  # the channel's object, when still in hand


Handler = Callable[[Delivered], Awaitable[None]]


class _Seq:
    """Arrival order across restarts: nanoseconds since the epoch, strictly increasing."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, time.time_ns())
        return self._last


class Dispatcher:
    """Runs a handler over delivered updates: per chat in order, chats concurrently, bounded."""

    def __init__(self, handler: Handler, concurrency: int = DEFAULT_CONCURRENCY,
                 capacity: int = DEFAULT_CAPACITY) -> None:
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self.capacity = capacity
        self._chats: dict[str, deque[Delivered]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._held = 0  # submitted and not finished
        self._changed = asyncio.Event()
        self._stopping = False
        self.channel = ""  # for the metrics; set by the inbox in front of it

    @property
    def held(self) -> int:
        return self._held

    def busy(self, chat: str) -> bool:
        """Whether an update of ``chat`` is waiting or being handled here (a newer one goes after it)."""
        return chat in self._chats

    def room(self) -> int:
        return max(self.capacity - self._held, 0)

    async def wait_for_room(self, stop: asyncio.Event) -> int:
        """Wait until at least one update fits (or ``stop`` is set); returns the room."""
        while not stop.is_set() and self.room() == 0:
            self._changed.clear()
            waiter = asyncio.ensure_future(self._changed.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopped}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopped.cancel()
        return self.room()

    def submit(self, update: Delivered) -> None:
        if self._stopping:
            return  # stays in the inbox table for the next start
        self._held += 1
        queue = self._chats.get(update.chat)
        if queue is not None:
            queue.append(update)  # its chat's worker takes it in turn
            return
        self._chats[update.chat] = deque([update])
        worker = asyncio.ensure_future(self._work(update.chat))
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _work(self, chat: str) -> None:
        queue = self._chats[chat]
        try:
            while queue and not self._stopping:
                async with self._slots:
                    if self._stopping:
                        break
                    started = time.perf_counter()
                    try:
                        await self._handler(queue[0])
                    except Exception:  # the handler settles its own errors; never lose the worker
                        log.exception("error while handling an update of chat %s", chat)
                    metrics.HANDLED.labels(self.channel).observe(time.perf_counter() - started)
                queue.popleft()
                self._release(1)
        finally:
            self._release(len(queue))
            queue.clear()
            del self._chats[chat]

    def _release(self, count: int) -> None:
        if count:
            self._held -= count
            self._changed.set()

    async def idle(self) -> None:
        """Wait until every submitted update is handled."""
        while self._workers:
            await asyncio.gather(*list(self._workers), return_exceptions=True)

    async def stop(self, grace: float) -> int:
        """Start nothing new; give the updates being handled ``grace`` seconds, then cancel
        them. Returns how many were cancelled (their effects committed or not, atomically)."""
        self._stopping = True
        self._changed.set()
        workers = list(self._workers)
        if not workers:
            return 0
        _, pending = await asyncio.wait(workers, timeout=grace)
        for worker in pending:
            worker.cancel()
        for worker in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if pending:
            log.warning("stopped %d update(s) still being handled after %.0f s", len(pending), grace)
        return len(pending)


class Inbox:
    """The inbox table of one channel, in front of a dispatcher."""

    def __init__(self, db: Database, clock: Clock, channel: str, dispatcher: Dispatcher,
                 chat_of: Callable[[str], str]) -> None:
        self.db = db
        self.clock = clock
        self.channel = channel
        self.dispatcher = dispatcher
        dispatcher.channel = channel
        self._chat_of = chat_of  # the ordering key of a stored payload (for replays)
        self.replaying = 0  # replays under way: until they end, what waits in the table may be any chat's
        self._seq = _Seq()

    async def accept(self, updates: Sequence[Delivered]) -> list[Delivered]:
        """Store ``updates`` durably, then hand the new ones to the dispatcher.

        Returns the new ones; a redelivered update (stored or processed before) is dropped.
        When this returns, the channel may be told they arrived.
        """
        if not updates:
            return []
        rows = [(u.key, u.payload, self._seq.next()) for u in updates]
        now = self.clock.now()
        new = set(await self.db.run(lambda uow: uow.inbox.store(self.channel, rows, now), durable=True, single=True))
        fresh = [u for u in updates if u.key in new]
        metrics.UPDATES.labels(self.channel, "new").inc(len(fresh))
        if len(fresh) < len(updates):
            metrics.UPDATES.labels(self.channel, "redelivered").inc(len(updates) - len(fresh))
        for update in fresh:
            self.dispatcher.submit(update)
        return fresh

    async def replay(self, stop: asyncio.Event | None = None, stored_before: float | None = None) -> int:
        """Hand every update still waiting in the table to the dispatcher, in arrival order,
        never holding more than its capacity. Returns how many were replayed.

        ``stored_before`` (seconds since the epoch): only those stored before then (the sweep
        of ``tcns serve``: updates a worker stored and died with; one just stored is its own).
        """
        self.replaying += 1
        try:
            return await self._replay(stop, stored_before)
        finally:
            self.replaying -= 1

    async def _replay(self, stop: asyncio.Event | None, stored_before: float | None) -> int:
        stop = stop or asyncio.Event()
        cutoff = None if stored_before is None else int(stored_before * 1e9)  # seq: ns since the epoch
        after, replayed = -1, 0
        while not stop.is_set():
            room = await self.dispatcher.wait_for_room(stop)
            if stop.is_set():
                break
            batch = await self.db.run(partial(_waiting, self.channel, after, max(room, 1)))
            if cutoff is not None:
                batch = [stored for stored in batch if stored.seq < cutoff]
            if not batch:
                break
            for stored in batch:
                self.dispatcher.submit(Delivered(stored.key, self._chat_of(stored.payload), stored.payload))
            after = batch[-1].seq
            replayed += len(batch)
        if replayed:
            log.info("replayed %d stored %s update(s)", replayed, self.channel)
        return replayed

    async def settle(self, key: str) -> None:
        """Mark an update handled without effects (one the bot ignores: a group message)."""
        now = self.clock.now()
        await self.db.run(lambda uow: uow.inbox.claim(self.channel, key, now))

    async def failed(self, key: str) -> bool:
        """Count a failed attempt; True once the update is set aside for good."""
        now = self.clock.now()
        return await self.db.run(lambda uow: uow.inbox.failed(self.channel, key, now))


def _waiting(channel: str, after: int, limit: int, uow: UnitOfWork) -> Awaitable[list[StoredUpdate]]:
    return uow.inbox.waiting(channel, after, limit)


async def handle_with_retries(inbox: Inbox, key: str, attempt: Callable[[], Awaitable[None]],
                              on_give_up: Callable[[], Awaitable[None]]) -> None:
    """Run ``attempt`` (the engine's transaction: all or nothing) until it succeeds; after
    each failure count it in the table, pause and try again; once set aside, ``on_give_up``
    (tell the user). A crash meanwhile leaves the update waiting for the next start."""
    for pause in itertools.chain(RETRY_SECONDS, [None]):
        try:
            await attempt()
            return
        except Exception:
            log.exception("error while handling %s update %s", inbox.channel, key)
        set_aside = await inbox.failed(key)
        if set_aside or pause is None:
            if not set_aside:  # out of pauses in this process: leave it waiting for the next start
                return
            log.error("set aside %s update %s after repeated errors", inbox.channel, key)
            await on_give_up()
            return
        await asyncio.sleep(pause)
