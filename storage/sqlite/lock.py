"""Who has a SQLite database open: an advisory lock on a file beside it (``tcns.db.lock``).

Every process that opens the database (:meth:`SqliteDatabase.open`: the bot, the terminal
chat, every ``tcns`` command) holds it shared until it closes the database. ``tcns restore``
needs it exclusively, so it refuses while anyone has the database open, instead of
replacing the data under a bot that goes on writing (and confirming) into it.

``flock`` locks belong to an open file, and the kernel drops them when the process ends,
however it ends: a crashed or killed process never leaves a stale lock. Python opens the
lock file close-on-exec, so a child process does not inherit it. Where ``fcntl`` does not
exist (Windows) there is no lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from storage.contract import DatabaseInUse

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["DatabaseInUse", "exclusive", "hold_shared", "release"]

log = logging.getLogger(__name__)
SUFFIX = ".lock"
POLL_SECONDS = 0.2




def lock_path(db_path: str) -> str:
    return os.path.realpath(db_path) + SUFFIX


def _open(db_path: str) -> int:
    return os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o644)


async def hold_shared(db_path: str) -> int | None:
    """Take the lock shared, for as long as the database is open; returns what :func:`release` takes.

    While a restore holds it exclusively this waits (a restore takes seconds) rather than
    open a file that is being replaced.
    """
    if fcntl is None or db_path == ":memory:":
        return None
    fd = _open(db_path)
    try:
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if not waiting:
                    log.warning("%s is being restored; waiting for the restore to finish", db_path)
                    waiting = True
                await asyncio.sleep(POLL_SECONDS)
    except BaseException:
        os.close(fd)
        raise


def release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


@contextmanager
def exclusive(db_path: str) -> Iterator[None]:
    """Hold the lock exclusively for the block; :class:`DatabaseInUse` at once if anyone has the database open."""
    if fcntl is None:
        yield
        return
    fd = _open(db_path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseInUse(db_path) from None
        yield
    finally:
        os.close(fd)
