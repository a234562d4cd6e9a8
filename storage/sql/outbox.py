"""The outbox: pushed messages as rows, written before anything is sent.

A row's key (rule, period, step, recipient) is unique, so enqueueing is idempotent:
``INSERT ... ON CONFLICT DO NOTHING``. A sender claims one row at a time with a lease
(``status = 'sending'``, ``claimed_until``) in its own transaction right before the
delivery call, and marks it ``sent`` in another right after. See ``bot/outbox.py`` for
what happens to a row whose sender died between the two.
"""

from __future__ import annotations

import json
from datetime import UTC as _UTC
from datetime import datetime
from typing import Any

from storage.models import NewMessage, OutboxMessage
from storage.sql.executor import Executor
from storage.sql.leases import LeaseRepository
from storage.sql.repositories import COMMUNE_OF_MEMBER, ts

_COLS = "id, rule, period, step, recipient, member_id, channel, chat_id, payload, due_at, status, attempts"
HOUSEKEEP_WINDOW = 1000  # rows at the head of the queue that housekeeping looks at per drain
# The head of the queue: the next rows due, in the order the sender takes them.
_HEAD = "SELECT id FROM outbox WHERE status = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT {limit}"
# The row's village has confirmed its figures for the period the message is about (the
# period key: a deadline's reminders stop on confirmation, not on any single report).
_REPORTED = ("EXISTS (SELECT 1 FROM confirmations c WHERE c.village_id = outbox.village_id "
             "AND c.period = outbox.period AND c.reopened_at IS NULL)")


def _message(row: tuple[Any, ...]) -> OutboxMessage:
    return OutboxMessage(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8]),
                         datetime.fromisoformat(row[9]), row[10], row[11])


def _utc(value: datetime) -> str:
    return ts(value.astimezone(_UTC))


EncodedMessage = tuple[Any, ...]  # a NewMessage as the parameters of _INSERT
# commune_id: the commune of the recipient's unit (storage.sql.repositories.COMMUNE_OF_MEMBER).
_INSERT = ("INSERT INTO outbox (rule, period, step, recipient, member_id, channel, chat_id, payload, due_at, "
           "expires_at, village_id, covers_start, covers_end, created_at, commune_id) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
           f"{COMMUNE_OF_MEMBER}) ON CONFLICT DO NOTHING")


def encode(messages: list[NewMessage], now: datetime) -> list[EncodedMessage]:
    """Messages as the outbox stores them (their payload as JSON): CPU work that a bulk writer
    does before its unit of work, not in the database thread."""
    stamp = _utc(now)
    return [(m.rule, m.period, m.step, m.recipient, m.member_id, m.channel, m.chat_id,
             json.dumps(m.payload, ensure_ascii=False), _utc(m.due_at),
             _utc(m.expires_at) if m.expires_at else None, m.village_id,
             m.covers_start.isoformat() if m.covers_start else None,
             m.covers_end.isoformat() if m.covers_end else None, stamp, m.member_id) for m in messages]


class OutboxRepository:
    def __init__(self, db: Executor) -> None:
        self.db = db

    async def enqueue(self, messages: list[NewMessage], now: datetime) -> int:
        """Add messages whose key is new; returns how many were added."""
        return await self.enqueue_rows(encode(messages, now))

    async def enqueue_rows(self, rows: list[EncodedMessage]) -> int:
        """:meth:`enqueue` of messages already :func:`encode`-d (outside the database thread)."""
        added = 0
        for row in rows:
            added += await self.db.execute(_INSERT, row)
        return added

    async def housekeep(self, now: datetime, window: int = HOUSEKEEP_WINDOW) -> dict[str, int]:
        """Before a drain: drop what is no longer wanted, and settle rows whose sender died.

        * pending rows of a village that has reported for the period meanwhile: ``skipped``;
        * pending rows past their expiry: ``expired``;
        * ``sending`` rows whose lease ran out: ``uncertain``. Their sender died between the
          claim and the mark: the message may or may not have gone out, and it is not sent
          again (at most once; see bot/outbox.py).

        Only the next ``window`` rows due are looked at for the first two (a drain sends far
        fewer before it comes back here): after a pass that queued 90,000 reminders each drain
        costs a bounded read, not one over the whole queue; the rest are looked at as they
        come up, and :meth:`due` never hands out a row that should have been skipped.
        """
        stamp = _utc(now)
        head = _HEAD.format(limit="?")
        skipped = await self.db.execute(
            f"UPDATE outbox SET status = 'skipped' WHERE id IN ({head}) AND village_id IS NOT NULL "
            f"AND {_REPORTED}", (stamp, window),
        )
        expired = await self.db.execute(
            f"UPDATE outbox SET status = 'expired' WHERE id IN ({head}) AND expires_at IS NOT NULL "
            "AND expires_at <= ?", (stamp, window, stamp),
        )
        uncertain = await self.db.execute(
            "UPDATE outbox SET status = 'uncertain', last_error = 'sender stopped during delivery' "
            "WHERE status = 'sending' AND claimed_until <= ?", (stamp,),
        )
        return {"skipped": skipped, "expired": expired, "uncertain": uncertain}

    async def due(self, now: datetime, limit: int, channel: str | None = None,
                  chat_id: str | None = None, held: dict[str, tuple[str, ...] | None] | None = None,
                  ) -> list[OutboxMessage]:
        """Pending rows due at ``now``, oldest first; never one past its expiry or of a village
        that has reported for the period (whether or not :meth:`housekeep` got to it yet), nor
        one ``held`` (per channel: None = all its rows, a tuple = its rows of those rules)."""
        stamp = _utc(now)
        where, params = "status = 'pending' AND due_at <= ?", [stamp]
        for held_channel, rules in (held or {}).items():
            if rules is None:
                where += " AND channel <> ?"
                params.append(held_channel)
            else:
                marks = ", ".join("?" for _ in rules)
                where += f" AND NOT (channel = ? AND rule IN ({marks}))"
                params.extend([held_channel, *rules])
        if channel is not None:
            where += " AND channel = ?"
            params.append(channel)
        if chat_id is not None:
            where += " AND chat_id = ?"
            params.append(chat_id)
        where += f" AND (expires_at IS NULL OR expires_at > ?) AND NOT (village_id IS NOT NULL AND {_REPORTED})"
        params.append(stamp)
        rows = await self.db.fetchall(
            f"SELECT {_COLS} FROM outbox WHERE {where} ORDER BY due_at, id LIMIT ?", (*params, limit)
        )
        return [_message(r) for r in rows]

    async def next_due_at(self, channels: tuple[str, ...]) -> datetime | None:
        marks = ", ".join("?" for _ in channels)
        row = await self.db.fetchone(
            f"SELECT MIN(due_at) FROM outbox WHERE status = 'pending' AND channel IN ({marks})", channels
        )
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    async def claim(self, message_id: int, now: datetime, lease_until: datetime, owner: str) -> bool:
        """Take one pending row for delivery; False if another sender has it (or it is settled)."""
        changed = await self.db.execute(
            "UPDATE outbox SET status = 'sending', claimed_until = ?, claimed_by = ?, attempts = attempts + 1 "
            "WHERE id = ? AND status = 'pending'",
            (_utc(lease_until), owner, message_id),
        )
        return changed == 1

    async def claim_paced(self, message_id: int, channel: str, chat_id: str, lease_until: datetime, owner: str,
                          now: float, interval: float, chat_interval: float) -> float | None:
        """:meth:`claim` under the shared send budget, for senders in several workers at once.

        In one transaction: the row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a row another
        worker is claiming is passed over at once, not waited for), the chat's pace (no other
        message to it within ``chat_interval`` of this one, whichever worker sent it), and the
        next slot of the channel's budget (``interval`` apart across every worker). Returns
        the slot (seconds since the epoch, ``>= now``: the delivery waits until then), or
        None if the row is not this sender's to send now (taken, settled, or its chat paced).
        """
        leases = LeaseRepository(self.db)
        changed = await self.db.execute(
            "UPDATE outbox SET status = 'sending', claimed_until = ?, claimed_by = ?, attempts = attempts + 1 "
            f"WHERE id = (SELECT id FROM outbox WHERE id = ? AND status = 'pending' {self.db.dialect.skip_locked()})",
            (_utc(lease_until), owner, message_id),
        )
        if changed != 1:
            return None
        if chat_interval > 0 and not await leases.pace_chat(channel, chat_id, now):
            await self.db.execute(  # undone in the same transaction: as if never claimed
                "UPDATE outbox SET status = 'pending', claimed_until = NULL, claimed_by = NULL, "
                "attempts = attempts - 1 WHERE id = ?", (message_id,))
            return None
        slot = await leases.take_slot(channel, now, interval)
        if chat_interval > 0:
            await leases.set_chat_pace(channel, chat_id, slot + chat_interval)
        return slot

    async def mark_sent(self, message_id: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, claimed_until = NULL WHERE id = ?",
            (_utc(now), message_id),
        )

    async def mark_retry(self, message_id: int, due_at: datetime, error: str) -> None:
        await self.db.execute(
            "UPDATE outbox SET status = 'pending', due_at = ?, last_error = ?, claimed_until = NULL WHERE id = ?",
            (_utc(due_at), error[:500], message_id),
        )

    async def release(self, message_id: int, error: str) -> None:
        """A row that was not sent because its channel stopped pushing: pending again, as it was."""
        await self.db.execute(
            "UPDATE outbox SET status = 'pending', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
            "last_error = ?, claimed_until = NULL WHERE id = ?", (error[:500], message_id))

    async def mark_final(self, message_id: int, status: str, error: str) -> None:
        assert status in ("blocked", "failed")
        await self.db.execute(
            "UPDATE outbox SET status = ?, last_error = ?, claimed_until = NULL WHERE id = ?",
            (status, error[:500], message_id),
        )

    async def mark_uncertain(self, message_ids: list[int], owner: str, error: str) -> int:
        """Rows whose delivery this sender abandoned mid-call: sent or not, never resent (at most once)."""
        changed = 0
        for message_id in message_ids:
            changed += await self.db.execute(
                "UPDATE outbox SET status = 'uncertain', last_error = ?, claimed_until = NULL "
                "WHERE id = ? AND status = 'sending' AND claimed_by = ?",
                (error[:500], message_id, owner),
            )
        return changed

    async def drop_pending_for_chat(self, channel: str, chat_id: str, reason: str) -> int:
        """A chat that blocked the bot: its other pending messages will not be tried either."""
        return await self.db.execute(
            "UPDATE outbox SET status = 'blocked', last_error = ? "
            "WHERE channel = ? AND chat_id = ? AND status = 'pending'",
            (reason[:500], channel, chat_id),
        )

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {r[0]: int(r[1]) for r in rows}

    async def listing(self, rule: str | None = None, period: str | None = None) -> list[tuple[Any, ...]]:
        where, params = "1 = 1", []
        if rule is not None:
            where += " AND rule = ?"
            params.append(rule)
        if period is not None:
            where += " AND period = ?"
            params.append(period)
        return await self.db.fetchall(
            f"SELECT rule, period, step, recipient, channel, chat_id, status, due_at, payload "
            f"FROM outbox WHERE {where} ORDER BY id", params,
        )

