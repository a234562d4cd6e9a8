"""The reporting cycle's tables: villages' confirmations of their figures, and closed periods.

A confirmation is live until a change to its period reopens it (``reopened_at``); the row
stays as history and the next confirmation is a new row (one live row per village and
period: the ``confirmations_live`` index). A closed period is a row of ``period_locks``;
reopening it deletes the row (both are audited by the caller).

Race: a report written while staff close its period must not land in the closed period.
Every write that a closed period refuses first takes :meth:`CycleRepository.hold` (shared),
then checks :meth:`closed_on`, in the same transaction; closing and confirming take it
exclusive. On SQLite units of work run one at a time, so the check and the write are
already atomic; on PostgreSQL it is a transaction-scoped advisory lock per commune.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from storage.models import Confirmation, PeriodLock
from storage.sql.executor import Executor
from storage.sql.repositories import ts

_CONF_COLS = ("id, commune_id, village_id, period, starts_on, ends_on, confirmed_by, confirmed_at, figures, on_time, "
              "reopened_at, reopened_by, reopen_reason")
_LOCK_COLS = "commune_id, period, starts_on, ends_on, closed_by, closed_at"
HOLD_KEY = 0x7C45_1000_0000  # advisory lock keys: this + the commune id


def _confirmation(row: tuple[Any, ...]) -> Confirmation:
    return Confirmation(
        row[0], row[1], row[2], row[3], date.fromisoformat(row[4]), date.fromisoformat(row[5]), row[6],
        datetime.fromisoformat(row[7]), {k: int(v) for k, v in json.loads(row[8]).items()}, bool(row[9]),
        datetime.fromisoformat(row[10]) if row[10] else None, row[11], row[12],
    )


def _lock(row: tuple[Any, ...]) -> PeriodLock:
    return PeriodLock(row[0], row[1], date.fromisoformat(row[2]), date.fromisoformat(row[3]), row[4],
                      datetime.fromisoformat(row[5]))


_VILLAGE_LOCK_COLS = ", ".join(f"l.{c.strip()}" for c in _LOCK_COLS.split(","))


class CycleRepository:
    def __init__(self, db: Executor) -> None:
        self.db = db
        # village id -> (first, last day): what :meth:`check_village` found holds no live
        # confirmation of the village, in this transaction (one per repository), with the
        # commune held: nothing else can confirm it before the commit (:meth:`hold`), and
        # :meth:`confirm` forgets it. :meth:`reopen` then has nothing to look for.
        self._unconfirmed: dict[int, tuple[date, date]] = {}
        # (village id, day) -> check_village's first row, found by :meth:`prefetch_holds` with the
        # commune held; forgotten at every write to closed periods or confirmations here.
        self._held: dict[tuple[int, date], tuple[Any, ...]] = {}

    async def hold(self, commune_id: int, exclusive: bool = False) -> None:
        """Serialise this transaction with closing and confirming in the commune: shared for a
        write to reports, exclusive to close, reopen or confirm. Held until the commit."""
        sql = self.db.dialect.xact_lock("?", shared=not exclusive)
        if sql:
            await self.db.fetchall(sql, (HOLD_KEY + commune_id,))

    async def hold_village(self, village_id: int) -> None:
        """:meth:`hold` (shared) of the village's commune, for a write to the village's reports."""
        sql = self.db.dialect.xact_lock(f"(SELECT parent_id + {HOLD_KEY} FROM units WHERE id = ?)", shared=True)
        if sql:
            await self.db.fetchall(sql, (village_id,))

    async def check_village(self, village_id: int, days: list[date]) -> PeriodLock | None:
        """Before a write to the village's reports dated on ``days``, with its commune held
        (:meth:`hold_village`): a closed period holding one of them, if any (the earliest
        day's first), as :meth:`closed_on_village` for each day. The usual answer (none) is
        one query, which also looks for a live confirmation holding any of the days: finding
        none spares :meth:`reopen` its query after the write."""
        first, last = min(days).isoformat(), max(days).isoformat()
        row = await self.db.fetchone(
            "SELECT EXISTS (SELECT 1 FROM period_locks l WHERE l.commune_id = u.parent_id AND l.starts_on <= ? "
            "AND l.ends_on >= ?), EXISTS (SELECT 1 FROM confirmations c WHERE c.village_id = u.id "
            "AND c.reopened_at IS NULL AND c.starts_on <= ? AND c.ends_on >= ?) FROM units u WHERE u.id = ?",
            (last, first, last, first, village_id),
        )
        return await self._checked(village_id, days, row)

    async def prefetch_holds(self, village_ids: list[int], day: date) -> None:
        """Before a group of writes (a webhook group's reports): :meth:`hold_and_check_village`
        of every village for ``day``, in one statement on PostgreSQL (its function once per
        village, the villages in order). Each later call for one of them and that day alone is
        answered from here, as the commune stays held until the commit; a write here to closed
        periods or confirmations forgets them all. Nothing to do on SQLite (no holds)."""
        sql = self.db.dialect.hold_and_check() if village_ids else None
        if sql is None:
            return
        stamp = day.isoformat()
        rows = await self.db.fetchall(
            "SELECT v.id, c.closed, c.confirmed FROM unnest(?::bigint[]) WITH ORDINALITY AS v(id, n) "
            "CROSS JOIN LATERAL tcns_hold_and_check(v.id, ?, ?, ?) AS c ORDER BY v.n",
            (sorted(set(village_ids)), HOLD_KEY, stamp, stamp),
        )
        for village_id, closed, confirmed in rows:
            self._held[(village_id, day)] = (closed, confirmed)

    async def hold_and_check_village(self, village_id: int, days: list[date]) -> PeriodLock | None:
        """:meth:`hold_village` then :meth:`check_village` (same answer, same effect on
        :meth:`reopen`); on PostgreSQL one round trip, the check seeing everything committed
        before the hold was granted (a function: :meth:`~storage.sql.executor.Dialect.hold_and_check`)."""
        if days and (row := self._held.get((village_id, days[0]))) is not None and all(d == days[0] for d in days):
            return await self._checked(village_id, days, row)
        sql = self.db.dialect.hold_and_check() if days else None
        if sql is None:
            await self.hold_village(village_id)
            return await self.check_village(village_id, days) if days else None
        row = await self.db.fetchone(sql, (village_id, HOLD_KEY, min(days).isoformat(), max(days).isoformat()))
        return await self._checked(village_id, days, row)

    async def _checked(self, village_id: int, days: list[date], row: tuple[Any, ...] | None) -> PeriodLock | None:
        """:meth:`check_village`'s answer from its first query's row (None: no such village)."""
        if row is not None and not row[1]:
            self._unconfirmed[village_id] = (min(days), max(days))
        if row is not None and not row[0]:
            return None  # no closed period meets the days at all
        for day in sorted(set(days)):
            lock = await self.closed_on_village(village_id, day)
            if lock is not None:
                return lock
        return None

    async def closed_on_village(self, village_id: int, day: date) -> PeriodLock | None:
        """:meth:`closed_on` for the village's commune (one query, from the village's id)."""
        row = await self.db.fetchone(
            f"SELECT {_VILLAGE_LOCK_COLS} FROM period_locks l JOIN units u ON u.parent_id = l.commune_id "
            "WHERE u.id = ? AND l.starts_on <= ? AND l.ends_on >= ? ORDER BY l.ends_on DESC LIMIT 1",
            (village_id, day.isoformat(), day.isoformat()),
        )
        return _lock(row) if row else None

    # Confirmations ------------------------------------------------------------------------------
    async def confirm(self, commune_id: int, village_id: int, period: str, starts_on: date, ends_on: date,
                      by: int, now: datetime, figures: dict[str, int], on_time: bool) -> Confirmation | None:
        """A new live confirmation; None if the village's period is confirmed already."""
        self._held.clear()
        self._unconfirmed.clear()
        changed = await self.db.execute(
            "INSERT INTO confirmations (commune_id, village_id, period, starts_on, ends_on, confirmed_by, "
            "confirmed_at, figures, on_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (commune_id, village_id, period, starts_on.isoformat(), ends_on.isoformat(), by, ts(now),
             json.dumps(figures, sort_keys=True), int(on_time)),
        )
        return await self.confirmation(village_id, period) if changed == 1 else None

    async def confirmation(self, village_id: int, period: str) -> Confirmation | None:
        """The village's live confirmation of the period, if any."""
        row = await self.db.fetchone(
            f"SELECT {_CONF_COLS} FROM confirmations WHERE village_id = ? AND period = ? AND reopened_at IS NULL",
            (village_id, period),
        )
        return _confirmation(row) if row else None

    async def confirmations(self, commune_id: int, period: str) -> dict[int, Confirmation]:
        """Live confirmations of the period in the commune, by village id."""
        rows = await self.db.fetchall(
            f"SELECT {_CONF_COLS} FROM confirmations WHERE commune_id = ? AND period = ? AND reopened_at IS NULL",
            (commune_id, period),
        )
        return {c.village_id: c for c in map(_confirmation, rows)}

    async def confirmed_villages(self, commune_id: int, period: str) -> set[int]:
        rows = await self.db.fetchall(
            "SELECT village_id FROM confirmations WHERE commune_id = ? AND period = ? AND reopened_at IS NULL",
            (commune_id, period),
        )
        return {r[0] for r in rows}

    async def history(self, village_id: int, period: str) -> list[Confirmation]:
        """Every confirmation of the village's period, reopened ones included, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_CONF_COLS} FROM confirmations WHERE village_id = ? AND period = ? ORDER BY id",
            (village_id, period),
        )
        return [_confirmation(r) for r in rows]

    async def reopen(self, village_id: int, days: list[date], by: int | None, reason: str,
                     now: datetime) -> list[Confirmation]:
        """Reopen the village's live confirmations of every period holding one of ``days``
        (a report, void or correction dated there changed its figures); the ones reopened."""
        known = self._unconfirmed.get(village_id)
        if known is not None and days and known[0] <= min(days) and max(days) <= known[1]:
            return []  # none holds these days: checked in this transaction, with the commune held
        found: dict[int, Confirmation] = {}
        for day in sorted(set(days)):
            rows = await self.db.fetchall(
                f"SELECT {_CONF_COLS} FROM confirmations WHERE village_id = ? AND reopened_at IS NULL "
                "AND starts_on <= ? AND ends_on >= ?",
                (village_id, day.isoformat(), day.isoformat()),
            )
            for row in rows:
                found.setdefault(row[0], _confirmation(row))
        if found:
            self._held.clear()
        for confirmation in found.values():
            await self.db.execute(
                "UPDATE confirmations SET reopened_at = ?, reopened_by = ?, reopen_reason = ? "
                "WHERE id = ? AND reopened_at IS NULL",
                (ts(now), by, reason, confirmation.id),
            )
        return list(found.values())

    # Closed periods ------------------------------------------------------------------------------
    async def close(self, commune_id: int, period: str, starts_on: date, ends_on: date, by: int | None,
                    now: datetime) -> bool:
        """Close a period; False if it is closed already."""
        self._held.clear()
        changed = await self.db.execute(
            f"INSERT INTO period_locks ({_LOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (commune_id, period, starts_on.isoformat(), ends_on.isoformat(), by, ts(now)),
        )
        return changed == 1

    async def reopen_period(self, commune_id: int, period: str) -> bool:
        """Reopen a closed period; False if it was not closed."""
        self._held.clear()
        changed = await self.db.execute(
            "DELETE FROM period_locks WHERE commune_id = ? AND period = ?", (commune_id, period))
        return changed == 1

    async def lock(self, commune_id: int, period: str) -> PeriodLock | None:
        row = await self.db.fetchone(
            f"SELECT {_LOCK_COLS} FROM period_locks WHERE commune_id = ? AND period = ?", (commune_id, period))
        return _lock(row) if row else None

    async def locks(self, commune_id: int) -> list[PeriodLock]:
        rows = await self.db.fetchall(
            f"SELECT {_LOCK_COLS} FROM period_locks WHERE commune_id = ? ORDER BY starts_on, period", (commune_id,))
        return [_lock(r) for r in rows]

    async def closed_on(self, commune_id: int, day: date) -> PeriodLock | None:
        """A closed period of the commune that holds ``day``, if there is one."""
        row = await self.db.fetchone(
            f"SELECT {_LOCK_COLS} FROM period_locks WHERE commune_id = ? AND starts_on <= ? AND ends_on >= ? "
            "ORDER BY ends_on DESC LIMIT 1",
            (commune_id, day.isoformat(), day.isoformat()),
        )
        return _lock(row) if row else None
