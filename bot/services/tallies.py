"""Tallies: what was counted per village and service in a period (households, people or
sessions, as the catalogue says for the commune), with the change against the previous
period, coverage against yearly targets and who has not reported.

One :class:`Tally` feeds the chat answer, the chart and the XLSX export, so the three
always show the same figures. Built from storage only; knows no channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from bot.domain.catalogue import Catalogue, Counts
from bot.domain.periods import Period
from bot.domain.reports import NONE_SERVICE
from bot.domain.tally import CommuneTally, Tally, VillageSummary, VillageTally
from storage import UnitOfWork
from storage.models import Target, Unit


async def villages_of(uow: UnitOfWork, scope: Unit) -> list[Unit]:
    if scope.kind == "village":
        return [scope]
    if scope.kind == "commune":
        return [u for u in await uow.units.children(scope.id) if u.kind == "village"]
    return await uow.units.grandchildren(scope.id, "village")  # a province: its communes' villages


async def commune_code_of(uow: UnitOfWork, scope: Unit) -> str | None:
    """The code of the commune ``scope`` is (or is in); None for a province."""
    if scope.kind == "commune":
        return scope.code
    if scope.kind == "village" and scope.parent_id is not None:
        commune = await uow.units.get(scope.parent_id)
        return commune.code if commune is not None else None
    return None


async def counts_of(uow: UnitOfWork, catalogue: Catalogue, scope: Unit,
                    services: tuple[str, ...]) -> dict[str, Counts]:
    """service -> what it counts in the commune of ``scope`` (a province: the catalogue's
    defaults, as communes' overrides may differ)."""
    return catalogue.units_of(services, await commune_code_of(uow, scope))


def _reads(period: Period, year_to_date: bool) -> tuple[list[tuple[date, date]], tuple[str, ...]]:
    """What a tally reads: the period, the one before and (with ``year_to_date``) the days
    since 1 January not already among them; and which of the first two are part of the year
    to date (``carried``)."""
    before = period.previous()
    periods = [(period.start, period.end), (before.start, before.end)]
    carried: tuple[str, ...] = ()
    if year_to_date:
        first_day = date(period.end.year, 1, 1)
        if period.start < first_day:  # a week across New Year: only its days in the new year count
            start = first_day
        else:  # 1 January up to the period = the days before the figures already read + those figures
            carried = ("current", "previous") if before.start >= first_day else ("current",)
            start = first_day
        upto = period.end if not carried else (before.start if "previous" in carried else period.start)
        if carried:
            upto -= timedelta(days=1)
        if start <= upto:
            periods.append((start, upto))
    return periods, carried


def _fill(lines: Mapping[int, VillageTally], known: set[str], read: Sequence[Iterable[Sequence[Any]]],
          carried: tuple[str, ...]) -> None:
    """Each line's figures from the rows ``(its id, service, households, reports)`` of each
    period :func:`_reads` listed (rows of ids not among ``lines`` left out)."""
    current_rows, previous_rows, *earlier = read
    line_of = lines.get
    for line_id, service, households, reports in current_rows:
        line = line_of(line_id)
        if line is None:
            continue
        line.reports += reports
        if service == NONE_SERVICE:
            line.zero_reports += reports
        elif service in known:
            line.current[service] = households
    for line_id, service, households, _ in previous_rows:
        line = line_of(line_id)
        if line is not None and service in known:
            line.previous[service] = households
    if carried:
        for line in lines.values():
            ytd = line.year_to_date
            ytd.update(line.current)
            if "previous" in carried:
                for service, households in line.previous.items():
                    ytd[service] = ytd.get(service, 0) + households
    for rows in earlier:
        for line_id, service, households, _ in rows:
            line = line_of(line_id)
            if line is not None and service in known:
                ytd = line.year_to_date
                ytd[service] = ytd.get(service, 0) + households


async def build_tally(
    uow: UnitOfWork, scope: Unit, period: Period, services: tuple[str, ...], now: datetime,
    year_to_date: bool = False, catalogue: Catalogue | None = None, counts: dict[str, Counts] | None = None,
) -> Tally:
    """The tally of ``scope`` (a village, commune or province) for ``period``, village by
    village. The figures since 1 January are read where a target needs them, or always with
    ``year_to_date`` (the filed report's "Lũy kế từ đầu năm"). With the ``catalogue`` (or the
    ``counts`` of an earlier tally of the same scope), each service knows what it counts (else
    households). A province's chat answer and chart need less: :func:`build_province_tally`."""
    if counts is None:
        counts = await counts_of(uow, catalogue, scope, services) if catalogue is not None else {}
    units = await villages_of(uow, scope)
    by_id = {u.id: VillageTally(u) for u in units}
    known = set(services)
    targets = await uow.targets.for_units([*by_id, scope.id], period.end.year)
    scope_targets = {}
    for target in targets:
        if target.service not in known:
            continue
        if target.unit_id in by_id:
            by_id[target.unit_id].targets[target.service] = target
        elif scope.kind in ("commune", "province"):  # a whole commune's or province's own target
            scope_targets[target.service] = target
    periods, carried = _reads(period, bool(targets) or year_to_date)
    _fill(by_id, known, await uow.tallies.totals_many(scope.kind, scope.id, periods), carried)
    return Tally(scope, period, services, list(by_id.values()), now, scope_targets, counts)


async def build_province_tally(
    uow: UnitOfWork, province: Unit, period: Period, services: tuple[str, ...], now: datetime,
    year_to_date: bool = False, catalogue: Catalogue | None = None, counts: dict[str, Counts] | None = None,
) -> Tally:
    """A province's tally at commune grain: one :class:`CommuneTally` per commune (in the
    order of its name), summed by the database, with the same totals, "villages reported" and
    coverage as :func:`build_tally` of the province (and :func:`bot.domain.tally.per_commune`
    of it). Of the villages themselves it reads only their number and figures, and the
    figures since 1 January of those with targets of their own; the rows per village stay
    in the database (a province's month is ~18,000 roll-up rows: reading and adding them up
    in Python was most of the tally's time). The province's own target needs the communes'
    figures since 1 January; ``year_to_date`` reads them always. A period from 1 January
    (a year, a first quarter) of a province most of whose villages have targets of their own
    is read village by village (:func:`build_tally`): their figures since 1 January are the
    period's, read once."""
    if counts is None:
        counts = await counts_of(uow, catalogue, province, services) if catalogue is not None else {}
    communes = [u for u in await uow.units.children(province.id) if u.kind == "commune"]
    ids = [c.id for c in communes]
    lines: dict[int, VillageTally] = {c.id: CommuneTally(c) for c in communes}
    known = set(services)
    year = period.end.year
    count = households = adults = 0
    sizes: dict[int, int] = {}
    for commune_id, villages, commune_households, commune_adults in await uow.units.village_figures(ids):
        line = lines.get(commune_id)
        if isinstance(line, CommuneTally):
            line.village_count = sizes[commune_id] = villages
            count += villages
            households += commune_households
            adults += commune_adults
    if period.start == date(year, 1, 1) and 2 * await uow.targets.villages_with_targets(ids, year) >= count > 0:
        # Most villages have targets of their own and the year to date is the period itself:
        # read village by village, the period's rows are their year to date too.
        return await build_tally(uow, province, period, services, now, year_to_date, counts=counts)
    scope_targets = {t.service: t for t in await uow.targets.for_units([province.id], year) if t.service in known}
    periods, carried = _reads(period, bool(scope_targets) or year_to_date)
    _fill(lines, known, await uow.tallies.commune_totals(province.id, periods), carried)
    reported = 0
    for commune_id, villages in await uow.tallies.reported_villages(ids, period.start, period.end):
        line = lines.get(commune_id)
        if isinstance(line, CommuneTally):
            line.reported_villages = villages
            reported += villages
    own: dict[int, dict[str, Target]] = {}
    for target in await uow.targets.of_villages(ids, year):
        if target.service in known:
            own.setdefault(target.unit_id, {})[target.service] = target
    targeted = {u.id: VillageTally(u, targets=own[u.id]) for u in await uow.units.many(list(own))}
    # Their figures since 1 January (of the period's year), read at once: in their communes'
    # runs of the roll-up when they are most of those communes' villages.
    theirs = {v.unit.parent_id or 0 for v in targeted.values()}
    dense = 2 * len(targeted) >= sum(sizes.get(c, 0) for c in theirs)
    for village_id, service, helped, _ in await uow.tallies.village_list_totals(
            list(targeted), date(year, 1, 1), period.end, sorted(theirs) if dense else ()):
        if service in known:
            targeted[village_id].year_to_date[service] = helped
    summary = VillageSummary(count, reported, households, adults, tuple(targeted.values()))
    return Tally(province, period, services, list(lines.values()), now, scope_targets, counts, summary)
