"""Channels: each one's push budget and pause (``channel_quota``), and one member on several
channels (``identities.last_seen_at``, one-time ``link_codes``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.models import Member
from storage.sql.executor import Executor
from storage.sql.repositories import _MEMBER_COLS, _member, ts


@dataclass(frozen=True)
class ChannelQuota:
    channel: str
    month: str  # YYYY-MM that ``sent`` counts
    sent: int
    budget: int | None
    paused_reason: str | None  # quota | token | None
    paused_month: str | None
    paused_at: datetime | None
    replies: int = 0  # direct replies sent in ``month`` (Zalo counts them against the quota too)

    def sent_in(self, month: str) -> int:
        return self.sent if self.month == month else 0

    def replies_in(self, month: str) -> int:
        return self.replies if self.month == month else 0

    def used_in(self, month: str) -> int:
        """Messages of ``month`` that count against the budget: pushes and replies."""
        return self.sent_in(month) + self.replies_in(month)

    def paused_in(self, month: str) -> str | None:
        """Why pushing is paused in ``month`` (a quota pause ends when the month turns)."""
        if self.paused_reason == "quota" and self.paused_month != month:
            return None
        return self.paused_reason


class ChannelRepository:
    def __init__(self, db: Executor) -> None:
        self.db = db

    # -- quota ---------------------------------------------------------------------------------

    async def quota(self, channel: str) -> ChannelQuota | None:
        row = await self.db.fetchone(
            "SELECT channel, month, sent, budget, paused_reason, paused_month, paused_at, replies FROM channel_quota "
            "WHERE channel = ?", (channel,))
        if row is None:
            return None
        return ChannelQuota(row[0], row[1], int(row[2]), row[3], row[4], row[5],
                            datetime.fromisoformat(row[6]) if row[6] else None, int(row[7]))

    async def quotas(self) -> list[ChannelQuota]:
        rows = await self.db.fetchall("SELECT channel FROM channel_quota ORDER BY channel")
        found = [await self.quota(r[0]) for r in rows]
        return [q for q in found if q is not None]

    async def set_budget(self, channel: str, month: str, budget: int | None, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO channel_quota (channel, month, sent, budget, updated_at) VALUES (?, ?, 0, ?, ?) "
            "ON CONFLICT (channel) DO UPDATE SET budget = excluded.budget, updated_at = excluded.updated_at",
            (channel, month, budget, ts(now)))

    async def count_sent(self, channel: str, month: str, now: datetime, sent: int = 1) -> None:
        """``sent`` more pushes in ``month`` (the counters start again when the month turns)."""
        await self._count(channel, month, now, sent, 0)

    async def count_replies(self, channel: str, month: str, now: datetime, replies: int = 1) -> None:
        """``replies`` more direct replies in ``month`` (the counters start again when it turns)."""
        await self._count(channel, month, now, 0, replies)

    async def _count(self, channel: str, month: str, now: datetime, sent: int, replies: int) -> None:
        same = "channel_quota.month = excluded.month"
        await self.db.execute(
            "INSERT INTO channel_quota (channel, month, sent, replies, updated_at) VALUES (?, ?, ?, ?, ?) "
            f"ON CONFLICT (channel) DO UPDATE SET "
            f"sent = CASE WHEN {same} THEN channel_quota.sent + excluded.sent ELSE excluded.sent END, "
            f"replies = CASE WHEN {same} THEN channel_quota.replies + excluded.replies ELSE excluded.replies END, "
            "month = excluded.month, updated_at = excluded.updated_at",
            (channel, month, sent, replies, ts(now)))

    async def pause(self, channel: str, reason: str, month: str, now: datetime) -> bool:
        """Stop pushing on ``channel``; True if it was not paused (for this reason) already."""
        await self.db.execute(
            "INSERT INTO channel_quota (channel, month, sent, updated_at) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (channel) DO NOTHING", (channel, month, ts(now)))
        return await self.db.execute(
            "UPDATE channel_quota SET paused_reason = ?, paused_month = ?, paused_at = ?, updated_at = ? "
            "WHERE channel = ? AND (paused_reason IS NULL OR paused_reason <> ? OR paused_month <> ?)",
            (reason, month, ts(now), ts(now), channel, reason, month)) == 1

    async def resume(self, channel: str, now: datetime) -> bool:
        """Push again on ``channel``; True if it was paused."""
        return await self.db.execute(
            "UPDATE channel_quota SET paused_reason = NULL, paused_month = NULL, paused_at = NULL, updated_at = ? "
            "WHERE channel = ? AND paused_reason IS NOT NULL", (ts(now), channel)) == 1

    async def queued(self) -> dict[str, int]:
        """Pushes waiting to go, per channel."""
        rows = await self.db.fetchall(
            "SELECT channel, COUNT(*) FROM outbox WHERE status IN ('pending', 'sending') GROUP BY channel")
        return {r[0]: int(r[1]) for r in rows}

    async def staff_elsewhere(self, channel: str) -> list[tuple[int, str, str]]:
        """(member id, channel, chat id) of active staff and admins on a channel other than ``channel``."""
        rows = await self.db.fetchall(
            "SELECT m.id, i.channel, i.chat_id FROM members m JOIN identities i ON i.member_id = m.id "
            "WHERE m.role IN ('staff', 'admin') AND m.status = 'active' AND i.active = 1 AND i.channel <> ? "
            "ORDER BY m.id, i.channel", (channel,))
        return [(int(r[0]), r[1], r[2]) for r in rows]

    # -- one member, several channels --------------------------------------------------------------

    async def seen(self, channel: str, external_id: str, now: datetime) -> None:
        """The identity was used just now: pushes to its member go here."""
        await self.db.execute("UPDATE identities SET last_seen_at = ? WHERE channel = ? AND external_id = ?",
                              (ts(now), channel, external_id))

    async def identities(self, member_id: int) -> list[tuple[str, str, str, bool]]:
        """(channel, external id, chat id, active) of a member, the one used last first."""
        rows = await self.db.fetchall(
            "SELECT channel, external_id, chat_id, active FROM identities WHERE member_id = ? "
            "ORDER BY COALESCE(last_seen_at, created_at) DESC, id DESC", (member_id,))
        return [(r[0], r[1], r[2], bool(r[3])) for r in rows]

    async def add_link_code(self, code: str, member_id: int, channel: str, expires_at: datetime,
                            now: datetime) -> None:
        await self.db.execute("DELETE FROM link_codes WHERE member_id = ? OR expires_at <= ?", (member_id, ts(now)))
        await self.db.execute(
            "INSERT INTO link_codes (code, member_id, channel, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
            (code, member_id, channel, ts(expires_at), ts(now)))

    async def take_link_code(self, code: str, now: datetime) -> tuple[Member, str] | None:
        """The member and channel a live code was asked for; the code is used up (once)."""
        row = await self.db.fetchone(
            f"SELECT {_MEMBER_COLS}, l.channel FROM link_codes l JOIN members m ON m.id = l.member_id "
            "WHERE l.code = ? AND l.expires_at > ?", (code, ts(now)))
        await self.db.execute("DELETE FROM link_codes WHERE code = ?", (code,))
        if row is None:
            return None
        return _member(row[:-1]), row[-1]

    async def link_failures(self, subjects: Sequence[str], since: datetime) -> tuple[int, datetime | None]:
        """The most wrong codes any of ``subjects`` made since ``since``, and when that
        subject's first one was (None when there was none)."""
        marks = ", ".join("?" for _ in subjects)
        row = await self.db.fetchone(
            f"SELECT failures, first_at FROM link_attempts WHERE subject IN ({marks}) AND first_at > ? "
            "ORDER BY failures DESC, first_at LIMIT 1", (*subjects, ts(since)))
        return (0, None) if row is None else (int(row[0]), datetime.fromisoformat(row[1]))

    async def add_link_failure(self, subjects: Sequence[str], since: datetime, now: datetime) -> None:
        """One more wrong code for each of ``subjects``; a count whose window began before
        ``since`` starts again (and rows whose window passed are forgotten)."""
        await self.db.execute("DELETE FROM link_attempts WHERE first_at <= ?", (ts(since),))
        for subject in subjects:
            await self.db.execute(
                "INSERT INTO link_attempts (subject, failures, first_at) VALUES (?, 1, ?) "
                "ON CONFLICT (subject) DO UPDATE SET failures = link_attempts.failures + 1", (subject, ts(now)))

    async def clear_link_failures(self, subjects: Sequence[str]) -> None:
        marks = ", ".join("?" for _ in subjects)
        await self.db.execute(f"DELETE FROM link_attempts WHERE subject IN ({marks})", tuple(subjects))

    async def unlink(self, member_id: int, keep_channel: str, keep_external_id: str) -> list[tuple[str, str]]:
        """Remove the member's other identities (and their chat state); the (channel, chat id) removed."""
        rows = await self.db.fetchall(
            "SELECT channel, chat_id FROM identities WHERE member_id = ? AND NOT (channel = ? AND external_id = ?)",
            (member_id, keep_channel, keep_external_id))
        for channel, chat_id in rows:
            await self.db.execute("DELETE FROM conversations WHERE channel = ? AND chat_id = ?", (channel, chat_id))
            await self.db.execute("DELETE FROM identities WHERE member_id = ? AND channel = ? AND chat_id = ?",
                                  (member_id, channel, chat_id))
        await self.db.execute("DELETE FROM link_codes WHERE member_id = ?", (member_id,))
        return [(r[0], r[1]) for r in rows]
