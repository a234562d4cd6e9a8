"""/huongdan [CHỦ-ĐỀ]: short step-by-step guides a team member follows beside a resident
(VNeID, digital signature, payments, public services, the e-health book, scams).

The list's buttons are global options (``g:guide:<topic>``): they work whenever they are
tapped, and on a text-only channel the guide's number picks it.

Commands: /huongdan [CHỦ-ĐỀ] (everyone)
Steps:    none; a guide from the list by global action
Tables:   none (guides are content)
Texts:    content/texts/guides.yaml, the guides in content/guides/<topic>.yaml
"""

from __future__ import annotations

from bot.domain.guides import Guide
from bot.domain.messages import Markup, Reply
from bot.flows.commands import EVERYONE, Command
from bot.flows.context import Context
from bot.flows.feature import Feature

ACTION = "guide"
PER_ROW = 2


def _text(ctx: Context, guide: Guide) -> Markup:
    lines = [ctx.t("guides.title", title=guide.title)]
    lines += [ctx.t("guides.step", number=n, text=step) for n, step in enumerate(guide.steps, 1)]
    lines += [ctx.t("guides.note", text=note) for note in guide.notes]
    lines += [ctx.t("guides.help", text=guide.help), ctx.t("guides.others")]
    return Markup("\n".join(lines))


def _listing(ctx: Context, text: Markup) -> Reply:
    options = [ctx.global_option(guide.button, f"{ACTION}:{guide.topic}", str(n))
               for n, guide in enumerate(ctx.content.guides.all, 1)]
    rows = [options[i:i + PER_ROW] for i in range(0, len(options), PER_ROW)]
    return ctx.reply(text, rows)


async def show(ctx: Context, args: str = "") -> list[Reply]:
    typed = args.strip()
    if not typed:
        return [_listing(ctx, ctx.t("guides.list"))]
    guide = ctx.content.guides.find(typed)
    if guide is None:
        return [_listing(ctx, ctx.t("guides.unknown", typed=typed[:40]))]
    return [ctx.reply(_text(ctx, guide))]


async def on_guide_button(ctx: Context, topic: str) -> list[Reply]:
    guide = ctx.content.guides.by_topic(topic)
    if guide is None:  # a button from before the guide was removed
        return [_listing(ctx, ctx.t("guides.list"))]
    return [ctx.reply(_text(ctx, guide))]


FEATURE = Feature(
    name="guides",
    texts="texts/guides.yaml",
    commands=(Command(("huongdan", "hd", "guide"), show, EVERYONE),),
    global_actions={ACTION: on_guide_button},
)
