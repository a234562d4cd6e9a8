"""The composition root: settings, content, database and engine, wired once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Content, load_content
from bot.domain.clock import Clock, SystemClock
from bot.flows.engine import Engine
from bot.runtime.backend import database_from_url
from bot.runtime.settings import Settings
from bot.services.files import FilePublisher
from storage import Database


@dataclass
class Runtime:
    settings: Settings
    content: Content
    db: Database
    engine: Engine
    clock: Clock
    files: FilePublisher | None = None  # signed file URLs: TCNS_PUBLIC_URL and TCNS_FILE_SECRET set

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
    files = FilePublisher(db, clock, settings.public_url, settings.file_secret) \
        if settings.public_url and settings.file_secret else None
    return Runtime(settings, content, db, engine, clock, files)
