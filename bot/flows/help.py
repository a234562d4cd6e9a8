"""/help and /trogiup: what this user's role can do.

Commands: /trogiup /help /menu (everyone)
Steps:    none
Tables:   none
Texts:    content/texts/help.yaml
"""

from __future__ import annotations

from bot.domain.messages import Reply
from bot.flows import resolve
from bot.flows.commands import EVERYONE, Command
from bot.flows.context import Context
from bot.flows.feature import Feature


async def show(ctx: Context, args: str = "") -> list[Reply]:
    if ctx.member is None:
        return [ctx.say("help.guest")]
    # Also refreshes the chat's command menu and keyboard: someone whose role changed sees theirs.
    text = ctx.t(f"help.{ctx.member.role}", village_word=await resolve.home_village_word(ctx))
    return [ctx.reply(text, menu=True, commands_for=ctx.member.role)]


FEATURE = Feature(
    name="help",
    texts="texts/help.yaml",
    commands=(Command(("help", "trogiup", "menu"), show, EVERYONE),),
)
