"""The inbox: inbound updates stored before they are acknowledged, and the processed marks.

One table serves both. An adapter stores what its channel handed over (:meth:`InboxRepository.store`,
a durable commit) before telling the channel it arrived; the engine then claims the row in
the same transaction as the update's effects (:meth:`InboxRepository.claim_and_load`), which
clears the payload. A claimed row stays as the de-duplication mark until it is pruned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from storage.models import MAX_ATTEMPTS, Conversation, Member, StoredUpdate
from storage.sql.channels import ChannelRepository
from storage.sql.repositories import _Repo, ts

PRUNE_WINDOW = 2000  # inbox rows one pruning statement looks at (a few milliseconds of the database)
FIRST_KEY = ("", "")  # before every (channel, update_key)


class InboxRepository(_Repo):
    async def store(self, channel: str, updates: Sequence[tuple[str, str, int]], now: datetime) -> list[str]:
        """Store ``(key, payload, seq)`` updates; returns the keys that were new, in order.

        A key seen before (waiting, or processed and not yet pruned) is left as it is: the
        channel redelivered it, and it must not be handled twice. One statement for the whole
        batch (a channel hands over at most a hundred at a time), atomic by itself: the webhook's
        store runs it without a transaction around it (``Database.run(..., single=True)``).
        """
        if not updates:
            return []
        stamp = ts(now)
        values = ", ".join(["(?, ?, ?, ?, ?)"] * len(updates))
        params = [v for key, payload, seq in updates for v in (channel, key, seq, stamp, payload)]
        rows = await self.db.fetchall(
            f"INSERT INTO inbox (channel, update_key, seq, received_at, payload) VALUES {values} "
            "ON CONFLICT DO NOTHING RETURNING update_key",
            params,
        )
        inserted = {r[0] for r in rows}
        new: list[str] = []
        for key, _, _ in updates:
            if key in inserted:
                inserted.discard(key)  # a key twice in one batch is new once
                new.append(key)
        return new

    async def waiting(self, channel: str, after_seq: int = -1, limit: int = 256) -> list[StoredUpdate]:
        """Waiting updates of ``channel`` in arrival order, after ``after_seq`` (keyset paging)."""
        rows = await self.db.fetchall(
            "SELECT update_key, payload, seq, attempts FROM inbox "
            "WHERE channel = ? AND processed_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
            (channel, after_seq, limit),
        )
        return [StoredUpdate(channel, r[0], r[1] or "", r[2], r[3]) for r in rows]

    async def count_waiting(self, channel: str | None = None) -> int:
        if channel is None:
            row = await self.db.fetchone("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL")
        else:
            row = await self.db.fetchone(
                "SELECT COUNT(*) FROM inbox WHERE channel = ? AND processed_at IS NULL", (channel,)
            )
        return int(row[0]) if row else 0

    async def claim(self, channel: str, update_key: str, now: datetime) -> bool:
        """Mark an update processed (storing it first if it never waited); False if it was already."""
        row = await self.db.fetchone(
            _CLAIM + "RETURNING 1", (channel, update_key, ts(now), ts(now))
        )
        return row is not None

    async def failed(self, channel: str, update_key: str, now: datetime) -> bool:
        """Count a failed attempt at a waiting update; after ``MAX_ATTEMPTS`` it is set aside
        (payload dropped, marked processed) so that it cannot block its chat forever.
        Returns True if it was set aside."""
        row = await self.db.fetchone(
            "UPDATE inbox SET attempts = attempts + 1 WHERE channel = ? AND update_key = ? "
            "AND processed_at IS NULL RETURNING attempts",
            (channel, update_key),
        )
        if row is None or row[0] < MAX_ATTEMPTS:
            return False
        await self.claim(channel, update_key, now)
        return True

    async def prune(self, before: datetime) -> int:
        """Forget processed marks older than ``before``: channels redeliver for a day at most.
        Waiting rows are never pruned. All of them in this unit of work; the scheduler prunes
        a window at a time instead (:meth:`prune_window`)."""
        pruned, after = 0, FIRST_KEY
        while after is not None:
            deleted, after = await self.prune_window(before, after)
            pruned += deleted
        return pruned

    async def prune_window(self, before: datetime, after: tuple[str, str] | None = None,
                           window: int | None = None) -> tuple[int, tuple[str, str] | None]:
        """:meth:`prune` over the next ``window`` rows in key order after ``after``, a bounded
        statement (the table has no index by time: each window is a range of its primary key).
        Returns (rows deleted, the key to go on after, or None at the end of the table)."""
        window = window or PRUNE_WINDOW
        after = after or FIRST_KEY
        end = await self.db.fetchone(
            "SELECT channel, update_key FROM inbox WHERE (channel, update_key) > (?, ?) "
            "ORDER BY channel, update_key LIMIT 1 OFFSET ?", (*after, window - 1),
        )
        if end is None:  # the last window
            deleted = await self.db.execute(
                "DELETE FROM inbox WHERE (channel, update_key) > (?, ?) AND processed_at < ?", (*after, ts(before)),
            )
            return deleted, None
        deleted = await self.db.execute(
            "DELETE FROM inbox WHERE (channel, update_key) > (?, ?) AND (channel, update_key) <= (?, ?) "
            "AND processed_at < ?", (*after, end[0], end[1], ts(before)),
        )
        return deleted, (end[0], end[1])

    async def claim_and_load_many(
        self, channel: str, updates: Sequence[tuple[str, str, str]], now: datetime
    ) -> list[tuple[bool, Member | None, Conversation]]:
        """:meth:`claim_and_load` of several updates ``(update_key, user_id, chat_id)`` of
        different chats in one unit of work (a webhook's group): their chats are held first,
        all in one statement and in one order (the keys sorted: two groups that share chats
        cannot wait for each other), then each is claimed and loaded as alone."""
        lock = self.db.dialect.chat_locks(len(updates))
        if lock:
            await self.db.execute(lock, sorted({f"{channel}:{chat}" for _, _, chat in updates}))
        if len(updates) < 2 or not self.db.dialect.modifying_ctes():
            return [await self.claim_and_load(channel, key, user, chat, now, locked=True)
                    for key, user, chat in updates]
        return await self._claim_and_load_together(channel, updates, now)

    async def _claim_and_load_together(
        self, channel: str, updates: Sequence[tuple[str, str, str]], now: datetime
    ) -> list[tuple[bool, Member | None, Conversation]]:
        """:meth:`claim_and_load_many` in one statement: the claims in a ``WITH`` (PostgreSQL),
        the senders and conversations of those claimed read beside them (the keys are
        distinct: one update per chat)."""
        json_array = self.db.dialect.json_array
        stamp = ts(now)
        values = ", ".join(f"(?, ?, ?, {n})" for n in range(len(updates)))
        linked = "EXISTS (SELECT 1 FROM identities o WHERE o.member_id = i.member_id AND o.id <> i.id)"
        rows = await self.db.fetchall(
            f"WITH v (update_key, user_id, chat_id, n) AS (VALUES {values}), claimed AS ("
            "INSERT INTO inbox (channel, update_key, seq, received_at, processed_at) "
            "SELECT ?, v.update_key, 0, ?, ? FROM v "
            "ON CONFLICT (channel, update_key) DO UPDATE SET processed_at = excluded.processed_at, payload = NULL "
            "WHERE inbox.processed_at IS NULL RETURNING update_key) "
            "SELECT v.n, "
            f"(SELECT {json_array('m.id', 'm.name', 'm.role', 'm.unit_id', 'm.status', linked)} "
            " FROM identities i JOIN members m ON m.id = i.member_id "
            " WHERE i.channel = ? AND i.external_id = v.user_id), "
            f"(SELECT {json_array('flow', 'step', 'data', 'version')} FROM conversations c "
            " WHERE c.channel = ? AND c.chat_id = v.chat_id) "
            "FROM v JOIN claimed ON claimed.update_key = v.update_key",
            [*(x for update in updates for x in update), channel, stamp, stamp, channel, channel],
        )
        found: list[tuple[bool, Member | None, Conversation]] = [(False, None, Conversation())] * len(updates)
        for n, member_json, conv_json in rows:
            found[n] = (True, *await self._loaded(channel, updates[n][1], member_json, conv_json, now))
        return found

    async def _loaded(self, channel: str, user_id: str, member_json: str | None, conv_json: str | None,
                      now: datetime) -> tuple[Member | None, Conversation]:
        """The sender and conversation a claim read (JSON arrays); a sender with another
        identity too has this one marked as used last (pushes go here)."""
        member = None
        if member_json:
            *fields, has_other = json.loads(member_json)
            member = Member(*fields)
            if has_other:  # a member on two channels is pushed to on the one used last
                await ChannelRepository(self.db).seen(channel, user_id, now)
        if conv_json:
            flow, step, data, version = json.loads(conv_json)
            return member, Conversation(flow, step, json.loads(data), version)
        return member, Conversation()

    async def claim_and_load(
        self, channel: str, update_key: str, user_id: str, chat_id: str, now: datetime, locked: bool = False
    ) -> tuple[bool, Member | None, Conversation]:
        """Claim an update and, in the same statement, load its sender and conversation; a
        sender with another identity too has this one marked as used last (pushes go here).

        The hot path of every message: one round trip. An update that waited in the inbox
        loses its payload here, in the transaction of its effects; one that never waited (the
        terminal chat) is recorded as processed. An update processed before returns no row
        (the upsert's ``WHERE`` fails), hence ``(False, None, ...)``. ``locked``: the chat is
        held already (:meth:`claim_and_load_many`).
        """
        json_array = self.db.dialect.json_array
        lock = None if locked else self.db.dialect.chat_lock()
        if lock:  # several workers: two updates of one chat are handled one after the other, never
            # side by side (each would load the same conversation and the later commit would undo
            # the earlier's step); within one worker the dispatcher already keeps them in order.
            await self.db.execute(lock, (f"{channel}:{chat_id}",))
        stamp = ts(now)
        linked = "EXISTS (SELECT 1 FROM identities o WHERE o.member_id = i.member_id AND o.id <> i.id)"
        row = await self.db.fetchone(
            _CLAIM + "RETURNING "
            f"(SELECT {json_array('m.id', 'm.name', 'm.role', 'm.unit_id', 'm.status', linked)} "
            " FROM identities i JOIN members m ON m.id = i.member_id "
            " WHERE i.channel = ? AND i.external_id = ?), "
            f"(SELECT {json_array('flow', 'step', 'data', 'version')} FROM conversations "
            " WHERE channel = ? AND chat_id = ?)",
            (channel, update_key, stamp, stamp, channel, user_id, channel, chat_id),
        )
        if row is None:
            return False, None, Conversation()
        return (True, *await self._loaded(channel, user_id, row[0], row[1], now))


# Insert-or-claim: a new key is stored as processed; a waiting one is claimed (payload
# cleared); a processed one is left alone and the statement returns no row.
_CLAIM = (
    "INSERT INTO inbox (channel, update_key, seq, received_at, processed_at) VALUES (?, ?, 0, ?, ?) "
    "ON CONFLICT (channel, update_key) DO UPDATE SET processed_at = excluded.processed_at, payload = NULL "
    "WHERE inbox.processed_at IS NULL "
)
