"""Several workers on one database: one scheduler (a lease, with failover, driven by a
controllable clock), and outbox senders that never send a row twice and together keep one
rate budget per channel (PostgreSQL, ``FOR UPDATE SKIP LOCKED``)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime

from support import peek
from support.helpers import NOW, TZ, ChatUser
from support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.flows.engine import Engine
from bot.runtime.backend import database_from_url
from bot.runtime.scheduler import ReminderScheduler
from bot.services.demo import Demo
from bot.services.leases import SCHEDULER, Lease, live_workers, worker_lease
from bot.services.outbox import SENT, Delivery, OutboxSender
from storage import Database
from storage.models import NewMessage, OutboxMessage


class Wall:
    """A controllable clock for the leases (seconds since the epoch)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_lease_has_one_holder_and_fails_over_once_it_runs_out(db: Database) -> None:
    wall = Wall()
    first, second = Lease(db, SCHEDULER, "a", ttl=30, wall=wall), Lease(db, SCHEDULER, "b", ttl=30, wall=wall)
    assert await first.acquire()
    assert not await second.acquire()
    wall.now += 20
    assert await first.acquire()  # renewed: another 30 s from now
    wall.now += 25
    assert not await second.acquire()  # 45 s after the first take, but renewed 25 s ago
    wall.now += 6  # the holder died 31 s ago: no renewal
    assert await second.acquire()
    assert not await first.acquire()  # the old holder, back from a stall, has lost it
    await second.release()  # a graceful stop: the next one need not wait
    assert await first.acquire()


async def test_live_workers_count_only_unexpired_leases(db: Database) -> None:
    wall = Wall()
    for name in ("w1", "w2", "w3"):
        await worker_lease(db, name, wall=wall).acquire()
    assert await live_workers(db, wall) == 3
    wall.now += 20
    await worker_lease(db, "w1", wall=wall).acquire()
    wall.now += 15  # w2 and w3 stopped renewing 35 s ago
    assert await live_workers(db, wall) == 1


async def test_the_scheduler_fails_over_and_plans_no_step_twice(db: Database, content: Content, engine: Engine,
                                                                 demo: Demo) -> None:
    for user_id, name in (("2001", "An"), ("2002", "Bình")):
        assert "Chào mừng" in await ChatUser(engine, user_id, name).send(f"/start {demo.villages[0].member_code}")
    clock = FixedClock(datetime(2026, 11, 17, 8, 0, tzinfo=TZ))  # T-3 of the monthly report: a step is due
    wall = Wall()
    planner = content.planner(TZ)

    def worker(name: str) -> ReminderScheduler:
        return ReminderScheduler(db, content, clock, planner, lease=Lease(db, SCHEDULER, name, wall=wall),
                                 worker=worker_lease(db, name, wall=wall))

    first, second = worker("a"), worker("b")
    assert await first.keep_lease()
    await first.settled()  # the catch-up pass of the new holder
    planned = await peek.rows(db, "outbox", "rule, period, step, recipient", order="id")
    assert planned, "a step was due: the holder planned it"
    assert not await second.keep_lease()
    await second.settled()
    await second._safe_tick()  # a cron firing in the worker without the lease: no pass
    assert await peek.rows(db, "outbox", "rule, period, step, recipient", order="id") == planned

    wall.now += 35  # the first worker was killed: it renews no more
    assert await second.keep_lease()  # within a minute of the holder's death
    await second.settled()  # its catch-up pass: everything was planned already, nothing twice
    again = await peek.rows(db, "outbox", "rule, period, step, recipient", order="id")
    assert again == planned
    assert not await first.keep_lease()
    calls = 0

    async def counted(now: datetime | None = None) -> None:
        nonlocal calls
        calls += 1

    first.tick = counted  # type: ignore[method-assign]
    await first._safe_tick()  # the old holder's cron firing: skipped
    assert calls == 0
    await first.tick(clock.now())  # even a forced pass in both plans nothing twice (the outbox key)
    await second.tick(clock.now())
    assert await peek.rows(db, "outbox", "rule, period, step, recipient", order="id") == planned


async def _enqueue(db: Database, chats: int, per_chat: int) -> int:
    messages = [NewMessage("test", "p1", f"s{n}", None, "telegram", str(7000 + chat), {"text": "Nhắc"}, NOW)
                for chat in range(chats) for n in range(per_chat)]
    async with db.uow() as uow:
        return await uow.outbox.enqueue(messages, NOW)


async def test_two_workers_senders_never_send_the_same_row_and_share_one_budget(postgres_url: str) -> None:  # noqa: F811
    rate, chats, per_chat = 40.0, 20, 2
    first_db = await database_from_url(postgres_url).open()
    second_db = await database_from_url(postgres_url).open()  # another worker: its own pool
    try:
        total = await _enqueue(first_db, chats, per_chat)
        sent: list[tuple[str, int, str, float]] = []

        def delivery(worker: str):  # type: ignore[no-untyped-def]
            async def deliver(row: OutboxMessage) -> Delivery:
                sent.append((worker, row.id, row.chat_id, time.monotonic()))
                await asyncio.sleep(0.01)  # a round trip
                return Delivery(SENT)
            return deliver

        senders = [OutboxSender(db, {"telegram": delivery(name)}, FixedClock(NOW), rate=rate, per_chat_interval=1.0)
                   for name, db in (("a", first_db), ("b", second_db))]
        while len(sent) < total:  # both after the same rows; rows paced for their chat wait for a later drain
            await asyncio.gather(*(s.drain() for s in senders))
        ids = Counter(row_id for _, row_id, _, _ in sent)
        assert len(ids) == total and set(ids.values()) == {1}  # every row once, none twice
        for chat in {c for _, _, c, _ in sent}:
            times = sorted(t for _, _, c, t in sent if c == chat)
            assert times[1] - times[0] >= 0.95  # 1 s apart per chat, whichever worker sent them

        # One budget: each worker sends its own half of 40 chats at once; 40 msg/s together, not each.
        sent.clear()
        messages = [NewMessage("test", "p2", "s0", None, "telegram", str(8000 + chat), {"text": "Nhắc"}, NOW)
                    for chat in range(40)]
        async with first_db.uow() as uow:
            await uow.outbox.enqueue(messages, NOW)

        async def half(sender: OutboxSender, chat_ids: list[str]) -> None:
            for chat_id in chat_ids:
                await sender.drain(chat_id=chat_id)

        started = time.monotonic()
        await asyncio.gather(half(senders[0], [str(8000 + c) for c in range(0, 40, 2)]),
                             half(senders[1], [str(8000 + c) for c in range(1, 40, 2)]))
        elapsed = time.monotonic() - started
    finally:
        await first_db.close()
        await second_db.close()
    assert len(sent) == 40 and {worker for worker, *_ in sent} == {"a", "b"}
    assert elapsed >= 39 / rate * 0.95


async def test_a_send_that_starts_late_keeps_its_chat_a_whole_second_from_the_next(db: Database) -> None:
    """Telegram's 1 s per chat counts from when a message really went: the first message to a
    chat starts 0.4 s after its slot (the event loop was busy), so the next one to that chat
    waits a whole second from then, not from the slot."""
    messages = [NewMessage("test", "p1", step, None, "telegram", "7101", {"text": "Nhắc"}, NOW)
                for step in ("s1", "s2")]
    async with db.uow() as uow:
        await uow.outbox.enqueue(messages, NOW)
    sent: list[float] = []

    async def deliver(row: OutboxMessage) -> Delivery:
        sent.append(time.monotonic())
        return Delivery(SENT)

    class BusyLoop(OutboxSender):
        async def _send(self, row: OutboxMessage, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            if not sent:
                time.sleep(0.4)  # the delivery task gets the loop 0.4 s after its claim
            await super()._send(row, *args, **kwargs)

    sender = BusyLoop(db, {"telegram": deliver}, FixedClock(NOW), rate=1000.0, per_chat_interval=1.0)
    while len(sent) < 2:
        await sender.drain()
    assert sent[1] - sent[0] >= 0.99


async def test_two_workers_handle_one_chats_updates_one_after_the_other(postgres_url: str) -> None:  # noqa: F811
    """Webhook updates of one chat may reach two workers at once: the second waits for the first's
    transaction (its conversation step) instead of loading the same state beside it."""
    first_db = await database_from_url(postgres_url).open()
    second_db = await database_from_url(postgres_url).open()
    finished: dict[str, float] = {}
    try:
        async def handle(db: Database, key: str, chat: str, hold: float) -> None:
            async with db.uow() as uow:
                await uow.open_inbound("telegram", key, chat, chat, NOW)
                await asyncio.sleep(hold)  # the engine's work
            finished[key] = time.monotonic()

        first = asyncio.create_task(handle(first_db, "u1", "8001", 0.5))
        await asyncio.sleep(0.1)
        other_chat = asyncio.create_task(handle(second_db, "u3", "8002", 0))
        same_chat = asyncio.create_task(handle(second_db, "u2", "8001", 0))
        await asyncio.gather(first, same_chat, other_chat)
    finally:
        await first_db.close()
        await second_db.close()
    assert finished["u3"] < finished["u1"] <= finished["u2"]


async def test_two_workers_groups_sharing_chats_wait_for_each_other_without_deadlock(postgres_url: str) -> None:  # noqa: F811
    """Two webhook groups on two workers with chats in common, in opposite orders: each holds
    every chat of its group in one sorted statement, so one waits for the other (never both for
    each other), and a chat's later update sees the earlier one's commit."""
    first_db = await database_from_url(postgres_url).open()
    second_db = await database_from_url(postgres_url).open()
    finished: dict[str, float] = {}
    try:
        async def group(db: Database, name: str, updates: list[tuple[str, str, str]], hold: float) -> None:
            async with db.uow() as uow:
                found = await uow.open_inbound_many("telegram", updates, NOW)
                assert all(claimed for claimed, _, _ in found)
                await asyncio.sleep(hold)
            finished[name] = time.monotonic()

        first = asyncio.create_task(group(first_db, "a", [("k1", "9001", "9001"), ("k2", "9002", "9002")], 0.5))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(group(second_db, "b", [("k3", "9002", "9002"), ("k4", "9001", "9001")], 0))
        alone = asyncio.create_task(group(second_db, "c", [("k5", "9003", "9003")], 0))
        await asyncio.wait_for(asyncio.gather(first, second, alone), 10)
    finally:
        await first_db.close()
        await second_db.close()
    assert finished["c"] < finished["a"] <= finished["b"]
