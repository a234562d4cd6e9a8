"""Command-line set-up for the person who installs tcns (issue 5, command-line part).

    tcns commune add --code C --name NAME [--province-code P --province-name NAME]
    tcns villages import --commune C FILE.csv
    tcns staff invite --commune C | --province P [--days 7] [--uses 1]
    tcns members export [--commune C] [-o FILE]
    tcns member forget ID
    tcns backup FILE
    tcns restore FILE [--yes]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import re
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.cli.common import Handler, say
from bot.domain import pii
from bot.domain.cleantext import clean_line
from bot.domain.messages import plain_text
from bot.runtime import backend
from bot.runtime.core import Runtime, open_runtime
from bot.runtime.settings import Settings
from bot.services.invites import create_invite
from storage import DatabaseInUse

VILLAGE_COLUMNS = ("code", "name", "households", "adults")
MAX_FIGURE = 10_000_000
MAX_UNIT_NAME = 80  # as /thon them in the chat
CODE = re.compile(r"^[A-Za-z0-9_-]+$")  # a code people type in commands: no spaces, no diacritics
MAX_CODE = {"commune": 32, "village": 20}  # a village's as /thon them takes it


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:  # type: ignore[type-arg]
    commune = sub.add_parser("commune", help="communes").add_subparsers(dest="action", required=True)
    add = commune.add_parser("add", help="add a commune (and its province if new)")
    add.add_argument("--code", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--province-code", default=None)
    add.add_argument("--province-name", default=None)

    villages = sub.add_parser("villages", help="villages").add_subparsers(dest="action", required=True)
    imp = villages.add_parser("import", help="import villages from CSV: code,name,households,adults")
    imp.add_argument("--commune", required=True)
    imp.add_argument("file", type=Path)

    staff = sub.add_parser("staff", help="commune staff").add_subparsers(dest="action", required=True)
    invite = staff.add_parser("invite", help="make an invite code for commune staff (or province staff)")
    place = invite.add_mutually_exclusive_group(required=True)
    place.add_argument("--commune", help="a commune's code: an invite for its staff (cán bộ xã)")
    place.add_argument("--province", help="a province's code: an invite for its staff (cán bộ tỉnh)")
    invite.add_argument("--days", type=int, default=7)
    invite.add_argument("--uses", type=int, default=1)

    members = sub.add_parser("members", help="members").add_subparsers(dest="action", required=True)
    export = members.add_parser("export", help="members as CSV (no resident data exists to export)")
    export.add_argument("--commune", default=None)
    export.add_argument("-o", "--output", type=Path, default=None)

    member = sub.add_parser("member", help="one member").add_subparsers(dest="action", required=True)
    forget = member.add_parser("forget", help="erase a member's personal data; reports stay as anonymous counts")
    forget.add_argument("id", type=int)

    backup = sub.add_parser("backup", help="consistent copy of the database while the bot runs (PostgreSQL: pg_dump)")
    backup.add_argument("file", type=Path)
    restore = sub.add_parser("restore", help="replace the database with a backup (stop the bot first)")
    restore.add_argument("file", type=Path)
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    handlers = {
        "commune": _commune_add,
        "villages": _villages_import,
        "staff": _staff_invite,
        "members": _members_export,
        "member": _member_forget,
        "backup": _backup,
        "restore": _restore,
    }
    return {name: _sync(work) for name, work in handlers.items()}


def _sync(work: Any) -> Handler:
    return lambda args, settings: asyncio.run(work(args, settings))


def _say(runtime_or_texts: Any, key: str, *, err: bool = False, **params: Any) -> None:
    texts = runtime_or_texts.content.texts if isinstance(runtime_or_texts, Runtime) else runtime_or_texts
    say(texts, key, err=err, **params)


async def _commune(runtime: Runtime, code: str) -> Any:
    async with runtime.db.uow() as uow:
        commune = await uow.units.by_code("commune", code)
    if commune is None:
        _say(runtime, "admin_cli.no_commune", err=True, code=code)
    return commune


def _unit_problem(kind: str, code: str, name: str) -> tuple[str, dict[str, Any]] | None:
    """What is wrong with a unit's code and (cleaned) name: (what, params) for a ``bad_input.cli_``
    or ``bad_input.csv_`` text; None if nothing."""
    if not CODE.match(code) or len(code) > MAX_CODE[kind]:
        return "bad_code", {"code": clean_line(code, 40), "max": MAX_CODE[kind]}
    if not name:
        return "no_name", {}
    if len(name) > MAX_UNIT_NAME:
        return "name_too_long", {"max": MAX_UNIT_NAME}
    if pii.contains(code) or pii.contains(name):
        return "personal_data", {}
    return None


async def _commune_add(args: argparse.Namespace, settings: Settings) -> int:
    async with await open_runtime(settings) as runtime:
        args.name = clean_line(args.name, None)
        units = [(args.code, args.name)]
        if args.province_code:
            args.province_name = clean_line(args.province_name or args.province_code, None)
            units.append((args.province_code, args.province_name))
        for code, name in units:
            problem = _unit_problem("commune", code, name)
            if problem is not None:
                _say(runtime, f"bad_input.cli_{problem[0]}", err=True, **problem[1])
                return 1
        now = runtime.clock.now()
        async with runtime.db.uow() as uow:
            if await uow.units.by_code("commune", args.code) is not None:
                _say(runtime, "admin_cli.commune_exists", err=True, code=args.code)
                return 1
            parent_id = None
            if args.province_code:
                province = await uow.units.by_code("province", args.province_code)
                if province is None:
                    province = await uow.units.add("province", args.province_code, args.province_name)
                parent_id = province.id
            commune = await uow.units.add("commune", args.code, args.name, parent_id=parent_id)
            await uow.audit.add(None, "commune_add", f"unit:{commune.id}", now, {"code": args.code},
                                unit_id=commune.id)
        _say(runtime, "admin_cli.commune_added", name=args.name, code=args.code)
    return 0


@dataclass(frozen=True)
class VillageRow:
    line: int
    code: str
    name: str
    households: int
    adults: int


def read_villages_csv(data: bytes) -> tuple[list[VillageRow], list[tuple[int, str, dict[str, Any]]]]:
    """Parse and check a villages CSV. Returns rows, or errors as (line, text key, params)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [(1, "admin_cli.csv_encoding", {})]
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in VILLAGE_COLUMNS if c not in header]
    if missing:
        return [], [(1, "admin_cli.csv_missing_columns", {"columns": ", ".join(missing)})]
    index = {c: header.index(c) for c in VILLAGE_COLUMNS}
    rows: list[VillageRow] = []
    errors: list[tuple[int, str, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for line, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) < len(header):
            errors.append((line, "admin_cli.csv_short_line", {}))
            continue
        code, name = record[index["code"]].strip(), clean_line(record[index["name"]], None)
        if not code or not name:
            errors.append((line, "admin_cli.csv_empty", {}))
            continue
        problem = _unit_problem("village", code, name)
        if problem is not None:
            errors.append((line, f"bad_input.csv_{problem[0]}", problem[1]))
            continue
        if code in seen:
            errors.append((line, "admin_cli.csv_duplicate", {"code": code, "first": seen[code]}))
            continue
        seen[code] = line
        figures = []
        for column in ("households", "adults"):
            raw = record[index[column]].strip()
            if not raw.isdigit() or int(raw) > MAX_FIGURE:
                errors.append((line, "admin_cli.csv_bad_number", {"column": column, "value": raw}))
                break
            figures.append(int(raw))
        else:
            rows.append(VillageRow(line, code, name, figures[0], figures[1]))
    return rows, errors


async def _villages_import(args: argparse.Namespace, settings: Settings) -> int:
    async with await open_runtime(settings) as runtime:
        commune = await _commune(runtime, args.commune)
        if commune is None:
            return 1
        try:
            data = args.file.read_bytes()
        except OSError as exc:
            _say(runtime, "admin_cli.cannot_read", err=True, file=str(args.file), reason=exc.strerror or str(exc))
            return 1
        rows, errors = read_villages_csv(data)
        if errors:
            for line, key, params in errors:
                _say(runtime, "admin_cli.csv_error", err=True, line=line, problem=runtime.content.texts(key, **params))
            _say(runtime, "admin_cli.csv_nothing_imported", err=True, count=len(errors))
            return 1
        added = updated = 0
        now = runtime.clock.now()
        async with runtime.db.uow() as uow:
            for row in rows:
                village = await uow.units.by_code("village", row.code, commune.id)
                if village is None:
                    await uow.units.add("village", row.code, row.name, commune.id, row.households, row.adults)
                    added += 1
                else:
                    await uow.units.update(village.id, row.name, row.households, row.adults)
                    updated += 1
            await uow.audit.add(None, "villages_import", f"unit:{commune.id}", now,
                                {"added": added, "updated": updated, "file": args.file.name}, unit_id=commune.id)
        _say(runtime, "admin_cli.villages_imported", added=added, updated=updated, commune=commune.name)
    return 0


async def _staff_invite(args: argparse.Namespace, settings: Settings) -> int:
    async with await open_runtime(settings) as runtime:
        if args.province:
            async with runtime.db.uow() as uow:
                unit = await uow.units.by_code("province", args.province)
            if unit is None:
                _say(runtime, "admin_cli.no_province", err=True, code=args.province)
                return 1
            role = "province_staff"
        else:
            unit = await _commune(runtime, args.commune)
            if unit is None:
                return 1
            role = "staff"
        if not (1 <= args.days <= 90 and 1 <= args.uses <= 50):
            _say(runtime, "admin_cli.invite_limits", err=True)
            return 1
        now = runtime.clock.now()
        async with runtime.db.uow() as uow:
            invite = await create_invite(uow, unit.id, role, now, timedelta(days=args.days), args.uses)
            await uow.audit.add(None, "invite", f"unit:{unit.id}", now, {"role": role, "code": invite.code},
                                unit_id=unit.id)
        _say(runtime, "admin_cli.staff_invite" if role == "staff" else "admin_cli.province_staff_invite",
             code=invite.code, days=args.days, uses=args.uses, commune=unit.name)
    return 0


async def _members_export(args: argparse.Namespace, settings: Settings) -> int:
    async with await open_runtime(settings) as runtime:
        commune_id = None
        if args.commune:
            commune = await _commune(runtime, args.commune)
            if commune is None:
                return 1
            commune_id = commune.id
        async with runtime.db.uow() as uow:
            rows = await uow.members.roster(commune_id)
        texts = runtime.content.texts
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([plain_text(texts(f"admin_cli.columns.{c}")) for c in
                         ("id", "name", "role", "unit_code", "unit", "status", "joined", "channels", "last_report")])
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
        if args.output:
            args.output.write_text(out.getvalue(), encoding="utf-8-sig")  # BOM: Excel opens Vietnamese right
            _say(runtime, "admin_cli.exported", count=len(rows), file=str(args.output))
        else:
            sys.stdout.write(out.getvalue())
    return 0


async def _member_forget(args: argparse.Namespace, settings: Settings) -> int:
    async with await open_runtime(settings) as runtime:
        now = runtime.clock.now()
        async with runtime.db.uow() as uow:
            member = await uow.members.get(args.id)
            if member is None:
                _say(runtime, "admin_cli.no_member", err=True, id=args.id)
                return 1
            unit = await uow.units.get(member.unit_id)
            commune_id = None if unit is None else unit.id if unit.kind == "commune" else unit.parent_id
            chats = await uow.members.forget(member.id)
            await uow.audit.add(None, "member_forget", f"member:{member.id}", now, {"identities": len(chats)},
                                unit_id=commune_id)
        _say(runtime, "admin_cli.forgotten", id=args.id)
    return 0


async def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.content import load_content

    texts = load_content(settings.content_dir).texts
    if not backend.is_postgres(settings.db) and not backend.database_file(settings.db).exists():
        _say(texts, "admin_cli.no_database", err=True, file=str(backend.database_file(settings.db)))
        return 1
    db = backend.database_from_url(settings.db)
    try:
        async with db:
            await db.backup(str(args.file))  # PostgreSQL: pg_dump, custom format
    except backend.BackupToolMissing:
        _say(texts, "admin_cli.pg_dump_missing", err=True)
        return 1
    except backend.BackupFailed as failed:
        _say(texts, "admin_cli.pg_dump_failed", err=True, error=str(failed))
        return 1
    _say(texts, "admin_cli.backed_up", file=str(args.file))
    return 0


async def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from bot.content import load_content

    texts = load_content(settings.content_dir).texts
    if backend.is_postgres(settings.db):  # a dump is restored by PostgreSQL's own tool
        _say(texts, "admin_cli.pg_restore", err=True, file=str(args.file))
        return 1
    target = backend.database_file(settings.db)
    if not backend.is_backup(str(args.file)):
        _say(texts, "admin_cli.not_a_backup", err=True, file=str(args.file))
        return 1
    try:
        backend.check_unused(settings.db)  # refused at once, before asking, while anyone has it open
        _say(texts, "admin_cli.restore_warning", err=True, file=str(target))
        if not args.yes:
            if not sys.stdin.isatty():
                _say(texts, "admin_cli.restore_needs_yes", err=True)
                return 1
            if input("> ").strip().lower() not in ("co", "có", "yes", "y"):
                return 1
        await backend.restore(settings.db, str(args.file))
    except DatabaseInUse:
        _say(texts, "bad_input.restore_in_use", err=True, file=str(target))
        return 1
    _say(texts, "admin_cli.restored", file=str(target))
    return 0
