"""``tcns reminders plan|run|status``: the reminder calendar for operations."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import date, datetime, time, timedelta

from bot.cli.common import Handler
from bot.domain.deadlines import Planner
from bot.domain.messages import plain_text
from bot.runtime.core import open_runtime
from bot.runtime.serve import deliveries_for, quotas_of, sender_at, stop_on_signals
from bot.runtime.settings import Settings
from bot.services.reminders import (
    WeekFigures,
    campaign_of,
    load_snapshot,
    period_text,
    plan_digest,
    plan_step,
    scheduling_pass,
    with_period,
)


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:  # type: ignore[type-arg]
    reminders = sub.add_parser("reminders", help="deadline reminders: plan, run one pass, status")
    rsub = reminders.add_subparsers(dest="reminders_command", required=True)
    plan = rsub.add_parser("plan", help="print planned reminders (when, step, rule, to whom) without sending")
    plan.add_argument("--from", dest="start", type=date.fromisoformat, default=None, help="YYYY-MM-DD (today)")
    plan.add_argument("--to", dest="end", type=date.fromisoformat, default=None, help="YYYY-MM-DD (+31 days)")
    plan.add_argument("--commune", default=None, help="commune code (default: every commune)")
    run = rsub.add_parser("run", help="run one scheduling pass as if at --now; with a token, also send")
    run.add_argument("--now", default=None, help='"YYYY-MM-DD HH:MM", local time (default: now)')
    run.add_argument("--commune", default=None)
    rsub.add_parser("status", help="outbox rows by status; sent, queued and budget left per channel this month")
    resume = rsub.add_parser("resume", help="push again on a channel paused by its quota (429) or token (401)")
    resume.add_argument("channel", choices=("zalo", "telegram"))
    return {"reminders": lambda args, settings: asyncio.run(main(args, settings))}


class _AtClock:
    def __init__(self, when: datetime) -> None:
        self.when = when

    def now(self) -> datetime:
        return self.when


async def main(args: argparse.Namespace, settings: Settings) -> int:
    async with await open_runtime(settings) as runtime:
        t = runtime.content.texts
        planner = runtime.content.planner(settings.tz)
        if args.reminders_command == "status":
            quotas = quotas_of(runtime)
            async with runtime.db.uow() as uow:
                counts = await uow.outbox.counts()
                standing = await quotas.standing(uow, runtime.clock.now())
            for status, count in sorted(counts.items()):
                label = t(f"reminders_cli.statuses.{status}") if f"reminders_cli.statuses.{status}" in t else status
                print(plain_text(t("reminders_cli.status_line", status=label, count=count)))
            for channel in standing:
                left = "-" if channel.left is None else channel.left
                budget = "-" if channel.budget is None else channel.budget
                name, month = channel.channel.capitalize(), f"{channel.month[5:]}/{channel.month[:4]}"
                print(plain_text(t("reminders_cli.channel_line", channel=name, month=month,
                                   sent=channel.sent, replies=channel.replies, queued=channel.queued,
                                   left=left, budget=budget)))
                if channel.paused:
                    key = "reminders_cli.paused_token" if channel.paused == "token" else "reminders_cli.paused_quota"
                    print(plain_text(t(key, channel=name, command=channel.channel)))
            return 0
        if args.reminders_command == "resume":
            async with runtime.db.uow() as uow:
                resumed = await uow.channels.resume(args.channel, runtime.clock.now())
            print(plain_text(t("reminders_cli.resumed" if resumed else "reminders_cli.not_paused",
                               channel=args.channel)))
            return 0
        async with runtime.db.uow() as uow:
            communes = await uow.reminders.communes(args.commune)
        if args.commune and not communes:
            print(plain_text(t("reminders_cli.no_commune", code=args.commune)))
            return 2
        if args.reminders_command == "plan":
            return await _plan(runtime, planner, communes, args)
        if args.now:
            try:
                now = datetime.strptime(args.now, "%Y-%m-%d %H:%M").replace(tzinfo=settings.tz)
            except ValueError:
                print(plain_text(t("reminders_cli.bad_time")))
                return 2
        else:
            now = runtime.clock.now()
        result = await scheduling_pass(runtime.db, runtime.content, settings.tz, now, args.commune, planner)
        print(plain_text(t("reminders_cli.run_done", now=now.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M"),
                           added=result.added, steps=result.steps)))
        if settings.telegram_bot_token or settings.zalo_bot_token:
            async with contextlib.AsyncExitStack() as stack:
                deliveries = await deliveries_for(runtime, stack)
                sent = await sender_at(runtime, deliveries, _AtClock(now)).drain(stop=stop_on_signals())
            async with runtime.db.uow() as uow:
                pending = (await uow.outbox.counts()).get("pending", 0)
            print(plain_text(t("reminders_cli.sent", sent=sent.sent, blocked=sent.blocked, failed=sent.failed,
                               pending=pending)))
        return 0


async def _plan(runtime, planner: Planner, communes, args) -> int:  # type: ignore[no-untyped-def]
    t = runtime.content.texts
    tz = planner.tz
    today = runtime.clock.now().astimezone(tz).date()
    start = args.start or today
    end = args.end or start + timedelta(days=31)
    begin = datetime.combine(start, time(0), tzinfo=tz)
    finish = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    now = runtime.clock.now()
    weekdays = str(t("reminders_cli.weekdays")).split(",")
    for commune_id, _code, name in communes:
        async with runtime.db.uow() as uow:
            commune = await uow.units.get(commune_id)
            assert commune is not None
            extra = tuple(campaign_of(c) for c in await uow.reminders.deadlines(commune.id))
            steps = planner.steps_between(commune.code, begin, finish, extra)
            base = await load_snapshot(uow, commune)
            lines = []
            for step in steps:
                snap = await with_period(uow, base, step.deadline.period, figures=True)
                messages = plan_step(runtime.content, planner, step, snap, step.at)
                lines.append((step.at, t(f"reminders_cli.steps.{step.step}"), step.deadline.name,
                              period_text(runtime.content, step.deadline.period), messages, snap))
            day = start
            while day <= end:  # the weekly digests
                probe = datetime.combine(day, planner.config.digest.time, tzinfo=tz)
                digest = planner.digest_due(probe)
                if digest is not None and digest.at == probe:
                    messages = plan_digest(runtime.content, planner, digest, base, WeekFigures({}, {}), digest.at)
                    lines.append((digest.at, t("reminders_cli.steps.digest"), t("reminders_cli.digest_name"),
                                  period_text(runtime.content, digest.week), messages, base))
                day += timedelta(days=1)
        print(plain_text(t("reminders_cli.plan_header", commune=name, start=start.strftime("%d/%m/%Y"),
                           end=end.strftime("%d/%m/%Y"))))
        if not lines:
            print(plain_text(t("reminders_cli.plan_none")))
        people = {p.member_id: p for p in base.people}
        for at, step_name, rule, period_name, messages, _snap in sorted(lines, key=lambda item: item[0]):
            names = sorted({(people[m.member_id].name or str(m.member_id)) if m.member_id in people
                            else str(m.member_id) for m in messages})
            who = f"{len(messages)}: {', '.join(names[:8])}{' …' if len(names) > 8 else ''}" if messages else "0"
            stamp = f"{weekdays[at.weekday()]:<2} {at:%d/%m/%Y %H:%M}"
            past = " *" if at < now else ""
            print(plain_text(t("reminders_cli.plan_line", at=stamp, step=plain_text(step_name), rule=rule,
                               period=plain_text(period_name), who=who)) + past)
    return 0
