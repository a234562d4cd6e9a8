"""Stopping the outbox sender mid-batch (SIGTERM): nothing claimed after the stop, the
deliveries in flight are settled, the rest goes out once after a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import peek
from support.fakebotapi import FakeBotApi
from support.helpers import NOW

from bot.domain.clock import FixedClock
from bot.runtime.backend import database_from_url
from bot.services.outbox import RETRY_AFTER, SENT, Delivery, OutboxSender
from storage import Database
from storage.models import NewMessage, OutboxMessage

TOKEN = "123:TEST"


async def enqueue(db: Database, chats: list[int], due: datetime, text: str = "Nhắc báo cáo") -> None:
    async with db.uow() as uow:
        await uow.outbox.enqueue([
            NewMessage("test", "p1", "before", None, "telegram", str(chat), {"text": text}, due) for chat in chats
        ], due)


async def statuses(db: Database) -> Counter[str]:
    rows = await peek.rows(db, "outbox", "status")
    return Counter(r[0] for r in rows)


class GatedInbox:
    """Delivers the first ``free`` messages at once, then holds every call until ``gate`` opens."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.gate = asyncio.Event()
        self.held = 0
        self.delivered: list[str] = []
        self.flood: set[str] = set()

    async def __call__(self, message: OutboxMessage) -> Delivery:
        if message.chat_id in self.flood:
            self.flood.discard(message.chat_id)
            return Delivery(RETRY_AFTER, "Too Many Requests", retry_after=20.0)
        if len(self.delivered) + self.held >= self.free:
            self.held += 1
            try:
                await self.gate.wait()
            finally:
                self.held -= 1
        self.delivered.append(message.chat_id)
        return Delivery(SENT)


def make_sender(db: Database, clock: FixedClock, inbox, **kw) -> OutboxSender:  # type: ignore[no-untyped-def]
    return OutboxSender(db, {"telegram": inbox}, clock, rate=1000, per_chat_interval=0, **kw)


async def until(predicate, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` (state changed inside a request handler wakes no waiter) up to ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_stop_mid_batch_settles_in_flight_and_leaves_the_rest_pending(db: Database):
    clock = FixedClock(NOW)
    chats = list(range(3001, 3031))
    await enqueue(db, chats, clock.now())
    inbox = GatedInbox(free=10)
    stop = asyncio.Event()
    drain = asyncio.create_task(make_sender(db, clock, inbox, concurrency=4).drain(stop=stop))
    await until(lambda: inbox.held == 4)  # every slot busy with a held delivery
    stop.set()  # SIGTERM: from here on nothing is claimed
    inbox.gate.set()  # the calls in flight answer
    result = await asyncio.wait_for(drain, 10)

    assert result.sent == len(inbox.delivered) == 14  # 10 before the stop, 4 in flight at it
    assert await statuses(db) == Counter(sent=14, pending=16)  # none left 'sending', none uncertain

    rest = await make_sender(db, clock, inbox).drain()  # the next process
    assert rest.sent == 16
    assert Counter(inbox.delivered) == Counter(str(c) for c in chats)  # each recipient exactly once
    assert await statuses(db) == Counter(sent=30)


async def test_a_delivery_hung_past_the_grace_is_cancelled_and_marked_uncertain(db: Database):
    clock = FixedClock(NOW)
    chats = [3101, 3102, 3103, 3104]
    await enqueue(db, chats, clock.now())
    inbox = GatedInbox(free=1)  # the gate never opens: the second call hangs
    stop = asyncio.Event()
    drain = asyncio.create_task(make_sender(db, clock, inbox, concurrency=1, stop_grace=0.05).drain(stop=stop))
    await until(lambda: inbox.held == 1)  # a hung delivery
    stop.set()
    result = await asyncio.wait_for(drain, 10)

    assert (result.sent, result.uncertain) == (1, 1)
    assert await statuses(db) == Counter(sent=1, uncertain=1, pending=2)
    inbox.gate.set()
    rest = await make_sender(db, clock, inbox).drain()
    assert rest.sent == 2
    assert sorted(inbox.delivered) == ["3101", "3103", "3104"]  # the uncertain one is never resent


async def test_a_stop_during_a_flood_wait_puts_the_row_back_to_pending(db: Database):
    clock = FixedClock(NOW)
    await enqueue(db, [3201], clock.now())
    inbox = GatedInbox(free=10)
    inbox.flood.add("3201")  # 429, retry after 20 s: the sender waits inline
    stop = asyncio.Event()
    drain = asyncio.create_task(make_sender(db, clock, inbox).drain(stop=stop))
    await until(lambda: not inbox.flood)  # the 429 answered
    stop.set()
    result = await asyncio.wait_for(drain, 10)

    assert (result.sent, result.retried) == (0, 1)
    assert await statuses(db) == Counter(pending=1)
    clock.advance(seconds=21)
    assert (await make_sender(db, clock, inbox).drain()).sent == 1
    assert inbox.delivered == ["3201"]


@pytest.mark.parametrize("command", ["run", "reminders run"])
async def test_sigterm_mid_batch_then_restart_sends_each_message_once(tmp_path: Path, db_url: str, command: str):
    """`tcns run` (the bot) or `tcns reminders run` (one pass from cron) as a process at the fake
    Bot API: SIGTERM while deliveries are in flight, then start again."""
    chats = list(range(4001, 4041))
    due = datetime.now(UTC) - timedelta(minutes=1)
    db = await database_from_url(db_url).open()
    try:
        await enqueue(db, chats, due, "Nhắc thử nghiệm")
    finally:
        await db.close()
    local_noon = (12 - datetime.now(UTC).hour) % 24  # a zone where it is daytime now: no quiet hours
    offset = local_noon - 24 if local_noon > 12 else local_noon
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_"))}
    zone = f"Etc/GMT{-offset:+d}"
    env.update(TCNS_DB=db_url, TELEGRAM_BOT_TOKEN=TOKEN, TCNS_TIMEZONE=zone, TCNS_OUTBOX_RATE="1000")
    args = command.split()
    if command == "reminders run":  # as if a minute from now: every enqueued row is due
        args += ["--now", (datetime.now(ZoneInfo(zone)) + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")]

    def received() -> Counter[int]:
        return Counter({chat: sum(1 for m in server.messages(chat) if "thử nghiệm" in (m.plain_text or ""))
                        for chat in chats})

    async with FakeBotApi() as server:
        env["TELEGRAM_API_BASE_URL"] = server.base_url
        for chat in chats:
            server.user(chat, first_name=f"TV{chat}")
        # The first 5 sendMessage calls answer at once; later ones wait until the hold is released.
        gate = server.hold("sendMessage", after=5)

        async def start() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", *args, env=env, cwd=tmp_path,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )

        first = await start()
        try:
            await until(lambda: gate.waiting == 8, timeout=30)  # 8 deliveries in flight
            first.send_signal(signal.SIGTERM)
            assert first.stderr is not None
            log = b""
            async with asyncio.timeout(20):  # the sender has seen the stop: it claims nothing more
                while "dừng gửi tin: còn".encode() not in log:
                    line = await first.stderr.readline()
                    assert line, log.decode()
                    log += line
            gate.release()
            rest = await asyncio.wait_for(first.stderr.read(), 20)
            await asyncio.wait_for(first.wait(), 20)
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        assert first.returncode == 0, (log + rest).decode()
        db = await database_from_url(db_url).open()
        try:
            assert await statuses(db) == Counter(sent=13, pending=27)  # 5 + 8 in flight; nothing 'sending'
        finally:
            await db.close()
        assert sum(received().values()) == 13

        second = await start()
        try:
            await server.wait_until(lambda: all(received().values()), timeout=30, what="every recipient")
        finally:
            if command == "run":  # the bot runs until stopped; a reminders pass ends when drained
                second.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(second.communicate(), 20)
        assert second.returncode == 0, stderr.decode()
    assert received() == Counter({chat: 1 for chat in chats})
    db = await database_from_url(db_url).open()
    try:
        assert await statuses(db) == Counter(sent=40)
    finally:
        await db.close()
