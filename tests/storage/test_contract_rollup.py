"""The storage contract, every backend: the monthly roll-up agrees with the report rows through
inserts and voids, for any period."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta

import pytest
from support import peek
from support.helpers import NOW

from storage import Database
from storage.models import NewReport
from storage.sql.tallies import _split_months

SERVICES = ("vneid", "chu_ky_so", "thanh_toan", "none")


@pytest.mark.parametrize(
    ("start", "end", "months", "days"),
    [
        (date(2026, 11, 1), date(2026, 11, 30), ("2026-11", "2026-11"), []),
        (date(2026, 11, 16), date(2026, 11, 22), (None, None), [(date(2026, 11, 16), date(2026, 11, 22))]),
        (date(2026, 10, 15), date(2026, 12, 14), ("2026-11", "2026-11"),
         [(date(2026, 10, 15), date(2026, 10, 31)), (date(2026, 12, 1), date(2026, 12, 14))]),
        (date(2026, 1, 1), date(2026, 12, 31), ("2026-01", "2026-12"), []),
        (date(2028, 2, 1), date(2028, 2, 29), ("2028-02", "2028-02"), []),
        (date(2026, 12, 28), date(2027, 1, 3), (None, None), [(date(2026, 12, 28), date(2027, 1, 3))]),
    ],
)
def test_split_months(start, end, months, days):
    first, last, parts = _split_months(start, end)
    assert (first, last) == months and parts == days


async def test_rollup_matches_rows_through_inserts_and_voids(backend: Database):
    rng = random.Random(57)
    async with backend.uow() as uow:
        commune = await uow.units.add("commune", "C", "Xã C")
        villages = [await uow.units.add("village", f"V{i}", f"Thôn {i}", commune.id, 100, 200) for i in range(4)]
        member = await uow.members.add("M", "member", villages[0].id, NOW)
        batches = []
        for n in range(400):
            day = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
            village = rng.choice(villages)
            items = [NewReport(s, 0 if s == "none" else rng.randint(1, 9)) for s in rng.sample(SERVICES, 2)]
            await uow.reports.add_batch(f"b{n}", member.id, village.id, items, day, "text", NOW)
            batches.append(f"b{n}")
        for batch in rng.sample(batches, 120):
            await uow.reports.void_batch(batch, member.id, "test", NOW)
    live = await peek.live_reports(backend, "village_id, service, count, occurred_on")
    for _ in range(40):
        start = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
        end = start + timedelta(days=rng.randrange(200))
        expected: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
        for village_id, service, count, occurred_on in live:
            if start.isoformat() <= occurred_on <= end.isoformat():
                expected[(village_id, service)][0] += count
                expected[(village_id, service)][1] += 1
        async with backend.uow() as uow:
            got = await uow.tallies.totals("commune", commune.id, start, end)
        assert {(t.village_id, t.service): [t.households, t.reports] for t in got} == dict(expected), (start, end)


async def test_year_to_date_in_tallies_matches_a_direct_sum(backend: Database, content):
    from bot.domain.periods import period_of
    from bot.services.tallies import build_tally

    rng = random.Random(9)
    async with backend.uow() as uow:
        commune = await uow.units.add("commune", "C", "Xã C")
        villages = [await uow.units.add("village", f"V{i}", f"Thôn {i}", commune.id, 100, 200) for i in range(3)]
        member = await uow.members.add("M", "member", villages[0].id, NOW)
        for n in range(300):
            day = date(2025, 12, 1) + timedelta(days=rng.randrange(400))
            items = [NewReport(rng.choice(SERVICES[:3]), rng.randint(1, 9))]
            await uow.reports.add_batch(f"b{n}", member.id, rng.choice(villages).id, items, day, "text", NOW)
        for village in villages:
            await uow.targets.set(village.id, "vneid", 2026, "percent", 50, NOW)
            await uow.targets.set(village.id, "vneid", 2027, "percent", 50, NOW)
    codes = content.catalogue.codes
    for kind in ("week", "month", "quarter", "year", "cutoff"):
        for day in (date(2026, 1, 2), date(2026, 3, 17), date(2026, 12, 30), date(2027, 1, 2)):
            period = period_of(kind, day)
            async with backend.uow() as uow:
                tally = await build_tally(uow, commune, period, codes, NOW)
                direct = await uow.tallies.totals("commune", commune.id, date(period.end.year, 1, 1), period.end)
            expected = {(t.village_id, t.service): t.households for t in direct if t.households}
            got = {(v.unit.id, s): h for v in tally.villages for s, h in v.year_to_date.items() if h}
            assert got == expected, (kind, period.key)


async def test_totals_of_several_periods_in_one_read_match_each_read_alone(backend: Database):
    rng = random.Random(23)
    async with backend.uow() as uow:
        province = await uow.units.add("province", "T", "Tỉnh T")
        communes = [await uow.units.add("commune", f"C{i}", f"Xã {i}", province.id) for i in range(2)]
        villages = [await uow.units.add("village", f"V{i}", f"Thôn {i}", communes[i % 2].id, 100, 200)
                    for i in range(4)]
        member = await uow.members.add("M", "member", villages[0].id, NOW)
        for n in range(300):
            day = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
            items = [NewReport(s, 0 if s == "none" else rng.randint(1, 9)) for s in rng.sample(SERVICES, 2)]
            await uow.reports.add_batch(f"b{n}", member.id, rng.choice(villages).id, items, day, "text", NOW)
            if n % 7 == 0:
                await uow.reports.void_batch(f"b{n}", member.id, "test", NOW)
    periods = [
        (date(2026, 3, 1), date(2026, 3, 31)),  # a whole month
        (date(2026, 2, 1), date(2026, 2, 28)),  # the one before
        (date(2026, 1, 1), date(2026, 1, 31)),
        (date(2026, 10, 15), date(2026, 12, 14)),  # a month with days on both sides
        (date(2026, 6, 3), date(2026, 6, 9)),  # days only
        (date(2026, 1, 1), date(2026, 12, 31)),
    ]
    for kind, scope in (("province", province), ("commune", communes[1]), ("village", villages[2])):
        async with backend.uow() as uow:
            together = await uow.tallies.totals_many(kind, scope.id, periods)
            alone = [await uow.tallies.totals(kind, scope.id, start, end) for start, end in periods]
        assert len(together) == len(periods)
        assert [sorted(map(tuple, rows)) for rows in together] == [sorted(rows) for rows in alone], kind
        assert kind == "village" or all(together), kind  # every period has reports here
        for rows in together:
            assert all(reports > 0 for _, _, _, reports in rows)
            assert len({(village_id, service) for village_id, service, _, _ in rows}) == len(rows)  # one row each


async def test_grandchildren_come_in_the_order_of_children_then_name(backend: Database):
    async with backend.uow() as uow:
        province = await uow.units.add("province", "T", "Tỉnh T")
        late = await uow.units.add("commune", "B", "Xã Bình", province.id)
        early = await uow.units.add("commune", "A", "Xã An", province.id)
        for name in ("Thôn 3", "Thôn 1", "Thôn 2"):
            await uow.units.add("village", f"{late.code}{name[-1]}", name, late.id)
            await uow.units.add("village", f"{early.code}{name[-1]}", name, early.id)
        got = await uow.units.grandchildren(province.id, "village")
        expected = [u for c in await uow.units.children(province.id) for u in await uow.units.children(c.id)]
        assert await uow.units.grandchildren(late.id, "village") == []
    assert [(u.parent_id, u.name) for u in got] == [(early.id, f"Thôn {i}") for i in (1, 2, 3)] + [
        (late.id, f"Thôn {i}") for i in (1, 2, 3)]
    assert got == expected
