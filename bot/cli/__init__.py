"""The ``tcns`` command line: one module per command group, each registering its commands.

    tcns                 the main job: the bot if a channel token is set, else the demo chat
    tcns demo [--no-chat] | chat [--user NAME]                       bot/cli/chat.py
    tcns run                                                         bot/cli/run.py
    tcns serve [--host H] [--port P] [--workers N]                   bot/cli/serve.py
    tcns parse "TEXT" [--today YYYY-MM-DD]                           bot/cli/parse.py
    tcns db upgrade | copy --from URL --to URL                       bot/cli/db.py
    tcns reminders plan | run | status                               bot/cli/reminders.py
    tcns commune | villages | staff | members | member | backup | restore   bot/cli/admin.py
    tcns export | targets                                            bot/cli/tally.py
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

from pydantic import ValidationError

from bot.cli import admin, chat, db, parse, reminders, run, serve, tally
from bot.cli.common import Handler, localise, say, vietnamese_logs
from bot.content import ContentError, load_content
from bot.runtime.logs import configure_logging
from bot.runtime.settings import Settings

GROUPS = (chat, run, serve, parse, db, reminders, admin, tally)


def _parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog="tcns", description="Bot for community digital technology teams")
    sub = parser.add_subparsers(dest="command")
    handlers: dict[str, Handler] = {}
    for group in GROUPS:
        handlers.update(group.register(sub))
    return parser, handlers


def _runs(args: argparse.Namespace) -> bool:
    """The long-running commands say what they do (passes, stops, blocked chats); the others stay quiet."""
    return args.command in ("run", "serve") or (args.command == "reminders" and args.reminders_command == "run")


def main(argv: list[str] | None = None) -> int:
    parser, handlers = _parser()
    with contextlib.suppress(ContentError, ValidationError):  # reported below, once the command is known
        localise(parser, load_content(Settings().content_dir))  # tcns --help in Vietnamese
    args = parser.parse_args(argv)
    level = logging.INFO if _runs(args) else logging.WARNING
    configure_logging("text", level)
    try:
        settings = Settings()
        if settings.log_format != "text":
            configure_logging(settings.log_format, level)
        # Lines in Vietnamese; level names too, except in JSON lines (collectors read those).
        vietnamese_logs(load_content(settings.content_dir), levels=settings.log_format == "text")
        if args.command is None:  # the main job
            if settings.telegram_bot_token or settings.zalo_bot_token:
                args.command = "run"
            else:
                say(load_content(settings.content_dir).texts, "cli.no_token")
                args.command, args.no_chat = "demo", False
        return handlers[args.command](args, settings)
    except ContentError as exc:  # said with the shipped texts: the deployment's own may be the broken ones
        say(load_content().texts, "cli.content_error", err=True, problem=str(exc))
        return 3
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        say(load_content().texts, "cli.settings_error", err=True, problems=problems)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
