"""The schema as data, and tables read and written whole: what ``tcns db copy`` needs to move
every table of one database into another, whatever the two backends.

The catalogue queries differ between backends (the Executor's dialect spells them); the
reads and writes are the SQL both speak. A table is read in chunks by keyset on its primary
key (``(a, b) > (?, ?)`` row values, ordered the same), so memory stays bounded whatever its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.sql.executor import Executor


@dataclass(frozen=True)
class Table:
    """A table of the schema: its columns in order, and those of its primary key."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SchemaRepository:
    def __init__(self, db: Executor) -> None:
        self.db = db

    async def tables(self) -> list[Table]:
        """Every table (the migrations' own bookkeeping included), by name."""
        columns: dict[str, list[str]] = {}
        keys: dict[str, list[str]] = {}
        for table, column, in_key in await self.db.fetchall(self.db.dialect.columns_sql()):
            columns.setdefault(table, []).append(column)
            if in_key:
                keys.setdefault(table, []).append(column)
        return [Table(t, tuple(c), tuple(keys.get(t, ()))) for t, c in sorted(columns.items())]

    async def references(self) -> set[tuple[str, str]]:
        """``(table, referenced table)`` for every foreign key."""
        return {(a, b) for a, b in await self.db.fetchall(self.db.dialect.references_sql())}

    async def count(self, table: str) -> int:
        row = await self.db.fetchone(f"SELECT COUNT(*) FROM {_quoted(table)}")
        return int(row[0]) if row else 0

    async def read(self, table: Table, after: Sequence[Any] | None, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` rows of ``table`` in key order, after the key values ``after`` (None: from
        the start). A table without a key is read whole (``limit`` ignored): none is large."""
        cols = ", ".join(_quoted(c) for c in table.columns)
        sql = f"SELECT {cols} FROM {_quoted(table.name)}"
        if not table.key:
            return await self.db.fetchall(sql)
        key = ", ".join(_quoted(c) for c in table.key)
        params: list[Any] = []
        if after is not None:
            sql += f" WHERE ({key}) > ({', '.join('?' * len(table.key))})"
            params += list(after)
        return await self.db.fetchall(f"{sql} ORDER BY {key} LIMIT ?", (*params, limit))

    async def write(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` as they are (ids included)."""
        cols = ", ".join(_quoted(c) for c in columns)
        await self.db.executemany(
            f"INSERT INTO {_quoted(table)} ({cols}) VALUES ({', '.join('?' * len(columns))})", rows
        )

    async def sync_ids(self) -> int:
        """After rows were written with their ids: each generated id starts after the largest one
        (PostgreSQL's identity sequences; SQLite's rowids need nothing). How many were moved."""
        moved = 0
        for table, column in await self.db.fetchall(self.db.dialect.identities_sql()):
            await self.db.fetchall(self.db.dialect.sync_identity_sql(_quoted(table), _quoted(column)))
            moved += 1
        return moved
