"""End-to-end fixtures: the fake Bot API, a bot polling it, and the demo commune served over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
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


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotApi, db_path: Path, content: Content, clock: FixedClock, seeded: Demo):
    running = await Bot(server, db_path, content, clock).start()
    yield running
    await running.stop()


@pytest.fixture
async def telegram_commune(db_path: Path, content: Content) -> AsyncIterator[tuple]:
    """The demo commune served by the real PTB Application at a fake Bot API, on Wednesday
    18/11/2026 10:00, with a staff invite: (server, app, db, clock, demo, staff_code)."""
    clock = FixedClock(datetime(2026, 11, 18, 10, 0, tzinfo=TZ))
    db = await database_from_url(str(db_path)).open()
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
