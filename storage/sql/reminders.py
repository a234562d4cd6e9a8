"""Reads and writes the reminder planner needs: who is reachable, who reported, weekly
figures per village, one-off deadlines added by staff, and digest preferences.

The digest's per-village weekly figures come from ``storage/tallies.py`` (the same
query as ``/tuan truoc``); only who-reported-in-a-village is asked here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from storage.models import CustomDeadline, Person
from storage.sql.executor import Executor
from storage.sql.repositories import ts

# A member on several channels is pushed to on the one they used last (``last_seen_at``, else
# when it was linked): no other reachable identity of theirs was used later.
LAST_USED = ("NOT EXISTS (SELECT 1 FROM identities o WHERE o.member_id = i.member_id AND o.active = 1 "
             "AND o.id <> i.id AND (COALESCE(o.last_seen_at, o.created_at) > COALESCE(i.last_seen_at, i.created_at) "
             "OR (COALESCE(o.last_seen_at, o.created_at) = COALESCE(i.last_seen_at, i.created_at) AND o.id > i.id)))")


class ReminderRepository:
    def __init__(self, db: Executor) -> None:
        self.db = db

    async def communes(self, code: str | None = None) -> list[tuple[int, str, str]]:
        """(id, code, name) of active communes."""
        sql = "SELECT id, code, name FROM units WHERE kind = 'commune' AND active = 1"
        params: tuple[Any, ...] = ()
        if code is not None:
            sql += " AND code = ?"
            params = (code,)
        return [(r[0], r[1], r[2]) for r in await self.db.fetchall(sql + " ORDER BY id", params)]

    async def people(self, commune_id: int, unit_ids: Sequence[int] | None = None) -> list[Person]:
        """Reachable members of the commune and of its villages; of the units ``unit_ids`` among
        them only, if given (a commune of 10,000 read in short reads of a few villages each)."""
        only, params = "", (commune_id, commune_id)
        if unit_ids is not None:
            only = f" AND m.unit_id IN ({', '.join('?' for _ in unit_ids)})"
            params = (*params, *unit_ids)
        rows = await self.db.fetchall(
            "SELECT m.id, m.name, m.role, m.unit_id, i.channel, i.chat_id FROM members m "
            "JOIN identities i ON i.member_id = m.id JOIN units u ON u.id = m.unit_id "
            f"WHERE m.status = 'active' AND i.active = 1 AND {LAST_USED} AND (u.id = ? OR (u.parent_id = ? "
            f"AND u.kind = 'village' AND u.active = 1)){only} ORDER BY m.id, i.id",
            params,
        )
        return [Person(*r) for r in rows]

    async def people_page(self, commune_id: int, unit_id: int | None, after: int, limit: int) -> list[Person]:
        """:meth:`people` of the commune (or of one of its villages, ``unit_id``) with a member id
        above ``after``, in member order, at most ``limit`` rows: a short read per page (by member
        id: ``+m.unit_id`` keeps SQLite from reading the whole commune through the unit index to sort it)."""
        scope = ("m.unit_id = ? AND (u.id = ? OR (u.parent_id = ? AND u.kind = 'village' AND u.active = 1))",
                 (unit_id, commune_id, commune_id)) if unit_id is not None and unit_id != commune_id else (
            "+m.unit_id IN (SELECT u.id FROM units u WHERE u.id = ? OR (u.parent_id = ? AND u.kind = 'village' "
            "AND u.active = 1))", (commune_id, commune_id))
        join = "JOIN units u ON u.id = m.unit_id " if unit_id is not None and unit_id != commune_id else ""
        rows = await self.db.fetchall(
            "SELECT m.id, m.name, m.role, m.unit_id, i.channel, i.chat_id FROM members m "
            f"JOIN identities i ON i.member_id = m.id {join}"
            f"WHERE m.id > ? AND m.status = 'active' AND i.active = 1 AND {LAST_USED} AND {scope[0]} "
            "ORDER BY m.id, i.id LIMIT ?",
            (after, *scope[1], limit),
        )
        return [Person(*r) for r in rows]

    async def count_people(self, commune_id: int, unit_id: int | None, besides: int) -> int:
        """How many :meth:`people` rows (reachable chats) the commune or one village has, the
        member ``besides`` left out: one counting read, no rows."""
        village = unit_id is not None and unit_id != commune_id
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM members m JOIN identities i ON i.member_id = m.id JOIN units u ON u.id = m.unit_id "
            f"WHERE m.status = 'active' AND i.active = 1 AND {LAST_USED} AND m.id <> ? "
            "AND (u.id = ? OR (u.parent_id = ? AND u.kind = 'village' AND u.active = 1))"
            + (" AND m.unit_id = ?" if village else ""),
            (besides, commune_id, commune_id, *((unit_id,) if village else ())),
        )
        return int(row[0]) if row else 0

    async def people_of_member(self, commune_id: int, member_id: int) -> list[Person]:
        """:meth:`people` of one member (their reachable chats): an index lookup, not the commune."""
        rows = await self.db.fetchall(
            "SELECT m.id, m.name, m.role, m.unit_id, i.channel, i.chat_id FROM members m "
            "JOIN identities i ON i.member_id = m.id JOIN units u ON u.id = m.unit_id "
            f"WHERE m.id = ? AND m.status = 'active' AND i.active = 1 AND {LAST_USED} "
            "AND (u.id = ? OR (u.parent_id = ? AND u.kind = 'village' AND u.active = 1)) ORDER BY i.id",
            (member_id, commune_id, commune_id),
        )
        return [Person(*r) for r in rows]

    async def reported_villages(self, commune_id: int, start: date, end: date) -> set[int]:
        """Villages with any live report (a count of 0 included) on a day from ``start`` to ``end``.

        One index probe per village (``reports_live_tally``: the first live row in the range
        is enough), not a scan of the period's reports: a yearly deadline over 1M reports
        costs what a monthly one does."""
        rows = await self.db.fetchall(
            "SELECT u.id FROM units u WHERE u.parent_id = ? AND u.kind = 'village' AND EXISTS ("
            "SELECT 1 FROM reports r WHERE r.village_id = u.id AND r.voided_at IS NULL "
            "AND r.occurred_on BETWEEN ? AND ?)",
            (commune_id, start.isoformat(), end.isoformat()),
        )
        return {r[0] for r in rows}

    async def member_totals_in_village(self, village_id: int, start: date, end: date) -> dict[int, int]:
        rows = await self.db.fetchall(
            "SELECT member_id, SUM(count) FROM reports WHERE village_id = ? AND voided_at IS NULL "
            "AND occurred_on BETWEEN ? AND ? GROUP BY member_id",
            (village_id, start.isoformat(), end.isoformat()),
        )
        return {r[0]: int(r[1]) for r in rows}

    # Preferences --------------------------------------------------------------------------
    async def digest_off(self) -> set[int]:
        return {r[0] for r in await self.db.fetchall("SELECT member_id FROM member_prefs WHERE digest = 0")}

    async def set_digest(self, member_id: int, on: bool, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO member_prefs (member_id, digest, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (member_id) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
            (member_id, int(on), ts(now)),
        )

    # One-off deadlines ------------------------------------------------------------------------
    async def add_deadline(self, commune_id: int, name: str, starts_on: date, due_on: date,
                           created_by: int | None, now: datetime) -> CustomDeadline | None:
        """None if the commune already has a deadline with this name on this day."""
        changed = await self.db.execute(
            "INSERT INTO custom_deadlines (commune_id, name, starts_on, due_on, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (commune_id, name, starts_on.isoformat(), due_on.isoformat(), created_by, ts(now)),
        )
        if changed != 1:
            return None
        row = await self.db.fetchone(
            "SELECT id FROM custom_deadlines WHERE commune_id = ? AND due_on = ? AND name = ?",
            (commune_id, due_on.isoformat(), name),
        )
        assert row is not None
        return CustomDeadline(row[0], commune_id, name, starts_on, due_on)

    async def remove_deadline(self, commune_id: int, deadline_id: int, rule: str) -> CustomDeadline | None:
        """Remove a one-off deadline of the commune (None if it has none with this number) and
        skip the reminders of it still waiting in the outbox (``rule``: the deadline's rule, unique
        as its number is)."""
        row = await self.db.fetchone(
            "SELECT id, commune_id, name, starts_on, due_on FROM custom_deadlines WHERE id = ? AND commune_id = ?",
            (deadline_id, commune_id))
        if row is None:
            return None
        await self.db.execute("DELETE FROM custom_deadlines WHERE id = ?", (deadline_id,))
        await self.db.execute("UPDATE outbox SET status = 'skipped', last_error = 'deadline removed' "
                              "WHERE rule = ? AND status = 'pending'", (rule,))
        return CustomDeadline(row[0], row[1], row[2], date.fromisoformat(row[3]), date.fromisoformat(row[4]))

    async def deadlines(self, commune_id: int) -> list[CustomDeadline]:
        rows = await self.db.fetchall(
            "SELECT id, commune_id, name, starts_on, due_on FROM custom_deadlines WHERE commune_id = ? "
            "ORDER BY due_on, id", (commune_id,),
        )
        return [CustomDeadline(r[0], r[1], r[2], date.fromisoformat(r[3]), date.fromisoformat(r[4])) for r in rows]
