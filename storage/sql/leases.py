"""Leases and the shared send budget: what lets several worker processes act as one.

* A **lease** (``leases`` row) is held by one holder until it expires; the holder renews it,
  anyone may take it once it expired. ``scheduler`` elects the one worker that plans
  reminders; each worker also keeps a ``worker:<id>`` lease, which counts the live workers.
  A lease row rather than a PostgreSQL advisory lock: it works on both backends, its expiry
  is explicit (a holder that hangs without dying loses it too) and it is testable with a
  controllable clock.
* The **send budget** (``send_budget``, one row per channel) hands out send slots
  ``interval`` apart to every sender of every worker, and ``chat_pace`` keeps one chat's
  messages ``chat_interval`` apart, so Telegram's ~30 msg/s overall and 1 msg/s per chat hold
  whatever the number of workers (see :meth:`storage.sql.outbox.OutboxRepository.claim_paced`).

Times here are seconds since the epoch (floats): slots are finer than a second.
"""

from __future__ import annotations

from storage.sql.repositories import _Repo

WORKER_PREFIX = "worker:"


class LeaseRepository(_Repo):
    async def acquire(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``now + ttl``; False while another
        holder's lease has not expired."""
        changed = await self.db.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
            (name, holder, now + ttl, now),
        )
        return changed == 1

    async def release(self, name: str, holder: str) -> bool:
        """Give the lease up (a graceful stop: the next holder need not wait for the expiry)."""
        return await self.db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder)) == 1

    async def holder(self, name: str, now: float) -> str | None:
        row = await self.db.fetchone("SELECT holder FROM leases WHERE name = ? AND expires_at > ?", (name, now))
        return str(row[0]) if row else None

    async def live_workers(self, now: float) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM leases WHERE name LIKE ? AND expires_at > ?", (f"{WORKER_PREFIX}%", now)
        )
        return int(row[0]) if row else 0

    async def take_slot(self, channel: str, now: float, interval: float) -> float:
        """The next send slot of ``channel`` (>= ``now``); the one after it is ``interval`` later."""
        row = await self.db.fetchone(
            "INSERT INTO send_budget (channel, next_at) VALUES (?, ?) ON CONFLICT (channel) DO UPDATE "
            "SET next_at = CASE WHEN send_budget.next_at > ? THEN send_budget.next_at ELSE ? END + ? "
            "RETURNING next_at",
            (channel, now + interval, now, now, interval),
        )
        assert row is not None
        return float(row[0]) - interval

    async def pause_budget(self, channel: str, until: float) -> None:
        """No slot of ``channel`` before ``until`` (the channel asked us to wait: flood control)."""
        await self.db.execute(
            "INSERT INTO send_budget (channel, next_at) VALUES (?, ?) ON CONFLICT (channel) DO UPDATE "
            "SET next_at = excluded.next_at WHERE send_budget.next_at < excluded.next_at",
            (channel, until),
        )

    async def pace_chat(self, channel: str, chat_id: str, now: float) -> bool:
        """Reserve the chat for a message now; False while its previous message is too recent.
        (The row's lock, held to the end of the transaction, keeps a second worker out.)"""
        changed = await self.db.execute(
            "INSERT INTO chat_pace (channel, chat_id, next_at) VALUES (?, ?, ?) ON CONFLICT (channel, chat_id) "
            "DO UPDATE SET next_at = excluded.next_at WHERE chat_pace.next_at <= ?",
            (channel, chat_id, now, now),
        )
        return changed == 1

    async def set_chat_pace(self, channel: str, chat_id: str, next_at: float) -> None:
        await self.db.execute("UPDATE chat_pace SET next_at = ? WHERE channel = ? AND chat_id = ?",
                              (next_at, channel, chat_id))

    async def push_chat_pace(self, channel: str, chat_id: str, next_at: float) -> None:
        """No next message to the chat before ``next_at`` (a send that started late: the gap to
        the next one counts from when it really went)."""
        await self.db.execute("UPDATE chat_pace SET next_at = ? WHERE channel = ? AND chat_id = ? AND next_at < ?",
                              (next_at, channel, chat_id, next_at))

    async def prune_pace(self, before: float) -> int:
        """Forget chats whose pace is long over (housekeeping)."""
        return await self.db.execute("DELETE FROM chat_pace WHERE next_at < ?", (before,))
