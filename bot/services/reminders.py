"""The reminder planner: who gets which message for each step of the ladder, and the
scheduling pass that puts them in the outbox.

:func:`plan_step` and :func:`plan_digest` are pure: rules, units, members and which
villages have reported in, messages out. :func:`scheduling_pass` reads a snapshot from
storage, plans what is due at ``now`` and enqueues it in one transaction per commune;
enqueueing is idempotent (the outbox key), so a pass can run any number of times.
Nothing here sends: the outbox sender does (``bot/outbox.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from bot.content import Content
from bot.domain.deadlines import DIGEST_RULE, Campaign, Deadline, DigestStep, Planner, Step
from bot.domain.messages import Markup, Option, Reply, payload, reply_of
from bot.domain.periods import Period
from bot.domain.reports import NONE_SERVICE
from bot.domain.tally import period_label, period_name
from bot.services.cycle import auto_close, confirm_request, kinds_text
from storage import Database, UnitOfWork
from storage import encode_outbox as encode
from storage.models import CustomDeadline, NewMessage, Person, Unit

log = logging.getLogger(__name__)

__all__ = ["payload", "reply_of"]  # the outbox payload of a reply, and back (bot/domain/messages.py)

REMIND_ACTION = "remind"  # global button action: "g:remind:<rule>:<period>"
ADHOC_STEP = "adhoc"
MEMBER_ROLES = ("member", "leader")


def day_text(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def period_text(content: Content, period: Period) -> Markup:
    """The period with its dates, as every tally, chart and export names it."""
    return Markup(period_label(content.texts, period))


def deadline_label(content: Content, deadline: Deadline) -> str:
    """How a deadline is named in "/nhaclai …": its period ("quý 4/2026"), or a campaign's name."""
    return deadline.name if deadline.period.kind == "once" else period_name(content.texts, deadline.period)


def remind_option(content: Content, deadline: Deadline) -> Option:
    return Option(
        content.texts("reminders.remind_button"),
        f"g:{REMIND_ACTION}:{deadline.rule}:{deadline.key}",
        "1",  # what a text-only user types (renumbered if the chat's pending step uses it: bot.flows.pushed)
    )


def campaign_of(custom: CustomDeadline) -> Campaign:
    return Campaign(id=f"s{custom.id}", name=custom.name[:60], due=custom.due_on, start=custom.starts_on)


# ------------------------------------------------------------------------------------------
# Pure planning
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the planner needs to know about one commune at one moment."""

    commune: Unit
    villages: tuple[Unit, ...]
    people: tuple[Person, ...]
    reported: frozenset[int] = frozenset()  # villages that have confirmed the deadline's period
    digest_off: frozenset[int] = frozenset()
    has_reports: frozenset[int] = frozenset()  # villages with a live report in it (confirmed or not)
    figures: dict[int, dict[str, int]] = field(default_factory=dict)  # village -> service -> count

    def confirmers(self, village_id: int) -> list[Person]:
        """Who is asked to confirm a village's figures: its leaders, else all its members."""
        return self.in_unit(village_id, ("leader",)) or self.in_unit(village_id, MEMBER_ROLES)

    def in_unit(self, unit_id: int, roles: Iterable[str]) -> list[Person]:
        wanted = set(roles)
        return [p for p in self._by_unit.get(unit_id, ()) if p.role in wanted]

    @cached_property
    def _by_unit(self) -> dict[int, list[Person]]:
        """People by unit, in order: a lookup per village instead of a scan of the commune."""
        by_unit: dict[int, list[Person]] = {}
        for person in self.people:
            by_unit.setdefault(person.unit_id, []).append(person)
        return by_unit

    @property
    def staff(self) -> list[Person]:
        return self.in_unit(self.commune.id, ("staff",))

    def missing(self) -> list[Unit]:
        return [v for v in self.villages if v.id not in self.reported]


@dataclass
class Planned:
    messages: list[NewMessage] = field(default_factory=list)
    # One payload per reply, shared by its messages (10,000 alike in a pass: fewer objects to collect).
    _payloads: dict[int, tuple[Reply, dict[str, Any]]] = field(default_factory=dict)

    def add(self, step_rule: str, period: str, step: str, person: Person, reply: Reply, due_at: datetime,
            expires: datetime | None, village: Unit | None = None, covers: Period | None = None) -> None:
        known = self._payloads.get(id(reply))
        if known is None or known[0] is not reply:
            known = self._payloads[id(reply)] = (reply, payload(reply))
        self.messages.append(NewMessage(
            rule=step_rule, period=period, step=step, member_id=person.member_id, channel=person.channel,
            chat_id=person.chat_id, payload=known[1], due_at=due_at, expires_at=expires,
            village_id=village.id if village is not None else None,
            covers_start=covers.start if covers is not None else None,
            covers_end=covers.end if covers is not None else None,
        ))


def _common(content: Content, deadline: Deadline) -> dict[str, Any]:
    return {"name": deadline.name, "period": period_text(content, deadline.period), "due": day_text(deadline.due)}


def _units(content: Content, commune: Unit) -> dict[str, str]:
    """The unit words of the services a reminder's example names (VNeID, chữ ký số) in this
    commune: "5 người", never "5 hộ" for a service counting people."""
    catalogue = content.catalogue
    return {"vneid_unit": catalogue.unit_word("vneid", commune.code),
            "cks_unit": catalogue.unit_word("chu_ky_so", commune.code)}


def _missing_lines(content: Content, snap: Snapshot, missing: list[Unit]) -> Markup:
    t = content.texts
    reachable = {p.unit_id for p in snap.people if p.role in MEMBER_ROLES}

    def line(village: Unit) -> Markup:
        if village.id in snap.has_reports:
            return t("reminders.missing_line_unconfirmed", village=village.name)
        if village.id in reachable:
            return t("reminders.missing_line", village=village.name)
        return t("reminders.missing_line_unreachable", village=village.name)

    return Markup.lines([line(v) for v in missing])


def plan_step(content: Content, planner: Planner, step: Step, snap: Snapshot, send_at: datetime) -> list[NewMessage]:
    """The messages one ladder step sends, given who has reported. ``send_at``: not before this."""
    t = content.texts
    deadline = step.deadline
    common = _common(content, deadline)
    due_at = planner.out_of_quiet(max(step.at, send_at))
    if due_at >= step.expires:
        return []
    out = Planned()
    missing = snap.missing()
    add = out.add
    if step.step in ("before", "eve"):
        days = max(1, _working_days_between(planner, step.at.date(), deadline.anchor))
        for village in missing:
            if village.id in snap.has_reports:  # reported, not confirmed: the confirm step asks its confirmers
                continue
            replies: dict[str, Reply] = {}  # one text per village and key, not per person
            for person in snap.in_unit(village.id, MEMBER_ROLES):
                key = f"{step.step}_leader" if step.step == "eve" and person.role == "leader" else step.step
                if key not in replies:
                    replies[key] = Reply(t(f"reminders.{key}", village=village.name, days=days, **common,
                                           **_units(content, snap.commune)))
                add(deadline.rule, deadline.key, step.step, person, replies[key], due_at, step.expires, village,
                    deadline.period)
    elif step.step == "confirm":
        for village in missing:
            reply = confirm_request(content, village, deadline.period, snap.figures.get(village.id, {}), deadline,
                                    commune_code=snap.commune.code)
            for person in snap.confirmers(village.id):
                add(deadline.rule, deadline.key, step.step, person, reply, due_at, step.expires, village,
                    deadline.period)
    elif step.step == "due":
        total, done = len(snap.villages), len(snap.villages) - len(missing)
        if missing:
            reply = Reply(t("reminders.due_staff", done=done, total=total,
                            missing=_missing_lines(content, snap, missing), **common),
                          ((remind_option(content, deadline),),))
        else:
            reply = Reply(t("reminders.due_staff_all", total=total, **common))
        for person in snap.staff:
            add(deadline.rule, deadline.key, step.step, person, reply, due_at, step.expires)
    elif step.step == "overdue" and missing:
        for village in missing:
            reply = confirm_request(content, village, deadline.period, snap.figures.get(village.id, {}), deadline,
                                    overdue=True, commune_code=snap.commune.code)
            for person in snap.in_unit(village.id, ("leader",)):
                add(deadline.rule, deadline.key, step.step, person, reply, due_at, step.expires, village,
                    deadline.period)
        reply = Reply(t("reminders.overdue_staff", count=len(missing),
                        missing=_missing_lines(content, snap, missing), **common),
                      ((remind_option(content, deadline),),))
        for person in snap.staff:
            add(deadline.rule, deadline.key, step.step, person, reply, due_at, step.expires)
    return out.messages


def plan_adhoc(content: Content, planner: Planner, deadline: Deadline, snap: Snapshot,
               now: datetime) -> list[NewMessage]:
    """"Nhắc lại": one more reminder to every reachable member of the villages still missing.

    Keyed by the local day, so a double tap (or two staff tapping) sends it once a day.
    """
    t = content.texts
    due_at = planner.out_of_quiet(now)
    step = f"{ADHOC_STEP}-{now.astimezone(planner.tz).date().isoformat()}"
    out = Planned()
    for village in snap.missing():
        if village.id in snap.has_reports:  # reported, not confirmed: its confirmers are asked to confirm
            reply = Reply(t("reminders.adhoc_unconfirmed", village=village.name, **_common(content, deadline)))
            people = snap.confirmers(village.id)
        else:
            reply = Reply(t("reminders.adhoc", village=village.name, **_common(content, deadline),
                            **_units(content, snap.commune)))
            people = snap.in_unit(village.id, MEMBER_ROLES)
        for person in people:
            out.add(deadline.rule, deadline.key, step, person, reply, due_at, due_at + timedelta(days=1), village,
                    deadline.period)
    return out.messages


@dataclass(frozen=True)
class WeekFigures:
    totals: dict[int, dict[str, int]]  # village id -> service -> households
    members: dict[int, dict[int, int]]  # village id -> member id -> households


def plan_digest(content: Content, planner: Planner, digest: DigestStep, snap: Snapshot, figures: WeekFigures,
                send_at: datetime) -> list[NewMessage]:
    t = content.texts
    due_at = planner.out_of_quiet(max(digest.at, send_at))
    if due_at >= digest.expires:
        return []
    week = digest.week
    dates = {"start": week.start.strftime("%d/%m"), "end": week.end.strftime("%d/%m/%Y")}
    out = Planned()

    code = snap.commune.code
    catalogue = content.catalogue

    def services(totals: dict[str, int]) -> Markup:
        lines = [t("digest.service_line", label=s.short, count=totals[s.code], unit=catalogue.unit_word(s.code, code))
                 for s in catalogue.services if totals.get(s.code)]
        return Markup.lines(lines) if lines else t("digest.no_services")

    commune_totals: dict[str, int] = {}
    for per_village in figures.totals.values():
        for service, count in per_village.items():
            commune_totals[service] = commune_totals.get(service, 0) + count
    silent = [v.name for v in snap.villages if v.id not in figures.totals]
    # The most active: by the people, households and sessions helped, each kind on its own
    # (people first when a village helped both), never one sum of unlike things.
    def rank(totals: dict[str, int]) -> tuple[int, ...]:
        by_kind = dict(catalogue.per_kind(totals, code))
        return tuple(by_kind.get(kind, 0) for kind in ("people", "households", "sessions"))

    helped = [(v.name, figures.totals.get(v.id, {})) for v in snap.villages]
    ranked = sorted(((name, totals) for name, totals in helped if any(rank(totals))),
                    key=lambda item: (tuple(-n for n in rank(item[1])), item[0]))
    top = [t("digest.top_line", rank=i + 1, village=name, total=kinds_text(content, totals, code))
           for i, (name, totals) in enumerate(ranked[:planner.config.digest.top])]
    staff_reply = Reply(t(
        "digest.staff", commune=snap.commune.name, total=kinds_text(content, commune_totals, code),
        services=services(commune_totals),
        missing=", ".join(silent) if silent else t("digest.nobody_missing"),
        top=Markup.lines(top) if top else t("digest.no_top"), **dates,
    ))
    for person in snap.staff:
        if person.member_id not in snap.digest_off:
            out.add(DIGEST_RULE, week.key, "staff", person, staff_reply, due_at, digest.expires)
    for village in snap.villages:
        totals = figures.totals.get(village.id, {})
        reply = Reply(t("digest.leader", village=village.name, total=kinds_text(content, totals, code),
                        services=services(totals),
                        people=len(figures.members.get(village.id, {})), **dates))
        for person in snap.in_unit(village.id, ("leader",)):
            if person.member_id not in snap.digest_off:
                out.add(DIGEST_RULE, week.key, "leader", person, reply, due_at, digest.expires)
    return out.messages


def _working_days_between(planner: Planner, start: date, end: date) -> int:
    days, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if planner.work.is_working(day):
            days += 1
    return days


# ------------------------------------------------------------------------------------------
# Storage-backed: snapshots and the scheduling pass
# ------------------------------------------------------------------------------------------


async def load_snapshot(uow: UnitOfWork, commune: Unit, period: Period | None = None) -> Snapshot:
    villages = tuple(v for v in await uow.units.children(commune.id) if v.kind == "village" and v.active)
    people = tuple(await uow.reminders.people(commune.id))
    base = Snapshot(commune, villages, people, digest_off=frozenset(await uow.reminders.digest_off()))
    return base if period is None else await with_period(uow, base, period)


async def with_period(uow: UnitOfWork, base: Snapshot, period: Period, figures: bool = False) -> Snapshot:
    """``base`` with who has confirmed ``period`` and who has reports in it (and, if asked,
    each village's figures for the confirmers' request)."""
    commune_id = base.commune.id
    confirmed = frozenset(await uow.cycle.confirmed_villages(commune_id, period.key))
    has_reports = frozenset(await uow.reminders.reported_villages(commune_id, period.start, period.end))
    per_village: dict[int, dict[str, int]] = {}
    if figures:
        for row in await uow.tallies.totals("commune", commune_id, period.start, period.end):
            if row.service != NONE_SERVICE and row.village_id not in confirmed:
                per_village.setdefault(row.village_id, {})[row.service] = row.households
    return replace(base, reported=confirmed, has_reports=has_reports, figures=per_village)


async def commune_deadlines(uow: UnitOfWork, planner: Planner, commune: Unit, first: date,
                            last: date) -> list[Deadline]:
    extra = tuple(campaign_of(c) for c in await uow.reminders.deadlines(commune.id))
    return planner.deadlines(commune.code, first, last, extra)


async def find_deadline(uow: UnitOfWork, planner: Planner, commune: Unit, rule: str, key: str,
                        around: date) -> Deadline | None:
    window = timedelta(days=400)
    for deadline in await commune_deadlines(uow, planner, commune, around - window, around + window):
        if deadline.rule == rule and deadline.key == key:
            return deadline
    return None


async def _auto_close(uow: UnitOfWork, planner: Planner, commune: Unit, now: datetime,
                      extra: tuple[Campaign, ...]) -> list[Period]:
    today = now.astimezone(planner.tz).date()
    deadlines = planner.deadlines(commune.code, today - timedelta(days=150), today, extra)
    closed = await auto_close(uow, planner, commune, deadlines, now)
    if closed:
        log.info("%s: closed by itself %s", commune.code, ", ".join(p.key for p in closed))
    return closed


@dataclass
class PassResult:
    steps: int = 0
    added: int = 0
    planned: int = 0


ENQUEUE_CHUNK = 200  # outbox rows per unit of work: ~7 ms of the database each (bench/heavy.py)


async def enqueue_chunked(db: Database, messages: list[NewMessage], now: datetime,
                          chunk: int | None = None) -> int:
    """Enqueue ``messages`` in short units of work of ``chunk`` rows; returns how many were new.

    Between two chunks the database serves everybody else, so members' messages interleave
    with a pass of 90,000 reminders instead of waiting for it: the payloads are encoded
    before each unit of work (not in the database thread); after it, the pass lets the WAL be
    checkpointed when it has grown (:meth:`Database.bulk_pause`) and lets whoever
    waits for the database go first, in a trip of their own rather than grouped with the
    next chunk. Enqueueing is idempotent (the outbox key): a pass stopped halfway leaves
    what it added, and the next pass adds the rest.
    """
    added, chunk = 0, chunk or ENQUEUE_CHUNK
    for first in range(0, len(messages), chunk):
        rows = encode(messages[first:first + chunk], now)
        added += await db.run(lambda uow, rows=rows: uow.outbox.enqueue_rows(rows))
        await db.bulk_pause()
        await asyncio.sleep(0)
    return added


PEOPLE_UNITS = 10  # villages whose reachable people one short read of a pass loads (~1,000 at scale)


async def _pass_reads(db: Database, commune_id: int) -> tuple[Snapshot, tuple[Campaign, ...]]:
    """A commune's snapshot for a pass, in short reads: its people a few villages at a time
    (10,000 people in one read hold the database ~100 ms). A member moved between two of
    those reads may be missed or planned twice by this pass: the outbox key sends once, and
    the next pass plans them where they are."""

    async def head(uow: UnitOfWork) -> tuple[Snapshot, tuple[Campaign, ...]]:
        commune = await uow.units.get(commune_id)
        assert commune is not None
        extra = tuple(campaign_of(c) for c in await uow.reminders.deadlines(commune.id))
        villages = tuple(v for v in await uow.units.children(commune.id) if v.kind == "village" and v.active)
        return Snapshot(commune, villages, (), digest_off=frozenset(await uow.reminders.digest_off())), extra

    base, extra = await db.run(head)
    units = [base.commune.id, *(v.id for v in base.villages)]
    people: list[Person] = []
    for first in range(0, len(units), PEOPLE_UNITS):
        part = units[first:first + PEOPLE_UNITS]
        people += await db.run(lambda uow, part=part: uow.reminders.people(commune_id, part))
    people.sort(key=lambda p: p.member_id)  # as one read orders them (stable: identities stay in order)
    return replace(base, people=tuple(people)), extra


async def _week_figures(uow: UnitOfWork, snap: Snapshot, week: Period) -> WeekFigures:
    totals: dict[int, dict[str, int]] = {}
    for row in await uow.tallies.totals("commune", snap.commune.id, week.start, week.end):  # = /tuan truoc
        totals.setdefault(row.village_id, {})[row.service] = row.households
    members = {v.id: await uow.reminders.member_totals_in_village(v.id, week.start, week.end) for v in snap.villages}
    return WeekFigures(totals, members)


async def scheduling_pass(db: Database, content: Content, tz: ZoneInfo, now: datetime,
                          commune_code: str | None = None, planner: Planner | None = None) -> PassResult:
    """Enqueue every step (and the weekly digest) that is due at ``now`` and not expired.

    Idempotent: run it on every cron tick, on start, or by hand; a step already in the
    outbox is not added again. Villages that reported for the period are left out.

    Never holds the database for long (issue 11): a commune's snapshot, each step's
    "who has reported" and the digest's figures are short reads of their own; planning is
    done outside the database, in a worker thread; messages are enqueued a step at a time, in chunks
    (:func:`enqueue_chunked`). A village that reports while the pass runs is left out of
    the messages not yet planned, and the sender skips it in those already queued.
    """
    planner = planner or content.planner(tz)
    result = PassResult()
    communes = await db.run(lambda uow: uow.reminders.communes(commune_code))
    for commune_id, _code, _name in communes:
        base, extra = await _pass_reads(db, commune_id)
        commune = base.commune
        steps = planner.due_now(commune.code, now, extra)
        digest = planner.digest_due(now)
        if planner.config.cycle_for(commune.code).close_after_days is not None:
            await db.run(lambda uow, c=commune, e=extra: _auto_close(uow, planner, c, now, e))
        for step in steps:
            period = step.deadline.period
            snap = await db.run(lambda uow, b=base, p=period, f=step.step in ("confirm", "overdue"): with_period(
                uow, b, p, f))
            # Planning 10,000 messages is CPU work: in a worker thread the event loop goes on meanwhile.
            messages = await asyncio.to_thread(plan_step, content, planner, step, snap, now)
            result.planned += len(messages)
            result.added += await enqueue_chunked(db, messages, now)
        if digest is not None:
            figures = await db.run(lambda uow, snap=base, week=digest.week: _week_figures(uow, snap, week))
            messages = await asyncio.to_thread(plan_digest, content, planner, digest, base, figures, now)
            result.planned += len(messages)
            result.added += await enqueue_chunked(db, messages, now)
        result.steps += len(steps) + (digest is not None)
    if result.added:
        log.info("scheduling pass at %s: %d steps, %d new messages", now.isoformat(), result.steps, result.added)
    return result
