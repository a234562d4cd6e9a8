"""Small talk: a greeting or thanks, a help word, a lone number.

Each gets a short answer that fits the user's role instead of "not understood": a greeting
or thanks is greeted back with the one most useful next step for that role; "help", "menu",
"trợ giúp" open the help; a lone number ("5") asks which service it is for and goes on
through the button report (bot/flows/report.py). The words are in content/answers.yaml.
"""

from __future__ import annotations

from bot.domain.messages import Reply
from bot.flows import help as help_flow
from bot.flows import report
from bot.flows.context import Context
from bot.flows.feature import Feature

ROLES = ("guest", "member", "leader", "staff", "admin")


async def answer(ctx: Context, text: str) -> list[Reply] | None:
    """The answer to small talk, or None when ``text`` is something else (a report, a question)."""
    kind = ctx.content.answers.small_talk(text)
    if kind == "help":
        return await help_flow.show(ctx)
    role = ctx.member.role if ctx.member is not None else "guest"
    if kind is not None:
        name = (ctx.member.name or "").split()[-1:] if ctx.member is not None else []
        hello = ctx.t("smalltalk.thanks" if kind == "thanks" else "smalltalk.hello",
                      name=f" {name[0]}" if name else "")
        step = ctx.t(f"smalltalk.next.{role}")
        return [ctx.reply(ctx.t("smalltalk.answer", hello=hello, step=step), menu=ctx.member is not None)]
    if ctx.member is None:
        return None
    count, problem = report.count_issue(text, ctx.content.limits.max_count_per_report,
                                        ctx.content.vocabulary.count_units)
    if count is not None and problem is None:  # "5", "5 hộ": for which service?
        return await report.start_with_count(ctx, count)
    return None


FEATURE = Feature(name="smalltalk", texts="texts/smalltalk.yaml")
