"""``tcns demo [--no-chat]`` and ``tcns chat [--user NAME]``: the terminal chat."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from bot.cli.common import Handler, say
from bot.domain.cleantext import clean_line
from bot.handlers.terminal import TerminalChat
from bot.runtime.core import open_runtime
from bot.runtime.serve import terminal_messages
from bot.runtime.settings import Settings
from bot.services.demo import seed_demo


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:  # type: ignore[type-arg]
    demo = sub.add_parser("demo", help="seed the demo commune and open a terminal chat as a new user")
    demo.add_argument("--no-chat", action="store_true", help="only seed and print the invite codes")
    chat = sub.add_parser("chat", help="open the terminal chat on the existing database")
    chat.add_argument("--user", default=None, help="act as this terminal user (e.g. canbo for demo staff)")
    return {"demo": lambda args, settings: _done(_demo(settings, chat=not args.no_chat)),
            "chat": lambda args, settings: _done(_chat(settings, args.user))}


def _done(work: Any) -> int:
    asyncio.run(work)
    return 0


async def _demo(settings: Settings, chat: bool) -> None:
    async with await open_runtime(settings) as runtime:
        demo = await seed_demo(runtime.db, runtime.content, runtime.clock.now())
        texts = runtime.content.texts
        say(texts, "cli.demo_ready", commune=demo.commune.name, villages=len(demo.villages))
        for codes in demo.villages:
            say(texts, "cli.demo_code", village=codes.village.name, code=codes.member_code,
                leader_code=codes.leader_code)
        say(texts, "cli.demo_staff", user=demo.staff_user)
        say(texts, "cli.demo_try", code=demo.villages[0].member_code)
        if chat:
            guest = f"khach-{uuid.uuid4().hex[:6]}"
            say(texts, "cli.chat_you", user=guest)
            await TerminalChat(runtime.engine, runtime.content, guest, display_name="Khách",
                               inbox=terminal_messages(runtime, guest)).run()


async def _chat(settings: Settings, user: str | None) -> None:
    async with await open_runtime(settings) as runtime:
        # --user comes from the shell: bytes that are not UTF-8 arrive as lone surrogates, which cannot be stored.
        name = clean_line(user, 64)
        if not name:
            name = f"khach-{uuid.uuid4().hex[:6]}"
            say(runtime.content.texts, "cli.chat_you", user=name)
        await TerminalChat(runtime.engine, runtime.content, name, inbox=terminal_messages(runtime, name)).run()
