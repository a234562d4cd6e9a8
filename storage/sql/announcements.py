"""Announcements and their delivery state (the copies themselves are outbox rows)."""

from __future__ import annotations

from datetime import datetime

from storage.models import COPY_STEP, RULE, FanOut, OpenAnnouncement
from storage.sql.executor import Executor
from storage.sql.repositories import ts


class AnnouncementRepository:
    def __init__(self, db: Executor) -> None:
        self.db = db

    async def add(self, commune_id: int, scope_unit_id: int, author: tuple[int, str, str], text: str,
                  recipients: int, now: datetime, queued_after: int | None = None) -> int:
        """``author`` is (member id, channel, chat id): where the delivery summary goes.
        ``queued_after``: 0 for an announcement whose copies are queued afterwards, in chunks
        (:meth:`fanning_out`); None if they are all queued in this transaction."""
        return await self.db.new_id(
            "INSERT INTO announcements (commune_id, scope_unit_id, author_id, author_channel, author_chat, text, "
            "recipients, created_at, queued_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (commune_id, scope_unit_id, *author, text, recipients, ts(now), queued_after),
        )

    async def open(self) -> list[OpenAnnouncement]:
        """Announcements whose summary has not gone out and whose copies are all queued."""
        rows = await self.db.fetchall(
            "SELECT id, commune_id, author_id, author_channel, author_chat, recipients FROM announcements "
            "WHERE summary_sent_at IS NULL AND queued_after IS NULL"
        )
        return [OpenAnnouncement(*r) for r in rows]

    async def fanning_out(self) -> list[FanOut]:
        """Announcements whose copies are still being queued (a fan-out cut short by a restart included)."""
        rows = await self.db.fetchall(
            "SELECT id, commune_id, scope_unit_id, author_id, text, queued_after FROM announcements "
            "WHERE queued_after IS NOT NULL ORDER BY id"
        )
        return [FanOut(*r) for r in rows]

    async def queued_through(self, announcement_id: int, previous: int, after: int, done: bool) -> bool:
        """Copies are now queued up to member id ``after`` (``done``: all of them; the recipient
        count then becomes the copies queued), in the transaction that queued them. False if the
        fan-out no longer stood at ``previous`` (another one got there first: the copies, keyed
        by recipient, were queued once all the same)."""
        changed = await self.db.execute(
            "UPDATE announcements SET queued_after = ?, recipients = CASE WHEN ? THEN (SELECT COUNT(*) FROM outbox "
            "WHERE rule = ? AND period = ? AND step = ?) ELSE recipients END WHERE id = ? AND queued_after = ?",
            (None if done else after, done, RULE, str(announcement_id), COPY_STEP, announcement_id, previous),
        )
        return changed == 1

    async def delivery(self, announcement_id: int) -> dict[str, int]:
        """Copies by outbox status."""
        rows = await self.db.fetchall(
            "SELECT status, COUNT(*) FROM outbox WHERE rule = ? AND period = ? AND step = ? GROUP BY status",
            (RULE, str(announcement_id), COPY_STEP),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def close(self, announcement_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE announcements SET summary_sent_at = ? WHERE id = ? AND summary_sent_at IS NULL",
            (ts(now), announcement_id),
        )
        return changed == 1
