"""/thongbao [thôn|all] TEXT: staff tell everyone in scope something, after a confirmation.

Copies go through the rate-limited outbox (one row per recipient, written in the same
transaction as the announcement), so a restart never sends one twice.

Commands: /thongbao [THÔN|cả xã] NỘI-DUNG (staff)
Steps:    confirm
Tables:   announcements, outbox (copies, in chunks), audit
Texts:    content/texts/announce.yaml
"""

from __future__ import annotations

from bot.domain.cleantext import clean_line
from bot.domain.messages import Reply
from bot.flows import resolve
from bot.flows.commands import STAFF, Command
from bot.flows.context import Context
from bot.flows.feature import Feature, Flow
from bot.flows.free_text import refuse_personal_data
from bot.flows.resolve import commune_ids, villages_in_scope
from bot.services.announcements import queue_chunk
from storage.models import FanOut, Unit

FLOW = "announce"
MAX_TEXT = 1000


async def _recipients(ctx: Context, commune_id: int, village_id: int | None) -> list:
    assert ctx.member is not None
    people = await ctx.uow.reminders.people(commune_id)
    return [p for p in people if p.member_id != ctx.member.id and (village_id is None or p.unit_id == village_id)]


async def start(ctx: Context, args: str) -> list[Reply]:
    words = args.split()
    communes = await commune_ids(ctx)
    villages = await villages_in_scope(ctx)

    def usage() -> Reply:
        return ctx.say("announce.usage", example=ctx.t("announce.example", place=resolve.sample(ctx, villages)))

    if len(words) < 2 or len(communes) != 1:
        return [usage()]
    target: Unit | None = None
    whole = ctx.content.vocabulary.lead(words, ctx.content.vocabulary.whole_commune)  # "cả xã", "tất cả"
    if whole:
        rest = words[whole:]
    else:
        # A village by its code or name (or the start of it: the confirmation names it before anything is sent).
        target, rest = resolve.take(ctx, villages, words[:-1],
                                    lambda place: ctx.t("announce.example", place=place))
        rest = [*rest, words[-1]]
        if target is None:
            return [usage()]
    text = clean_line(" ".join(rest), None)
    if not text:
        return [usage()]
    if len(text) > MAX_TEXT:
        return [ctx.say("announce.too_long", max=MAX_TEXT)]
    refused = refuse_personal_data(ctx, text)
    if refused is not None:
        return [refused]
    people = await _recipients(ctx, communes[0], target.id if target else None)
    if not people:
        return [ctx.say("announce.nobody")]
    scope = target.name if target else str(ctx.t("announce.whole_commune"))
    ctx.goto(FLOW, "confirm", text=text, village=target.id if target else None, count=len(people), scope=scope)
    return [_ask(ctx)]


def _ask(ctx: Context) -> Reply:
    data = ctx.conv.data
    rows = [[ctx.option(ctx.t("announce.send"), "send", "1"), ctx.cancel_option()]]
    return ctx.reply(ctx.t("announce.confirm", count=data["count"], scope=data["scope"], text=data["text"]), rows)


async def prompt(ctx: Context) -> Reply | None:
    """The question again: send this announcement to these people?"""
    return _ask(ctx) if {"count", "scope", "text"} <= ctx.conv.data.keys() else None


async def on_choice(ctx: Context, action: str) -> list[Reply]:
    assert ctx.member is not None
    data = dict(ctx.conv.data)
    ctx.end()
    if action != "send":
        return [ctx.say("announce.cancelled")]
    communes = await commune_ids(ctx)
    scope = data.get("village") or communes[0]
    count = await ctx.uow.reminders.count_people(communes[0], scope, ctx.member.id)
    author = (ctx.member.id, ctx.inbound.channel, ctx.inbound.chat_id)
    # Stored with its fan-out at the start, and the first chunk of copies queued with it; the
    # outbox sender queues the rest, chunk by chunk (bot/announcements.py).
    announcement_id = await ctx.uow.announcements.add(communes[0], scope, author, data["text"], count, ctx.now,
                                                      queued_after=0)
    fanning = FanOut(announcement_id, communes[0], scope, ctx.member.id, data["text"], 0)
    await queue_chunk(ctx.uow, fanning, ctx.t("announce.message", text=data["text"]), ctx.now)
    await ctx.uow.audit.add(ctx.member.id, "announce", f"announcement:{announcement_id}", ctx.now,
                            {"recipients": count}, unit_id=communes[0])
    return [ctx.say("announce.queued", count=count, id=announcement_id)]


async def on_text(ctx: Context, text: str) -> list[Reply] | None:
    """"gửi"/"có" sends, "không" cancels; anything else is not an answer."""
    answer = ctx.content.answers.yes_or_no(text)
    return None if answer is None else await on_choice(ctx, "send" if answer else "cancel")


FEATURE = Feature(
    name="announce",
    texts="texts/announce.yaml",
    commands=(Command(("thongbao", "announce"), start, STAFF),),
    flow=Flow(FLOW, ("confirm",), on_choice, on_text, prompt),
)
