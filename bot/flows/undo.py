"""Taking back a report: /huy (with confirmation) or the undo button under a text report.

Nothing is deleted: the batch's rows are marked void with who, when and why.

Commands: /huy (registered), the undo button under a text report
Steps:    confirm
Tables:   reports (void)
Texts:    content/texts/undo.yaml
"""

from __future__ import annotations

from datetime import timedelta

from bot.domain.messages import Reply
from bot.flows.commands import REGISTERED, Command
from bot.flows.context import Context
from bot.flows.cycle import changed, refuse_if_closed
from bot.flows.feature import Feature, Flow
from bot.flows.report import UNDO_LAST as UNDO_LAST  # re-exported for the engine
from bot.flows.report import day_text, items_text
from storage.models import NewReport, Report

FLOW = "undo"
REASON_MEMBER = "member_undo"


def _summary(ctx: Context, batch: list[Report]) -> dict[str, object]:
    items = [NewReport(r.service, r.count) for r in batch]
    days = dict.fromkeys(r.occurred_on for r in batch)  # a line naming several days is one batch
    return {"items": items_text(ctx, items), "day": ", ".join(day_text(day) for day in days)}


def _window_start(ctx: Context):
    return ctx.now - timedelta(hours=ctx.content.limits.undo_window_hours)


async def start(ctx: Context, args: str = "") -> list[Reply]:
    if ctx.conv.flow:  # /huy in the middle of a flow cancels that flow
        ctx.end()
        return [ctx.reply(ctx.t("report.cancelled"), menu=True)]
    assert ctx.member is not None
    if ctx.member.role in ("staff", "admin"):  # they never report: what they can take back is a team's report
        return [ctx.say("undo.staff")]
    batch = await ctx.uow.reports.last_live_batch(ctx.member.id, _window_start(ctx))
    if not batch:
        return [ctx.say("undo.nothing", hours=ctx.content.limits.undo_window_hours)]
    ctx.goto(FLOW, "confirm", batch=batch[0].batch_id)
    return [_ask(ctx, batch)]


def _ask(ctx: Context, batch: list[Report]) -> Reply:
    rows = [[ctx.option(ctx.t("buttons.undo_yes"), "yes", "1"), ctx.option(ctx.t("buttons.undo_no"), "no", "2")]]
    return ctx.reply(ctx.t("undo.confirm", **_summary(ctx, batch)), rows)


async def prompt(ctx: Context) -> Reply | None:
    """The question again: take back this report?"""
    assert ctx.member is not None
    batch = await ctx.uow.reports.batch(ctx.conv.data.get("batch", ""), ctx.member.id)
    return _ask(ctx, batch) if batch else None


async def on_choice(ctx: Context, action: str) -> list[Reply]:
    batch_id = ctx.conv.data.get("batch", "")
    ctx.end()
    if action == "yes":
        return await void(ctx, batch_id)
    return [ctx.reply(ctx.t("undo.kept"), menu=True)]


async def on_text(ctx: Context, text: str) -> list[Reply] | None:
    """"có" takes the report back, "không" keeps it; anything else is not an answer."""
    answer = ctx.content.answers.yes_or_no(text)
    return None if answer is None else await on_choice(ctx, "yes" if answer else "no")


async def void(ctx: Context, batch_id: str) -> list[Reply]:
    """Void one of the member's own batches, if it is still inside the undo window."""
    assert ctx.member is not None
    batch = await ctx.uow.reports.batch(batch_id, ctx.member.id)
    if not batch:
        return [ctx.say("errors.stale_button")]
    if all(r.voided_at is not None for r in batch):
        return [ctx.say("undo.already")]
    if batch[0].created_at < _window_start(ctx):
        return [ctx.say("undo.too_late", hours=ctx.content.limits.undo_window_hours)]
    live = [r for r in batch if r.voided_at is None]
    refused = await refuse_if_closed(ctx, live[0].village_id, [r.occurred_on for r in live])
    if refused is not None:
        return [refused]
    await ctx.uow.reports.void_batch(batch_id, ctx.member.id, REASON_MEMBER, ctx.now)
    await changed(ctx, live[0].village_id, [r.occurred_on for r in live], "undo")
    return [ctx.reply(ctx.t("undo.done", **_summary(ctx, batch)), menu=True)]


async def void_last(ctx: Context) -> list[Reply]:
    """Typed "huy" right after a text report: void the member's last live report."""
    assert ctx.member is not None
    batch = await ctx.uow.reports.last_live_batch(ctx.member.id, _window_start(ctx))
    if not batch:
        return [ctx.say("undo.nothing", hours=ctx.content.limits.undo_window_hours)]
    return await void(ctx, batch[0].batch_id)


FEATURE = Feature(
    name="undo",
    texts="texts/undo.yaml",
    commands=(Command(("huy", "undo"), start, REGISTERED, keeps_flow=True),),
    flow=Flow(FLOW, ("confirm",), on_choice, on_text, prompt),
)
