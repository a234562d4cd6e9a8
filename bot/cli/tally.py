"""Command line for tallies (issue 3).

    tcns export --commune CODE --period 2026-11 [--format xlsx|docx|csv] [-o FILE]
    tcns targets import FILE.csv
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import Handler
from bot.content import load_content
from bot.domain.messages import plain_text
from bot.domain.periods import from_key
from bot.runtime.core import open_runtime
from bot.runtime.settings import Settings
from bot.services.export import export_filename, gather, to_file
from bot.services.tallies import build_tally
from bot.services.targets import import_targets


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:  # type: ignore[type-arg]
    export = sub.add_parser("export", help="the commune report of a period as XLSX, Word (docx) or CSV")
    export.add_argument("--commune", required=True, help="commune code, e.g. XA-MY-HIEP")
    export.add_argument("--period", required=True, help="2026-11, 2026-W47, 2026-Q4, 2026-H2, 2026 or 2026-11k15")
    export.add_argument("--format", choices=("xlsx", "docx", "csv"), default="xlsx")
    export.add_argument("-o", "--output", type=Path, default=None, help="file to write (default: a name in .)")
    targets = sub.add_parser("targets", help="yearly targets").add_subparsers(dest="action", required=True)
    imp = targets.add_parser("import", help="import targets from CSV: commune,village,service,year,target")
    imp.add_argument("file", type=Path)
    return {"export": lambda args, settings: asyncio.run(_export(args, settings)),
            "targets": lambda args, settings: asyncio.run(_targets_import(args, settings))}


def _err(text: Any) -> None:
    print(plain_text(text), file=sys.stderr)


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    try:
        period = from_key(args.period)
    except ValueError:
        texts = load_content(settings.content_dir).texts
        print(plain_text(texts("admin_cli.not_a_period", period=args.period)), file=sys.stderr)
        return 2
    async with await open_runtime(settings) as runtime:
        content = runtime.content
        async with runtime.db.uow() as uow:
            commune = await uow.units.by_code("commune", args.commune.upper())
            if commune is None:
                print(plain_text(content.texts("admin_cli.no_commune", code=args.commune)), file=sys.stderr)
                return 2
            tally = await build_tally(uow, commune, period, content.catalogue.codes, runtime.clock.now(),
                                          catalogue=content.catalogue)
            data = await gather(uow, tally)
        body = await asyncio.to_thread(to_file, data, content, settings.tz, args.format)
        output: Path = args.output or Path(export_filename(tally, args.format))
        output.write_bytes(body)
    print(output)
    return 0


async def _targets_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        texts = load_content(settings.content_dir).texts
        print(plain_text(texts("admin_cli.cannot_read", file=str(args.file), reason=str(exc))), file=sys.stderr)
        return 2
    async with await open_runtime(settings) as runtime:
        texts = runtime.content.texts
        async with runtime.db.uow() as uow:
            result = await import_targets(uow, runtime.content, text, runtime.clock.now())
        if result.errors:
            for error in result.errors:
                _err(error)
            _err(texts("targets.failed", count=len(result.errors)))
            return 1
        print(plain_text(texts("targets.imported", count=result.imported)))
    return 0
