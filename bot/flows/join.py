"""Joining with an invite code: ``/start CODE`` (also the t.me deep link), or the code typed after /start.

Commands: /start [MÃ] (everyone)
Steps:    code
Tables:   invites, members, identities, audit
Texts:    content/texts/join.yaml
"""

from __future__ import annotations

import re

from bot.domain import pii
from bot.domain.cleantext import clean_line
from bot.domain.messages import Reply
from bot.flows import resolve
from bot.flows.commands import EVERYONE, Command
from bot.flows.context import Context
from bot.flows.feature import Feature, Flow

FLOW = "join"
MAX_NAME = 64
_CODE_CHARS = re.compile(r"[^A-Z0-9]")
_CODE_WORD = re.compile(r"[-A-Za-z0-9]+")


def normalise_code(text: str) -> str:
    return _CODE_CHARS.sub("", text.upper())[:32]


async def start(ctx: Context, args: str) -> list[Reply]:
    if ctx.member is not None:
        unit = await ctx.uow.units.get(ctx.member.unit_id)
        return [ctx.reply(ctx.t("join.already", unit=unit.name if unit else ""), menu=True,
                          commands_for=ctx.member.role)]
    if not args.strip():
        ctx.goto(FLOW, "code")
        return [ctx.say("join.ask_code")]
    return await use_code(ctx, args)


async def on_text(ctx: Context, text: str) -> list[Reply]:
    if not looks_like_code(text):  # a report line, a greeting: say why nothing happens, keep waiting
        return [ctx.say("join.not_a_code")]
    return await use_code(ctx, text)


def looks_like_code(text: str) -> bool:
    """A typed code attempt: one word of 4 to 12 Latin letters and digits (a dash allowed)."""
    word = text.strip()
    return _CODE_WORD.fullmatch(word) is not None and 4 <= len(normalise_code(word)) <= 12


async def on_choice(ctx: Context, action: str) -> list[Reply]:
    return [ctx.say("join.ask_code")]


async def prompt(ctx: Context) -> Reply | None:
    return ctx.say("join.ask_code")


def display_name(raw: str | None) -> str | None:
    """The name a member is stored and shown under: what their channel calls them, cleaned.

    Never fatal: a lone surrogate, control or invisible characters, an ID or phone number in
    the name (common in Zalo names) are dropped, a long name is cut; None if nothing is left.
    """
    return clean_line(pii.redact(raw or ""), MAX_NAME) or None


async def use_code(ctx: Context, text: str) -> list[Reply]:
    code = normalise_code(text)
    invite = await ctx.uow.invites.get(code) if code else None
    if invite is None:
        return [ctx.say("join.bad_code")]
    if invite.revoked_at is not None or ctx.now >= invite.expires_at:
        return [ctx.say("join.expired")]
    if not await ctx.uow.invites.use(code):
        return [ctx.say("join.used_up")]
    unit = await ctx.uow.units.get(invite.unit_id)
    assert unit is not None
    name = display_name(ctx.inbound.display_name)
    member = await ctx.uow.members.add(name, invite.role, unit.id, ctx.now)
    inbound = ctx.inbound
    await ctx.uow.members.link_identity(member.id, inbound.channel, inbound.user_id, inbound.chat_id, ctx.now)
    commune_id = unit.id if unit.kind == "commune" else unit.parent_id
    await ctx.uow.audit.add(member.id, "join", f"unit:{unit.id}", ctx.now, {"invite": code, "role": invite.role},
                            unit_id=commune_id)
    ctx.member = member
    ctx.end()
    role = ctx.t(f"roles.{invite.role}")
    welcome = ctx.reply(ctx.t("join.welcome", unit=unit.name, role=role), menu=True, commands_for=invite.role)
    # What this role does first: the members' report, the leaders' corrections, the staff's tallies.
    steps = ctx.t(f"join_steps.{invite.role}", village_word=await resolve.home_village_word(ctx))
    return [welcome, ctx.reply(steps)]


FEATURE = Feature(
    name="join",
    texts="texts/join.yaml",
    commands=(Command(("start",), start, EVERYONE),),
    flow=Flow(FLOW, ("code",), on_choice, on_text, prompt),
)
