"""The reporting cycle a commune can sign (issue 13): villages confirm their figures for a
period (chốt số liệu thôn), staff close a period (khóa kỳ), and what both mean for
reminders, the due-day list, /thang and the exports.

* A village is "reported" for a period when it has a live confirmation of it; a report,
  void or correction dated in a confirmed period reopens it (:func:`changed`, in the same
  unit of work as the change) and its leader is asked to confirm again.
* A closed period refuses every change dated in it: :func:`closed_for` is the check, in the
  same unit of work as the write, after holding the commune (``uow.cycle.hold``).
* :func:`village_status` and :func:`team_figures` are what staff read (and what the exports
  print): per village confirmed on time / late / reports but not confirmed / silent, and the
  team figures. Their signatures are stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from bot.content import Content
from bot.domain.deadlines import Deadline, Planner
from bot.domain.messages import Markup, Option, Reply, payload
from bot.domain.periods import Period, from_key
from bot.domain.reports import NONE_SERVICE
from bot.domain.tally import number, period_label
from storage import UnitOfWork
from storage.models import Confirmation, NewMessage, PeriodLock, Unit

CONFIRM_ACTION = "chot"  # global button action: "g:chot:ok:<period>" / "g:chot:fix:<period>"
CONFIRM_RULE = "chot"  # outbox rule of the "confirm again" messages after a reopen
MEMBER_ROLES = ("member", "leader")
State = Literal["on_time", "late", "unconfirmed", "silent"]
STATES: tuple[State, ...] = ("on_time", "late", "unconfirmed", "silent")
CLOSABLE = ("month", "cutoff", "quarter", "year")  # the kinds /moky can name to reopen


# ------------------------------------------------------------------------------------------
# What staff read (stable: the exports call these)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VillageStatus:
    """One village for one period."""

    village: Unit
    state: State  # confirmed on time | confirmed late | reports but not confirmed | silent
    reports: int  # live report rows in the period (explicit zero reports included)
    figures: dict[str, int]  # service -> count now (catalogue codes; the zero report left out)
    confirmation: Confirmation | None  # the live one, if confirmed

    @property
    def confirmed(self) -> bool:
        return self.confirmation is not None


@dataclass(frozen=True)
class TeamFigures:
    """The teams of a scope (a village, a commune or a province) in one period."""

    period: Period
    villages: int  # villages of the scope
    with_team: int  # villages with at least one active member or leader
    members: int  # active members and leaders
    active: int  # of them, those who reported or confirmed in the period
    on_time: int  # villages confirmed on time
    late: int  # villages confirmed after the deadline
    unconfirmed: int  # villages with reports, not confirmed
    silent: int  # villages with neither
    without_team: tuple[str, ...] = ()  # the names of the villages with no active member

    @property
    def confirmed(self) -> int:
        return self.on_time + self.late


async def villages_of(uow: UnitOfWork, scope: Unit) -> list[Unit]:
    """The active villages of a village, commune or province, in the order staff see them."""
    if scope.kind == "village":
        return [scope]
    communes = [scope] if scope.kind == "commune" else [
        u for u in await uow.units.children(scope.id) if u.kind == "commune"]
    villages: list[Unit] = []
    for commune in communes:
        villages.extend(u for u in await uow.units.children(commune.id) if u.kind == "village" and u.active)
    return villages


async def _confirmations(uow: UnitOfWork, villages: list[Unit], period: Period) -> dict[int, Confirmation]:
    found: dict[int, Confirmation] = {}
    for commune_id in sorted({v.parent_id for v in villages if v.parent_id is not None}):
        found.update(await uow.cycle.confirmations(commune_id, period.key))
    return {k: v for k, v in found.items() if k in {v.id for v in villages}}


async def village_status(uow: UnitOfWork, scope: Unit, period: Period) -> list[VillageStatus]:
    """Each village of ``scope`` (a village, commune or province) in ``period``."""
    villages = await villages_of(uow, scope)
    if not villages:
        return []
    kind = "village" if scope.kind == "village" else scope.kind
    figures: dict[int, dict[str, int]] = {}
    reports: dict[int, int] = {}
    for row in await uow.tallies.totals(kind, scope.id, period.start, period.end):
        reports[row.village_id] = reports.get(row.village_id, 0) + row.reports
        if row.service != NONE_SERVICE:
            figures.setdefault(row.village_id, {})[row.service] = row.households
    confirmed = await _confirmations(uow, villages, period)
    out = []
    for village in villages:
        confirmation = confirmed.get(village.id)
        count = reports.get(village.id, 0)
        if confirmation is not None:
            state: State = "on_time" if confirmation.on_time else "late"
        else:
            state = "unconfirmed" if count else "silent"
        out.append(VillageStatus(village, state, count, figures.get(village.id, {}), confirmation))
    return out


async def team_figures(uow: UnitOfWork, scope: Unit, period: Period,
                       statuses: list[VillageStatus] | None = None) -> TeamFigures:
    """The team figures of ``scope`` in ``period`` (for /thang and every export);
    ``statuses``: :func:`village_status` of the same scope and period, if read already."""
    if statuses is None:
        statuses = await village_status(uow, scope, period)
    with_team = members = active = 0
    without: list[str] = []
    for status in statuses:
        village = status.village
        people = [m for m in await uow.members.in_unit(village.id) if m.active and m.role in MEMBER_ROLES]
        if not people:
            without.append(village.name)
            continue
        with_team += 1
        members += len(people)
        busy = set(await uow.reminders.member_totals_in_village(village.id, period.start, period.end))
        if status.confirmation is not None:
            busy.add(status.confirmation.confirmed_by)
        active += len(busy & {m.id for m in people})
    counts = {state: sum(1 for s in statuses if s.state == state) for state in STATES}
    return TeamFigures(period, len(statuses), with_team, members, active, counts["on_time"], counts["late"],
                       counts["unconfirmed"], counts["silent"], tuple(without))


# ------------------------------------------------------------------------------------------
# Closed periods
# ------------------------------------------------------------------------------------------


async def closed_for(uow: UnitOfWork, village_id: int, days: list[date]) -> PeriodLock | None:
    """Hold the village's commune for a write (until the commit) and say whether any of
    ``days`` falls in one of its closed periods: the check and the write are one unit of work."""
    return await uow.cycle.hold_and_check_village(village_id, days)


async def close_period(uow: UnitOfWork, commune: Unit, period: Period, by: int | None, now: datetime) -> bool:
    """Close ``period`` of ``commune`` (audited); False if it was closed already."""
    await uow.cycle.hold(commune.id, exclusive=True)
    if not await uow.cycle.close(commune.id, period.key, period.start, period.end, by, now):
        return False
    await uow.audit.add(by, "period.close", f"period:{period.key}", now,
                        {"start": period.start.isoformat(), "end": period.end.isoformat(), "auto": by is None},
                        unit_id=commune.id)
    return True


async def reopen_period(uow: UnitOfWork, commune: Unit, period: Period, by: int, now: datetime) -> bool:
    """Reopen a closed period (audited); False if it was not closed."""
    await uow.cycle.hold(commune.id, exclusive=True)
    if not await uow.cycle.reopen_period(commune.id, period.key):
        return False
    await uow.audit.add(by, "period.reopen", f"period:{period.key}", now,
                        {"start": period.start.isoformat(), "end": period.end.isoformat()}, unit_id=commune.id)
    return True


async def auto_close(uow: UnitOfWork, planner: Planner, commune: Unit, deadlines: list[Deadline],
                     now: datetime) -> list[Period]:
    """Close the periods that have ended and whose deadline passed ``close_after_days`` ago
    (per commune in content; off by default). Run by the scheduler's pass; closing twice
    changes nothing."""
    after = planner.config.cycle_for(commune.code).close_after_days
    if after is None:
        return []
    today = now.astimezone(planner.tz).date()
    closed = []
    for deadline in deadlines:
        if deadline.due + timedelta(days=after) > today or deadline.period.end >= today \
                or deadline.period.kind not in CLOSABLE:
            continue
        if await uow.cycle.lock(commune.id, deadline.key) is None \
                and await close_period(uow, commune, deadline.period, None, now):
            closed.append(deadline.period)
    return closed


# ------------------------------------------------------------------------------------------
# Confirmations
# ------------------------------------------------------------------------------------------


async def figures_of(uow: UnitOfWork, village: Unit, period: Period) -> tuple[dict[str, int], int]:
    """(service -> count, live report rows) of a village in a period."""
    figures: dict[str, int] = {}
    reports = 0
    for row in await uow.tallies.totals("village", village.id, period.start, period.end):
        reports += row.reports
        if row.service != NONE_SERVICE:
            figures[row.service] = row.households
    return figures, reports


async def confirmers(uow: UnitOfWork, village: Unit) -> tuple[str, ...]:
    """Who confirms for a village: its leaders, or every member in a village without one."""
    roles = {m.role for m in await uow.members.in_unit(village.id) if m.active}
    return ("leader",) if "leader" in roles else MEMBER_ROLES


def status_lines(content: Content, statuses: list[VillageStatus], team: TeamFigures,
                 closed: bool) -> list[Markup]:
    """What staff read under a tally: villages by confirmation state, and the team figures."""
    t = content.texts
    counts = {state: [s.village.name for s in statuses if s.state == state] for state in STATES}
    lines = [t("cycle.status_title"),
             t("cycle.status_counts", on_time=len(counts["on_time"]), late=len(counts["late"]),
               unconfirmed=len(counts["unconfirmed"]), silent=len(counts["silent"]))]
    for state, key in (("late", "cycle.status_late"), ("unconfirmed", "cycle.status_unconfirmed"),
                       ("silent", "cycle.status_silent")):
        if counts[state]:
            lines.append(t(key, names=", ".join(counts[state])))
    lines.append(t("cycle.team", with_team=team.with_team, villages=team.villages, members=team.members,
                   active=team.active))
    if closed:
        lines.append(t("cycle.closed_mark"))
    return lines


def figures_text(content: Content, figures: dict[str, int], commune_code: str | None = None) -> Markup:
    t = content.texts
    catalogue = content.catalogue
    lines = [t("cycle.figure_line", label=s.short, count=number(figures[s.code]),
               unit=catalogue.unit_word(s.code, commune_code))
             for s in catalogue.services if figures.get(s.code)]
    return Markup.lines(lines) if lines else t("cycle.figures_none")


def kinds_text(content: Content, figures: Mapping[str, int], commune_code: str | None = None) -> str:
    """"5 người, 3 hộ": one total per kind of count, never a sum of unlike things ("0" if none)."""
    catalogue = content.catalogue
    parts = [str(content.texts("counts.part", count=number(count), unit=catalogue.word(kind)))
             for kind, count in catalogue.per_kind(figures, commune_code)]
    return str(content.texts("counts.separator")).join(parts) or number(0)


def confirm_options(content: Content, period: Period) -> tuple[tuple[Option, ...], ...]:
    t = content.texts
    # Keys as a text-only user types them: 1 and 2 (a push's are renumbered where the chat's
    # pending step already uses those, see bot.flows.pushed).
    return ((Option(t("cycle.button_ok"), f"g:{CONFIRM_ACTION}:ok:{period.key}", "1"),
             Option(t("cycle.button_fix"), f"g:{CONFIRM_ACTION}:fix:{period.key}", "2")),)


def confirm_request(content: Content, village: Unit, period: Period, figures: dict[str, int],
                    deadline: Deadline | None, overdue: bool = False, again: bool = False,
                    commune_code: str | None = None) -> Reply:
    """The figures of a village for a period (each in its unit, ``commune_code``: the village's
    commune, whose overrides say what a service counts), with [✅ Đúng, gửi xã] and [✏️ Sửa]."""
    head = "cycle.ask_again" if again else "cycle.ask_overdue" if overdue else "cycle.ask"
    t = content.texts
    due = t("cycle.due", due=deadline.due.strftime("%d/%m/%Y")) if deadline is not None else ""
    text = t(head, village=village.name, period=period_label(t, period), due=due,
             figures=figures_text(content, figures, commune_code), total=kinds_text(content, figures, commune_code))
    return Reply(text, confirm_options(content, period))


async def confirm(uow: UnitOfWork, village: Unit, period: Period, deadline: Deadline | None, by: int,
                  now: datetime, tz_today: date) -> Confirmation | None:
    """Confirm the village's current figures for ``period`` (audited); None if it was
    confirmed already. On time when confirmed on or before the deadline's day."""
    assert village.parent_id is not None
    await uow.cycle.hold(village.parent_id, exclusive=True)
    figures, _ = await figures_of(uow, village, period)
    on_time = deadline is None or tz_today <= deadline.due
    made = await uow.cycle.confirm(village.parent_id, village.id, period.key, period.start, period.end, by, now,
                                   figures, on_time)
    if made is not None:
        await uow.audit.add(by, "period.confirm", f"village:{village.id}", now,
                            {"period": period.key, "figures": figures, "on_time": on_time},
                            unit_id=village.parent_id)
    return made


async def changed(uow: UnitOfWork, content: Content, village_id: int, days: list[date], by: int | None,
                  reason: str, now: datetime) -> list[Confirmation]:
    """After a report, void or correction dated on ``days`` in the village (same unit of work):
    reopen the confirmed periods holding them and ask the village's confirmers to confirm
    again (queued). The confirmations reopened."""
    reopened = await uow.cycle.reopen(village_id, days, by, reason, now)
    village = await uow.units.get(village_id) if reopened else None
    if village is None or village.parent_id is None:
        return reopened
    commune = await uow.units.get(village.parent_id)
    roles = await confirmers(uow, village)
    people = [p for p in await uow.reminders.people(village.parent_id, [village.id]) if p.role in roles]
    messages = []
    for confirmation in reopened:
        try:
            period = from_key(confirmation.period)
        except ValueError:  # a campaign's period: its dates say it
            period = Period("once", confirmation.starts_on, confirmation.ends_on, confirmation.period)
        figures, _ = await figures_of(uow, village, period)
        reply = confirm_request(content, village, period, figures, None, again=True,
                                commune_code=commune.code if commune is not None else None)
        encoded = payload(reply)
        step = f"again-{confirmation.id}"
        for person in people:
            messages.append(NewMessage(CONFIRM_RULE, period.key, step, person.member_id, person.channel,
                                       person.chat_id, encoded, now, None, village.id, period.start, period.end))
    if messages:
        await uow.outbox.enqueue(messages, now)
    return reopened


