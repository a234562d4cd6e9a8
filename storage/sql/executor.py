"""What a repository needs of a backend: run SQL, in one unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class Dialect(Protocol):
    """The few SQL functions whose spelling differs between backends (each returns SQL text)."""

    def json_array(self, *exprs: str) -> str:
        """A JSON array of the expressions, as text the driver hands back as a ``str``."""

    def group_concat(self, expr: str, separator: str) -> str:
        """An aggregate joining ``expr`` over the group with ``separator`` (a plain literal)."""

    def chat_lock(self) -> str:
        """A statement taking a lock on one ``?`` key until the transaction ends (PostgreSQL: a
        transaction-level advisory lock), or "" where transactions never overlap (SQLite)."""

    def chat_locks(self, count: int) -> str:
        """:meth:`chat_lock` of ``count`` ``?`` keys in one statement, taken in the order given."""

    def modifying_ctes(self) -> bool:
        """Whether a ``WITH`` may hold an ``INSERT ... RETURNING`` that the query then reads (PostgreSQL)."""

    def skip_locked(self) -> str:
        """The clause after a SELECT that locks its rows for this transaction and passes over
        rows another transaction holds (``FOR UPDATE SKIP LOCKED``), or "" where one writer
        at a time is all there is (SQLite)."""

    def xact_lock(self, key: str, shared: bool) -> str | None:
        """A query taking a lock on the integer SQL expression ``key`` until the transaction
        ends (None: units of work already run one at a time, as on SQLite)."""

    def hold_and_check(self) -> str | None:
        """A query that, given ``(village id, HOLD_KEY, first day, last day)``, takes the shared
        :meth:`xact_lock` of the village's commune and then, seeing everything committed before
        the lock was granted, answers :meth:`~storage.sql.cycle.CycleRepository.check_village`'s
        row ``(closed period meets the days, live confirmation meets them)``: one round trip
        (PostgreSQL: a function, migration 0052). None where :meth:`xact_lock` is None."""

    # The catalogue (storage.sql.schema): each returns a query.
    def columns_sql(self) -> str:
        """Rows ``(table, column, in primary key 0/1)`` for every table, columns in order."""

    def references_sql(self) -> str:
        """Rows ``(table, referenced table)``, one per foreign key."""

    def identities_sql(self) -> str:
        """Rows ``(table, column)`` of the ids the database generates from a sequence of its own."""

    def sync_identity_sql(self, table: str, column: str) -> str:
        """A query moving the generator of ``table.column`` (both quoted) past its largest value."""


class Executor(Protocol):
    """A tiny async SQL interface with ``?`` placeholders, inside one transaction."""

    dialect: Dialect

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows changed."""

    async def new_id(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an ``INSERT ... RETURNING id``; return the new row's id."""

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def fetchrows(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        """The rows as the driver hands them (indexed, sliced and unpacked like tuples, but not
        necessarily tuples): for reads of tens of thousands of rows, where making a tuple of
        each costs as much as reading it (asyncpg's records)."""

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def append(self, head: str, rows: str, params: Sequence[Any]) -> None:
        """``{head} VALUES {rows}``: an INSERT whose result nobody reads. Run at once, unless
        the unit of work defers them (PostgreSQL, :meth:`UnitOfWork.defer_appends`): then it
        runs just before the unit's next statement or its commit, one INSERT with the rows of
        the appends of the same ``head`` made one after the other meanwhile."""
