"""A bot on Telegram as the end-to-end tests run it: the real PTB Application polling the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from telegram.ext import Application

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.flows.engine import Engine
from bot.handlers.telegram import build_application
from bot.handlers.telegram_polling import TelegramPolling
from bot.runtime.backend import database_from_url
from bot.services.demo import Demo, seed_demo
from bot.services.invites import create_invite
from storage import Database, UnitOfWork
from support import peek
from support.fakebotapi import FakeBotApi, FakeUser
from support.helpers import TZ

TOKEN = "123:TEST"


class Bot:
    """One running bot process-equivalent: its own database connection, engine and PTB app."""

    def __init__(self, server: FakeBotApi, db_url: str, content: Content, clock: FixedClock) -> None:
        self.server, self.db_url, self.content, self.clock = server, db_url, content, clock
        self.db: Database | None = None
        self.app: Application | None = None

    async def start(self) -> Bot:
        self.db = await database_from_url(self.db_url).open()
        engine = Engine(self.db, self.content, self.clock, TZ)
        self.app = build_application(
            TOKEN, engine, self.content, base_url=self.server.base_url, base_file_url=self.server.base_file_url
        )
        self.polling = TelegramPolling(self.app, poll_seconds=1)
        await self.polling.start()
        return self

    async def stop(self) -> None:
        if self.app is not None:
            await self.polling.stop()
            self.app = None
        if self.db is not None:
            await self.db.close()
            self.db = None

    async def add_staff(self, commune_id: int, user_id: int, name: str = "Cán bộ") -> None:
        """A commune staff account on Telegram as ``user_id`` (what an admin sets up)."""
        assert self.db is not None
        async with self.db.uow() as uow:
            staff = await uow.members.add(name, "staff", commune_id, self.clock.now())
            await uow.members.link_identity(staff.id, "telegram", str(user_id), str(user_id), self.clock.now())

    async def live_reports(self) -> list[tuple]:
        assert self.db is not None
        return await peek.live_reports(self.db, "service, count, source")


async def join(user: FakeUser, code: str) -> None:
    await user.send(f"/start {code}")
    welcome = await user.next_reply()
    assert "Chào mừng" in welcome.plain_text
    await user.next_reply()  # first steps


@asynccontextmanager
async def served_commune(db_url: str, content: Content, clock: FixedClock,
                         seed: Callable[[UnitOfWork, Demo], Awaitable[None]] | None = None,
                         ) -> AsyncIterator[tuple[FakeBotApi, Application, Database, Demo, str]]:
    """The demo commune (plus whatever ``seed`` adds) served by the real PTB Application polling
    a fresh fake Bot API, with a staff invite: (server, app, db, demo, staff_code)."""
    db = await database_from_url(db_url).open()
    demo: Demo = await seed_demo(db, content, clock.now())
    async with db.uow() as uow:
        if seed is not None:
            await seed(uow, demo)
        staff_code = (await create_invite(uow, demo.commune.id, "staff", clock.now(), timedelta(days=30))).code
    try:
        async with FakeBotApi() as server:
            app = build_application(TOKEN, Engine(db, content, clock, TZ), content, base_url=server.base_url,
                                    base_file_url=server.base_file_url)
            polling = TelegramPolling(app, poll_seconds=1)
            await polling.start()
            try:
                yield server, app, db, demo, staff_code
            finally:
                await polling.stop()
    finally:
        await db.close()
