"""End-to-end fixtures: the fake Bot API, a bot polling it, and the demo commune served over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from support.backends import on_backends
from support.fakebotapi import FakeBotApi
from support.helpers import TZ
from support.telegram import TOKEN, Bot

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.flows.engine import Engine
from bot.handlers.telegram import build_application
from bot.handlers.telegram_polling import TelegramPolling
from bot.runtime.backend import database_from_url
from bot.services.demo import Demo, seed_demo
from bot.services.invites import create_invite

# Every end-to-end test that opens a database runs on each backend (support.backends).
db_url = on_backends()


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotApi, db_url: str, content: Content, clock: FixedClock, seeded: Demo):
    running = await Bot(server, db_url, content, clock).start()
    yield running
    await running.stop()


@pytest.fixture
async def telegram_commune(db_url: str, content: Content) -> AsyncIterator[tuple]:
    """The demo commune served by the real PTB Application at a fake Bot API, on Wednesday
    18/11/2026 10:00, with a staff invite: (server, app, db, clock, demo, staff_code)."""
    clock = FixedClock(datetime(2026, 11, 18, 10, 0, tzinfo=TZ))
    db = await database_from_url(db_url).open()
    demo: Demo = await seed_demo(db, content, clock.now())
    async with db.uow() as uow:
        staff_code = (await create_invite(uow, demo.commune.id, "staff", clock.now(), timedelta(days=30))).code
    async with FakeBotApi() as server:
        app = build_application(TOKEN, Engine(db, content, clock, TZ), content, base_url=server.base_url,
                                base_file_url=server.base_file_url)
        polling = TelegramPolling(app, poll_seconds=1)
        await polling.start()
        try:
            yield server, app, db, clock, demo, staff_code
        finally:
            await polling.stop()
            await db.close()
