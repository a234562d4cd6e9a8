"""Shared fixtures: real content, a temporary SQLite file, a fixed clock, the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.helpers import NOW, TZ, ChatUser

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
    return tmp_path / "tcns.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await database_from_url(str(db_path)).open()
    yield database
    await database.close()


@pytest.fixture
def engine(db: Database, content: Content, clock: FixedClock) -> Engine:
    return Engine(db, content, clock, TZ)


@pytest.fixture
async def demo(db: Database, content: Content, clock: FixedClock) -> Demo:
    return await seed_demo(db, content, clock.now())


@pytest.fixture
async def seeded(db_path: Path, content: Content, clock: FixedClock) -> Demo:
    """The demo commune in the database file, for tests that run the bot on its own connection."""
    db = await database_from_url(str(db_path)).open()
    try:
        return await seed_demo(db, content, clock.now())
    finally:
        await db.close()


@pytest.fixture
def user(engine: Engine) -> ChatUser:
    return ChatUser(engine, "1001", "Nguyễn Thị Lan")
