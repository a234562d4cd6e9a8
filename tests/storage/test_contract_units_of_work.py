"""The storage contract, every backend: units of work. One commits whole or leaves nothing;
``db.run`` runs one on the hot path, and units that arrive together commit together, each
rolled back alone if it fails (group commit with savepoints); ``durable=True``; read snapshots
that see one moment; opening, migrating."""

from __future__ import annotations

import asyncio
import pickle

import pytest
from support.helpers import NOW

from storage import Database, UnitOfWork
from storage.models import NewReport


async def test_failed_unit_of_work_leaves_nothing(backend: Database):
    try:
        async with backend.uow() as uow:
            await uow.inbox.claim("telegram", "9", NOW)
            await uow.units.add("commune", "C1", "Xã Một")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with backend.uow() as uow:
        assert await uow.units.by_code("commune", "C1") is None
        assert await uow.inbox.claim("telegram", "9", NOW)


async def test_unit_of_work_in_the_database_thread_commits_or_leaves_nothing(backend: Database):
    async def good(uow):  # type: ignore[no-untyped-def]
        await uow.inbox.claim("telegram", "40", NOW)
        return (await uow.units.add("commune", "C2", "Xã Hai")).id

    async def failing(uow):  # type: ignore[no-untyped-def]
        await uow.units.add("commune", "C3", "Xã Ba")
        raise ValueError("boom")

    unit_id = await backend.run(good)
    with pytest.raises(ValueError):
        await backend.run(failing)
    async with backend.uow() as uow:  # the lock was released each time
        assert (await uow.units.by_code("commune", "C2")).id == unit_id  # type: ignore[union-attr]
        assert await uow.units.by_code("commune", "C3") is None
        assert not await uow.inbox.claim("telegram", "40", NOW)


async def test_a_unit_reads_its_own_writes_and_a_failing_write_fails_all_of_it(backend: Database):
    async with backend.uow() as uow:
        commune = await uow.units.add("commune", "C5", "Xã Năm")
        await uow.audit.add(None, "test", "first", NOW, unit_id=commune.id)
        # A read after a write in the same unit of work sees it.
        assert [e.object for e in await uow.audit.latest(unit_ids=[commune.id])] == ["first"]
    # The backend's integrity error (SQLite meets the roll-up's commune, NOT NULL, before the key).
    with pytest.raises(Exception, match=r"(?i)foreign key|not null"):
        async with backend.uow() as uow:
            await uow.units.add("commune", "C6", "Xã Sáu")
            # A report for a member that does not exist: the whole unit fails, the commune with it.
            await uow.reports.add_batch("b1", 999_999, commune.id, [NewReport("vneid", 1)], NOW.date(), "text", NOW)
    async with backend.uow() as uow:
        assert await uow.units.by_code("commune", "C6") is None
        assert await uow.reports.count() == 0


async def test_units_arriving_together_commit_together_and_fail_alone(backend: Database):
    """Group commit: a failing unit in a group is rolled back alone; the others are stored."""
    def unit(code: str, fail: bool = False):  # type: ignore[no-untyped-def]
        async def work(uow):  # type: ignore[no-untyped-def]
            await uow.inbox.claim("telegram", code, NOW)
            await uow.units.add("commune", code, f"Xã {code}")
            if fail:
                raise ValueError(code)
            return code
        return work

    results = await asyncio.gather(*(backend.run(unit(f"G{i}", fail=i == 3)) for i in range(6)), return_exceptions=True)
    assert [r if isinstance(r, str) else type(r).__name__ for r in results] == [
        "G0", "G1", "G2", "ValueError", "G4", "G5"]
    async with backend.uow() as uow:
        stored = [code for code in (f"G{i}" for i in range(6)) if await uow.units.by_code("commune", code)]
        assert stored == ["G0", "G1", "G2", "G4", "G5"]
        assert await uow.inbox.claim("telegram", "G3", NOW)  # the failed unit's claim was rolled back too


async def test_a_durable_unit_commits_like_any_other_alone_or_in_a_group(backend: Database):
    def unit(code: str):  # type: ignore[no-untyped-def]
        async def work(uow: UnitOfWork) -> str:
            await uow.inbox.store("telegram", [(code, "{}", int(code[1:]))], NOW)
            return code
        return work

    assert await backend.run(unit("D0"), durable=True) == "D0"
    results = await asyncio.gather(*(backend.run(unit(f"D{n}"), durable=n % 2 == 0) for n in range(1, 5)))
    assert results == ["D1", "D2", "D3", "D4"]
    async with backend.uow() as uow:
        assert [u.key for u in await uow.inbox.waiting("telegram")] == ["D0", "D1", "D2", "D3", "D4"]


def _live_count(snap) -> int:  # type: ignore[no-untyped-def]
    async def read(uow: UnitOfWork) -> int:
        return await uow.reports.count()

    return snap.run(read)


async def _report(backend: Database, batch: str) -> None:
    async def work(uow: UnitOfWork) -> None:
        village = await uow.units.by_code("village", "T1")
        assert village is not None
        member = (await uow.members.in_unit(village.id))[0]
        await uow.reports.add_batch(batch, member.id, village.id, [NewReport("vneid", 1)], NOW.date(), "text", NOW)

    await backend.run(work)


async def test_a_read_snapshot_sees_one_moment_until_it_is_renewed(backend: Database, commune):
    await _report(backend, "b1")
    with backend.snapshot() as snap:
        assert _live_count(snap) == 1
        await _report(backend, "b2")  # the writer is not held up by the reader...
        assert _live_count(snap) == 1  # ...and the reader does not see it
        snap.renew()
        assert _live_count(snap) == 2
    async with backend.uow() as uow:
        assert await uow.reports.count() == 2


async def test_a_read_snapshot_cannot_write(backend: Database):
    async def write(uow: UnitOfWork) -> None:
        await uow.units.add("commune", "XZ", "Xã Z")

    with backend.snapshot() as snap, pytest.raises(Exception):  # noqa: B017 - the backend's read-only error
        snap.run(write)
    async with backend.uow() as uow:
        assert await uow.units.by_code("commune", "XZ") is None


async def test_a_unit_of_works_snapshot_source_is_plain_data_for_another_thread(backend: Database, commune):
    await _report(backend, "b1")
    async with backend.uow() as uow:
        source = pickle.loads(pickle.dumps(uow.snapshot))  # what goes to a worker process

    def in_worker() -> int:
        with source() as snap:
            return _live_count(snap)

    assert await asyncio.to_thread(in_worker) == 1


async def test_opening_twice_and_upgrading_an_up_to_date_database_change_nothing(backend: Database, commune):
    version = await backend.schema_version()
    assert version > 0
    assert await backend.open() is backend
    assert await backend.upgrade() == []
    assert await backend.schema_version() == version
    async with backend.uow() as uow:
        assert await uow.units.by_code("commune", "XA") == commune.commune
