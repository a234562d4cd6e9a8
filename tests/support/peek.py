"""What a test looks at in the database after the bot acted, whatever the backend.

Every read goes through the storage contract: ``db.run(work)`` and, inside it, the SQL executor
the unit of work's repositories run on (``?`` placeholders, the SQL every backend speaks). So a
test never opens the database file itself nor names a driver, and it runs unchanged on another
backend. Named reads for what many tests look at (``live_reports``, ``member_id``), plain ones
for the rest (``rows``, ``count``); ``file_rows`` and friends for a database another process
wrote (``tcns`` run as a subprocess).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from bot.runtime.backend import database_from_url
from storage import Database, UnitOfWork
from storage.sql.executor import Executor

T = TypeVar("T")
Row = tuple[Any, ...]


def executor(uow: UnitOfWork) -> Executor:
    """The SQL executor of a unit of work (the one all its repositories share)."""
    return uow.units.db


def _select(table: str, columns: str, where: str, order: str, group: str) -> str:
    sql = f"SELECT {columns} FROM {table}"
    if where:
        sql += f" WHERE {where}"
    if group:
        sql += f" GROUP BY {group}"
    if order:
        sql += f" ORDER BY {order}"
    return sql


async def rows(db: Database, table: str, columns: str = "*", *, where: str = "", params: Sequence[Any] = (),
               order: str = "", group: str = "") -> list[Row]:
    """``SELECT columns FROM table [WHERE where] [GROUP BY group] [ORDER BY order]`` as tuples.
    ``table`` may be a join (``"reports r JOIN members m ON m.id = r.member_id"``)."""
    sql = _select(table, columns, where, order, group)

    async def read(uow: UnitOfWork) -> list[Row]:
        return [tuple(r) for r in await executor(uow).fetchall(sql, params)]

    return await db.run(read)


async def count(db: Database, table: str, where: str = "", *params: Any) -> int:
    """How many rows of ``table`` match ``where`` (all of them without it)."""
    found = await rows(db, table, "COUNT(*)", where=where, params=params)
    return int(found[0][0])


async def live_reports(db: Database, columns: str = "service, count") -> list[Row]:
    """The reports that are not voided, in the order they were recorded."""
    return await rows(db, "reports", columns, where="voided_at IS NULL", order="id")


async def member_id(db: Database, name: str) -> int:
    """The number of the (first) member called ``name``."""
    async def find(uow: UnitOfWork) -> int:
        member = await uow.members.by_name(name)
        assert member is not None, f"no member called {name!r}"
        return member.id

    return await db.run(find)


# The catalogue is the one read whose SQL differs between backends: the SQL standard's
# information_schema (PostgreSQL and most others), then SQLite's own.
_CATALOGUES = (
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
    "ORDER BY table_name, ordinal_position",
    "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' "
    "ORDER BY m.name, p.cid",
)


async def tables(db: Database) -> dict[str, list[str]]:
    """Every table of the schema with its columns, in order."""
    for sql in _CATALOGUES:
        async def read(uow: UnitOfWork, sql: str = sql) -> list[Row]:
            return await executor(uow).fetchall(sql)

        try:
            found = await db.run(read)
        except Exception:  # not this backend's catalogue: the next one
            continue
        schema: dict[str, list[str]] = {}
        for table, column in found:
            schema.setdefault(table, []).append(column)
        return schema
    raise AssertionError("no catalogue of tables this backend answers")


# A database another process wrote --------------------------------------------------------------
@asynccontextmanager
async def opened(path: Path | str) -> AsyncIterator[Database]:
    """The database ``tcns`` keeps at ``path`` (its ``TCNS_DB``: a file or a URL), open for a look (no migration)."""
    db = await database_from_url(str(path)).open(migrate=False)
    try:
        yield db
    finally:
        await db.close()


def on_file(path: Path | str, work: Callable[[UnitOfWork], Coroutine[Any, Any, T]]) -> T:
    """``work(uow)`` as one unit of work on the database at ``path``, from a test without an event loop."""
    async def run() -> T:
        async with opened(path) as db:
            return await db.run(work)

    return asyncio.run(run())


def file_rows(path: Path | str, table: str, columns: str = "*", **query: Any) -> list[Row]:
    """:func:`rows` of the database at ``path``, from a test without an event loop."""
    async def run() -> list[Row]:
        async with opened(path) as db:
            return await rows(db, table, columns, **query)

    return asyncio.run(run())


def file_count(path: Path | str, table: str, where: str = "", *params: Any) -> int:
    """:func:`count` of the database at ``path``, from a test without an event loop."""
    async def run() -> int:
        async with opened(path) as db:
            return await count(db, table, where, *params)

    return asyncio.run(run())
