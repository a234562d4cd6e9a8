"""Corrections by a team leader or commune staff, inside their scope.

    /gannhat [THÔN]          the latest reports, numbered
    /xoabc SỐ LÝ DO          void one report with a reason; the reporter is told
    /suabc SỐ SỐ-HỘ LÝ DO    correct one report's count: the old row is voided with the reason,
                             a new row supersedes it; the reporter is told
    /baothay SỐ-TV DÒNG      report on behalf of a member who has no phone (source 'proxy')

Nothing is deleted: a void keeps the row with who, when and why; a proxy report keeps
who entered it.

Commands: /gannhat /xoabc /suabc /baothay (leaders, staff)
Steps:    none; pages of /gannhat by global action
Tables:   reports (void, supersede, proxy), members, audit, outbox (the reporter is told)
Texts:    content/texts/corrections.yaml
"""

from __future__ import annotations

import secrets

from bot.domain.cleantext import clean_line
from bot.domain.messages import Markup, Reply
from bot.domain.report_parser import parse_report
from bot.flows import resolve
from bot.flows.admin import tell_member
from bot.flows.commands import Command, may_see
from bot.flows.context import Context
from bot.flows.cycle import changed, refuse_if_closed
from bot.flows.feature import Feature
from bot.flows.free_text import refuse_personal_data
from bot.flows.paging import fit, more_action, on_more, page
from bot.flows.report import ZERO, check_day, day_groups, day_text, issue_text, items_text, zero_refused
from storage.models import Member, NewReport, Report, Unit

CORRECTORS = frozenset({"leader", "staff", "admin"})
REPORTERS = frozenset({"member", "leader"})
RECENT = 15
MIN_REASON = 3
MAX_REASON = 200


async def scope_villages(ctx: Context) -> list[Unit]:
    """A leader's own village; the villages of a staff member's communes."""
    return list((await resolve.scope_of(ctx)).villages)


async def recent(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    villages = await scope_villages(ctx)
    village_id = 0
    if args.strip():
        if ctx.member.role == "leader":  # a leader sees their own village: one answer, whatever is typed
            match = resolve.index(ctx, villages).match(args)
            if match.found is None:
                return [ctx.say("corrections.leader_own", value=args.strip(),
                                village=villages[0].name if villages else "")]
        village_id = resolve.find(ctx, villages, args,
                                  lambda place: ctx.t("corrections.examples.gannhat", place=place)).id
    return await recent_page(ctx, village_id, 1, None)


async def recent_page(ctx: Context, village_id: int, number: int, before: int | None) -> list[Reply]:
    """One page of the latest live reports (the scope, or one village), older than ``before``."""
    villages = [v for v in await scope_villages(ctx) if not village_id or v.id == village_id]
    if not villages:
        return [ctx.say("admin.no_such_village")]
    names = {v.id: v.name for v in villages}
    rows = await ctx.uow.reports.recent_page(list(names), before, RECENT + 1)
    if not rows:
        return [ctx.say("corrections.none" if before is None else "paging.end")]
    catalogue = ctx.content.catalogue
    lines = [
        ctx.t("corrections.line", id=r.id, day=day_text(r.occurred_on)[:5], village=names[r.village_id],
              what=ctx.t("corrections.item", service=catalogue.get(r.service).short, count=r.count,
                         unit=ctx.unit_word(r.service)) if catalogue.get(r.service) else ctx.t("zero.label"),
              name=name or "—", source=ctx.t(f"corrections.sources.{r.source}"),
              corrected=ctx.t("corrections.corrected_mark", id=r.supersedes) if r.supersedes else "")
        for r, name in rows
    ]
    shown = fit(lines, RECENT)
    more = more_action("gn", village_id, number + 1, rows[shown - 1][0].id) if shown < len(rows) else None
    header = ctx.t("corrections.header") if number == 1 else ctx.t("paging.recent_next", page=number)
    return [page(ctx, header, lines[:shown], more, footer=ctx.t("corrections.hint"))]


async def void(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    number, _, reason = args.strip().partition(" ")
    reason = clean_line(reason, MAX_REASON)
    if not number.lstrip("#").isdigit() or len(reason) < MIN_REASON:
        return [ctx.say("corrections.void_usage")]
    refused = refuse_personal_data(ctx, reason)
    if refused is not None:
        return [refused]
    report, village = await _report_in_scope(ctx, number)
    if report is None or village is None:
        return [ctx.say("corrections.no_such_report")]
    refused = await refuse_if_closed(ctx, report.village_id, [report.occurred_on])
    if refused is not None:
        return [refused]
    if not await ctx.uow.reports.void_one(report.id, ctx.member.id, reason, ctx.now):
        return [ctx.say("corrections.already_void", id=report.id)]
    await changed(ctx, report.village_id, [report.occurred_on], "void")
    await ctx.uow.audit.add(ctx.member.id, "void", f"report:{report.id}", ctx.now, {"reason": reason},
                            unit_id=village.parent_id)
    items = items_text(ctx, [NewReport(report.service, report.count)]) if report.service != ZERO.service else (
        ctx.t("zero.label"))
    if report.member_id != ctx.member.id:
        notice = ctx.t("corrections.reporter_told", id=report.id, items=items, day=day_text(report.occurred_on),
                       who=ctx.member.name or ctx.t(f"roles.{ctx.member.role}"), reason=reason)
        await tell_member(ctx, village.parent_id or village.id, report.member_id,
                          ("void", str(report.id), "notice"), Reply(notice))
    return [ctx.say("corrections.voided", id=report.id, items=items, day=day_text(report.occurred_on))]


async def correct(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    number, _, rest = args.strip().partition(" ")
    count_text, _, reason = rest.strip().partition(" ")
    reason = clean_line(reason, MAX_REASON)
    if not number.lstrip("#").isdigit() or not count_text or len(reason) < MIN_REASON:
        return [ctx.say("corrections.correct_usage")]
    refused = refuse_personal_data(ctx, reason)
    if refused is not None:
        return [refused]
    limit = ctx.content.limits.max_count_per_report
    if not count_text.isdigit() or not 1 <= int(count_text) <= limit:
        return [ctx.say("corrections.correct_count", value=count_text[:20], max=limit)]
    report, village = await _report_in_scope(ctx, number)
    if report is None or village is None:
        return [ctx.say("corrections.no_such_report")]
    if report.voided_at is not None:
        return [ctx.say("corrections.already_void", id=report.id)]
    if report.service == ZERO.service:
        return [ctx.say("corrections.correct_zero")]
    count = int(count_text)
    if count == report.count:
        return [ctx.say("corrections.correct_same", id=report.id, count=count, unit=ctx.unit_word(report.service))]
    refused = await refuse_if_closed(ctx, report.village_id, [report.occurred_on])
    if refused is not None:
        return [refused]
    new_id = await ctx.uow.reports.supersede(report, count, ctx.member.id, reason, ctx.now)
    assert new_id is not None  # the row was live a statement ago, in this same transaction
    await changed(ctx, report.village_id, [report.occurred_on], "correct")
    await ctx.uow.audit.add(ctx.member.id, "correct", f"report:{report.id}", ctx.now,
                            {"from": report.count, "to": count, "new": new_id, "reason": reason},
                            unit_id=village.parent_id)
    service = ctx.content.catalogue.get(report.service)
    change = {"service": service.short if service else report.service, "old": report.count, "new": count,
              "unit": ctx.unit_word(report.service)}
    if report.member_id != ctx.member.id:
        notice = ctx.t("corrections.correct_told", id=report.id, day=day_text(report.occurred_on),
                       who=ctx.member.name or ctx.t(f"roles.{ctx.member.role}"), reason=reason, **change)
        await tell_member(ctx, village.parent_id or village.id, report.member_id,
                          ("correct", str(report.id), "notice"), Reply(notice))
    return [ctx.say("corrections.corrected", id=report.id, new_id=new_id, day=day_text(report.occurred_on),
                    **change)]


async def _report_in_scope(ctx: Context, number: str) -> tuple[Report | None, Unit | None]:
    """The report numbered ``number`` and its village, if the caller may act there (the permission scope)."""
    report = await ctx.uow.reports.get(int(number.lstrip("#")))
    if report is None:
        return None, None
    village = await ctx.uow.units.get(report.village_id)
    if village is None or not await may_see(ctx, village):
        return report, None
    return report, village


async def _member_in_villages(ctx: Context, text: str) -> Member | None:
    """A member or leader (by number) of a village the caller may act on, whatever their status
    (active, disabled, forgotten)."""
    number = text.lstrip("#")
    if not number.isdigit():
        return None
    member = await ctx.uow.members.get(int(number))
    if member is None or member.role not in REPORTERS or not await may_see(ctx, member.unit_id):
        return None
    return member


async def _commune_of_village(ctx: Context, village_id: int) -> int | None:
    village = await ctx.uow.units.get(village_id)
    return village.parent_id if village is not None else None


async def on_behalf(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    number, _, text = args.strip().partition(" ")
    villages = {v.id: v for v in await scope_villages(ctx)}
    def example(member: str) -> str:
        return ctx.t("corrections.examples.baothay", member=member)
    if not text.strip():
        shown = number.lstrip("#") if number.lstrip("#").isdigit() else \
            await resolve.some_member(ctx, list(villages.values()), REPORTERS)
        return [ctx.say("corrections.proxy_usage", example=example(shown))]
    member = await _member_in_villages(ctx, number)
    if member is None:  # a name, or a number outside the scope: the resolver answers
        member = await resolve.find_member(ctx, list(villages.values()), number, example, REPORTERS)
    if member.status == "forgotten":  # erased on request: nothing more is recorded in their name
        return [ctx.say("bad_input.proxy_forgotten", id=member.id)]
    if not member.active:  # disabled by staff (/khoa): they cannot report, so nobody reports for them
        return [ctx.say("bad_input.proxy_disabled", id=member.id, name=member.name or "")]
    result = parse_report(text, today=ctx.today, catalogue=ctx.content.catalogue, lexicon=ctx.content.lexicon,
                          max_count=ctx.content.limits.max_count_per_report)
    if result.issues:
        return [ctx.reply(Markup.lines([issue_text(ctx, i) for i in result.issues]))]
    if not result.is_report and not result.nothing:  # "không có": an explicit zero report for them
        return [ctx.say("corrections.proxy_usage", example=example(str(member.id)))]
    groups = day_groups(ctx, result)  # a line may name several days: each item on its own
    for day, _ in groups:
        problem = check_day(ctx, day)
        if problem:
            return [problem]
    days = [day for day, _ in groups]
    refused = await refuse_if_closed(ctx, member.unit_id, days)
    for day, day_items in groups:
        if refused is None and day_items == [ZERO]:
            refused = await zero_refused(ctx, member.id, day)
    if refused is not None:
        return [refused]
    batch_id = secrets.token_urlsafe(6)
    for day, day_items in groups:
        await ctx.uow.reports.add_batch(batch_id, member.id, member.unit_id, day_items, day, "proxy", ctx.now,
                                        entered_by=ctx.member.id)
    await changed(ctx, member.unit_id, days, "proxy")
    items = [item for _, day_items in groups for item in day_items]
    await ctx.uow.audit.add(ctx.member.id, "proxy_report", f"member:{member.id}", ctx.now,
                            {"items": len(items), "batch": batch_id},
                            unit_id=await _commune_of_village(ctx, member.unit_id))
    return [ctx.say("corrections.proxy_recorded", name=member.name or f"#{member.id}", items=items_text(ctx, items),
                    day=", ".join(day_text(day) for day, _ in groups))]


FEATURE = Feature(
    name="corrections",
    texts="texts/corrections.yaml",
    commands=(
        Command(("gannhat", "recent"), recent, CORRECTORS),
        Command(("xoabc", "void"), void, CORRECTORS),
        Command(("suabc", "correct"), correct, CORRECTORS),
        Command(("baothay", "proxy"), on_behalf, CORRECTORS),
    ),
    # "Xem tiếp" under a page of /gannhat (bot/flows/paging.py).
    global_actions={"gn": on_more(CORRECTORS, recent_page)},
)
