"""The composition root: settings, content, database and engine, wired once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Content, load_content
from bot.domain.clock import Clock, SystemClock
from bot.flows.engine import Engine
from bot.runtime.backend import database_from_url
from bot.runtime.settings import Settings
from storage import Database


@dataclass
class Runtime:
    settings: Settings
    content: Content
    db: Database
    engine: Engine
    clock: Clock

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_runtime(settings: Settings | None = None, clock: Clock | None = None) -> Runtime:
    settings = settings or Settings()
    content = load_content(settings.content_dir)
    content.lexicon  # noqa: B018 - validate parser.yaml at start-up, not on the first message
    content.deadlines  # noqa: B018 - and deadlines.yaml
    db = await database_from_url(settings.db).open()
    clock = clock or SystemClock()
    engine = Engine(db, content, clock, settings.tz)
    return Runtime(settings, content, db, engine, clock)
