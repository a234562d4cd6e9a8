"""One member on two channels: ``/lienket`` links a Zalo and a Telegram account.

On the channel the member already uses, ``/lienket`` gives a one-time code (8 digits, valid
:data:`CODE_MINUTES` minutes); sent from the other channel (``/lienket 4829 1375``), it
links that account to the same member: reports, role and menu are theirs on both, pushes go
to the channel used last, ``/thanhvien`` shows both. ``/lienket huy`` removes every other
account (``tcns member forget`` removes them all).

A member added without a phone (``/themtv``) gets a phone later the same way: their leader or
staff types ``/lienket SỐ-TV`` and hands them the code, valid :data:`HANDOVER_HOURS` hours,
which they send from their new chat (``/lienket 4829 1375``): that chat becomes theirs, with
the reports already entered for them.

Guessing is cut off: after :data:`MAX_WRONG_CODES` wrong codes from one chat or one account
within :data:`WRONG_CODE_WINDOW`, codes are refused until the window has passed (counted in
storage, ``link_attempts``, by a hash of the chat and the account).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import timedelta

from bot.domain.messages import Reply
from bot.domain.textutil import fold
from bot.flows.commands import EVERYONE, STAFF, Command, may_see
from bot.flows.context import Context
from bot.flows.feature import Feature
from storage.models import Member

CODE_MINUTES = 10
HANDOVER_HOURS = 24  # a code for a member without a phone: handed over in person, used when the phone is set up
HANDOVER_ROLES = STAFF | {"leader"}
NO_CHANNEL = ""  # the channel of a code asked for a member who has none yet
CODE_DIGITS = 8
# Wrong codes a chat, or an account, may send before /lienket codes are refused for the rest of
# the window (stored, so every worker and a restart keep counting): with 10^8 codes, each
# alive 10 minutes, guessing one is hopeless.
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW = timedelta(minutes=30)
UNLINK_WORDS = frozenset({"huy", "go", "bo", "xoa"})
_NOT_DIGIT = re.compile(r"\D")


def _channel_name(ctx: Context, channel: str) -> str:
    names = {c: ctx.t(f"link.channels.{c}") for c in ("telegram", "zalo", "terminal")}
    return str(names.get(channel, channel))


async def command(ctx: Context, args: str) -> list[Reply]:
    words = fold(args).split()
    if ctx.member is None:
        code = _NOT_DIGIT.sub("", args)
        if not code:
            return [ctx.say("link.guest_how")]
        return await _use(ctx, code)
    if words and words[0] in UNLINK_WORDS:
        return await _unlink(ctx)
    number = args.strip().lstrip("#")
    if number.isdigit() and len(number) < CODE_DIGITS and ctx.member.role in HANDOVER_ROLES:
        return await _offer_for(ctx, int(number))
    if _NOT_DIGIT.sub("", args):
        return [ctx.say("link.already_member")]
    return await _offer(ctx)


async def _offer(ctx: Context) -> list[Reply]:
    assert ctx.member is not None
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    await ctx.uow.channels.add_link_code(code, ctx.member.id, ctx.inbound.channel,
                                         ctx.now + timedelta(minutes=CODE_MINUTES), ctx.now)
    others = [_channel_name(ctx, c) for c, _e, _chat, _a in await ctx.uow.channels.identities(ctx.member.id)
              if not (c == ctx.inbound.channel and _e == ctx.inbound.user_id)]
    replies = [ctx.say("link.code", code=f"{code[:4]} {code[4:]}", minutes=CODE_MINUTES)]
    if others:
        replies.append(ctx.say("link.linked_now", channels=", ".join(others)))
    return replies


async def _offer_for(ctx: Context, member_id: int) -> list[Reply]:
    """A code for a member of the caller's scope who has no chat yet (added with /themtv)."""
    member = await ctx.uow.members.get(member_id)
    if member is None or member.status == "forgotten" or member.role not in ("member", "leader") \
            or not await may_see(ctx, member.unit_id):
        return [ctx.say("link.no_such_member", id=member_id)]
    if await ctx.uow.channels.identities(member.id):
        return [ctx.say("link.member_has_chat", id=member.id, name=member.name or "")]
    if not member.active:
        return [ctx.say("link.member_disabled", id=member.id, name=member.name or "")]
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    await ctx.uow.channels.add_link_code(code, member.id, NO_CHANNEL, ctx.now + timedelta(hours=HANDOVER_HOURS),
                                         ctx.now)
    return [ctx.say("link.handover_code", id=member.id, name=member.name or "", code=f"{code[:4]} {code[4:]}",
                    hours=HANDOVER_HOURS)]


def _subjects(ctx: Context) -> list[str]:
    """Who wrong codes are counted against: the chat and the account, by a hash of their ids."""
    inbound = ctx.inbound
    return [hashlib.sha256(f"{kind}:{inbound.channel}:{value}".encode()).hexdigest()[:32]
            for kind, value in (("chat", inbound.chat_id), ("user", inbound.user_id))]


async def _use(ctx: Context, code: str) -> list[Reply]:
    subjects, since = _subjects(ctx), ctx.now - WRONG_CODE_WINDOW
    failures, first = await ctx.uow.channels.link_failures(subjects, since)
    if failures >= MAX_WRONG_CODES and first is not None:
        minutes = max(1, math.ceil((first + WRONG_CODE_WINDOW - ctx.now).total_seconds() / 60))
        return [ctx.say("link.too_many", tries=MAX_WRONG_CODES, minutes=minutes)]
    taken = await ctx.uow.channels.take_link_code(code, ctx.now)
    if taken is None:
        await ctx.uow.channels.add_link_failure(subjects, since, ctx.now)
        left = MAX_WRONG_CODES - failures - 1
        return [ctx.say("link.bad_code"), *([ctx.say("link.tries_left", left=left)] if 0 < left <= 2 else [])]
    await ctx.uow.channels.clear_link_failures(subjects)
    member, channel = taken
    inbound = ctx.inbound
    if channel == inbound.channel:
        return [ctx.say("link.same_channel")]
    if not member.active:
        return [ctx.say("errors.disabled")]
    await ctx.uow.members.link_identity(member.id, inbound.channel, inbound.user_id, inbound.chat_id, ctx.now)
    await ctx.uow.channels.seen(inbound.channel, inbound.user_id, ctx.now)
    unit = await ctx.uow.units.get(member.unit_id)
    await ctx.uow.audit.add(member.id, "link", f"member:{member.id}", ctx.now,
                            {"channel": inbound.channel, "from": channel}, unit_id=await _commune_of(ctx, member))
    ctx.member = member
    ctx.end()
    if channel == NO_CHANNEL:  # their first chat: a member added without a phone
        return [ctx.reply(ctx.t("link.done_first", name=member.name or "", unit=unit.name if unit else ""),
                          menu=True, commands_for=member.role)]
    return [ctx.reply(ctx.t("link.done", other=_channel_name(ctx, channel), unit=unit.name if unit else ""),
                      menu=True, commands_for=member.role)]


async def _unlink(ctx: Context) -> list[Reply]:
    assert ctx.member is not None
    removed = await ctx.uow.channels.unlink(ctx.member.id, ctx.inbound.channel, ctx.inbound.user_id)
    if not removed:
        return [ctx.say("link.nothing_to_unlink")]
    await ctx.uow.audit.add(ctx.member.id, "unlink", f"member:{ctx.member.id}", ctx.now,
                            {"removed": sorted({c for c, _ in removed})}, unit_id=await _commune_of(ctx, ctx.member))
    return [ctx.say("link.unlinked", channels=", ".join(sorted({_channel_name(ctx, c) for c, _ in removed})))]


async def _commune_of(ctx: Context, member: Member) -> int | None:
    unit = await ctx.uow.units.get(member.unit_id)
    return None if unit is None else unit.id if unit.kind == "commune" else unit.parent_id


FEATURE = Feature(
    name="link",
    texts="texts/link.yaml",
    commands=(Command(("lienket", "link"), command, EVERYONE),),
)
