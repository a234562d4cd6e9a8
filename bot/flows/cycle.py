"""The reporting cycle in the chat (issue 13).

    /chot [KỲ]          a team leader (or, in a village without one, any member) sees the
                        village's figures for the period and confirms them [✅ Đúng, gửi xã]
                        or learns how to correct them [✏️ Sửa]; typed: /chot dung, /chot sua
    /khoaky [KỲ]        staff close a period that has ended (default: the last one)
    /moky [KỲ]          staff reopen a closed period (default: the last one closed)

KỲ is what /thang, /quy and /nam take ("11", "11/2026", "quy 4", "nam 2026"), in the
commune's own periods (calendar or cut-off: ``Content.periods``). The checks that refuse a
change dated in a closed period are :func:`refuse_if_closed`, used by every writing flow.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.domain.deadlines import Deadline
from bot.domain.messages import Reply
from bot.domain.periods import Period, PeriodScheme, from_key
from bot.domain.tally import long_day, period_label
from bot.domain.textutil import fold
from bot.flows.commands import MEMBERS, STAFF, Command
from bot.flows.context import GLOBAL_PREFIX, Context
from bot.flows.deadlines import commune_of, planner_for
from bot.flows.feature import Feature
from bot.flows.tally import BadArgument, kind_and_text, parse_period
from bot.services import cycle
from bot.services.reminders import commune_deadlines
from storage.models import Unit

OK_WORDS = frozenset({"dung", "ok", "chot", "gui", "xacnhan"})
FIX_WORDS = frozenset({"sua", "fix"})
LOOK_DAYS = 45  # /chot without a period looks at deadlines this many days around today
OVERDUE_DAYS = 10  # ... first at those past by up to this many days


# Periods as people type them ----------------------------------------------------------------
def period_arg(period: Period) -> str:
    """What to type to name ``period`` again (/moky 11/2026, /chot quy 4/2026); "" for a campaign."""
    end = period.end
    if period.kind in ("month", "cutoff"):
        return f"{end.month}/{end.year}"
    if period.kind == "quarter":
        return f"quy {(end.month - 1) // 3 + 1}/{end.year}"
    if period.kind == "year":
        return f"nam {end.year}"
    return ""


def _parse(ctx: Context, scheme: PeriodScheme, text: str) -> Period:
    kind, rest = kind_and_text(ctx, "any", fold(text))
    return parse_period(kind, rest, ctx.today, scheme, ctx.content.tally)


def label(ctx: Context, period: Period) -> str:
    return period_label(ctx.t, period)


def _period_of_key(key: str) -> Period | None:
    try:
        return from_key(key)
    except ValueError:
        return None


# Closed periods ---------------------------------------------------------------------------------
async def refuse_if_closed(ctx: Context, village_id: int, days: list[date]) -> Reply | None:
    """Hold the commune and check: the reply refusing a change dated in a closed period, or
    None. Call it in the unit of work of the write, right before it."""
    lock = await cycle.closed_for(ctx.uow, village_id, days)
    if lock is None:
        return None
    period = _period_of_key(lock.period) or Period("once", lock.starts_on, lock.ends_on, lock.period)
    when = next(d for d in sorted(days) if lock.starts_on <= d <= lock.ends_on)
    return ctx.say("cycle.closed", period=label(ctx, period), day=long_day(lock.closed_at.astimezone(ctx.tz).date()),
                   when=long_day(when), arg=period_arg(period))


async def changed(ctx: Context, village_id: int, days: list[date], reason: str) -> None:
    """After a write dated on ``days`` (same unit of work): reopen the village's confirmed
    periods holding them; its confirmers are asked to confirm again."""
    await cycle.changed(ctx.uow, ctx.content, village_id, days, ctx.member.id if ctx.member else None, reason,
                        ctx.now)


async def _staff_period(ctx: Context, args: str, examples: str) -> tuple[Unit, Period | None] | Reply:
    """The staff member's commune and the period typed (None: none typed), or the refusal."""
    commune = await commune_of(ctx)
    if commune is None:
        return ctx.say("cycle.no_unit")
    if not args.strip():
        return commune, None
    try:
        return commune, _parse(ctx, ctx.content.periods(commune.code), args)
    except BadArgument as error:
        return ctx.say("cycle.bad_period", value=error.value, examples=ctx.t(examples))


async def close(ctx: Context, args: str) -> list[Reply]:
    """/khoaky [KỲ]: close a period that has ended (default: the commune's last month)."""
    assert ctx.member is not None
    found = await _staff_period(ctx, args, "cycle.examples_close")
    if isinstance(found, Reply):
        return [found]
    commune, period = found
    period = period or ctx.content.periods(commune.code).month_of(ctx.today).previous()
    if period.end >= ctx.today:
        return [ctx.say("cycle.close_not_ended", period=label(ctx, period), end=long_day(period.end))]
    if not await cycle.close_period(ctx.uow, commune, period, ctx.member.id, ctx.now):
        lock = await ctx.uow.cycle.lock(commune.id, period.key)
        day = long_day(lock.closed_at.astimezone(ctx.tz).date()) if lock else ""
        return [ctx.say("cycle.close_already", period=label(ctx, period), day=day)]
    return [ctx.say("cycle.close_done", period=label(ctx, period), arg=period_arg(period))]


async def reopen(ctx: Context, args: str) -> list[Reply]:
    """/moky [KỲ]: reopen a closed period (default: the last one closed)."""
    assert ctx.member is not None
    found = await _staff_period(ctx, args, "cycle.examples_reopen")
    if isinstance(found, Reply):
        return [found]
    commune, period = found
    if period is None:
        locks = await ctx.uow.cycle.locks(commune.id)
        if not locks:
            return [ctx.say("cycle.reopen_none")]
        last = max(locks, key=lambda lock: (lock.closed_at, lock.ends_on))
        period = _period_of_key(last.period) or Period("once", last.starts_on, last.ends_on, last.period)
    if not await cycle.reopen_period(ctx.uow, commune, period, ctx.member.id, ctx.now):
        return [ctx.say("cycle.reopen_not_closed", period=label(ctx, period))]
    return [ctx.say("cycle.reopen_done", period=label(ctx, period), arg=period_arg(period))]


# Confirmations ---------------------------------------------------------------------------------
async def _deadline_for(ctx: Context, commune: Unit, period: Period) -> Deadline | None:
    planner = planner_for(ctx)
    found = await commune_deadlines(ctx.uow, planner, commune, period.start, period.end + timedelta(days=200))
    return next((d for d in found if d.key == period.key), None)


async def _default_deadline(ctx: Context, commune: Unit, village: Unit) -> Deadline | None:
    """The deadline /chot means without a period: one just past (overdue), else the next one,
    else an older one, that the village has not confirmed and that is not closed; if all are,
    the first of them (to say it is confirmed already)."""
    planner = planner_for(ctx)
    today = ctx.today
    around = [d for d in await commune_deadlines(ctx.uow, planner, commune, today - timedelta(days=LOOK_DAYS),
                                                 today + timedelta(days=LOOK_DAYS))
              if d.period.start <= today]
    recent = [d for d in reversed(around) if today - timedelta(days=OVERDUE_DAYS) <= d.due < today]
    older = [d for d in reversed(around) if d.due < today - timedelta(days=OVERDUE_DAYS)]
    around = recent + [d for d in around if d.due >= today] + older
    for deadline in around:
        if await ctx.uow.cycle.confirmation(village.id, deadline.key) is None \
                and await ctx.uow.cycle.lock(commune.id, deadline.key) is None:
            return deadline
    return around[0] if around else None


async def chot(ctx: Context, args: str) -> list[Reply]:
    """/chot [dung|sua] [KỲ]"""
    assert ctx.member is not None
    village = await ctx.uow.units.get(ctx.member.unit_id)
    if village is None or village.kind != "village" or village.parent_id is None:
        return [ctx.say("cycle.no_village")]
    commune = await ctx.uow.units.get(village.parent_id)
    assert commune is not None
    head, _, rest = args.strip().partition(" ")
    action = "show"
    if fold(head) in OK_WORDS:
        action, args = "ok", rest
    elif fold(head) in FIX_WORDS:
        action, args = "fix", rest
    if action == "fix":
        return [ctx.say("cycle.fix")]
    deadline: Deadline | None
    if args.strip():
        try:
            period = _parse(ctx, ctx.content.periods(commune.code), args)
        except BadArgument as error:
            return [ctx.say("cycle.bad_period", value=error.value, examples=ctx.t("cycle.examples_chot"))]
        if period.start > ctx.today:
            return [ctx.say("cycle.future", period=label(ctx, period))]
        deadline = await _deadline_for(ctx, commune, period)
        if deadline is None:
            return [ctx.say("cycle.no_deadline", period=label(ctx, period))]
    else:
        deadline = await _default_deadline(ctx, commune, village)
        if deadline is None:
            return [ctx.say("cycle.nothing_due")]
    return await _confirm_or_show(ctx, commune, village, deadline, action)


async def _confirm_or_show(ctx: Context, commune: Unit, village: Unit, deadline: Deadline,
                           action: str) -> list[Reply]:
    assert ctx.member is not None
    period = deadline.period
    if ctx.member.role != "leader" and await cycle.confirmers(ctx.uow, village) == ("leader",):
        return [ctx.say("cycle.leader_only", village=village.name)]
    lock = await ctx.uow.cycle.lock(commune.id, period.key)
    if lock is not None:
        refusal = await refuse_if_closed(ctx, village.id, [period.end])
        if refusal is not None:
            return [refusal]
    done = await ctx.uow.cycle.confirmation(village.id, period.key)
    if done is not None:
        at = done.confirmed_at.astimezone(ctx.tz).strftime("%H:%M %d/%m/%Y")
        return [ctx.say("cycle.already", village=village.name, period=label(ctx, period), at=at)]
    if action == "show":
        figures, _ = await cycle.figures_of(ctx.uow, village, period)
        request = cycle.confirm_request(ctx.content, village, period, figures, deadline,
                                        commune_code=ctx.commune_code)
        rows = [[ctx.global_option(option.label, option.data[len(GLOBAL_PREFIX):], option.key)
                 for option in row] for row in request.options]  # keys valid for the next message
        return [ctx.reply(request.text, rows)]
    made = await cycle.confirm(ctx.uow, village, period, deadline, ctx.member.id, ctx.now, ctx.today)
    if made is None:  # confirmed meanwhile (two taps)
        return [ctx.say("cycle.already", village=village.name, period=label(ctx, period),
                        at=ctx.now.astimezone(ctx.tz).strftime("%H:%M %d/%m/%Y"))]
    late = "" if made.on_time else ctx.t("cycle.late", due=long_day(deadline.due))
    return [ctx.reply(ctx.t("cycle.confirmed", village=village.name, period=label(ctx, period), late=late),
                      menu=True)]


async def on_button(ctx: Context, data: str) -> list[Reply]:
    """[✅ Đúng, gửi xã] / [✏️ Sửa] under a request to confirm: ``ok:<period>`` / ``fix:<period>``."""
    if ctx.member is None or ctx.member.role not in MEMBERS:
        return [ctx.say("errors.not_allowed")]
    action, _, key = data.partition(":")
    if action == "fix":
        return [ctx.say("cycle.fix")]
    village = await ctx.uow.units.get(ctx.member.unit_id)
    if village is None or village.kind != "village" or village.parent_id is None:
        return [ctx.say("cycle.no_village")]
    commune = await ctx.uow.units.get(village.parent_id)
    assert commune is not None
    planner = planner_for(ctx)
    deadline = next((d for d in await commune_deadlines(ctx.uow, planner, commune, ctx.today - timedelta(days=400),
                                                        ctx.today + timedelta(days=200)) if d.key == key), None)
    if deadline is None:
        return [ctx.say("errors.stale_button")]
    return await _confirm_or_show(ctx, commune, village, deadline, "ok")


FEATURE = Feature(
    name="cycle",
    texts="texts/cycle.yaml",
    commands=(
        Command(("chot", "confirm"), chot, MEMBERS),
        Command(("khoaky", "close"), close, STAFF),
        Command(("moky", "reopen"), reopen, STAFF),
    ),
    # [✅ Đúng, gửi xã] and [✏️ Sửa] under a request to confirm (bot/services/cycle.py).
    global_actions={cycle.CONFIRM_ACTION: on_button},
)
