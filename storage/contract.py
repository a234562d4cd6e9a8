"""The storage contract: what the bot may rely on, whatever the backend.

A backend (``storage.sqlite`` today) provides a :class:`Database`; the bot reaches storage
only through it, its :class:`UnitOfWork` and the plain records of :mod:`storage.models`.
The repositories (``storage.sql``) are written in the SQL every backend speaks, over the
backend's :class:`~storage.sql.executor.Executor`, so a unit of work of any backend carries
the same repositories. ``bot.runtime.backend`` is the one place that picks a backend.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from storage.models import Conversation, Member
from storage.sql.repository_set import Repositories

T = TypeVar("T")


class DatabaseInUse(RuntimeError):
    """Another process has the database open (a restore must wait for it to close)."""


class UnitOfWork(Repositories, Protocol):
    """One transaction and the repositories that work in it (``storage.sql.repository_set``)."""

    async def open_inbound(self, channel: str, update_key: str, user_id: str, chat_id: str,
                           now: datetime) -> tuple[bool, Member | None, Conversation]:
        """Claim an inbound update and load its sender and conversation (one round trip; a
        sender with another channel too has this one marked as the one used last)."""

    def defer_appends(self) -> None:
        """Let appends (a report's rows) wait for the unit's next statement or its commit, merged
        with the appends made one after the other meanwhile (a webhook group's reports: one
        INSERT). Errors of those rows then come from that later call."""

    async def open_inbound_many(self, channel: str, updates: Sequence[tuple[str, str, str]],
                                now: datetime) -> list[tuple[bool, Member | None, Conversation]]:
        """:meth:`open_inbound` of several updates ``(update_key, user_id, chat_id)`` of different
        chats, in one unit of work: each claimed and loaded as alone."""

    @property
    def snapshot(self) -> SnapshotSource:
        """Where heavy reads go instead of this unit of work (plain data: may go to another process)."""


Work = Callable[[UnitOfWork], Coroutine[Any, Any, T]]


class ReadSnapshot(Protocol):
    """One consistent read of the database that never holds up the writer."""

    def run(self, work: Work[T]) -> T:
        """``work(uow)`` over the snapshot, synchronously (it may await repositories only)."""

    def renew(self) -> None:
        """End this read; the next one starts at that moment (a long reader renews)."""


SnapshotSource = Callable[[], AbstractContextManager[ReadSnapshot]]


class Database(Protocol):
    """A backend's database: units of work, and the operations around them."""

    async def open(self, migrate: bool = True) -> Database:
        """Connect (and apply pending migrations); a second call changes nothing."""

    async def close(self) -> None: ...

    async def __aenter__(self) -> Database: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def uow(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """``async with db.uow() as uow``: one transaction, committed when the block ends."""

    async def run(self, work: Work[T], durable: bool = False, single: bool = False) -> T:
        """``work(uow)`` as one unit of work, the hot path (see the backend for how). ``durable``:
        the commit survives a power loss (what a channel is told has arrived). ``single``:
        ``work`` makes one statement, atomic by itself, so a backend may run it without a
        transaction around it (PostgreSQL: one round trip instead of three)."""

    async def bulk_pause(self, timeout: float = 2.0) -> None:
        """Between the chunks of a bulk write: let the backend catch its breath."""

    def snapshot(self) -> AbstractContextManager[ReadSnapshot]:
        """A read snapshot, now, for heavy reads."""

    async def upgrade(self) -> list[int]:
        """Apply pending schema migrations; the versions applied."""

    async def schema_version(self) -> int: ...

    async def backup(self, destination: str) -> None:
        """A consistent copy of everything, taken while the bot runs."""
