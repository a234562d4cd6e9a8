"""Store first: updates are stored before they are acknowledged, handled in order per chat,
replayed after a crash or a stop, and never handled twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from support import peek
from support.fakebotapi import FakeBotApi
from support.helpers import NOW
from support.telegram import TOKEN

from bot.domain.clock import FixedClock
from bot.runtime.backend import database_from_url
from bot.services.demo import Demo
from bot.services.inbox import Delivered, Dispatcher, Inbox
from storage import Database


def delivered(key: str, chat: str) -> Delivered:
    return Delivered(key, chat, f'{{"k": "{key}", "chat": "{chat}"}}')


async def settle_loop() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


async def test_a_slow_chat_holds_up_only_itself_and_keeps_its_order():
    events: list[str] = []
    gate = asyncio.Event()

    async def handle(update: Delivered) -> None:
        events.append(f"start {update.key}")
        if update.key == "A1":
            await gate.wait()
        events.append(f"end {update.key}")

    dispatcher = Dispatcher(handle, concurrency=8)
    for key, chat in (("A1", "a"), ("A2", "a"), ("B1", "b")):
        dispatcher.submit(delivered(key, chat))
    await settle_loop()
    # B1 of another chat is done while A1 waits; A2 has not even started: it is queued behind A1.
    assert events == ["start A1", "start B1", "end B1"]
    assert dispatcher.held == 2
    gate.set()
    await dispatcher.idle()
    assert events[3:] == ["end A1", "start A2", "end A2"]
    assert dispatcher.held == 0


async def test_room_is_bounded_by_capacity():
    gate = asyncio.Event()

    async def handle(update: Delivered) -> None:
        await gate.wait()

    dispatcher = Dispatcher(handle, concurrency=2, capacity=3)
    for i in range(3):
        dispatcher.submit(delivered(str(i), str(i)))
    assert dispatcher.room() == 0
    stop = asyncio.Event()
    waiting = asyncio.create_task(dispatcher.wait_for_room(stop))
    await settle_loop()
    assert not waiting.done()  # the poller would wait here instead of fetching more
    gate.set()
    assert await asyncio.wait_for(waiting, 2) >= 1


async def test_stop_starts_nothing_new_and_cancels_what_outlives_the_grace():
    started: list[str] = []
    hang = asyncio.Event()

    async def handle(update: Delivered) -> None:
        started.append(update.key)
        await hang.wait()  # never set: a handler stuck on the network

    dispatcher = Dispatcher(handle, concurrency=1)
    for key in ("1", "2", "3"):
        dispatcher.submit(delivered(key, key))
    await settle_loop()
    assert started == ["1"]
    cancelled = await dispatcher.stop(grace=0.05)
    assert cancelled == 3  # the one stuck, and the two that never got a slot
    assert started == ["1"]  # nothing new was started after the stop
    dispatcher.submit(delivered("4", "4"))  # too late: it stays stored for the next start
    assert dispatcher.held == 0


async def test_waiting_updates_are_replayed_in_arrival_order_and_claimed_once(db: Database):
    clock = FixedClock(NOW)
    handled: list[str] = []

    async def handle(update: Delivered) -> None:
        handled.append(update.key)

    crashed = Inbox(db, clock, "telegram", Dispatcher(lambda u: asyncio.sleep(3600)), chat_of=lambda p: p[-3:])
    await crashed.accept([delivered("10", "a"), delivered("9", "b"), delivered("11", "a")])
    await crashed.dispatcher.stop(grace=0)  # "kill -9": nothing handled, all three stored
    async with db.uow() as uow:
        assert await uow.inbox.count_waiting("telegram") == 3
    again = Inbox(db, clock, "telegram", Dispatcher(handle, capacity=2), chat_of=lambda p: p)
    assert await again.replay() == 3
    await again.dispatcher.idle()
    assert handled == ["10", "9", "11"]  # arrival order, not key order
    # A redelivery of a stored update is not new; a processed one is not handed on again.
    assert await again.accept([delivered("9", "b")]) == []
    async with db.uow() as uow:
        assert await uow.inbox.claim("telegram", "9", NOW)  # the engine's claim, once
        assert not await uow.inbox.claim("telegram", "9", NOW)
        assert await uow.inbox.count_waiting("telegram") == 2
        rows = await uow.inbox.waiting("telegram")
    assert [r.key for r in rows] == ["10", "11"]


async def test_a_processed_update_leaves_no_text_behind(db: Database):
    inbox = Inbox(db, FixedClock(NOW), "zalo", Dispatcher(lambda u: asyncio.sleep(0)), chat_of=str)
    await inbox.accept([Delivered("m1", "c1", '{"text": "vneid 5 ba Lan 0912345678"}')])
    await inbox.settle("m1")
    rows = await peek.rows(db, "inbox", "payload, processed_at")
    assert rows[0][0] is None and rows[0][1] is not None


async def test_an_update_that_keeps_failing_is_set_aside_after_three_attempts(db: Database):
    inbox = Inbox(db, FixedClock(NOW), "zalo", Dispatcher(lambda u: asyncio.sleep(0)), chat_of=str)
    await inbox.accept([Delivered("bad", "c1", "{}")])
    assert not await inbox.failed("bad")
    assert not await inbox.failed("bad")
    assert await inbox.failed("bad")
    async with db.uow() as uow:
        assert await uow.inbox.count_waiting() == 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
async def test_tcns_run_stopped_with_a_backlog_loses_nothing_and_counts_nothing_twice(
        server: FakeBotApi, tmp_path: Path, db_url: str, seeded: Demo, sig: signal.Signals):
    """kill -9 or SIGTERM while most of a burst is acknowledged to Telegram but not yet
    handled, and the replies in flight hang: the process ends (SIGTERM: by itself, leaving the
    backlog stored), and after a restart every report is recorded exactly once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_"))}
    env.update(TCNS_DB=db_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=server.base_url)

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)

    users = [server.user(700 + i, first_name=f"TV{i}") for i in range(6)]
    async with database_from_url(db_url) as db, db.uow() as uow:
        for i, user in enumerate(users):
            member = await uow.members.add(f"TV{i}", "member", seeded.villages[i].village.id, NOW)
            await uow.members.link_identity(member.id, "telegram", str(user.id), str(user.chat_id), NOW)
    for round_no in range(1, 9):
        for user in users:
            await user.send(f"vneid {round_no}")
    hold = server.hold("sendmessage", after=3)  # three replies go out, then every send hangs
    first = await start()
    try:
        # Telegram forgets an update once a later getUpdates confirms it: wait until all are.
        await server.wait_until(lambda: not server.pending_updates or None, timeout=30,
                                what="every update to be confirmed")
        first.send_signal(sig)
        await asyncio.wait_for(first.wait(), timeout=30)
    finally:
        if first.returncode is None:
            first.kill()
    hold.release()
    second = await start()
    try:
        async with peek.opened(db_url) as db:
            async def recorded() -> int:
                reports = await peek.count(db, "reports")
                return reports if reports == 48 else 0
            await _poll(recorded, 30)
            rows = await peek.rows(db, "reports r JOIN members m ON m.id = r.member_id", "m.name, r.count, COUNT(*)",
                                   where="m.name LIKE 'TV%'", group="m.name, r.count")
            assert len(rows) == 48 and all(n == 1 for _, _, n in rows)  # each report once
            assert await peek.count(db, "inbox", "processed_at IS NULL") == 0
    finally:
        second.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(second.communicate(), timeout=20)
    assert second.returncode == 0, stderr.decode()


async def _poll(check, timeout: float) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)
