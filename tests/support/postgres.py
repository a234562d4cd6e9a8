"""A PostgreSQL server for the tests, and a fresh empty database for each test.

The server is the one ``TCNS_TEST_POSTGRES`` names (a URL whose user may create databases,
e.g. ``postgresql://postgres@localhost:5432/postgres``); without it, a throwaway server
started from PyPI's ``pgserver`` (PostgreSQL's own binaries in a wheel: no root, nothing
installed on the machine, a unix socket in a temporary folder, up in about a second), once
per test process and stopped when it ends. As root, ``pgserver`` runs the server as a user
of its own (``pgserver``, created on first use), as PostgreSQL refuses to run as root.

Each test gets a database of its own (``CREATE DATABASE`` from a template that already holds
the schema, dropped afterwards), so tests never see each other's rows.

    postgres_server  session fixture: the server's URL
    postgres_url     fixture: the URL of a fresh, migrated, empty database
    fresh_database   the same as an async context manager, for a test that wants several
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ENV = "TCNS_TEST_POSTGRES"
_lock = threading.RLock()
_server: str | None = None
_template: str | None = None


def server_url() -> str:
    """The tests' PostgreSQL server (``TCNS_TEST_POSTGRES``, or one started here on first use)."""
    global _server
    with _lock:
        if _server is None:
            _server = os.environ.get(ENV) or _start_throwaway()
        return _server


def _start_throwaway() -> str:
    import pgserver  # a dev dependency: only needed when no server is named

    folder = tempfile.mkdtemp(prefix="tcns-pg-")  # short: the socket's path must fit in 107 bytes
    atexit.register(shutil.rmtree, folder, True)  # runs after the server's own stop (registered later)
    server = pgserver.get_server(os.path.join(folder, "data"), cleanup_mode="stop")
    _watch(server.get_pid(), folder)
    return str(server.get_uri())


# Stops the throwaway server when the test process ends in a way atexit never sees (kill -9,
# a CI timeout, SIGTERM): it waits for EOF on a pipe only this process holds open.
_WATCHER = """
import os, shutil, signal, sys, time
sys.stdin.buffer.read()
pid, folder = int(sys.argv[1]), sys.argv[2]
try:
    os.kill(pid, signal.SIGQUIT)  # the postmaster's immediate shutdown
    for _ in range(100):
        time.sleep(0.1)
        os.kill(pid, 0)
except ProcessLookupError:
    pass
shutil.rmtree(folder, ignore_errors=True)
"""
_watchers: list[subprocess.Popen[bytes]] = []


def _watch(pid: int | None, folder: str) -> None:
    if pid is None:
        return
    _watchers.append(subprocess.Popen([sys.executable, "-c", _WATCHER, str(pid), folder], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))


def database_url(server: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server`` (same user, host, options)."""
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


async def _admin(server: str, *statements: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _template_database() -> str:
    """A database with the schema applied, made once per test process: each test's database
    is a copy of it (faster than migrating each one)."""
    global _template
    with _lock:
        if _template is None:
            _template = asyncio.run(_make_template(server_url()))
        return _template


async def _make_template(server: str) -> str:
    from bot.runtime.backend import database_from_url

    name = f"tcns_template_{uuid.uuid4().hex[:12]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    db = await database_from_url(database_url(server, name)).open()  # migrates
    await db.close()
    atexit.register(lambda: asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    return name


@asynccontextmanager
async def fresh_database(server: str | None = None, migrated: bool = True) -> AsyncIterator[str]:
    """A new database on the tests' server (or ``server``), dropped when the block ends: its URL.
    ``migrated``: a copy of the migrated template, else an empty database (no tables at all)."""
    server = server or server_url()
    name = f"tcns_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{await asyncio.to_thread(_template_database)}"' if migrated else ""
    await _admin(server, f'CREATE DATABASE "{name}"{template}')
    try:
        yield database_url(server, name)
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of the tests' PostgreSQL server (started on first use, stopped at exit)."""
    return server_url()


@pytest.fixture
async def postgres_url(postgres_server: str) -> AsyncIterator[str]:
    """The URL of a fresh database with the schema applied, dropped after the test."""
    async with fresh_database(postgres_server) as url:
        yield url
