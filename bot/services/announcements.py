"""Announcements: copies go out through the outbox; when the last copy is settled the
author gets a delivery summary (delivered, blocked, failed), exactly once.

A commune's announcement has ~10,000 copies: they are queued in chunks (``FANOUT_CHUNK``),
each a short unit of work of its own, so members are answered meanwhile (issue 11, item 6).
The announcement row says where its fan-out stands (``queued_after``, a member id), and a
chunk advances it in the transaction that queues the chunk's copies, so the two always agree:

* the staff's confirmation stores the announcement and queues the first chunk, together;
* the outbox sender queues the rest (:func:`fan_out`, its follow-up hook, run when a drain
  finds nothing left to send: right after the first chunk has gone out, and on every start);
* a process that dies mid-way leaves the announcement where its last chunk left it: the next
  start goes on from there. A copy is keyed by announcement and recipient in the outbox, so
  one queued twice (two fan-outs racing) is one row, sent at most once;
* the summary waits until every copy is queued and settled; the recipient count becomes the
  copies actually queued (a member who joined or left while it fanned out).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial

from bot.content import Content
from bot.domain.messages import Reply
from bot.services.reminders import payload
from storage import Database, UnitOfWork
from storage.models import COPY_STEP, RULE, SUMMARY_STEP, FanOut, NewMessage, Person

PENDING = ("pending", "sending")
FANOUT_CHUNK = 200  # copies per unit of work: a few milliseconds of the database each


def copies(announcement_id: int, people: list[Person], text: str, now: datetime) -> list[NewMessage]:
    return [
        NewMessage(RULE, str(announcement_id), COPY_STEP, p.member_id, p.channel, p.chat_id,
                   payload(Reply(text)), now)  # type: ignore[arg-type]
        for p in people
    ]


async def queue_chunk(uow: UnitOfWork, item: FanOut, message: object, now: datetime,
                      chunk: int | None = None) -> tuple[int, bool]:
    """Queue the next ``chunk`` copies of ``item`` and advance it, in ``uow``: (copies added, all queued?)."""
    limit = chunk or FANOUT_CHUNK
    people = await uow.reminders.people_page(item.commune_id, item.scope_unit_id, item.queued_after, limit)
    done = len(people) < limit
    if not done:  # the page may end inside a member's chats: theirs all go with the next chunk
        last = people[-1].member_id
        kept = [p for p in people if p.member_id != last]
        people = kept or people  # (a member with ``limit`` chats: all of them now)
    after = people[-1].member_id if people else item.queued_after
    recipients = [p for p in people if p.member_id != item.author_id]
    added = await uow.outbox.enqueue(copies(item.id, recipients, message, now), now)  # type: ignore[arg-type]
    await uow.announcements.queued_through(item.id, item.queued_after, after, done)
    return added, done


async def fan_out(db: Database, content: Content, now: datetime) -> int:
    """Queue the copies of every announcement not wholly queued yet, a chunk per unit of work;
    returns how many copies were added."""
    added = 0
    for item in await db.run(lambda uow: uow.announcements.fanning_out()):
        message = content.texts("announce.message", text=item.text)
        while True:
            count, done = await db.run(partial(_next_chunk, announcement_id=item.id, message=message, now=now))
            added += count
            if done:
                break
            await db.bulk_pause()
            await asyncio.sleep(0)  # whoever waits for the database goes first, alone
    return added


async def _next_chunk(uow: UnitOfWork, announcement_id: int, message: object, now: datetime) -> tuple[int, bool]:
    """One chunk of :func:`fan_out`, from where the announcement stands now (read in the same unit of work)."""
    current = next((f for f in await uow.announcements.fanning_out() if f.id == announcement_id), None)
    if current is None:  # wholly queued meanwhile (another fan-out)
        return 0, True
    return await queue_chunk(uow, current, message, now)


def summary_followup(db: Database, content: Content):  # type: ignore[no-untyped-def]
    """A hook for the outbox sender: after a drain, enqueue the summaries of finished announcements.

    Returns how many summaries were enqueued (the sender drains again if any).
    """

    async def followup(now: datetime) -> int:
        added = await fan_out(db, content, now)  # copies not queued yet first: the drain sends them next
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
