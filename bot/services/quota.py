"""Push budgets per channel: Zalo gives each bot a monthly message quota.

Every push the outbox sender delivers is counted (``channel_quota``, per channel and month in
the deployment's time zone), and so is every direct reply on Zalo: the Zalo Bot Platform's
quota is on the bot's messages, and its documentation does not set answers apart from pushes
(one ``sendMessage`` for both, the same 429), so both use the budget; only pushes are held
back when it runs low (an answer is what someone just asked for). With a budget set for a
channel (``TCNS_ZALO_MONTHLY_BUDGET``):

* once what is left falls to the reserve (``reserve`` of the budget), only deadline reminders
  go out; digests and announcements wait for the next month (or an operator), so the
  reminders that matter are the last to run out;
* at zero nothing more is pushed on that channel this month;
* a 429 "Quota exceeded" (or a 401, the token refused) pauses pushing on the channel at once:
  the row waits, nothing is retried in a loop; a quota pause ends when the month turns, or
  when an operator resumes it (``tcns reminders resume zalo``). Staff who also use another
  channel are told there, once a month.

``tcns reminders status`` shows pushes sent, replies, queued and left per channel this month.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.content import Content
from bot.domain.deadlines import DIGEST_RULE
from bot.domain.messages import Markup
from storage import Database, UnitOfWork
from storage.models import RULE as ANNOUNCE_RULE
from storage.models import NewMessage

log = logging.getLogger(__name__)

LOW_PRIORITY = (DIGEST_RULE, ANNOUNCE_RULE)  # wait first when a budget runs low
ZALO = "zalo"  # the channel with a monthly quota
NOTICE_RULE = "channel_paused"  # the note to staff on another channel
DEFAULT_RESERVE = 0.1


@dataclass(frozen=True)
class Standing:
    """One channel this month, as ``tcns reminders status`` and staff see it."""

    channel: str
    month: str
    sent: int  # pushes
    queued: int
    budget: int | None
    paused: str | None  # quota | token | None
    replies: int = 0  # direct replies: they use the quota too

    @property
    def left(self) -> int | None:
        return None if self.budget is None else max(self.budget - self.sent - self.replies, 0)


class Quotas:
    def __init__(self, tz: ZoneInfo, budgets: dict[str, int] | None = None, reserve: float = DEFAULT_RESERVE,
                 content: Content | None = None) -> None:
        self.tz = tz
        self.budgets = dict(budgets or {})
        self.reserve = reserve
        self.content = content

    def month(self, now: datetime) -> str:
        return now.astimezone(self.tz).strftime("%Y-%m")

    def reserve_of(self, budget: int) -> int:
        return max(1, math.ceil(budget * self.reserve))

    async def publish(self, db: Database, now: datetime) -> None:
        """Write the configured budgets where flows can read them (/hanchot)."""
        async with db.uow() as uow:
            for channel, budget in self.budgets.items():
                await uow.channels.set_budget(channel, self.month(now), budget, now)

    async def holds(self, uow: UnitOfWork, channels: Sequence[str], now: datetime) -> dict[str, tuple[str, ...] | None]:
        """What must wait, per channel: None = everything (paused, or nothing left); a tuple =
        those rules (the budget is down to its reserve)."""
        month, held = self.month(now), {}
        for channel in channels:
            quota = await uow.channels.quota(channel)
            if quota is not None and quota.paused_in(month):
                held[channel] = None
                continue
            budget = self.budgets.get(channel)
            if budget is None:
                continue
            left = budget - (quota.used_in(month) if quota else 0)
            if left <= 0:
                held[channel] = None
            elif left <= self.reserve_of(budget):
                held[channel] = LOW_PRIORITY
        return held

    async def room(self, uow: UnitOfWork, channel: str, now: datetime) -> int | None:
        """How many more pushes ``channel`` may send this month (None: no budget)."""
        budget = self.budgets.get(channel)
        if budget is None:
            return None
        quota = await uow.channels.quota(channel)
        return max(budget - (quota.used_in(self.month(now)) if quota else 0), 0)

    async def counted(self, uow: UnitOfWork, channel: str, now: datetime, messages: int = 1) -> None:
        await uow.channels.count_sent(channel, self.month(now), now, sent=messages)

    async def replied(self, db: Database, channel: str, now: datetime, messages: int) -> None:
        """``messages`` direct replies went out on ``channel``: they use its quota too (one small
        write per answered update, in a unit of work of its own, after the sends)."""
        if messages > 0:
            month = self.month(now)
            await db.run(lambda uow: uow.channels.count_replies(channel, month, now, messages))

    async def pause(self, uow: UnitOfWork, channel: str, reason: str, now: datetime) -> None:
        """Stop pushing on ``channel`` (in this unit of work); the first time this month, staff
        who have another channel are told there."""
        month = self.month(now)
        if not await uow.channels.pause(channel, reason, month, now):
            return
        log.error("pushing on %s stops: %s (resume with: tcns reminders resume %s)", channel,
                  "the quota is spent" if reason == "quota" else "the token is refused", channel)
        if self.content is None:
            return
        labels = {c: self.content.texts(f"quota.channel_{c}") for c in ("telegram", "zalo")}
        key = "quota.paused_quota" if reason == "quota" else "quota.paused_token"
        text = self.content.texts(key, channel=labels.get(channel, channel))
        staff = await uow.channels.staff_elsewhere(channel)
        await uow.outbox.enqueue([NewMessage(NOTICE_RULE, month, f"{channel}-{reason}", member_id, other, chat_id,
                                             {"text": str(text)}, now) for member_id, other, chat_id in staff], now)

    async def standing(self, uow: UnitOfWork, now: datetime) -> list[Standing]:
        month = self.month(now)
        queued = await uow.channels.queued()
        known = {q.channel: q for q in await uow.channels.quotas()}
        channels = sorted(set(queued) | set(known) | set(self.budgets))
        out = []
        for channel in channels:
            quota = known.get(channel)
            budget = self.budgets.get(channel, quota.budget if quota else None)
            out.append(Standing(channel, month, quota.sent_in(month) if quota else 0, queued.get(channel, 0),
                                budget, quota.paused_in(month) if quota else None,
                                quota.replies_in(month) if quota else 0))
        return out


async def budget_line(uow: UnitOfWork, content: Content, channel: str, month: str) -> Markup | None:
    """A short line for staff on ``channel``: how many pushes are left this month (None: no budget)."""
    quota = await uow.channels.quota(channel)
    if quota is None or quota.budget is None:
        return None
    left = max(quota.budget - quota.used_in(month), 0)
    key = "quota.paused_line" if quota.paused_in(month) else "quota.left_line"
    return content.texts(key, left=left, budget=quota.budget)
