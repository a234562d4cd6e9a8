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


async def _province_with_reports(backend: Database, most_targeted: bool = True) -> tuple[object, list[object]]:
    """A province of three communes: two with villages and reports (voided ones, explicit
    zeros, a count of 0 on a service), one with a village that never reports; targets on
    some villages (of the year of the period, and of the year before), households and adults
    missing on some (4 of the 7 villages; 2 without ``most_targeted``). Reports from December
    2025 to January 2027, so that periods cross New Year."""
    rng = random.Random(31)
    async with backend.uow() as uow:
        province = await uow.units.add("province", "T", "Tỉnh T")
        other = await uow.units.add("province", "K", "Tỉnh K")  # reports of another province count nowhere here
        communes = [await uow.units.add("commune", f"C{i}", f"Xã {name}", province.id)
                    for i, name in enumerate(("Bình", "An", "Lặng"))]
        elsewhere = await uow.units.add("commune", "CK", "Xã Khác", other.id)
        villages = [await uow.units.add("village", f"V{i}", f"Thôn {i}", communes[i % 2].id,
                                        None if i == 3 else 100 + i, None if i == 4 else 300 + i) for i in range(6)]
        silent = await uow.units.add("village", "VS", "Thôn Lặng", communes[2].id, 90, 250)
        outside = await uow.units.add("village", "VK", "Thôn Khác", elsewhere.id, 100, 300)
        member = await uow.members.add("M", "member", villages[0].id, NOW)
        for n in range(500):
            day = date(2025, 12, 1) + timedelta(days=rng.randrange(427))
            village = rng.choice([*villages, outside])
            items = [NewReport(s, 0 if s == "none" or n % 41 == 0 else rng.randint(1, 9))
                     for s in rng.sample(SERVICES, 2 if n % 5 else 1)]
            await uow.reports.add_batch(f"b{n}", member.id, village.id, items, day, "text", NOW)
            if n % 6 == 0:
                await uow.reports.void_batch(f"b{n}", member.id, "test", NOW)
        for year in (2026, 2027):
            if most_targeted:
                await uow.targets.set(villages[0].id, "vneid", year, "percent_adults", 40, NOW)
                await uow.targets.set(villages[3].id, "thanh_toan", year, "percent", 50, NOW)  # no households: none
            await uow.targets.set(villages[2].id, "thanh_toan", year, "absolute", 30, NOW)
            await uow.targets.set(silent.id, "chu_ky_so", year, "absolute", 5, NOW)
            await uow.targets.set(communes[0].id, "vneid", year, "absolute", 99, NOW)  # not the province's
            await uow.targets.set(outside.id, "vneid", year, "absolute", 7, NOW)
    return province, communes


@pytest.mark.parametrize("targets", ("most villages", "few villages", "province"))
async def test_a_province_tally_by_commune_shows_what_village_by_village_shows(backend: Database, content, targets):
    """The province's chat answer and chart (one line per commune, summed by the database)
    against the same tally village by village: every figure they show."""
    from bot.domain.periods import cutoff_month, period_of
    from bot.domain.tally import per_commune
    from bot.services.tallies import build_province_tally, build_tally

    province, communes = await _province_with_reports(backend, targets != "few villages")
    province_target = targets == "province"
    if province_target:
        async with backend.uow() as uow:
            for year in (2026, 2027):
                await uow.targets.set(province.id, "vneid", year, "absolute", 150, NOW)
                await uow.targets.set(province.id, "thanh_toan", year, "percent", 20, NOW)
                await uow.targets.set(province.id, "dich_vu_cong", year, "percent", 20, NOW)  # sessions: no share
    codes = content.catalogue.codes
    units = content.catalogue.units_of(codes, None)
    periods = [period_of(kind, day) for kind in ("week", "month", "quarter", "year")
               for day in (date(2026, 1, 2), date(2026, 3, 17), date(2026, 12, 30), date(2027, 1, 2))]
    periods += [cutoff_month(2026, 1, 15), cutoff_month(2027, 1, 15), period_of("month", date(2025, 11, 5))]
    shown = set()  # what the comparisons covered
    for period in periods:
        for year_to_date in (False, True):
            async with backend.uow() as uow:
                old = await build_tally(uow, province, period, codes, NOW, year_to_date=year_to_date, counts=units)
                new = await build_province_tally(uow, province, period, codes, NOW, year_to_date=year_to_date,
                                                 counts=units)
            where = (period.key, year_to_date)
            assert new.totals() == old.totals() and new.previous_totals() == old.previous_totals(), where
            assert [(new.service_total(c), new.service_previous(c)) for c in codes] == [
                (old.service_total(c), old.service_previous(c)) for c in codes], where
            assert (new.reported_count, new.village_count) == (old.reported_count, old.village_count) == (
                sum(v.reported for v in old.villages), 7), where
            assert [new.coverage(c) for c in codes] == [old.coverage(c) for c in codes], where
            shown |= {(c.service, c.villages) for c in map(old.coverage, codes) if c is not None}
            old_lines, new_lines = per_commune(old, communes).villages, per_commune(new, communes).villages
            assert [line.unit.name for line in new_lines] == ["Xã Bình", "Xã An", "Xã Lặng"]
            for was, now in zip(old_lines, new_lines, strict=True):
                assert (now.current, now.previous, now.reports, now.zero_reports, now.reported) == (
                    was.current, was.previous, was.reports, was.zero_reports, was.reported), where
                assert (now.village_count, now.reported_villages) == (was.village_count, was.reported_villages)
                if year_to_date or province_target:  # read at commune grain only where something shows it
                    assert now.year_to_date == was.year_to_date, where
            assert sum(v.reports for v in new.villages) == sum(v.reports for v in old.villages)  # the file's size
            shown |= {("reported", line.reported_villages) for line in new_lines}
            shown.add(("by commune", new.summary is not None))
    by_village = {("thanh_toan", 1), ("chu_ky_so", 1)} | ({("vneid", 1)} if targets == "most villages" else set())
    assert by_village <= shown if not province_target else {("vneid", 7), ("thanh_toan", 7)} <= shown, shown
    assert {("reported", 0), ("reported", 3), ("by commune", True)} <= shown, shown
    # A year (from 1 January) of a province most of whose villages have targets is read village by village.
    assert (("by commune", False) in shown) == (targets != "few villages"), shown


async def test_totals_of_a_list_of_villages_by_seeks_or_by_runs_match_each_village_alone(backend: Database):
    _, communes = await _province_with_reports(backend)
    async with backend.uow() as uow:
        villages = [v for c in communes for v in await uow.units.children(c.id)]
        some = [villages[0], villages[3], villages[-1]]  # of the three communes, the silent village among them
        ids = [v.id for v in some]
        for start, end in [(date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 1, 1), date(2026, 3, 17)),
                           (date(2026, 2, 10), date(2026, 2, 20)), (date(2025, 12, 1), date(2027, 1, 31))]:
            alone = sorted([tuple(row) for v in some for row in await uow.tallies.totals("village", v.id, start, end)])
            by_seeks = await uow.tallies.village_list_totals(ids, start, end)
            by_runs = await uow.tallies.village_list_totals(ids, start, end, sorted({v.parent_id for v in some}))
            assert sorted(map(tuple, by_seeks)) == sorted(map(tuple, by_runs)) == alone, (start, end)
            assert alone or start.month == 2
