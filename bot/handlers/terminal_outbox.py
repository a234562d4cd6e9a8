"""Terminal delivery for the outbox: a terminal user sees the reminders due for them
when their chat opens and after each message (there is no push on a terminal)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.domain.clock import Clock
from bot.domain.deadlines import Planner
from bot.flows import pushed
from bot.handlers.plain import render_plain
from bot.handlers.terminal import CHANNEL
from bot.services.outbox import SENT, Delivery, OutboxSender
from bot.services.reminders import reply_of
from storage import Database
from storage.models import OutboxMessage


def terminal_inbox(
    db: Database, clock: Clock, planner: Planner, user: str,
    followups: Callable[[datetime], Awaitable[int]] | None = None,
) -> Callable[[], Awaitable[list[str]]]:
    """A callable that delivers (returns, rendered as text) the due outbox messages for ``user``."""
    printed: list[str] = []

    async def deliver(message: OutboxMessage) -> Delivery:
        reply = await pushed.offer(db, CHANNEL, message.chat_id, reply_of(message.payload), clock.now())
        printed.append(render_plain(reply))  # its options' digits work when typed
        return Delivery(SENT)

    sender = OutboxSender(db, {CHANNEL: deliver}, clock, is_quiet=planner.is_quiet, rate=1000.0,
                          per_chat_interval=0.0, concurrency=1, followups=followups)

    async def inbox() -> list[str]:
        printed.clear()
        await sender.drain(channel=CHANNEL, chat_id=user)
        return list(printed)

    return inbox
