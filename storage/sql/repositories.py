"""Repositories: the only place that knows table and column names.

Each repository works on an :class:`~storage.sql.executor.Executor`, a tiny async SQL
interface with ``?`` placeholders, in the SQL both backends speak (``RETURNING`` for new
ids, ``ON CONFLICT``). A backend implements the executor (SQLite over aiosqlite; a
PostgreSQL backend translates the placeholders).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from storage.models import AuditEntry, Conversation, Invite, Member, NewReport, Report, Unit
from storage.sql.executor import Executor

_to_json = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False), one encoder
_LAST_TS: tuple[datetime | None, str] = (None, "")


def ts(value: datetime) -> str:
    """A moment as stored: ISO 8601 to the second. The last one is remembered: a unit of work
    stamps every row it writes with the same ``now`` object, several times per message."""
    global _LAST_TS
    last = _LAST_TS  # one read: another thread may swap the pair meanwhile
    if last[0] is value:  # identity, not equality: equal moments in two time zones differ as text
        return last[1]
    text = value.isoformat(timespec="seconds")
    _LAST_TS = (value, text)
    return text


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# The commune a row belongs to, filled in by every insert into a large table (reports, audit,
# outbox: migrations sqlite 0030 / postgres 0017), so that a national deployment can
# distribute them by commune. Each takes one parameter: a village's id, or any unit's id
# (a commune is its own; a village's is its parent; a province has none), or a member's id.
COMMUNE_OF_VILLAGE = "(SELECT cv.parent_id FROM units cv WHERE cv.id = ?)"
_COMMUNE_OF = "SELECT CASE cu.kind WHEN 'commune' THEN cu.id WHEN 'village' THEN cu.parent_id END FROM units cu "
COMMUNE_OF_UNIT = f"({_COMMUNE_OF}WHERE cu.id = ?)"
COMMUNE_OF_MEMBER = f"({_COMMUNE_OF}JOIN members cm ON cm.unit_id = cu.id WHERE cm.id = ?)"


class _Repo:
    def __init__(self, db: Executor) -> None:
        self.db = db


_UNIT_COLS = "id, kind, parent_id, code, name, households, adults, active"


def _unit(row: tuple[Any, ...]) -> Unit:
    return Unit(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]))


class UnitRepository(_Repo):
    async def add(
        self,
        kind: str,
        code: str,
        name: str,
        parent_id: int | None = None,
        households: int | None = None,
        adults: int | None = None,
    ) -> Unit:
        unit_id = await self.db.new_id(
            "INSERT INTO units (kind, parent_id, code, name, households, adults) VALUES (?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (kind, parent_id, code, name, households, adults),
        )
        return Unit(unit_id, kind, parent_id, code, name, households, adults)

    async def get(self, unit_id: int) -> Unit | None:
        row = await self.db.fetchone(f"SELECT {_UNIT_COLS} FROM units WHERE id = ?", (unit_id,))
        return _unit(row) if row else None

    async def by_code(self, kind: str, code: str, parent_id: int | None = None) -> Unit | None:
        if parent_id is None:
            row = await self.db.fetchone(
                f"SELECT {_UNIT_COLS} FROM units WHERE kind = ? AND code = ?", (kind, code)
            )
        else:
            row = await self.db.fetchone(
                f"SELECT {_UNIT_COLS} FROM units WHERE kind = ? AND code = ? AND parent_id = ?",
                (kind, code, parent_id),
            )
        return _unit(row) if row else None

    async def update(self, unit_id: int, name: str, households: int | None, adults: int | None) -> None:
        await self.db.execute(
            "UPDATE units SET name = ?, households = ?, adults = ? WHERE id = ?", (name, households, adults, unit_id)
        )

    async def set_active(self, unit_id: int, active: bool) -> None:
        await self.db.execute("UPDATE units SET active = ? WHERE id = ?", (int(active), unit_id))

    async def children(self, parent_id: int) -> list[Unit]:
        rows = await self.db.fetchall(
            f"SELECT {_UNIT_COLS} FROM units WHERE parent_id = ? ORDER BY name", (parent_id,)
        )
        return [_unit(r) for r in rows]

    async def many(self, unit_ids: Sequence[int]) -> list[Unit]:
        """The units with these ids (in no particular order; ids of no unit left out)."""
        if not unit_ids:
            return []
        rows = await self.db.fetchall(
            f"SELECT {_UNIT_COLS} FROM units WHERE id IN ({','.join('?' * len(unit_ids))})", tuple(unit_ids))
        return [_unit(r) for r in rows]

    async def village_figures(self, parent_ids: Sequence[int]) -> list[tuple[int, int, int, int]]:
        """Per unit of ``parent_ids`` that has villages (a province's communes): ``(its id, how
        many villages, their households, their adults)``, a village without a figure counting 0.
        Read from the index ``units_children`` alone (sqlite 0070 / postgres 0050)."""
        if not parent_ids:
            return []
        rows = await self.db.fetchall(
            "SELECT parent_id, COUNT(*), COALESCE(SUM(households), 0), COALESCE(SUM(adults), 0) FROM units "
            f"WHERE parent_id IN ({','.join('?' * len(parent_ids))}) AND kind = 'village' GROUP BY parent_id",
            tuple(parent_ids),
        )
        return [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    async def grandchildren(self, grandparent_id: int, kind: str) -> list[Unit]:
        """The units of ``kind`` under each child of ``grandparent_id`` (a province's villages),
        ordered as :meth:`children` of each child in turn: the children's ids first, then their
        children in one query on those ids (index ``units_children``, sqlite 0070 / postgres
        0050). Joined in one query instead, PostgreSQL guessed a few dozen rows and scanned every
        unit of the country for a province's 3,000 villages."""
        parents = [row[0] for row in await self.db.fetchall(
            "SELECT id FROM units WHERE parent_id = ? ORDER BY name, id", (grandparent_id,))]
        if not parents:
            return []
        rows = await self.db.fetchall(
            f"SELECT {_UNIT_COLS} FROM units WHERE parent_id IN ({','.join('?' * len(parents))}) AND kind = ? "
            "ORDER BY parent_id, name, id",
            (*parents, kind),
        )
        place = {parent: index for index, parent in enumerate(parents)}
        rows.sort(key=lambda row: place[row[2]])  # stable: by name within each child
        return [_unit(r) for r in rows]


_MEMBER_COLS = "m.id, m.name, m.role, m.unit_id, m.status"


def _member(row: tuple[Any, ...]) -> Member:
    return Member(row[0], row[1], row[2], row[3], row[4])


class MemberRepository(_Repo):
    async def add(self, name: str | None, role: str, unit_id: int, now: datetime) -> Member:
        member_id = await self.db.new_id(
            "INSERT INTO members (name, role, unit_id, created_at) VALUES (?, ?, ?, ?) RETURNING id",
            (name, role, unit_id, ts(now)),
        )
        return Member(member_id, name, role, unit_id)

    async def get(self, member_id: int) -> Member | None:
        row = await self.db.fetchone(f"SELECT {_MEMBER_COLS} FROM members m WHERE m.id = ?", (member_id,))
        return _member(row) if row else None

    async def by_identity(self, channel: str, external_id: str) -> Member | None:
        row = await self.db.fetchone(
            f"SELECT {_MEMBER_COLS} FROM identities i JOIN members m ON m.id = i.member_id "
            "WHERE i.channel = ? AND i.external_id = ?",
            (channel, external_id),
        )
        return _member(row) if row else None

    async def by_name(self, name: str) -> Member | None:
        row = await self.db.fetchone(
            f"SELECT {_MEMBER_COLS} FROM members m WHERE m.name = ? ORDER BY m.id LIMIT 1", (name,)
        )
        return _member(row) if row else None

    async def in_unit(self, unit_id: int) -> list[Member]:
        rows = await self.db.fetchall(
            f"SELECT {_MEMBER_COLS} FROM members m WHERE m.unit_id = ? ORDER BY m.id", (unit_id,)
        )
        return [_member(r) for r in rows]

    async def set_role(self, member_id: int, role: str) -> None:
        await self.db.execute("UPDATE members SET role = ? WHERE id = ?", (role, member_id))

    async def set_status(self, member_id: int, status: str) -> None:
        await self.db.execute("UPDATE members SET status = ? WHERE id = ?", (status, member_id))

    async def roster(self, commune_id: int | None = None) -> list[tuple[Any, ...]]:
        """Members with unit, channels and last report day, for export (no resident data exists)."""
        where, params = "", ()
        if commune_id is not None:
            where, params = "WHERE u.id = ? OR u.parent_id = ?", (commune_id, commune_id)
        return await self.db.fetchall(
            "SELECT m.id, m.name, m.role, u.code, u.name, m.status, m.created_at, "
            f" (SELECT {self.db.dialect.group_concat('i.channel', ' ')} FROM identities i WHERE i.member_id = m.id), "
            " (SELECT MAX(r.occurred_on) FROM reports r WHERE r.member_id = m.id AND r.voided_at IS NULL) "
            f"FROM members m JOIN units u ON u.id = m.unit_id {where} ORDER BY u.code, m.id",
            params,
        )

    async def page(self, unit_ids: Sequence[int], after: int | None, limit: int) -> list[tuple[Any, ...]]:
        """One page of a roster: up to ``limit`` members of ``unit_ids`` (forgotten ones left out),
        unit after unit in the order given and by number within a unit, starting just after member
        ``after`` (the last one of the previous page; None: from the start).

        Rows as :meth:`roster` (id, name, role, unit id, status, channels, last live report day).
        Keyset pagination: each unit is an index range (``members_unit``) read with a LIMIT, only
        as far as the page goes; channels and last report day are looked up for these rows only.
        """
        units, after_id = list(unit_ids), 0
        if after is not None:
            row = await self.db.fetchone("SELECT unit_id FROM members WHERE id = ?", (after,))
            if row is None or row[0] not in units:
                return []
            units, after_id = units[units.index(row[0]):], after
        rows: list[tuple[Any, ...]] = []
        channels = self.db.dialect.group_concat("i.channel", " ")
        for unit_id in units:
            rows += await self.db.fetchall(
                "SELECT m.id, m.name, m.role, m.unit_id, m.status, "
                f" (SELECT {channels} FROM identities i WHERE i.member_id = m.id), "
                " (SELECT MAX(r.occurred_on) FROM reports r WHERE r.member_id = m.id AND r.voided_at IS NULL) "
                "FROM members m WHERE m.unit_id = ? AND m.id > ? AND m.status <> 'forgotten' ORDER BY m.id LIMIT ?",
                (unit_id, after_id, limit - len(rows)),
            )
            after_id = 0
            if len(rows) >= limit:
                break
        return rows

    async def forget(self, member_id: int) -> list[tuple[str, str]]:
        """Erase a member's personal data (name, channel ids, chat state); reports stay as anonymous counts.

        Returns the (channel, chat id) pairs that were unlinked.
        """
        chats = [
            (r[0], r[1])
            for r in await self.db.fetchall("SELECT channel, chat_id FROM identities WHERE member_id = ?", (member_id,))
        ]
        for channel, chat_id in chats:
            await self.db.execute("DELETE FROM conversations WHERE channel = ? AND chat_id = ?", (channel, chat_id))
        await self.db.execute("DELETE FROM identities WHERE member_id = ?", (member_id,))
        await self.db.execute("DELETE FROM link_codes WHERE member_id = ?", (member_id,))
        await self.db.execute("UPDATE members SET name = NULL, status = 'forgotten' WHERE id = ?", (member_id,))
        return chats

    async def link_identity(
        self, member_id: int, channel: str, external_id: str, chat_id: str, now: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO identities (member_id, channel, external_id, chat_id, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (member_id, channel, external_id, chat_id, ts(now)),
        )

    async def set_identity_active(self, channel: str, chat_id: str, active: bool) -> int:
        return await self.db.execute(
            "UPDATE identities SET active = ? WHERE channel = ? AND chat_id = ?",
            (int(active), channel, chat_id),
        )


_INVITE_COLS = "code, unit_id, role, expires_at, max_uses, uses, revoked_at"


def _invite(row: tuple[Any, ...]) -> Invite:
    return Invite(row[0], row[1], row[2], datetime.fromisoformat(row[3]), row[4], row[5], _dt(row[6]))


class InviteRepository(_Repo):
    async def add(
        self,
        code: str,
        unit_id: int,
        role: str,
        expires_at: datetime,
        max_uses: int,
        now: datetime,
        created_by: int | None = None,
    ) -> Invite:
        await self.db.execute(
            "INSERT INTO invites (code, unit_id, role, expires_at, max_uses, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (code, unit_id, role, ts(expires_at), max_uses, created_by, ts(now)),
        )
        return Invite(code, unit_id, role, expires_at, max_uses, 0)

    async def get(self, code: str) -> Invite | None:
        row = await self.db.fetchone(f"SELECT {_INVITE_COLS} FROM invites WHERE code = ?", (code,))
        return _invite(row) if row else None

    async def for_unit(self, unit_id: int) -> list[Invite]:
        rows = await self.db.fetchall(
            f"SELECT {_INVITE_COLS} FROM invites WHERE unit_id = ? ORDER BY created_at", (unit_id,)
        )
        return [_invite(r) for r in rows]

    async def usable_page(self, unit_ids: Sequence[int], now: datetime, after: str | None,
                          limit: int) -> list[Invite]:
        """Invites of ``unit_ids`` still usable at ``now``, oldest first, from just after code
        ``after`` (the last one of the previous page; None: from the start), at most ``limit``."""
        if not unit_ids:
            return []
        marks = ", ".join("?" * len(unit_ids))
        where, params = "", [*unit_ids, ts(now.astimezone(UTC))]
        if after is not None:
            row = await self.db.fetchone("SELECT created_at FROM invites WHERE code = ?", (after,))
            if row is None:
                return []
            where, params = " AND (created_at > ? OR (created_at = ? AND code > ?))", [*params, row[0], row[0], after]
        rows = await self.db.fetchall(
            f"SELECT {_INVITE_COLS} FROM invites WHERE unit_id IN ({marks}) AND revoked_at IS NULL "
            f"AND uses < max_uses AND expires_at > ?{where} ORDER BY created_at, code LIMIT ?",
            (*params, limit),
        )
        return [_invite(r) for r in rows]

    async def revoke(self, code: str, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE invites SET revoked_at = ? WHERE code = ? AND revoked_at IS NULL", (ts(now), code)
        )
        return changed == 1

    async def use(self, code: str) -> bool:
        """Count one use, only if the invite still has uses left (safe under concurrency)."""
        changed = await self.db.execute(
            "UPDATE invites SET uses = uses + 1 WHERE code = ? AND uses < max_uses AND revoked_at IS NULL",
            (code,),
        )
        return changed == 1


_REPORT_COLS = (
    "id, batch_id, member_id, village_id, service, count, occurred_on, created_at, source, "
    "voided_at, voided_by, void_reason, supersedes"
)


def _report(row: tuple[Any, ...]) -> Report:
    return Report(
        row[0], row[1], row[2], row[3], row[4], row[5], date.fromisoformat(row[6]),
        datetime.fromisoformat(row[7]), row[8], _dt(row[9]), row[10], row[11], row[12],
    )


class ReportRepository(_Repo):
    async def add_batch(
        self,
        batch_id: str,
        member_id: int,
        village_id: int,
        items: Sequence[NewReport],
        occurred_on: date,
        source: str,
        now: datetime,
        entered_by: int | None = None,
    ) -> None:
        """Append one report per item; ``entered_by`` is set when someone reports on the member's behalf.
        One statement of one row per item (a call of the driver's, not one per row)."""
        if not items:
            return
        day, stamp = occurred_on.isoformat(), ts(now)
        values = ", ".join([f"(?, ?, ?, ?, ?, ?, ?, ?, ?, {COMMUNE_OF_VILLAGE})"] * len(items))
        await self.db.append(
            "INSERT INTO reports (batch_id, member_id, village_id, service, count, occurred_on, "
            "created_at, source, entered_by, commune_id)", values,
            [value for it in items for value in
             (batch_id, member_id, village_id, it.service, it.count, day, stamp, source, entered_by, village_id)],
        )

    async def get(self, report_id: int) -> Report | None:
        row = await self.db.fetchone(f"SELECT {_REPORT_COLS} FROM reports WHERE id = ?", (report_id,))
        return _report(row) if row else None

    async def recent(self, village_ids: Sequence[int], limit: int) -> list[tuple[Report, str | None]]:
        """The latest live reports of these villages, with the reporter's display name."""
        if not village_ids:
            return []
        marks = ", ".join("?" * len(village_ids))
        cols = ", ".join(f"r.{c.strip()}" for c in _REPORT_COLS.split(","))
        rows = await self.db.fetchall(
            f"SELECT {cols}, m.name FROM reports r JOIN members m ON m.id = r.member_id "
            f"WHERE r.village_id IN ({marks}) AND r.voided_at IS NULL ORDER BY r.id DESC LIMIT ?",
            (*village_ids, limit),
        )
        return [(_report(r[:-1]), r[-1]) for r in rows]

    async def recent_page(self, village_ids: Sequence[int], before: int | None,
                          limit: int) -> list[tuple[Report, str | None]]:
        """The latest live reports of these villages, newest first, with the reporter's display
        name: at most ``limit``, older than report ``before`` (the last one of the previous page;
        None: from the newest).

        Keyset pagination over ``reports_village_recent`` (village, id; live rows only, migration
        0013): each village gives its newest ``limit`` ids below ``before`` from the index alone,
        the merge keeps the newest ``limit`` of those, and only these rows are read.
        """
        below = before if before is not None else 1 << 62
        ids: list[int] = []
        for village_id in village_ids:
            ids += [r[0] for r in await self.db.fetchall(
                "SELECT id FROM reports WHERE village_id = ? "
                "AND voided_at IS NULL AND id < ? ORDER BY id DESC LIMIT ?",
                (village_id, below, limit),
            )]
        ids = sorted(ids, reverse=True)[:limit]
        if not ids:
            return []
        cols = ", ".join(f"r.{c.strip()}" for c in _REPORT_COLS.split(","))
        rows = await self.db.fetchall(
            f"SELECT {cols}, m.name FROM reports r JOIN members m ON m.id = r.member_id "
            f"WHERE r.id IN ({', '.join('?' * len(ids))}) ORDER BY r.id DESC",
            ids,
        )
        return [(_report(r[:-1]), r[-1]) for r in rows]

    async def void_one(self, report_id: int, by: int, reason: str, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE reports SET voided_at = ?, voided_by = ?, void_reason = ? WHERE id = ? AND voided_at IS NULL",
            (ts(now), by, reason, report_id),
        )
        return changed == 1

    async def supersede(self, old: Report, count: int, by: int, reason: str, now: datetime) -> int | None:
        """Correct a live report's count: void it with the reason and append its replacement
        (same reporter, village, service, day and batch; ``entered_by`` the corrector,
        ``supersedes`` the old row). The new row's id, or None if the report was voided already."""
        if not await self.void_one(old.id, by, reason, now):
            return None
        return await self.db.new_id(
            "INSERT INTO reports (batch_id, member_id, village_id, service, count, occurred_on, created_at, source, "
            f"entered_by, supersedes, commune_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {COMMUNE_OF_VILLAGE}) "
            "RETURNING id",
            (old.batch_id, old.member_id, old.village_id, old.service, count, old.occurred_on.isoformat(), ts(now),
             old.source, by, old.id, old.village_id),
        )

    async def batch(self, batch_id: str, member_id: int) -> list[Report]:
        """A member's batch. Batch ids are short and random: unique per member, not across all members."""
        rows = await self.db.fetchall(
            f"SELECT {_REPORT_COLS} FROM reports WHERE member_id = ? AND batch_id = ? ORDER BY id",
            (member_id, batch_id),
        )
        return [_report(r) for r in rows]

    async def last_live_batch(self, member_id: int, since: datetime) -> list[Report]:
        """The member's most recent batch that is not voided, recorded after ``since``."""
        row = await self.db.fetchone(
            "SELECT batch_id FROM reports WHERE member_id = ? AND created_at >= ? AND voided_at IS NULL "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (member_id, ts(since)),
        )
        return await self.batch(row[0], member_id) if row else []

    async def same_batch_since(self, member_id: int, day: date, items: Sequence[NewReport],
                               since: datetime) -> datetime | None:
        """When the member's earliest live batch for ``day`` with exactly these items was
        recorded after ``since``, if there is one: a repeat. Runs on every text report, so
        it first narrows to batches holding the first item (usually none), through the
        (member, created_at) index."""
        first = items[0]
        candidates = await self.db.fetchall(
            "SELECT batch_id, created_at FROM reports WHERE member_id = ? AND created_at >= ? AND occurred_on = ? "
            "AND service = ? AND count = ? AND voided_at IS NULL ORDER BY created_at",
            (member_id, ts(since), day.isoformat(), first.service, first.count),
        )
        wanted = sorted((it.service, it.count) for it in items)
        for batch_id, created_at in candidates:
            rows = await self.db.fetchall(
                "SELECT service, count FROM reports WHERE member_id = ? AND batch_id = ? AND occurred_on = ? "
                "AND voided_at IS NULL",  # a line naming several days is one batch: its rows of this day
                (member_id, batch_id, day.isoformat()),
            )
            if sorted((r[0], r[1]) for r in rows) == wanted:
                return datetime.fromisoformat(created_at)
        return None

    async def void_batch(self, batch_id: str, by: int, reason: str, now: datetime) -> int:
        """Member ``by`` voids their own batch (the live rows of it); returns how many."""
        return await self.db.execute(
            "UPDATE reports SET voided_at = ?, voided_by = ?, void_reason = ? "
            "WHERE member_id = ? AND batch_id = ? AND voided_at IS NULL",
            (ts(now), by, reason, by, batch_id),
        )

    async def member_totals(self, member_id: int, start: date, end: date) -> dict[str, int]:
        """Live households per service for a member, ``start`` to ``end`` inclusive."""
        rows = await self.db.fetchall(
            "SELECT service, SUM(count) FROM reports WHERE member_id = ? AND voided_at IS NULL "
            "AND occurred_on BETWEEN ? AND ? GROUP BY service",
            (member_id, start.isoformat(), end.isoformat()),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def all_for_village(self, village_id: int) -> list[Report]:
        rows = await self.db.fetchall(
            f"SELECT {_REPORT_COLS} FROM reports WHERE village_id = ? AND voided_at IS NULL UNION ALL "
            f"SELECT {_REPORT_COLS} FROM reports WHERE village_id = ? AND voided_at IS NOT NULL ORDER BY 1",
            (village_id, village_id),
        )
        return [_report(r) for r in rows]

    async def count(self, live_only: bool = True) -> int:
        where = " WHERE voided_at IS NULL" if live_only else ""
        row = await self.db.fetchone(f"SELECT COUNT(*) FROM reports{where}")
        return int(row[0]) if row else 0


class ConversationRepository(_Repo):
    async def lock(self, channel: str, chat_id: str) -> None:
        """Hold the chat until the unit of work ends, as the engine does for each update (several
        workers: PostgreSQL's advisory lock; SQLite has one writer anyway)."""
        lock = self.db.dialect.chat_lock()
        if lock:
            await self.db.execute(lock, (f"{channel}:{chat_id}",))

    async def load(self, channel: str, chat_id: str) -> Conversation:
        row = await self.db.fetchone(
            "SELECT flow, step, data, version FROM conversations WHERE channel = ? AND chat_id = ?",
            (channel, chat_id),
        )
        if not row:
            return Conversation()
        return Conversation(row[0], row[1], json.loads(row[2]), row[3])

    async def save(self, channel: str, chat_id: str, conv: Conversation, now: datetime) -> None:
        await self.db.execute(_SAVE_CONVERSATION, (channel, chat_id, conv.flow, conv.step, _to_json(conv.data),
                                                   conv.version, ts(now)))

    async def save_many(self, channel: str, convs: Sequence[tuple[str, Conversation]], now: datetime) -> None:
        """:meth:`save` of several chats' conversations (a webhook group's, at its end) in one call."""
        await self.db.executemany(_SAVE_CONVERSATION, [
            (channel, chat_id, conv.flow, conv.step, _to_json(conv.data), conv.version, ts(now))
            for chat_id, conv in convs])


_SAVE_CONVERSATION = (
    "INSERT INTO conversations (channel, chat_id, flow, step, data, version, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, chat_id) DO UPDATE SET "
    "flow = excluded.flow, step = excluded.step, data = excluded.data, "
    "version = excluded.version, updated_at = excluded.updated_at"
)


class AuditRepository(_Repo):
    async def add(
        self,
        actor_id: int | None,
        action: str,
        obj: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
        unit_id: int | None = None,
    ) -> None:
        """Record an administrative action; ``unit_id`` is the commune (or unit) it belongs to."""
        await self.db.execute(
            f"INSERT INTO audit (actor_id, action, object, at, detail, unit_id, commune_id) "
            f"VALUES (?, ?, ?, ?, ?, ?, {COMMUNE_OF_UNIT})",
            (actor_id, action, obj, ts(now), json.dumps(detail, ensure_ascii=False) if detail else None, unit_id,
             unit_id),
        )

    async def latest(self, limit: int = 20, unit_ids: Sequence[int] | None = None) -> list[AuditEntry]:
        """Newest first; only rows of ``unit_ids`` when given (a commune and its villages)."""
        sql = (
            "SELECT a.at, a.action, a.object, a.detail, m.name, a.actor_id FROM audit a "
            "LEFT JOIN members m ON m.id = a.actor_id"
        )
        params: list[Any] = []
        if unit_ids is not None:
            sql += f" WHERE a.unit_id IN ({', '.join('?' * len(unit_ids))})"
            params.extend(unit_ids)
        rows = await self.db.fetchall(sql + " ORDER BY a.id DESC LIMIT ?", (*params, limit))
        return [AuditEntry(datetime.fromisoformat(r[0]), r[1], r[2], json.loads(r[3]) if r[3] else {}, r[4], r[5])
                for r in rows]
