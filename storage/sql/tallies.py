"""Tallies and targets: read-side queries over live reports, and yearly targets per unit.

Every tally reads live reports (``voided_at IS NULL``) by village and day through the
partial covering index ``reports_live_tally`` (migration 0002): the cost is the number
of live reports of the scope's villages inside the period, whatever the table holds
outside it. A report counts on the day it happened (``occurred_on``).

An explicit zero report is a row with service ``none`` (``bot.domain.reports.NONE_SERVICE``) and count 0: it
makes a village "reported" and adds nothing to any service.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from storage.models import TARGET_KINDS, DayTotal, DetailRow, Target, VillageServiceTotal
from storage.sql.repositories import _Repo, ts

# The villages of a scope, as a sub-select on its id (one index seek per village).
_VILLAGES_OF = {
    "village": "?",
    "commune": "SELECT id FROM units WHERE parent_id = ? AND kind = 'village'",
    "province": (
        "SELECT v.id FROM units c JOIN units v ON v.parent_id = c.id "
        "WHERE c.parent_id = ? AND c.kind = 'commune' AND v.kind = 'village'"
    ),
}


def _split_months(start: date, end: date) -> tuple[str | None, str | None, list[tuple[date, date]]]:
    """``start``–``end`` as (first whole month, last whole month, partial day ranges at the edges)."""
    first = start if start.day == 1 else _next_month(start)
    after = _next_month(end)  # the first day after end's month
    last_whole_end = after - timedelta(days=1) if end == after - timedelta(days=1) else end.replace(day=1) - timedelta(
        days=1)
    if first > last_whole_end:  # no whole month inside the period
        return None, None, [(start, end)]
    days = []
    if start < first:
        days.append((start, first - timedelta(days=1)))
    if last_whole_end < end:
        days.append((last_whole_end + timedelta(days=1), end))
    return first.strftime("%Y-%m"), last_whole_end.strftime("%Y-%m"), days


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _months(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``."""
    day, end = date.fromisoformat(f"{first}-01"), date.fromisoformat(f"{last}-01")
    out = []
    while day <= end:
        out.append(day.strftime("%Y-%m"))
        day = _next_month(day)
    return out


def _summed(rows: Iterable[Sequence[Any]]) -> list[tuple[int, str, int, int]]:
    """Rows ``(key, service, households, reports)`` added up per key and service, those with
    no live report left out."""
    sums: dict[tuple[int, str], list[int]] = {}
    for key, service, households, reports in rows:
        total = sums.setdefault((int(key), service), [0, 0])
        total[0] += int(households)
        total[1] += int(reports)
    return [(k, s, h, n) for (k, s), (h, n) in sums.items() if n > 0]


# The same scopes over the roll-up, keyed by (commune_id, month, village_id, service): a
# commune's month is one run of the key, a province's one run per commune. The clause and
# how many times it takes the scope's id.
_ROLLUP_OF = {
    "village": ("r.commune_id = (SELECT parent_id FROM units WHERE id = ?) AND r.village_id = ?", 2),
    "commune": ("r.commune_id = ?", 1),
    "province": ("r.commune_id IN (SELECT id FROM units WHERE parent_id = ? AND kind = 'commune')", 1),
}


def _rollup_clause(scope_kind: str, scope_id: int) -> tuple[str, tuple[int, ...]]:
    if scope_kind not in _ROLLUP_OF:
        raise ValueError(f"unknown scope kind {scope_kind!r}")
    clause, uses = _ROLLUP_OF[scope_kind]
    return clause, (scope_id,) * uses


def _villages_clause(scope_kind: str) -> str:
    if scope_kind not in _VILLAGES_OF:
        raise ValueError(f"unknown scope kind {scope_kind!r}")
    inner = _VILLAGES_OF[scope_kind]
    return "r.village_id = ?" if scope_kind == "village" else f"r.village_id IN ({inner})"


class TallyRepository(_Repo):
    async def totals(
        self, scope_kind: str, scope_id: int, start: date, end: date
    ) -> list[VillageServiceTotal]:
        """Live households and report rows per village and service, ``start``–``end`` inclusive.

        Whole months come from the trigger-kept roll-up ``report_months`` (migration 0007,
        keyed by commune since sqlite 0030 / postgres 0017);
        the partial months at the edges from the daily covering index.
        """
        rows = (await self.totals_many(scope_kind, scope_id, [(start, end)]))[0]
        return [VillageServiceTotal._make(row) for row in rows]

    async def totals_many(
        self, scope_kind: str, scope_id: int, periods: Sequence[tuple[date, date]]
    ) -> list[Sequence[Sequence[Any]]]:
        """:meth:`totals` of each ``(start, end)`` in turn (a tally's period, the one before and
        the days since 1 January), as rows that unpack to ``(village_id, service, households,
        reports)``: a whole month's are the driver's rows as they come. A province's tally reads
        some 50,000 of them, and making anything of each (a named tuple, a tuple, a slice
        dropping a period number to read them all in one statement) cost more than reading it."""
        clause, scope = _rollup_clause(scope_kind, scope_id)
        out: list[Sequence[Sequence[Any]]] = []
        for start, end in periods:
            first_month, last_month, days = _split_months(start, end)
            if first_month is not None and first_month == last_month and not days:
                # One whole month (/thang, and the month before it): its roll-up rows as they are,
                # one per village and service, nothing to add up (a province's month is ~18,000 rows).
                out.append(await self.db.fetchrows(
                    "SELECT r.village_id, r.service, r.households, r.reports FROM report_months r "
                    f"WHERE {clause} AND r.month = ? AND r.reports > 0",
                    (*scope, first_month),
                ))
                continue
            selects: list[str] = []
            params: list[object] = []
            for day_start, day_end in days:
                selects.append("SELECT r.village_id, r.service, SUM(r.count), COUNT(*) FROM reports r "
                               f"WHERE {_villages_clause(scope_kind)} AND r.voided_at IS NULL "
                               "AND r.occurred_on BETWEEN ? AND ? GROUP BY r.village_id, r.service")
                params += [scope_id, day_start.isoformat(), day_end.isoformat()]
            if first_month is not None:
                selects.append("SELECT r.village_id, r.service, SUM(r.households), SUM(r.reports) "
                               f"FROM report_months r WHERE {clause} AND r.month BETWEEN ? AND ? "
                               "GROUP BY r.village_id, r.service")
                params += [*scope, first_month, last_month]
            sums: dict[tuple[int, str], list[int]] = {}
            for village_id, service, households, reports in await self.db.fetchrows(" UNION ALL ".join(selects),
                                                                                     params):
                total = sums.setdefault((village_id, service), [0, 0])
                total[0] += int(households)
                total[1] += int(reports)
            out.append([(v, s, h, n) for (v, s), (h, n) in sums.items() if n > 0])
        return out

    async def commune_totals(
        self, province_id: int, periods: Sequence[tuple[date, date]]
    ) -> list[list[tuple[int, str, int, int]]]:
        """:meth:`totals_many` of a province with its villages summed per commune: for each
        ``(start, end)``, rows ``(commune_id, service, households, reports)`` (a service only
        where some village has a live report of it). A month of a province is ~18,000 roll-up
        rows, added up here by the database into a few hundred."""
        clause, scope = _rollup_clause("province", province_id)
        out: list[list[tuple[int, str, int, int]]] = []
        for start, end in periods:
            first_month, last_month, days = _split_months(start, end)
            selects: list[str] = []
            params: list[object] = []
            for day_start, day_end in days:  # each village's days from the daily index, its commune on the way
                selects.append(
                    "SELECT v.parent_id, r.service, SUM(r.count), COUNT(*) FROM units c "
                    "JOIN units v ON v.parent_id = c.id JOIN reports r ON r.village_id = v.id "
                    "WHERE c.parent_id = ? AND c.kind = 'commune' AND v.kind = 'village' AND r.voided_at IS NULL "
                    "AND r.occurred_on BETWEEN ? AND ? GROUP BY v.parent_id, r.service")
                params += [province_id, day_start.isoformat(), day_end.isoformat()]
            if first_month is not None:
                selects.append("SELECT r.commune_id, r.service, SUM(r.households), SUM(r.reports) "
                               f"FROM report_months r WHERE {clause} AND r.month BETWEEN ? AND ? AND r.reports > 0 "
                               "GROUP BY r.commune_id, r.service")
                params += [*scope, first_month, last_month]
            out.append(_summed(await self.db.fetchall(" UNION ALL ".join(selects), params)))
        return out

    async def reported_villages(self, commune_ids: Sequence[int], start: date, end: date) -> list[tuple[int, int]]:
        """``(commune_id, villages)``: per commune, how many of its villages have a live report
        (an explicit zero included) in ``start``–``end``. A whole month is one run of the
        roll-up per commune; anything else is asked of each village until one report is found
        (a year's roll-up is twelve runs, a week's days ~20,000 rows)."""
        if not commune_ids:
            return []
        marks = ",".join("?" * len(commune_ids))
        first_month, last_month, days = _split_months(start, end)
        if first_month is not None and first_month == last_month and not days:
            rows = await self.db.fetchall(
                "SELECT r.commune_id, COUNT(DISTINCT r.village_id) FROM report_months r "
                f"WHERE r.commune_id IN ({marks}) AND r.month = ? AND r.reports > 0 GROUP BY r.commune_id",
                (*commune_ids, first_month))
            return [(int(c), int(n)) for c, n in rows]
        tests: list[str] = []
        params: list[object] = [*commune_ids]
        if first_month is not None and last_month is not None:
            months = _months(first_month, last_month)
            tests.append("EXISTS (SELECT 1 FROM report_months r WHERE r.commune_id = v.parent_id "
                         f"AND r.month IN ({','.join('?' * len(months))}) AND r.village_id = v.id AND r.reports > 0)")
            params += months
        for day_start, day_end in days:
            tests.append("EXISTS (SELECT 1 FROM reports r WHERE r.village_id = v.id AND r.voided_at IS NULL "
                         "AND r.occurred_on BETWEEN ? AND ?)")
            params += [day_start.isoformat(), day_end.isoformat()]
        rows = await self.db.fetchall(
            f"SELECT v.parent_id, COUNT(*) FROM units v WHERE v.parent_id IN ({marks}) AND v.kind = 'village' "
            f"AND ({' OR '.join(tests)}) GROUP BY v.parent_id", params)
        return [(int(c), int(n)) for c, n in rows]

    async def village_list_totals(
        self, ids: Sequence[int], start: date, end: date, communes: Sequence[int] = ()
    ) -> list[tuple[int, str, int, int]]:
        """:meth:`totals` of these villages (of any communes), ``start``–``end``: rows
        ``(village_id, service, households, reports)``. Each village's months are read by the
        roll-up's whole key (its commune, each month, the village); with ``communes`` (theirs,
        when they are most of those communes' villages), in those communes' runs of the
        roll-up instead, the other villages' rows left out here (a filter on a list of
        thousands of villages took PostgreSQL 2 µs a row, and a seek a village and month costs
        more than the row it finds)."""
        if not ids:
            return []
        first_month, last_month, days = _split_months(start, end)
        marks = ",".join("?" * len(ids))
        selects: list[str] = []
        params: list[object] = []
        for day_start, day_end in days:
            selects.append(f"SELECT r.village_id, r.service, SUM(r.count), COUNT(*) FROM reports r "
                           f"WHERE r.village_id IN ({marks}) AND r.voided_at IS NULL "
                           "AND r.occurred_on BETWEEN ? AND ? GROUP BY r.village_id, r.service")
            params += [*ids, day_start.isoformat(), day_end.isoformat()]
        if first_month is not None and last_month is not None and communes:
            selects.append("SELECT r.village_id, r.service, SUM(r.households), SUM(r.reports) FROM report_months r "
                           f"WHERE r.commune_id IN ({','.join('?' * len(communes))}) AND r.month BETWEEN ? AND ? "
                           "GROUP BY r.village_id, r.service")
            params += [*communes, first_month, last_month]
        elif first_month is not None and last_month is not None:
            months = _months(first_month, last_month)
            selects.append("SELECT r.village_id, r.service, SUM(r.households), SUM(r.reports) FROM units v "
                           "JOIN report_months r ON r.commune_id = v.parent_id AND r.village_id = v.id "
                           f"WHERE v.id IN ({marks}) AND r.month IN ({','.join('?' * len(months))}) "
                           "GROUP BY r.village_id, r.service")
            params += [*ids, *months]
        if not selects:
            return []
        wanted = set(ids)
        if len(selects) == 1:  # one statement: its rows per village and service as they come
            return [row for row in await self.db.fetchrows(selects[0], params)  # type: ignore[misc]
                    if row[3] > 0 and row[0] in wanted]
        return [row for row in _summed(await self.db.fetchall(" UNION ALL ".join(selects), params))
                if row[0] in wanted]

    async def daily(self, scope_kind: str, scope_id: int, start: date, end: date) -> list[DayTotal]:
        """Live households per village, service and day (zero reports left out)."""
        rows = await self.db.fetchall(
            "SELECT r.village_id, r.service, r.occurred_on, SUM(r.count) FROM reports r "
            f"WHERE {_villages_clause(scope_kind)} AND r.voided_at IS NULL "
            "AND r.occurred_on BETWEEN ? AND ? AND r.count > 0 "
            "GROUP BY r.village_id, r.service, r.occurred_on",
            (scope_id, start.isoformat(), end.isoformat()),
        )
        return [DayTotal(r[0], r[1], date.fromisoformat(r[2]), int(r[3])) for r in rows]

    async def last_report_id(self) -> int:
        """The newest report's id (0 if none): with ``detail(upto=...)``, the rows that existed then."""
        row = await self.db.fetchone("SELECT MAX(id) FROM reports")
        return int(row[0]) if row and row[0] is not None else 0

    async def detail(self, scope_kind: str, scope_id: int, start: date, end: date,
                     upto: int | None = None) -> list[DetailRow]:
        """Every report row of the period, voided ones included, with the display names of the
        member it is for, of who entered it (a proxy report, a correction) and of who voided it;
        with ``upto``, only rows with an id up to it."""
        # Live rows through reports_live_tally, voided ones through reports_voided (0010).
        select = (
            "SELECT r.id, r.occurred_on, r.village_id, v.name, r.service, r.count, r.source, r.created_at, "
            "r.voided_at, r.void_reason, m.name, e.name, x.name, r.supersedes, r.entered_by, r.member_id "
            "FROM reports r "
            "JOIN units v ON v.id = r.village_id JOIN members m ON m.id = r.member_id "
            "LEFT JOIN members e ON e.id = r.entered_by LEFT JOIN members x ON x.id = r.voided_by "
            f"WHERE {_villages_clause(scope_kind)} AND r.occurred_on BETWEEN ? AND ? AND r.id <= ? AND r.voided_at IS "
        )
        params = (scope_id, start.isoformat(), end.isoformat(), upto if upto is not None else 1 << 62)
        rows = await self.db.fetchall(
            f"{select}NULL UNION ALL {select}NOT NULL ORDER BY 2, 4, 1",  # occurred_on, village name, id
            params + params,
        )
        return [
            DetailRow(
                r[0], date.fromisoformat(r[1]), r[2], r[3], r[4], int(r[5]), r[6], datetime.fromisoformat(r[7]),
                datetime.fromisoformat(r[8]) if r[8] else None, r[9], r[10], r[11], r[12], r[13], r[14], r[15],
            )
            for r in rows
        ]


class TargetRepository(_Repo):
    async def set(self, unit_id: int, service: str, year: int, kind: str, value: float, now: datetime) -> None:
        if kind not in TARGET_KINDS:
            raise ValueError(f"unknown target kind {kind!r}")
        await self.db.execute(
            "INSERT INTO targets (unit_id, service, year, kind, value, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (unit_id, service, year) DO UPDATE SET kind = excluded.kind, value = excluded.value, "
            "updated_at = excluded.updated_at",
            (unit_id, service, year, kind, value, ts(now)),
        )

    async def set_many(self, rows: Iterable[Sequence[object]], now: datetime, keep_existing: bool = False) -> None:
        """``(unit_id, service, year, kind, value)`` rows, inserted or replaced (or kept, if asked)."""
        conflict = (
            "DO NOTHING" if keep_existing
            else "DO UPDATE SET kind = excluded.kind, value = excluded.value, updated_at = excluded.updated_at"
        )
        await self.db.executemany(
            "INSERT INTO targets (unit_id, service, year, kind, value, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (unit_id, service, year) {conflict}",
            [(*row, ts(now)) for row in rows],
        )

    async def villages_with_targets(self, parent_ids: Sequence[int], year: int) -> int:
        """How many villages of these units (a province's communes) have a target of ``year``."""
        if not parent_ids:
            return 0
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM units v WHERE v.parent_id IN "
            f"({','.join('?' * len(parent_ids))}) AND v.kind = 'village' "
            "AND EXISTS (SELECT 1 FROM targets t WHERE t.unit_id = v.id AND t.year = ?)",
            (*parent_ids, year),
        )
        return int(row[0]) if row else 0

    async def of_villages(self, parent_ids: Sequence[int], year: int) -> list[Target]:
        """The targets of ``year`` set on the villages of these units (a province's communes)."""
        if not parent_ids:
            return []
        rows = await self.db.fetchall(
            "SELECT t.unit_id, t.service, t.kind, t.value FROM units v JOIN targets t ON t.unit_id = v.id "
            f"WHERE v.parent_id IN ({','.join('?' * len(parent_ids))}) AND v.kind = 'village' AND t.year = ?",
            (*parent_ids, year),
        )
        return [Target(r[0], r[1], year, r[2], float(r[3])) for r in rows]

    async def for_units(self, unit_ids: Sequence[int], year: int) -> list[Target]:
        if not unit_ids:
            return []
        marks = ",".join("?" * len(unit_ids))
        rows = await self.db.fetchall(
            f"SELECT unit_id, service, year, kind, value FROM targets WHERE year = ? AND unit_id IN ({marks}) "
            "ORDER BY unit_id, service",
            (year, *unit_ids),
        )
        return [Target(r[0], r[1], r[2], r[3], float(r[4])) for r in rows]
