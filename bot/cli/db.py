"""``tcns db upgrade``: apply pending schema migrations (also done on every start)."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import Handler
from bot.runtime.backend import database_from_url
from bot.runtime.settings import Settings


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending schema migrations")
    return {"db": lambda args, settings: asyncio.run(_upgrade(settings))}


async def _upgrade(settings: Settings) -> int:
    db = database_from_url(settings.db)
    await db.open(migrate=False)
    try:
        applied = await db.upgrade()
        version = await db.schema_version()
    finally:
        await db.close()
    print(f"schema version {version}; applied {applied or 'nothing'}")
    return 0
