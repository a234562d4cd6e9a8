"""The two fixtures every end-to-end channel test starts from: a fresh fake API and one bot
process-equivalent polling it. One definition for Telegram and Zalo:

    server, bot = channel_fixtures(FakeBotApi, telegram.Bot)   # in a conftest or test module
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest


def channel_fixtures(fake: Callable[[], AbstractAsyncContextManager[Any]], bot_class: type) -> tuple[Any, Any]:
    @pytest.fixture
    async def server() -> AsyncIterator[Any]:
        async with fake() as api:
            yield api

    @pytest.fixture
    async def bot(server: Any, db_url: str, content: Any, clock: Any, seeded: Any) -> AsyncIterator[Any]:
        running = await bot_class(server, db_url, content, clock).start()
        yield running
        await running.stop()

    return server, bot
