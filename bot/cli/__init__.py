"""The ``tcns`` command line.

    tcns                 the main job: the Telegram bot if TELEGRAM_BOT_TOKEN is set, else the demo chat
    tcns demo [--no-chat]
    tcns chat [--user NAME]
    tcns run
    tcns parse "TEXT" [--today YYYY-MM-DD]
    tcns db upgrade
    tcns reminders plan [--from DATE --to DATE] [--commune CODE] | run [--now "YYYY-MM-DD HH:MM"] | status
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import uuid
from datetime import date
from typing import Any

from pydantic import ValidationError

from bot.cli import admin as admin_cli
from bot.cli import reminders as reminders_cli
from bot.cli import tally as tally_cli
from bot.content import ContentError, load_content
from bot.domain.cleantext import clean_line
from bot.domain.report_parser import parse_report
from bot.handlers.plain import plain_text
from bot.handlers.terminal import TerminalChat
from bot.runtime.core import Runtime, open_runtime
from bot.runtime.settings import Settings
from bot.services.demo import seed_demo

log = logging.getLogger("tcns")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tcns", description="Bot for community digital technology teams")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="seed the demo commune and open a terminal chat as a new user")
    demo.add_argument("--no-chat", action="store_true", help="only seed and print the invite codes")
    chat = sub.add_parser("chat", help="open the terminal chat on the existing database")
    chat.add_argument("--user", default=None, help="act as this terminal user (e.g. canbo for demo staff)")
    sub.add_parser("run", help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    parse = sub.add_parser("parse", help="print how the bot reads a text report, as JSON")
    parse.add_argument("text")
    parse.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending schema migrations")
    reminders_cli.add_parser(sub)
    admin_cli.register(sub)
    tally_cli.register(sub)
    return parser


def _say(runtime: Runtime, key: str, **params: Any) -> None:
    print(plain_text(runtime.content.texts(key, **params)))


async def _demo(settings: Settings, chat: bool) -> None:
    async with await open_runtime(settings) as runtime:
        demo = await seed_demo(runtime.db, runtime.content, runtime.clock.now())
        _say(runtime, "cli.demo_ready", commune=demo.commune.name, villages=len(demo.villages))
        for codes in demo.villages:
            _say(runtime, "cli.demo_code", village=codes.village.name, code=codes.member_code,
                 leader_code=codes.leader_code)
        _say(runtime, "cli.demo_staff", user=demo.staff_user)
        _say(runtime, "cli.demo_try", code=demo.villages[0].member_code)
        if chat:
            guest = f"khach-{uuid.uuid4().hex[:6]}"
            await TerminalChat(runtime.engine, runtime.content, guest, display_name="Khách").run()


async def _chat(settings: Settings, user: str | None) -> None:
    async with await open_runtime(settings) as runtime:
        # --user comes from the shell: bytes that are not UTF-8 arrive as lone surrogates, which cannot be stored.
        name = clean_line(user, 64) or f"khach-{uuid.uuid4().hex[:6]}"
        await TerminalChat(runtime.engine, runtime.content, name, inbox=_terminal_inbox(runtime, name)).run()


def _terminal_inbox(runtime: Runtime, user: str):  # type: ignore[no-untyped-def]
    from bot.domain.deadlines import Planner
    from bot.handlers.terminal_outbox import terminal_inbox
    from bot.services.announcements import summary_followup

    planner = Planner.for_content(runtime.content, runtime.settings.tz)
    return terminal_inbox(runtime.db, runtime.clock, planner, user, summary_followup(runtime.db, runtime.content))


async def _run_bot(settings: Settings) -> int:
    """The bot on every channel with a token (Telegram, Zalo), with reminders, until SIGTERM or Ctrl-C."""
    from bot.handlers import telegram_outbox, zalo, zalo_outbox
    from bot.handlers.telegram import build_application
    from bot.handlers.telegram_polling import TelegramPolling

    async with await open_runtime(settings) as runtime, contextlib.AsyncExitStack() as stack:
        stop = reminders_cli.stop_on_signals()
        deliveries = {}
        telegram: TelegramPolling | None = None
        zalo_adapter = None  # checked first: a refused token stops start-up before anything runs
        if settings.zalo_bot_token:
            client = await stack.enter_async_context(zalo.ZaloClient(settings.zalo_bot_token,
                                                                     settings.zalo_api_base_url))
            zalo_adapter = zalo.ZaloAdapter(runtime.engine, runtime.content, client)
            try:
                account = await zalo_adapter.start()
            except (zalo.ZaloError, zalo.ZaloNetworkError) as exc:
                print(plain_text(runtime.content.texts("admin_cli.zalo_refused", error=str(exc))), file=sys.stderr)
                return 2
            log.info("Zalo bot %s is polling", account.get("account_name") or account.get("id"))
            deliveries[zalo.CHANNEL] = zalo_outbox.zalo_delivery(zalo_adapter)
        if settings.telegram_bot_token:
            application = build_application(
                settings.telegram_bot_token,
                runtime.engine,
                runtime.content,
                base_url=settings.telegram_api_base_url,
                base_file_url=settings.file_base_url,
            )
            telegram = TelegramPolling(application)
            await telegram.start()
            log.info("Telegram bot @%s is polling", application.bot.username)
            deliveries[telegram_outbox.CHANNEL] = telegram_outbox.telegram_delivery(application.bot, runtime.content)
        zalo_polling = asyncio.create_task(zalo_adapter.run(stop)) if zalo_adapter is not None else None
        reminders = _start_reminders(runtime, deliveries, settings)
        await stop.wait()
        log.info("stopping: no new updates are fetched; those not handled yet stay stored for the next start")
        # Everything stops at once, each with its own grace (at most STOP_GRACE_SECONDS): the
        # sender settles its deliveries in flight and the channels finish the updates in hand,
        # while the channels' HTTP clients (closed when the exit stack unwinds) and the
        # database (closed by the runtime after that) are still open.
        stopping = [reminders.stop()]
        if zalo_polling is not None and zalo_adapter is not None:
            stopping.append(_stop_zalo(zalo_polling, zalo_adapter))
        if telegram is not None:
            stopping.append(telegram.stop())
        await asyncio.gather(*stopping)
    return 0


async def _stop_zalo(polling: asyncio.Task[None], adapter) -> None:  # type: ignore[no-untyped-def]
    await polling  # returns at once once the stop is set: the poll in flight is abandoned
    await adapter.stop()


def _start_reminders(runtime: Runtime, deliveries, settings: Settings):  # type: ignore[no-untyped-def]
    """The scheduler (decides what is due, enqueues) and the outbox sender (sends), on this loop."""
    from bot.domain.deadlines import Planner
    from bot.runtime.scheduler import ReminderScheduler
    from bot.services.announcements import summary_followup
    from bot.services.outbox import OutboxSender

    planner = Planner.for_content(runtime.content, settings.tz)
    sender = OutboxSender(runtime.db, deliveries, runtime.clock, is_quiet=planner.is_quiet, rate=settings.outbox_rate,
                          followups=summary_followup(runtime.db, runtime.content))
    scheduler = ReminderScheduler(runtime.db, runtime.content, runtime.clock, planner, sender)
    scheduler.start()
    return scheduler


def _parse(text: str, today: date | None, settings: Settings) -> int:
    """Print the bot's reading of ``text`` as JSON; 1 if the bot would refuse it as too long."""
    from bot.domain.textutil import clean

    content = load_content(settings.content_dir)
    today = today or date.today()
    limits = content.limits
    text = clean(text).strip()  # as the engine reads a message
    if len(text) > limits.max_message_chars:
        too_long = plain_text(content.texts("errors.too_long", max=limits.max_message_chars))
        print(json.dumps({"items": [], "date": None, "errors": [too_long]}, ensure_ascii=False))
        return 1
    result = parse_report(
        text, today=today, catalogue=content.catalogue, lexicon=content.lexicon,
        max_count=limits.max_count_per_report,
    )
    errors = []
    for issue in result.issues:
        service = content.catalogue.get(issue.service) if issue.service else None
        errors.append(plain_text(content.texts(
            f"parse_errors.{issue.code}", service=service.short if service else "",
            value=issue.value or "", max=limits.max_count_per_report,
        )))
    output = {
        "items": [{"service": item.service, "count": item.count} for item in result.items],
        "date": result.date.isoformat() if result.date else None,
        "errors": errors,
    }
    print(json.dumps(output, ensure_ascii=False))
    return 0


async def _db_upgrade(settings: Settings) -> None:
    from storage import database_from_url

    db = database_from_url(settings.db)
    await db.open(migrate=False)
    try:
        applied = await db.upgrade()
        version = await db.schema_version()
    finally:
        await db.close()
    print(f"schema version {version}; applied {applied or 'nothing'}")


def _runs(args: argparse.Namespace) -> bool:
    return args.command == "run" or (args.command == "reminders" and args.reminders_command == "run")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        # The long-running commands say what they do (passes, stops, blocked chats); the others stay quiet.
        level=logging.INFO if _runs(args) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = Settings()
        command = args.command
        if command is None:
            if settings.telegram_bot_token or settings.zalo_bot_token:
                command = "run"
            else:
                print(plain_text(load_content(settings.content_dir).texts("cli.no_token")))
                command = "demo"
                args.no_chat = False
        if command == "parse":
            return _parse(args.text, args.today, settings)
        if command in admin_cli.COMMANDS:
            return admin_cli.run(args, settings)
        if command in tally_cli.COMMANDS:
            return tally_cli.run(args, settings)
        if command == "demo":
            asyncio.run(_demo(settings, chat=not args.no_chat))
        elif command == "chat":
            asyncio.run(_chat(settings, args.user))
        elif command == "run":
            if not (settings.telegram_bot_token or settings.zalo_bot_token):
                texts = load_content(settings.content_dir).texts
                print(plain_text(texts("admin_cli.no_token")), file=sys.stderr)
                return 2
            return asyncio.run(_run_bot(settings))
        elif command == "reminders":
            return asyncio.run(reminders_cli.main(args, settings))
        elif command == "db":
            asyncio.run(_db_upgrade(settings))
    except ContentError as exc:
        print(f"content error: {exc}", file=sys.stderr)
        return 3
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        print(f"configuration error: {problems}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
