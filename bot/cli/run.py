"""``tcns run``: the bot on every channel with a token, with reminders, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import Handler, say
from bot.content import load_content
from bot.runtime.core import open_runtime
from bot.runtime.serve import BotProcess, ChannelRefused, stop_on_signals
from bot.runtime.settings import Settings


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:  # type: ignore[type-arg]
    sub.add_parser("run", help="run the bot on every channel with a token (TELEGRAM_BOT_TOKEN, ZALO_BOT_TOKEN)")
    return {"run": lambda args, settings: run(settings)}


def run(settings: Settings) -> int:
    if not (settings.telegram_bot_token or settings.zalo_bot_token):
        say(load_content(settings.content_dir).texts, "admin_cli.no_token", err=True)
        return 2
    return asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> int:
    async with await open_runtime(settings) as runtime:
        stop = stop_on_signals()
        process = BotProcess(runtime)
        try:
            await process.start()
        except ChannelRefused as exc:
            say(runtime.content.texts, "admin_cli.zalo_refused", err=True, error=str(exc))
            return 2
        await stop.wait()
        await process.stop()
    return 0
