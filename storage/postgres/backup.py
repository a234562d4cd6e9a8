"""Backups of a PostgreSQL database: ``pg_dump``, PostgreSQL's own consistent online dump.

``pg_dump`` reads one snapshot of the database while the bot goes on writing, and writes
the custom format (compressed; restore it with ``pg_restore --clean --dbname …``). It comes
with PostgreSQL's client programs (Debian: ``postgresql-client``), which must be as new as
the server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


class BackupToolMissing(RuntimeError):
    """``pg_dump`` is not on the PATH: install PostgreSQL's client programs."""


class BackupFailed(RuntimeError):
    """``pg_dump`` ran and failed (its message is this error's)."""


def without_password(dsn: str) -> tuple[str, str | None]:
    """``dsn`` without its password, and the password: a password on a command line is
    visible to every user of the machine (``ps``), one in the environment is not."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn, None
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}")), parts.password


async def dump(dsn: str, destination: str) -> None:
    """Write a ``pg_dump`` of ``dsn`` to ``destination`` (custom format)."""
    tool = shutil.which("pg_dump")
    if tool is None:
        raise BackupToolMissing("pg_dump is not on the PATH: install PostgreSQL's client programs "
                                "(Debian: postgresql-client), as new as the server")
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    url, password = without_password(dsn)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    process = await asyncio.create_subprocess_exec(
        tool, "--format=custom", f"--file={destination}", f"--dbname={url}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
    )
    _, errors = await process.communicate()
    if process.returncode != 0:
        raise BackupFailed(errors.decode(errors="replace").strip() or f"pg_dump exited with {process.returncode}")
