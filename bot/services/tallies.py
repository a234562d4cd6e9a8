"""Tallies: what was counted per village and service in a period (households, people or
sessions, as the catalogue says for the commune), with the change against the previous
period, coverage against yearly targets and who has not reported.

One :class:`Tally` feeds the chat answer, the chart and the XLSX export, so the three
always show the same figures. Built from storage only; knows no channel.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.domain.catalogue import Catalogue, Counts
from bot.domain.periods import Period
from bot.domain.reports import NONE_SERVICE
from bot.domain.tally import Tally, VillageTally
from storage import UnitOfWork
from storage.models import Unit


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


async def build_tally(
    uow: UnitOfWork, scope: Unit, period: Period, services: tuple[str, ...], now: datetime,
    year_to_date: bool = False, catalogue: Catalogue | None = None, counts: dict[str, Counts] | None = None,
) -> Tally:
    """The tally of ``scope`` (a village, commune or province) for ``period``. The figures
    since 1 January are read where a target needs them, or always with ``year_to_date``
    (the filed report's "Lũy kế từ đầu năm"). With the ``catalogue`` (or the ``counts`` of an
    earlier tally of the same scope), each service knows what it counts (else households)."""
    if counts is None:
        counts = await counts_of(uow, catalogue, scope, services) if catalogue is not None else {}
    units = await villages_of(uow, scope)
    by_id = {u.id: VillageTally(u) for u in units}
    known = set(services)
    before = period.previous()
    year = period.end.year
    targets = await uow.targets.for_units([*by_id, scope.id], year)
    scope_targets = {}
    for target in targets:
        if target.service not in known:
            continue
        if target.unit_id in by_id:
            by_id[target.unit_id].targets[target.service] = target
        elif scope.kind in ("commune", "province"):  # a whole commune's or province's own target
            scope_targets[target.service] = target
    # The period, the one before and (where a target needs it) the days since 1 January not
    # already among them: read in one go.
    periods = [(period.start, period.end), (before.start, before.end)]
    carried: tuple[str, ...] = ()
    if targets or year_to_date:
        first_day = date(year, 1, 1)
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
    current_rows, previous_rows, *earlier = await uow.tallies.totals_many(scope.kind, scope.id, periods)
    village_of = by_id.get
    for village_id, service, households, reports in current_rows:
        village = village_of(village_id)
        if village is None:
            continue
        village.reports += reports
        if service == NONE_SERVICE:
            village.zero_reports += reports
        elif service in known:
            village.current[service] = households
    for village_id, service, households, _ in previous_rows:
        village = village_of(village_id)
        if village is not None and service in known:
            village.previous[service] = households
    if carried:
        for village in by_id.values():
            ytd = village.year_to_date
            ytd.update(village.current)
            if "previous" in carried:
                for service, households in village.previous.items():
                    ytd[service] = ytd.get(service, 0) + households
    for rows in earlier:
        for village_id, service, households, _ in rows:
            village = village_of(village_id)
            if village is not None and service in known:
                ytd = village.year_to_date
                ytd[service] = ytd.get(service, 0) + households
    return Tally(scope, period, services, list(by_id.values()), now, scope_targets, counts)
