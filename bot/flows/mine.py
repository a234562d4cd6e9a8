"""/cuatoi: the member's own totals this week and this month, per service.

Commands: /cuatoi (registered)
Steps:    none
Tables:   reports (read)
Texts:    content/texts/mine.yaml
"""

from __future__ import annotations

from bot.domain.messages import Markup, Reply
from bot.domain.periods import month_of, week_of
from bot.domain.tally import number
from bot.flows.commands import REGISTERED, Command
from bot.flows.context import Context
from bot.flows.feature import Feature
from bot.flows.report import day_text


async def show(ctx: Context, args: str = "") -> list[Reply]:
    assert ctx.member is not None
    sections = []
    for key, period in (("mine.week", week_of(ctx.today)), ("mine.month", month_of(ctx.today))):
        start, end = period.start, period.end
        totals = await ctx.uow.reports.member_totals(ctx.member.id, start, end)
        lines = [
            ctx.t("mine.line", label=service.short, count=number(totals[service.code]))
            for service in ctx.content.catalogue.services
            if totals.get(service.code)
        ]
        body = Markup.lines(lines) if lines else ctx.t("mine.none")
        header = ctx.t(key, start=day_text(start), end=day_text(end), total=number(sum(totals.values())))
        sections.append(Markup.lines([header, body]))
    return [ctx.reply(Markup("\n\n".join(sections)), menu=True)]


FEATURE = Feature(
    name="mine",
    texts="texts/mine.yaml",
    commands=(Command(("cuatoi", "toi", "mine"), show, REGISTERED),),
)
