"""The repositories' :class:`~storage.sql.executor.Executor` over one asyncpg connection.

The repositories write ``?`` placeholders (the SQL both backends speak); PostgreSQL numbers
them (``$1``, ``$2``...). :func:`numbered` translates a statement once (cached), leaving
a ``?`` inside a quoted literal, a quoted name or a comment alone. asyncpg prepares each
statement on first use and keeps it per connection, so the translation and the parse are
paid once per statement text, not per call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import asyncpg

# A quoted literal ('it''s'), a quoted name ("a""b"), a line comment, or a placeholder.
_SCHEMA = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?")


class PostgresDialect:
    """PostgreSQL's spelling of the functions that differ (:class:`~storage.sql.executor.Dialect`)."""

    def json_array(self, *exprs: str) -> str:
        return f"json_build_array({', '.join(exprs)})"  # json comes back from asyncpg as text

    def group_concat(self, expr: str, separator: str) -> str:
        return f"string_agg({expr}, '{separator}')"

    def skip_locked(self) -> str:
        return "FOR UPDATE SKIP LOCKED"

    def chat_lock(self) -> str:
        return "SELECT pg_advisory_xact_lock(hashtext(?))"

    def chat_locks(self, count: int) -> str:
        # VALUES are scanned in the order written: the locks are taken in the callers' order.
        values = ", ".join(["(?)"] * count)
        return f"SELECT pg_advisory_xact_lock(hashtext(v.k)) FROM (VALUES {values}) AS v(k)"

    def modifying_ctes(self) -> bool:
        return True

    def xact_lock(self, key: str, shared: bool) -> str | None:
        return f"SELECT pg_advisory_xact_lock{'_shared' if shared else ''}(({key})::bigint)"

    def hold_and_check(self) -> str | None:
        return "SELECT closed, confirmed FROM tcns_hold_and_check(?, ?, ?, ?)"  # migration 0052

    def columns_sql(self) -> str:
        # The key's own columns: indkey lists a key's INCLUDE columns after them (postgres 0051).
        return (
            "SELECT c.relname::text, a.attname::text, (a.attnum = ANY(i.indkey[0:i.indnkeyatts - 1]))::int "
            "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
            f"WHERE c.relkind = 'r' AND c.relnamespace = {_SCHEMA} ORDER BY c.relname, a.attnum"
        )

    def references_sql(self) -> str:
        return ("SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
                f"WHERE c.contype = 'f' AND c.connamespace = {_SCHEMA}")

    def identities_sql(self) -> str:
        return ("SELECT c.relname::text, a.attname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
                f"WHERE c.relkind = 'r' AND c.relnamespace = {_SCHEMA} AND a.attidentity <> '' AND a.attnum > 0")

    def sync_identity_sql(self, table: str, column: str) -> str:
        # setval(seq, max, true): the next id is max + 1; an empty table starts again at 1.
        return (f"SELECT setval(pg_get_serial_sequence('{table}', '{column.strip(chr(34))}'), "
                f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {table}")


POSTGRES = PostgresDialect()


@lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """``sql`` with its ``?`` placeholders as ``$1``, ``$2``... (quoted text and comments untouched)."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group() != "?":
            return match.group()
        count += 1
        return f"${count}"

    return _TOKENS.sub(number, sql)


_PLAIN = re.compile(r"[A-Za-z0-9_:.\-]*")  # a string that is the same text inside quotes: nothing to escape


def _literal(value: Any) -> str | None:
    if type(value) is int:
        return str(value)
    if isinstance(value, str) and _PLAIN.fullmatch(value):
        return f"'{value}'"
    return None  # anything else is only ever sent as a parameter


def inlined(sql: str, params: Sequence[Any]) -> str | None:
    """``sql`` with its ``?`` placeholders written as literals, for a simple query that goes
    with another in one round trip; None unless every parameter is an integer or a string of
    letters, digits and ``_:.-`` (so no value ever needs escaping)."""
    literals = [_literal(value) for value in params]
    if None in literals or sum(1 for m in _TOKENS.finditer(sql) if m.group() == "?") != len(literals):
        return None
    values = iter(literals)
    return _TOKENS.sub(lambda m: next(values) if m.group() == "?" else m.group(), sql)  # type: ignore[arg-type]


def rowcount(status: str) -> int:
    """The rows a statement changed, from asyncpg's command tag ("UPDATE 3", "INSERT 0 1")."""
    tail = status.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else 0


class PostgresExecutor:
    """Runs a unit of work's statements on its connection, inside its transaction.

    ``begin``: the transaction is not open yet; its ``BEGIN`` goes with the first statement.
    When that is an :meth:`execute` whose parameters can be written as plain literals (the
    engine's chat lock, ``telegram:123``), both go as one simple query, in one round trip
    instead of two; otherwise ``BEGIN`` goes on its own first. A unit of work that makes no
    statement opens no transaction (:attr:`begun` stays False: nothing to commit)."""

    dialect = POSTGRES

    def __init__(self, conn: asyncpg.Connection, begin: bool = False) -> None:
        self._conn = conn
        self._begin = begin
        self.begun = False
        self.deferring = False  # appends wait for the next statement (:meth:`append`)
        self._later: list[tuple[str, list[str], list[Any]]] = []  # (head, rows, params) not yet sent

    async def _open(self) -> None:
        if self._later:
            await self.flush()
        if self._begin:
            self._begin, self.begun = False, True
            await self._conn.execute("BEGIN")

    async def append(self, head: str, rows: str, params: Sequence[Any]) -> None:
        if not self.deferring:
            await self.execute(f"{head} VALUES {rows}", params)
        elif self._later and self._later[-1][0] == head:
            self._later[-1][1].append(rows)
            self._later[-1][2].extend(params)
        else:
            self._later.append((head, [rows], list(params)))

    async def flush(self) -> None:
        """Send the deferred appends (before any other statement, and before the commit)."""
        later, self._later = self._later, []
        for head, rows, params in later:
            await self._open()
            await self._conn.execute(numbered(f"{head} VALUES {', '.join(rows)}"), *params)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        if self._later:
            await self.flush()
        if self._begin:
            text = inlined(sql, params)
            if text is not None:
                self._begin, self.begun = False, True
                return rowcount(await self._conn.execute(f"BEGIN; {text}"))
            await self._open()
        return rowcount(await self._conn.execute(numbered(sql), *params))

    async def new_id(self, sql: str, params: Sequence[Any] = ()) -> int:
        await self._open()
        value = await self._conn.fetchval(numbered(sql), *params)
        assert value is not None, "INSERT ... RETURNING id gave no row"
        return int(value)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            await self._open()
            await self._conn.executemany(numbered(sql), rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        await self._open()
        return [tuple(r) for r in await self._conn.fetch(numbered(sql), *params)]

    async def fetchrows(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        await self._open()
        return await self._conn.fetch(numbered(sql), *params)  # asyncpg records

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        await self._open()
        row = await self._conn.fetchrow(numbered(sql), *params)
        return None if row is None else tuple(row)
