"""Shared fixtures: real content, a database on each backend, a fixed clock, the engine.

``db_url`` is the database a test runs on, as ``TCNS_DB`` would name it. Here it is a SQLite
file in the test's folder; the end-to-end and flow suites (``tests/e2e/conftest.py``,
``tests/flows/conftest.py``) parametrise it over ``support.backends.BACKENDS``, so every test there that
touches a database runs once on SQLite and once on a real PostgreSQL server (a fresh
database per test, see ``support.postgres``). ``TCNS_TEST_BACKENDS=sqlite`` (a comma
list) runs only those. A test that is SQLite by nature (the database file itself: backup
file, restore, the file lock) asks for ``db_path`` or ``tmp_path / "tcns.db"`` instead and
says so in its docstring.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.helpers import NOW, TZ, ChatUser
from support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

from bot.content import Content, load_content
from bot.domain.clock import FixedClock
from bot.flows.engine import Engine
from bot.runtime.backend import database_from_url
from bot.services.demo import Demo, seed_demo
from storage import Database


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """The SQLite file of a test that is about the file itself (SQLite only)."""
    return tmp_path / "tcns.db"


@pytest.fixture
def db_url(db_path: Path) -> str:
    """The test's database as ``TCNS_DB`` names it (SQLite here; both backends in e2e and flows)."""
    return str(db_path)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await database_from_url(db_url).open()
    yield database
    await database.close()


@pytest.fixture
def engine(db: Database, content: Content, clock: FixedClock) -> Engine:
    return Engine(db, content, clock, TZ)


@pytest.fixture
async def demo(db: Database, content: Content, clock: FixedClock) -> Demo:
    return await seed_demo(db, content, clock.now())


@pytest.fixture
async def seeded(db_url: str, content: Content, clock: FixedClock) -> Demo:
    """The demo commune in the test's database, for tests that run the bot on its own connection."""
    db = await database_from_url(db_url).open()
    try:
        return await seed_demo(db, content, clock.now())
    finally:
        await db.close()


@pytest.fixture
def user(engine: Engine) -> ChatUser:
    return ChatUser(engine, "1001", "Nguyễn Thị Lan")
