"""The terminal chat: a real channel adapter over stdin/stdout, for trying the bot with no token."""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bot.content import Content
from bot.domain.messages import Inbound, plain_text
from bot.flows.engine import Engine
from bot.handlers.plain import render_plain, save_attachment

CHANNEL = "terminal"
QUIT = {"/thoat", "/quit", "/exit"}
PUSH_POLL_SECONDS = 2.0  # how often a waiting chat looks for pushed messages
OUTPUT_DIR = "tcns_files"  # charts and exports the terminal chat receives, under the working directory


class TerminalChat:
    def __init__(
        self,
        engine: Engine,
        content: Content,
        user: str,
        display_name: str | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        output_dir: Path | None = None,
        inbox: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        self.engine = engine
        self.texts = content.texts
        self.user = user
        self.display_name = display_name or user
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self._session = uuid.uuid4().hex[:8]
        self._counter = itertools.count(1)
        self.output_dir = output_dir or Path.cwd() / OUTPUT_DIR
        self.inbox = inbox  # pushed messages (reminders) due for this user, rendered

    async def show_inbox(self) -> list[str]:
        shown = await self.inbox() if self.inbox is not None else []
        for block in shown:
            self._print(block)
        return shown

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def send(self, text: str) -> list[str]:
        """One message from the user; returns the rendered replies (also printed)."""
        inbound = Inbound(
            channel=CHANNEL,
            update_key=f"{self._session}:{next(self._counter)}",
            user_id=self.user,
            chat_id=self.user,
            display_name=self.display_name,
            text=text,
        )
        rendered = []
        for reply in await self.engine.handle(inbound):
            block = render_plain(reply)
            if reply.attachment is not None:
                path = save_attachment(reply.attachment, self.output_dir)
                block += "\n" + plain_text(self.texts("attachment.saved", path=str(path)))
            rendered.append(block)
        for block in rendered:
            self._print(block)
        await self.show_inbox()
        return rendered

    async def _read_line(self) -> str:
        """The next line typed; while the user thinks, what is pushed to them (a reminder, an
        announcement, a correction notice) is shown as it falls due."""
        reading = asyncio.ensure_future(asyncio.to_thread(self.stdin.readline))
        while True:
            done, _ = await asyncio.wait({reading}, timeout=PUSH_POLL_SECONDS)
            if done:
                return reading.result()
            if await self.show_inbox():
                self.stdout.write(self.texts("terminal.prompt"))
                self.stdout.flush()

    async def run(self) -> None:
        self._print(plain_text(self.texts("terminal.banner")))
        self._print(plain_text(self.texts("terminal.hint")))
        await self.show_inbox()
        while True:
            self.stdout.write(self.texts("terminal.prompt"))
            self.stdout.flush()
            line = await self._read_line()
            if not line:  # end of input
                self._print("")
                break
            text = line.strip()
            if not text:
                continue
            if text.lower() in QUIT:
                break
            await self.send(text)
        self._print(plain_text(self.texts("terminal.bye")))
