"""/cuatoi: the member's own totals this week and this month, per service and per kind of count.

Commands: /cuatoi (registered)
Steps:    none
Tables:   reports (read)
Texts:    content/texts/mine.yaml
"""

from __future__ import annotations

from bot.domain.catalogue import COUNTS, Counts
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
            ctx.t("mine.line", label=service.short, count=number(totals[service.code]),
                  unit=ctx.unit_word(service.code))
            for service in ctx.content.catalogue.services
            if totals.get(service.code)
        ]
        body = Markup.lines(lines) if lines else ctx.t("mine.none")
        header = ctx.t(key, start=day_text(start), end=day_text(end), total=_per_kind(ctx, totals))
        sections.append(Markup.lines([header, body]))
    return [ctx.reply(Markup("\n\n".join(sections)), menu=True)]


def _per_kind(ctx: Context, totals: dict[str, int]) -> str:
    """"11 người, 4 hộ": one total per kind of count, never a sum of unlike things."""
    catalogue = ctx.content.catalogue
    by_kind: dict[Counts, int] = {}
    for code, count in totals.items():
        if catalogue.get(code) is not None and count:
            kind = catalogue.unit_of(code, ctx.commune_code)
            by_kind[kind] = by_kind.get(kind, 0) + count
    parts = [str(ctx.t("mine.total_part", count=number(by_kind[kind]), unit=catalogue.word(kind)))
             for kind in COUNTS if kind in by_kind]
    return str(ctx.t("mine.total_separator")).join(parts) or str(ctx.t("mine.total_nothing"))


FEATURE = Feature(
    name="mine",
    texts="texts/mine.yaml",
    commands=(Command(("cuatoi", "toi", "mine"), show, REGISTERED),),
)
