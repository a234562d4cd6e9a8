"""``tcns db upgrade`` (apply pending schema migrations, also done on every start) and
``tcns db copy --from URL --to URL`` (every table into an empty database, e.g. a commune's
SQLite file into PostgreSQL; bot/services/dbcopy.py). Both backends, named as ``TCNS_DB`` is."""

from __future__ import annotations

import argparse
import asyncio
from urllib.parse import urlsplit, urlunsplit

from bot.cli.common import Handler, say
from bot.runtime import backend
from bot.runtime.backend import database_from_url
from bot.runtime.settings import Settings
from bot.services.dbcopy import CHUNK, CopyRefused, copy_database


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending schema migrations (TCNS_DB: a SQLite file or postgresql://)")
    copy = db_sub.add_parser("copy", help="copy every table into a new, empty database (ids kept, counts checked)")
    copy.add_argument("--from", dest="source", default=None, help="source database (default: TCNS_DB)")
    copy.add_argument("--to", dest="target", required=True, help="target database: sqlite:///file or postgresql://…")
    copy.add_argument("--chunk", type=int, default=CHUNK, help=argparse.SUPPRESS)

    def run(args: argparse.Namespace, settings: Settings) -> int:
        if args.db_command == "copy":
            return asyncio.run(_copy(args, settings))
        return asyncio.run(_upgrade(settings))

    return {"db": run}


def _texts(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.content import load_content

    return load_content(settings.content_dir).texts


def shown(url: str) -> str:
    """A database URL as printed: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{parts.netloc.rpartition('@')[2]}"))


async def _upgrade(settings: Settings) -> int:
    texts = _texts(settings)
    db = database_from_url(settings.db)
    await db.open(migrate=False)
    try:
        applied = await db.upgrade()
        version = await db.schema_version()
    finally:
        await db.close()
    if applied:
        say(texts, "db_cli.upgraded", count=len(applied), versions=", ".join(f"{v:04d}" for v in applied),
            version=f"{version:04d}")
    else:
        say(texts, "db_cli.up_to_date", version=f"{version:04d}")
    return 0


def _same(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return url[len("sqlite:///"):] if url.startswith("sqlite:///") else url.rstrip("/")

    return norm(a) == norm(b)


async def _copy(args: argparse.Namespace, settings: Settings) -> int:
    texts = _texts(settings)
    source_url, target_url = args.source or settings.db, args.target
    if _same(source_url, target_url):
        say(texts, "db_cli.copy_same", err=True)
        return 1
    if not backend.is_postgres(source_url) and not backend.database_file(source_url).exists():
        say(texts, "db_cli.copy_no_source", err=True, file=str(backend.database_file(source_url)))
        return 1
    say(texts, "db_cli.copy_start", source=shown(source_url), target=shown(target_url))
    opened = []
    try:
        for url in (source_url, target_url):
            try:
                opened.append(await database_from_url(url).open())
            except (OSError, ConnectionError) as exc:
                say(texts, "db_cli.copy_cannot_open", err=True, url=shown(url), reason=str(exc) or type(exc).__name__)
                return 1
        source, target = opened
        try:
            copied = await copy_database(source, target, chunk=args.chunk)
        except CopyRefused as refused:
            tables = ", ".join(refused.tables)
            if refused.reason == "not_empty":
                say(texts, "db_cli.copy_not_empty", err=True, tables=tables)
            elif refused.reason == "schema":
                say(texts, "db_cli.copy_schema", err=True, tables=tables)
            else:
                say(texts, "db_cli.copy_cycle", err=True, tables=tables)
            return 1
    finally:
        for db in opened:
            await db.close()
    for row in sorted(copied, key=lambda r: r.table):
        if not row.matches:
            status = texts("db_cli.copy_mismatch")
        elif row.derived:
            status = texts("db_cli.copy_derived")
        else:
            status = texts("db_cli.copy_ok")
        say(texts, "db_cli.copy_line", table=row.table, source=row.source, target=row.target, status=status)
    different = [row.table for row in copied if not row.matches]
    if different:
        say(texts, "db_cli.copy_failed", err=True, tables=", ".join(different))
        return 1
    say(texts, "db_cli.copy_done", tables=len(copied), rows=sum(row.target for row in copied))
    return 0


