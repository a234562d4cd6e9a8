"""Announcements and their delivery state (the copies themselves are outbox rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.repositories import Executor, ts

RULE = "announce"
COPY_STEP = "msg"
SUMMARY_STEP = "summary"
FINAL = ("sent", "blocked", "failed", "uncertain", "skipped", "expired")


@dataclass(frozen=True)
class OpenAnnouncement:
    id: int
    commune_id: int
    author_id: int
    author_channel: str
    author_chat: str
    recipients: int


class AnnouncementRepository:
    def __init__(self, db: Executor) -> None:
        self.db = db

    async def add(self, commune_id: int, scope_unit_id: int, author: tuple[int, str, str], text: str,
                  recipients: int, now: datetime) -> int:
        """``author`` is (member id, channel, chat id): where the delivery summary goes."""
        return await self.db.insert(
            "INSERT INTO announcements (commune_id, scope_unit_id, author_id, author_channel, author_chat, text, "
            "recipients, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (commune_id, scope_unit_id, *author, text, recipients, ts(now)),
        )

    async def open(self) -> list[OpenAnnouncement]:
        rows = await self.db.fetchall(
            "SELECT id, commune_id, author_id, author_channel, author_chat, recipients FROM announcements "
            "WHERE summary_sent_at IS NULL"
        )
        return [OpenAnnouncement(*r) for r in rows]

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
