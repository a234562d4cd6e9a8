"""The storage contract, every backend: the reporting cycle (issue 13). Confirmations of a
village's figures (one live per village and period, reopened by a change, kept as history)
and closed periods (one per commune and period, found by any day inside them)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from support.helpers import NOW

from storage import Database

NOV = ("2026-11", date(2026, 11, 1), date(2026, 11, 30))
Q4 = ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31))


async def test_one_live_confirmation_reopened_by_a_change_then_confirmed_again(backend: Database, commune):
    village, other = commune.villages
    leader = commune.members[0]
    async with backend.uow() as uow:
        first = await uow.cycle.confirm(commune.commune.id, village.id, *NOV, leader.id, NOW, {"vneid": 3}, True)
        assert first is not None and first.figures == {"vneid": 3} and first.on_time
        assert await uow.cycle.confirm(commune.commune.id, village.id, *NOV, leader.id, NOW, {}, True) is None
        await uow.cycle.confirm(commune.commune.id, village.id, *Q4, leader.id, NOW, {"vneid": 3}, True)
        await uow.cycle.confirm(commune.commune.id, other.id, *NOV, leader.id, NOW, {}, False)  # "không có"
        assert await uow.cycle.confirmed_villages(commune.commune.id, "2026-11") == {village.id, other.id}
    later = NOW + timedelta(days=2)
    async with backend.uow() as uow:  # a late report dated 20/11: November and Q4 reopen, not the other village
        reopened = await uow.cycle.reopen(village.id, [date(2026, 11, 20)], leader.id, "report", later)
        assert sorted(c.period for c in reopened) == ["2026-11", "2026-Q4"]
        assert await uow.cycle.reopen(village.id, [date(2026, 11, 20)], leader.id, "report", later) == []
        assert await uow.cycle.confirmation(village.id, "2026-11") is None
        assert set(await uow.cycle.confirmations(commune.commune.id, "2026-11")) == {other.id}
        again = await uow.cycle.confirm(commune.commune.id, village.id, *NOV, leader.id, later, {"vneid": 4}, False)
        assert again is not None and not again.on_time
    async with backend.uow() as uow:
        history = await uow.cycle.history(village.id, "2026-11")
        assert [(c.figures, c.reopened_at is not None, c.reopen_reason) for c in history] == [
            ({"vneid": 3}, True, "report"), ({"vneid": 4}, False, None)]
        assert (await uow.cycle.confirmation(village.id, "2026-11")).figures == {"vneid": 4}


async def test_closed_periods_are_found_by_their_days_and_reopen(backend: Database, commune):
    staff, cid = commune.staff, commune.commune.id
    async with backend.uow() as uow:
        assert await uow.cycle.close(cid, *NOV, staff.id, NOW)
        assert not await uow.cycle.close(cid, *NOV, staff.id, NOW)  # closed already
        assert await uow.cycle.close(cid, "2026-10k15", date(2026, 9, 15), date(2026, 10, 14), None, NOW)
    async with backend.uow() as uow:
        assert (await uow.cycle.closed_on(cid, date(2026, 11, 30))).period == "2026-11"
        assert (await uow.cycle.closed_on(cid, date(2026, 10, 14))).closed_by is None
        assert await uow.cycle.closed_on(cid, date(2026, 12, 1)) is None
        assert await uow.cycle.closed_on(cid + 1000, date(2026, 11, 5)) is None  # another commune
        assert [lock.period for lock in await uow.cycle.locks(cid)] == ["2026-10k15", "2026-11"]
        assert await uow.cycle.reopen_period(cid, "2026-11")
        assert not await uow.cycle.reopen_period(cid, "2026-11")
        assert await uow.cycle.closed_on(cid, date(2026, 11, 30)) is None
        assert await uow.cycle.lock(cid, "2026-10k15") is not None


async def test_a_close_waits_for_a_write_that_holds_the_commune(backend: Database, commune):
    """A write holds the commune (shared) from its check to its commit; closing holds it
    exclusively, so a write never lands in a period closed between its check and its commit."""
    cid, order = commune.commune.id, []
    writing, release = asyncio.Event(), asyncio.Event()

    async def write() -> None:
        async with backend.uow() as uow:
            await uow.cycle.hold_village(commune.villages[0].id)  # what a report does, by its village
            assert await uow.cycle.closed_on_village(commune.villages[0].id, date(2026, 11, 5)) is None
            writing.set()
            await release.wait()
            order.append("write")

    async def close() -> None:
        await writing.wait()
        async with backend.uow() as uow:
            await uow.cycle.hold(cid, exclusive=True)
            order.append("close")
            await uow.cycle.close(cid, *NOV, commune.staff.id, NOW)

    async def let_go() -> None:
        await writing.wait()
        await asyncio.sleep(0.2)
        release.set()

    await asyncio.gather(write(), close(), let_go())
    assert order == ["write", "close"]


async def test_a_write_after_a_close_sees_it(backend: Database, commune):
    village = commune.villages[1]
    async with backend.uow() as uow:
        await uow.cycle.hold(commune.commune.id, exclusive=True)
        await uow.cycle.close(commune.commune.id, *NOV, commune.staff.id, NOW)
    async with backend.uow() as uow:
        await uow.cycle.hold_village(village.id)
        assert (await uow.cycle.closed_on_village(village.id, date(2026, 11, 30))).period == "2026-11"
        assert await uow.cycle.closed_on_village(village.id, date(2026, 12, 1)) is None


async def test_a_writes_check_finds_closed_days_and_never_hides_a_confirmation(backend: Database, commune):
    """check_village: what a report's write checks first (closed days; and, in the same query,
    whether reopen will have anything to do). A confirmation made after the check, in the same
    unit of work, is still reopened by a change."""
    (village, other), cid, leader = commune.villages, commune.commune.id, commune.members[0]
    async with backend.uow() as uow:
        await uow.cycle.close(cid, "2026-10", date(2026, 10, 1), date(2026, 10, 31), commune.staff.id, NOW)
        await uow.cycle.confirm(cid, village.id, *NOV, leader.id, NOW, {"vneid": 3}, True)
    async with backend.uow() as uow:
        await uow.cycle.hold_village(village.id)
        assert await uow.cycle.check_village(village.id, [date(2026, 12, 1)]) is None
        assert (await uow.cycle.check_village(village.id, [date(2026, 12, 1), date(2026, 10, 31)])).period == "2026-10"
        assert await uow.cycle.check_village(village.id, [date(2026, 11, 20)]) is None
        reopened = await uow.cycle.reopen(village.id, [date(2026, 11, 20)], leader.id, "report", NOW)
        assert [c.period for c in reopened] == ["2026-11"]  # the live confirmation was seen by the check
    async with backend.uow() as uow:
        await uow.cycle.hold_village(other.id)
        assert await uow.cycle.check_village(other.id, [date(2026, 11, 20)]) is None  # nothing confirmed there
        assert await uow.cycle.reopen(other.id, [date(2026, 11, 20)], leader.id, "report", NOW) == []
        await uow.cycle.confirm(cid, other.id, *NOV, leader.id, NOW, {}, True)  # confirmed after the check
        reopened = await uow.cycle.reopen(other.id, [date(2026, 11, 20)], leader.id, "report", NOW)
        assert [c.period for c in reopened] == ["2026-11"]


async def test_hold_and_check_answers_as_the_hold_then_the_check(backend: Database, commune):
    """What a report's write does (bot.services.cycle.closed_for): the same answers as
    hold_village then check_village, and the same spared query in reopen."""
    (village, other), cid, leader = commune.villages, commune.commune.id, commune.members[0]
    async with backend.uow() as uow:
        await uow.cycle.close(cid, "2026-10", date(2026, 10, 1), date(2026, 10, 31), commune.staff.id, NOW)
        await uow.cycle.confirm(cid, village.id, *NOV, leader.id, NOW, {"vneid": 3}, True)
    async with backend.uow() as uow:
        assert await uow.cycle.hold_and_check_village(village.id, []) is None
        assert await uow.cycle.hold_and_check_village(village.id, [date(2026, 12, 1)]) is None
        assert (await uow.cycle.hold_and_check_village(
            village.id, [date(2026, 12, 1), date(2026, 10, 31)])).period == "2026-10"
        assert await uow.cycle.hold_and_check_village(village.id, [date(2026, 11, 20)]) is None
        reopened = await uow.cycle.reopen(village.id, [date(2026, 11, 20)], leader.id, "report", NOW)
        assert [c.period for c in reopened] == ["2026-11"]
        assert await uow.cycle.hold_and_check_village(cid + 1000, [date(2026, 10, 5)]) is None  # no such village
    async with backend.uow() as uow:
        assert await uow.cycle.hold_and_check_village(other.id, [date(2026, 11, 20)]) is None
        await uow.cycle.confirm(cid, other.id, *NOV, leader.id, NOW, {}, True)  # confirmed after the check
        reopened = await uow.cycle.reopen(other.id, [date(2026, 11, 20)], leader.id, "report", NOW)
        assert [c.period for c in reopened] == ["2026-11"]


async def test_a_write_waiting_for_a_close_sees_what_it_committed(backend: Database, commune):
    """Staff hold the commune exclusively, close October and confirm November for a village;
    a report's check started meanwhile waits for them and, once they commit, finds October
    closed and November confirmed (so its change reopens November): the check reads after
    the hold is granted, not from a snapshot taken before it waited."""
    village, cid, leader = commune.villages[0], commune.commune.id, commune.members[0]
    holding, order = asyncio.Event(), []

    async def staff() -> None:
        async with backend.uow() as uow:
            await uow.cycle.hold(cid, exclusive=True)
            await uow.cycle.close(cid, "2026-10", date(2026, 10, 1), date(2026, 10, 31), commune.staff.id, NOW)
            await uow.cycle.confirm(cid, village.id, *NOV, leader.id, NOW, {"vneid": 3}, True)
            holding.set()
            await asyncio.sleep(0.3)  # the write below is waiting meanwhile
            order.append("staff")

    async def write() -> None:
        await holding.wait()
        async with backend.uow() as uow:
            lock = await uow.cycle.hold_and_check_village(village.id, [date(2026, 10, 31), date(2026, 11, 20)])
            order.append("check")
            assert lock is not None and lock.period == "2026-10"
            reopened = await uow.cycle.reopen(village.id, [date(2026, 11, 20)], leader.id, "report", NOW)
            assert [c.period for c in reopened] == ["2026-11"]

    await asyncio.gather(staff(), write())
    assert order == ["staff", "check"]


async def test_holds_prefetched_for_a_group_answer_as_each_check_would(backend: Database, commune):
    """A webhook group holds the communes of its reporters and checks today for each village in
    one go (PostgreSQL): each later check of a village for that day answers as its own would,
    and a close or confirmation written in the same unit of work is seen, not a stale answer."""
    (village, other), cid, leader = commune.villages, commune.commune.id, commune.members[0]
    day, oct31 = date(2026, 11, 20), date(2026, 10, 31)
    async with backend.uow() as uow:
        await uow.cycle.close(cid, "2026-10", date(2026, 10, 1), oct31, commune.staff.id, NOW)
    async with backend.uow() as uow:
        await uow.cycle.prefetch_holds([village.id, other.id, village.id], day)
        await uow.cycle.prefetch_holds([other.id], oct31)
        assert await uow.cycle.hold_and_check_village(village.id, [day]) is None
        assert (await uow.cycle.hold_and_check_village(other.id, [oct31])).period == "2026-10"
        await uow.cycle.confirm(cid, village.id, *NOV, leader.id, NOW, {"vneid": 3}, True)
        assert await uow.cycle.hold_and_check_village(village.id, [day]) is None
        reopened = await uow.cycle.reopen(village.id, [day], leader.id, "report", NOW)
        assert [c.period for c in reopened] == ["2026-11"]  # the confirmation written after the prefetch
        await uow.cycle.close(cid, "2026-11", *NOV[1:], commune.staff.id, NOW)
        assert (await uow.cycle.hold_and_check_village(other.id, [day])).period == "2026-11"
