"""Deadlines in the chat: /hanchot (next deadlines, and whether my village has reported),
/hanchot them (staff add a one-off deadline), /hanchot xoa SỐ (staff remove one, by the number
/hanchot shows them), /tatnhacnho and /batnhacnho (weekly digest
off and on) and "nhắc lại" (staff send one more reminder to villages still missing).

Commands: /hanchot [them|xoa] /tatnhacnho /batnhacnho (everyone registered), /nhaclai (staff)
Steps:    none; the "Nhắc lại" button is a global action
Tables:   custom_deadlines, member_prefs, outbox, audit
Texts:    content/texts/deadlines.yaml
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.domain.cleantext import clean_line
from bot.domain.deadlines import CAMPAIGN_PREFIX, Deadline, DeadlineConfig, Planner
from bot.domain.messages import Markup, Reply
from bot.domain.periods import period_of
from bot.domain.tally import period_label
from bot.domain.textutil import fold
from bot.flows.commands import REGISTERED, STAFF, Command
from bot.flows.context import Context
from bot.flows.feature import Feature
from bot.flows.free_text import refuse_personal_data
from bot.flows.tally import BadArgument, kind_and_text, parse_period
from bot.services.quota import ZALO, budget_line
from bot.services.reminders import (
    REMIND_ACTION,
    campaign_of,
    commune_deadlines,
    day_text,
    deadline_label,
    find_deadline,
    load_snapshot,
    period_text,
    plan_adhoc,
)
from storage.models import Unit

SHOW_DAYS = 62
MAX_SHOWN = 6
MAX_NAME = 60
MAX_AHEAD_DAYS = 366
_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?$")
_QUOTES = "\"'“”‘’«»"


_PLANNERS: dict[tuple[int, str], tuple[DeadlineConfig, Planner]] = {}


def planner_for(ctx: Context) -> Planner:
    """One planner (and its holiday calendar) per rules and time zone, built once."""
    config: DeadlineConfig = ctx.content.deadlines
    key = (id(config), str(ctx.tz))
    if key not in _PLANNERS:
        # The entry keeps config alive, so its id stays unique.
        _PLANNERS[key] = (config, ctx.content.planner(ctx.tz))
    return _PLANNERS[key][1]


async def commune_of(ctx: Context) -> Unit | None:
    assert ctx.member is not None
    unit = await ctx.uow.units.get(ctx.member.unit_id)
    if unit is not None and unit.kind == "village" and unit.parent_id is not None:
        unit = await ctx.uow.units.get(unit.parent_id)
    return unit if unit is not None and unit.kind == "commune" else None


async def hanchot(ctx: Context, args: str) -> list[Reply]:
    head, _, rest = args.strip().partition(" ")
    if fold(head) in ("them", "add"):
        if ctx.member is None or ctx.member.role not in STAFF:
            return [ctx.say("deadlines.staff_only")]
        return await add(ctx, rest)
    if fold(head) in ("xoa", "bo", "remove"):
        if ctx.member is None or ctx.member.role not in STAFF:
            return [ctx.say("deadlines.staff_only_remove")]
        return await remove(ctx, rest)
    return await show(ctx)


def campaign_number(deadline: Deadline) -> int | None:
    """The number of a deadline staff added (``/hanchot xoa SỐ``); None for a rule's deadline."""
    tail = deadline.rule.removeprefix(CAMPAIGN_PREFIX)
    return int(tail[1:]) if tail != deadline.rule and tail[:1] == "s" and tail[1:].isdigit() else None


async def show(ctx: Context) -> list[Reply]:
    assert ctx.member is not None
    commune = await commune_of(ctx)
    if commune is None:
        return [ctx.say("deadlines.no_unit")]
    planner = planner_for(ctx)
    today = ctx.today
    upcoming = [d for d in await commune_deadlines(ctx.uow, planner, commune, today - timedelta(days=10),
                                                   today + timedelta(days=SHOW_DAYS + 10))
                if today <= d.due <= today + timedelta(days=SHOW_DAYS)][:MAX_SHOWN]
    staff = ctx.member.role in STAFF
    if staff:  # staff see every deadline they added that is still ahead, with its number
        later = [d for d in await commune_deadlines(ctx.uow, planner, commune, today, today + timedelta(
            days=MAX_AHEAD_DAYS + 10)) if campaign_number(d) is not None and d.due >= today]
        upcoming += [d for d in later if d not in upcoming]
    budget = await budget_line(ctx.uow, ctx.content, ZALO, ctx.now.astimezone(ctx.tz).strftime("%Y-%m")) \
        if staff else None  # staff: how many Zalo pushes this month's quota has left
    if not upcoming:
        return [ctx.say("deadlines.none", days=SHOW_DAYS), *([ctx.reply(budget)] if budget else [])]
    own = await ctx.uow.units.get(ctx.member.unit_id)
    village = own if own is not None and own.kind == "village" else None
    total = len([v for v in await ctx.uow.units.children(commune.id) if v.kind == "village" and v.active])
    lines = [ctx.t("deadlines.header", unit=village.name if village else commune.name)]
    for deadline in upcoming:
        moved = ctx.t("deadlines.moved", nominal=day_text(deadline.nominal)) if deadline.moved else ""
        number = campaign_number(deadline) if staff else None
        lines.append(ctx.t("deadlines.line", name=deadline.name, period=period_text(ctx.content, deadline.period),
                           due=day_text(deadline.due), moved=moved,
                           number=ctx.t("deadlines.number", id=number) if number is not None else ""))
        reported = await ctx.uow.cycle.confirmed_villages(commune.id, deadline.period.key)
        if village is not None:
            key = "deadlines.village_done" if village.id in reported else "deadlines.village_missing"
            lines.append(ctx.t(key, village=village.name))
        else:
            lines.append(ctx.t("deadlines.commune_status", done=len(reported), total=total))
    if staff and any(campaign_number(d) is not None for d in upcoming):
        lines.append(ctx.t("deadlines.remove_hint"))
    if budget is not None:
        lines.append(budget)
    return [ctx.reply(Markup.lines(lines), menu=True)]


def _parse_day(token: str, today: date) -> date | None:
    match = _DATE.match(token)
    if not match:
        return None
    day, month, year = int(match[1]), int(match[2]), match[3]
    try:
        if year is None:  # this year's: a day already past is refused, never moved to next year
            return date(today.year, month, day)
        return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
    except ValueError:
        return None


async def add(ctx: Context, args: str) -> list[Reply]:
    """/hanchot them 30/11 "Chiến dịch VNeID": a one-off deadline for the staff member's commune."""
    assert ctx.member is not None
    token, _, name = args.strip().partition(" ")
    if not token:
        return [ctx.say("deadlines.add_usage")]
    today = ctx.today
    due = _parse_day(token, today)
    if due is None:
        return [ctx.say("deadlines.add_bad_date")]
    if due < today:
        return [ctx.say("deadlines.add_past", day=day_text(due), today=day_text(today),
                        example=f"{due.day}/{due.month}/{today.year + 1}")]
    if due > today + timedelta(days=MAX_AHEAD_DAYS):
        return [ctx.say("deadlines.add_too_far")]
    name = " ".join(clean_line(name, None).strip(_QUOTES).split())
    if not name:
        return [ctx.say("deadlines.add_no_name")]
    if len(name) > MAX_NAME:
        return [ctx.say("deadlines.add_name_too_long", max=MAX_NAME)]
    refused = refuse_personal_data(ctx, name)
    if refused is not None:
        return [refused]
    commune = await commune_of(ctx)
    if commune is None:
        return [ctx.say("deadlines.no_unit")]
    custom = await ctx.uow.reminders.add_deadline(commune.id, name, today, due, ctx.member.id, ctx.now)
    if custom is None:
        return [ctx.say("deadlines.add_exists", name=name, due=day_text(due))]
    await ctx.uow.audit.add(ctx.member.id, "deadline.add", f"custom_deadline:{custom.id}", ctx.now,
                            {"name": name, "due": due.isoformat()}, unit_id=commune.id)
    planner = planner_for(ctx)
    deadline = planner.campaign(campaign_of(custom))
    first = max(planner.steps(deadline)[0].at.date(), today)
    moved = ctx.t("deadlines.moved", nominal=day_text(deadline.nominal)) if deadline.moved else ""
    return [ctx.say("deadlines.added", name=name, due=day_text(deadline.due), moved=moved,
                    start=day_text(today), first_reminder=day_text(first))]


async def remove(ctx: Context, args: str) -> list[Reply]:
    """/hanchot xoa SỐ: remove a deadline staff added (its number is the one /hanchot shows)."""
    assert ctx.member is not None
    number = args.strip().lstrip("#")
    if not number.isdigit():
        return [ctx.say("deadlines.remove_usage")]
    commune = await commune_of(ctx)
    if commune is None:
        return [ctx.say("deadlines.no_unit")]
    removed = await ctx.uow.reminders.remove_deadline(commune.id, int(number), f"{CAMPAIGN_PREFIX}s{number}")
    if removed is None:
        return [ctx.say("deadlines.remove_unknown", id=number)]
    await ctx.uow.audit.add(ctx.member.id, "deadline.remove", f"custom_deadline:{removed.id}", ctx.now,
                            {"name": removed.name, "due": removed.due_on.isoformat()}, unit_id=commune.id)
    return [ctx.say("deadlines.removed", id=removed.id, name=removed.name, due=day_text(removed.due_on))]


async def digest_off(ctx: Context, args: str) -> list[Reply]:
    return await _set_digest(ctx, False)


async def digest_on(ctx: Context, args: str) -> list[Reply]:
    return await _set_digest(ctx, True)


async def _set_digest(ctx: Context, on: bool) -> list[Reply]:
    assert ctx.member is not None
    currently_on = ctx.member.id not in await ctx.uow.reminders.digest_off()
    if currently_on == on:
        return [ctx.say("reminders.digest_already_on" if on else "reminders.digest_already_off")]
    await ctx.uow.reminders.set_digest(ctx.member.id, on, ctx.now)
    return [ctx.say("reminders.digest_on" if on else "reminders.digest_off")]


async def remind_again(ctx: Context, args: str) -> list[Reply]:
    """/nhaclai KỲ ("quý 4/2026", "tháng 11", "năm 2026"): remind the villages still missing."""
    assert ctx.member is not None
    commune = await commune_of(ctx)
    if commune is None:
        return [ctx.say("deadlines.no_unit")]
    example = period_label(ctx.t, period_of("month", ctx.today, ctx.content.tally.cutoff_day(commune.code)))
    settings = ctx.content.tally
    try:  # the kind first, as in /bieudo: "quý 4/2026"; a bare "11/2026" is a month
        period = parse_period(*kind_and_text(ctx, "any", fold(args)), ctx.today, settings.cutoff_day(commune.code),
                              settings)
    except BadArgument:
        period = None
    planner = planner_for(ctx)
    deadlines = await commune_deadlines(ctx.uow, planner, commune, ctx.today - timedelta(days=400),
                                        ctx.today + timedelta(days=400))
    wanted = fold(args)  # as the reminder's key shows it ("quý 4/2026", a campaign's name), or a period
    deadline = next((d for d in deadlines if wanted and wanted in (fold(deadline_label(ctx.content, d)),
                                                                   fold(d.name), fold(f"{d.rule} {d.key}"))), None)
    if deadline is not None:
        return await _remind(ctx, commune, planner, deadline)
    if not args.strip() or period is None:
        return [ctx.say("reminders.adhoc_usage", example=example)]
    deadline = next((d for d in deadlines if d.period.key == period.key), None)
    if deadline is None:
        return [ctx.say("reminders.adhoc_unknown", period=period_label(ctx.t, period))]
    return await _remind(ctx, commune, planner, deadline)


async def _remind(ctx: Context, commune: Unit, planner: Planner, deadline: Deadline) -> list[Reply]:
    """One more reminder of ``deadline`` to the villages still missing (at most once a day)."""
    assert ctx.member is not None
    snap = await load_snapshot(ctx.uow, commune, deadline.period)
    messages = plan_adhoc(ctx.content, planner, deadline, snap, ctx.now)
    if not snap.missing():
        return [ctx.say("reminders.adhoc_none", name=deadline.name)]
    added = await ctx.uow.outbox.enqueue(messages, ctx.now)
    if messages and not added:
        return [ctx.say("reminders.adhoc_again")]
    await ctx.uow.audit.add(ctx.member.id, "reminder.adhoc", f"{deadline.rule}:{deadline.key}", ctx.now,
                            {"messages": added, "name": deadline_label(ctx.content, deadline)},
                            unit_id=commune.id)
    reached = len({m.village_id for m in messages})
    replies = [ctx.say("reminders.adhoc_done", people=added, villages=reached, name=deadline.name)]
    if planner.is_quiet(ctx.now):
        morning = planner.config.quiet_hours.end.strftime("%H:%M")
        replies.append(ctx.say("reminders.adhoc_queued_morning", people=added, time=morning))
    return replies


async def on_remind_button(ctx: Context, data: str) -> list[Reply]:
    """The "🔔 Nhắc lại" button: ``rule:period``."""
    if ctx.member is None or ctx.member.role not in STAFF:
        return [ctx.say("errors.not_allowed")]
    rule, _, key = data.partition(":")
    commune = await commune_of(ctx)
    if commune is None:
        return [ctx.say("deadlines.no_unit")]
    planner = planner_for(ctx)
    deadline = await find_deadline(ctx.uow, planner, commune, rule, key, ctx.today)
    if deadline is None:
        return [ctx.say("reminders.adhoc_gone")]
    return await _remind(ctx, commune, planner, deadline)


FEATURE = Feature(
    name="deadlines",
    texts="texts/deadlines.yaml",
    commands=(
        Command(("hanchot", "han", "deadline"), hanchot, REGISTERED),
        Command(("tatnhacnho", "tatbantin"), digest_off, REGISTERED),
        Command(("batnhacnho", "batbantin"), digest_on, REGISTERED),
        Command(("nhaclai",), remind_again, STAFF),
    ),
    # "🔔 Nhắc lại" under the due-day message to staff (bot/services/reminders.py).
    global_actions={REMIND_ACTION: on_remind_button},
)
