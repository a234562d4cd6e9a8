"""A Zalo bot over the fake Zalo Bot API, polling or by webhook, and what its tests say.

Webhook mode: until ``tcns serve``'s ``/webhook/zalo`` route is there to use, a stand-in
route (aiohttp, 127.0.0.1) does what that route does with the adapter's webhook entry:
the secret header compared in constant time (403, nothing stored, on a mismatch), then
:meth:`bot.handlers.zalo.ZaloAdapter.receive` awaited (stored first), then 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

from aiohttp import web

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.flows.engine import Engine
from bot.handlers.zalo import SECRET_HEADER, ZaloAdapter, ZaloClient, secret_matches
from bot.runtime.backend import database_from_url
from bot.services.demo import Demo
from bot.services.invites import create_invite
from support import peek
from support.fakezaloapi import FakeZaloApi, FakeZaloUser
from support.helpers import TZ

TOKEN = "987654321:ZALO"


class Bot:
    """One running Zalo bot: its own database connection, engine, client, and a polling task
    (or, with ``webhook=True``, a webhook route registered with the fake)."""

    def __init__(self, server: FakeZaloApi, db_url: str, content: Content, clock: FixedClock,
                 webhook: bool = False, files: bool = False) -> None:
        self.server, self.db_url, self.content, self.clock = server, db_url, content, clock
        self.webhook = webhook
        self.files = files  # publish files at short-lived URLs (a stand-in for tcns serve's file URLs)
        self.published: dict[str, tuple[bytes, str]] = {}
        self.secret = secrets.token_urlsafe(24)
        self.answers: list[int] = []  # HTTP status of every webhook delivery, in order
        self._runner: web.AppRunner | None = None
        self.polling: asyncio.Task[None] | None = None

    async def start(self) -> Bot:
        self.db = await database_from_url(str(self.db_url)).open()
        self.engine = Engine(self.db, self.content, self.clock, TZ)
        self.client = ZaloClient(TOKEN, self.server.base_url, timeout=3.0)
        self.adapter = ZaloAdapter(self.engine, self.content, self.client, poll_seconds=1,
                                   file_url=self._publish if self.files else None)
        await self.adapter.start()
        self.stop_event = asyncio.Event()
        if self.webhook or self.files:
            app = web.Application()
            app.router.add_post("/webhook/zalo", self._route)
            app.router.add_get("/files/{token}/{name}", self._file)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
            self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        if self.webhook:
            await self.client.set_webhook(f"{self.base}/webhook/zalo", self.secret)
        else:
            self.polling = asyncio.create_task(self.adapter.run(self.stop_event))
        return self

    async def _publish(self, data: bytes, name: str, mime: str) -> str:
        token = secrets.token_urlsafe(16)
        self.published[token] = (data, mime)
        return f"{self.base}/files/{token}/{name}"

    async def _file(self, request: web.Request) -> web.Response:
        found = self.published.get(request.match_info["token"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])

    async def _route(self, request: web.Request) -> web.Response:
        if not secret_matches(self.secret, request.headers.get(SECRET_HEADER)):
            self.answers.append(403)
            return web.Response(status=403)
        try:
            body = await request.json()
        except ValueError:
            body = None
        await self.adapter.receive(body)
        self.answers.append(200)
        return web.json_response({"ok": True})

    async def stop(self) -> None:
        self.stop_event.set()
        if self.polling is not None:
            await asyncio.wait_for(self.polling, 10)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.adapter.stop()
        await self.client.close()
        await self.db.close()

    async def live_reports(self) -> list[tuple]:
        return await peek.live_reports(self.db, "service, count, source")


@contextlib.asynccontextmanager
async def fake_and_bot(db_url: str, content: Content, clock: FixedClock, webhook: bool = False,
                       files: bool = False) -> AsyncIterator[tuple[FakeZaloApi, Bot]]:
    """The fake Zalo Bot API and a bot on it, stopped in order at the end."""
    async with FakeZaloApi() as fake:
        fake.fetch_photos = files
        running = await Bot(fake, db_url, content, clock, webhook=webhook, files=files).start()
        try:
            yield fake, running
        finally:
            await running.stop()


async def say(user: FakeZaloUser, text: str) -> str:
    """Send one message and return everything the bot answered, as one text."""
    await user.send(text)
    first = await user.next_reply()
    rest = await user.replies_until_quiet(quiet=0.3)
    return "\n".join(m.text or "" for m in [first, *rest])


async def staff_code(bot: Bot, demo: Demo, clock: FixedClock) -> str:
    async with bot.db.uow() as uow:
        return (await create_invite(uow, demo.commune.id, "staff", clock.now())).code


async def join(user: FakeZaloUser, code: str) -> str:
    answer = await say(user, f"/start {code}")
    assert "Chào mừng" in answer
    return answer
