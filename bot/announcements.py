"""Announcements: copies go out through the outbox; when the last copy is settled the
author gets a delivery summary (delivered, blocked, failed), exactly once."""

from __future__ import annotations

from datetime import datetime

from bot.content import Content
from bot.flows.types import Reply
from bot.reminders import payload
from storage import SqliteDatabase
from storage.announcements import COPY_STEP, RULE, SUMMARY_STEP
from storage.outbox import NewMessage
from storage.reminders import Person

PENDING = ("pending", "sending")


def copies(announcement_id: int, people: list[Person], text: str, now: datetime) -> list[NewMessage]:
    return [
        NewMessage(RULE, str(announcement_id), COPY_STEP, p.member_id, p.channel, p.chat_id,
                   payload(Reply(text)), now)  # type: ignore[arg-type]
        for p in people
    ]


def summary_followup(db: SqliteDatabase, content: Content):  # type: ignore[no-untyped-def]
    """A hook for the outbox sender: after a drain, enqueue the summaries of finished announcements.

    Returns how many summaries were enqueued (the sender drains again if any).
    """

    async def followup(now: datetime) -> int:
        added = 0
        async with db.uow() as uow:
            for item in await uow.announcements.open():
                counts = await uow.announcements.delivery(item.id)
                if any(counts.get(status) for status in PENDING):
                    continue
                await uow.announcements.close(item.id, now)
                text = content.texts(
                    "announce.summary", id=item.id, total=item.recipients, sent=counts.get("sent", 0),
                    blocked=counts.get("blocked", 0),
                    failed=sum(counts.get(s, 0) for s in ("failed", "uncertain", "expired", "skipped")),
                )
                added += await uow.outbox.enqueue(
                    [NewMessage(RULE, str(item.id), SUMMARY_STEP, item.author_id, item.author_channel,
                                item.author_chat, payload(Reply(text)), now)], now)
        return added

    return followup
