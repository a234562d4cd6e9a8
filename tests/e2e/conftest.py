"""End-to-end fixtures: the fake Bot API, a bot polling it, and the demo commune served over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from support.backends import on_backends
from support.channel_fixtures import channel_fixtures
from support.fakebotapi import FakeBotApi
from support.helpers import TZ
from support.telegram import Bot, served_commune

from bot.content import Content
from bot.domain.clock import FixedClock

# Every end-to-end test that opens a database runs on each backend (support.backends).
db_url = on_backends()


server, bot = channel_fixtures(FakeBotApi, Bot)


@pytest.fixture
async def telegram_commune(db_url: str, content: Content) -> AsyncIterator[tuple]:
    """The demo commune served by the real PTB Application at a fake Bot API, on Wednesday
    18/11/2026 10:00, with a staff invite: (server, app, db, clock, demo, staff_code)."""
    clock = FixedClock(datetime(2026, 11, 18, 10, 0, tzinfo=TZ))
    async with served_commune(db_url, content, clock) as (server, app, db, demo, staff_code):
        yield server, app, db, clock, demo, staff_code
