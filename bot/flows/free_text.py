"""Free text that staff give the bot to keep: a void or correction reason, an announcement,
a deadline's or a village's name. Cleaned (``bot.domain.cleantext``), and refused, before anything
is stored, if it holds a resident's ID or phone number (``bot.domain.pii``): tcns keeps counts only.
"""

from __future__ import annotations

from bot.domain import pii
from bot.domain.messages import Reply
from bot.flows.context import Context


def refuse_personal_data(ctx: Context, *texts: str) -> Reply | None:
    """The answer to give instead of storing ``texts``, or None if none of them holds resident data."""
    for text in texts:
        finding = pii.find(text)
        if finding is not None:
            return ctx.say("bad_input.personal_data", what=ctx.t(f"bad_input.kinds.{finding.kind}"))
    return None
