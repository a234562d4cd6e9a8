"""``tcns db copy``: every table of one database into another, ids kept, in bounded memory.

A commune that outgrows its SQLite file moves to PostgreSQL (or back) in one command. The
target is a database tcns has migrated and nothing has written yet. Tables go parents
first (by their foreign keys), each read in chunks by key in a unit of work of its own on the
source and written in one on the target; then the target's id generators are moved past
the copied ids, and every table is counted on both sides.

Tables the target keeps by itself are not copied: the migrations' bookkeeping (each backend
numbers its own) and the roll-ups its triggers fill as the reports arrive (``DERIVED``).
Those are compared like the others afterwards, so the copy also checks that the source's
roll-up agreed with its reports. Run it with the bot stopped: a report written meanwhile
would show as a count that differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from storage import Database
from storage.sql.schema import Table

CHUNK = 5_000  # rows read and written per unit of work
BOOKKEEPING = ("schema_migrations",)
DERIVED = ("report_months",)  # kept by triggers on reports (sqlite 0007 / postgres 0001)


class CopyRefused(RuntimeError):
    """The copy did not start: the target is not empty (``not_empty``), lacks a table or column of
    the source (``schema``), or the tables reference each other in a ``cycle``; ``tables`` which."""

    def __init__(self, reason: str, tables: list[str]) -> None:
        super().__init__(f"{reason}: {', '.join(tables)}")
        self.reason, self.tables = reason, tables


@dataclass(frozen=True)
class Copied:
    """One table after the copy: its rows on each side (``derived``: filled by the target itself)."""

    table: str
    source: int
    target: int
    derived: bool = False

    @property
    def matches(self) -> bool:
        return self.source == self.target


def in_order(tables: list[Table], references: set[tuple[str, str]]) -> list[Table]:
    """``tables`` with every table after those it references (a table may reference itself)."""
    by_name = {t.name: t for t in tables}
    needs = {t.name: {b for a, b in references if a == t.name and b != t.name and b in by_name} for t in tables}
    ordered: list[Table] = []
    while needs:
        ready = sorted(name for name, parents in needs.items() if not parents)
        if not ready:
            raise CopyRefused("cycle", sorted(needs))
        for name in ready:
            ordered.append(by_name[name])
            del needs[name]
        for parents in needs.values():
            parents.difference_update(ready)
    return ordered


async def _plan(source: Database, target: Database) -> list[Table]:
    async def catalogue(uow) -> tuple[list[Table], set[tuple[str, str]]]:  # type: ignore[no-untyped-def]
        return await uow.schema.tables(), await uow.schema.references()

    tables, references = await source.run(catalogue)
    theirs, _ = await target.run(catalogue)
    columns = {t.name: set(t.columns) for t in theirs}
    missing = [t.name for t in tables if t.name not in BOOKKEEPING and not set(t.columns) <= columns.get(t.name, set())]
    if missing:
        raise CopyRefused("schema", missing)

    async def counts(uow) -> dict[str, int]:  # type: ignore[no-untyped-def]
        return {t.name: await uow.schema.count(t.name) for t in theirs if t.name not in BOOKKEEPING}

    filled = sorted(name for name, rows in (await target.run(counts)).items() if rows)
    if filled:
        raise CopyRefused("not_empty", filled)
    return [t for t in in_order(tables, references) if t.name not in BOOKKEEPING]


async def copy_database(source: Database, target: Database, chunk: int = CHUNK,
                        progress: Callable[[str, int], None] | None = None) -> list[Copied]:
    """Copy every table of ``source`` into the empty ``target``; the count of each table on both
    sides (raises :class:`CopyRefused` before writing anything if the target is not empty or
    lacks a table or column of the source). ``progress(table, rows so far)`` after each chunk."""
    tables = await _plan(source, target)
    for table in tables:
        if table.name in DERIVED:
            continue
        after, done = None, 0
        while True:
            rows = await source.run(lambda uow, t=table, a=after: uow.schema.read(t, a, chunk))
            if not rows:
                break
            await target.run(lambda uow, t=table, r=rows: uow.schema.write(t.name, t.columns, r))
            done += len(rows)
            if progress is not None:
                progress(table.name, done)
            if not table.key or len(rows) < chunk:
                break
            after = source_key(table, rows[-1])
            await target.bulk_pause()
    await target.run(lambda uow: uow.schema.sync_ids())
    return await compare(source, target, [t.name for t in tables])


def source_key(table: Table, row: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(row[table.columns.index(c)] for c in table.key)


async def compare(source: Database, target: Database, names: list[str]) -> list[Copied]:
    """Each table's rows on both sides."""
    async def counts(uow) -> list[int]:  # type: ignore[no-untyped-def]
        return [await uow.schema.count(name) for name in names]

    mine, theirs = await source.run(counts), await target.run(counts)
    return [Copied(n, a, b, n in DERIVED) for n, a, b in zip(names, mine, theirs, strict=True)]
