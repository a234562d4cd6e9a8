"""Test helpers: the fixed "now", and a user that drives the engine like an adapter would."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.messages import Inbound, Option, Reply, plain_text, with_buttons
from bot.flows.engine import Engine
from bot.handlers.telegram_outbox import CHANNEL
from bot.services.demo import Demo
from storage import Database

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Sunday 22 November 2026, 09:30 in Vietnam.
NOW = datetime(2026, 11, 22, 9, 30, tzinfo=TZ)
_update_ids = itertools.count(1)


def text_of(replies: list[Reply], channel: str = "telegram") -> str:
    """What the user reads: on Telegram the words for buttons ("bấm"), elsewhere for typing ("gõ")."""
    return "\n".join(plain_text(with_buttons(r).text if channel == "telegram" else r.text) for r in replies)


class ChatUser:
    """Drives the engine as one user of a channel, the way an adapter would."""

    def __init__(self, engine: Engine, user_id: str, name: str = "Lan", channel: str = "telegram") -> None:
        self.engine = engine
        self.user_id = user_id
        self.name = name
        self.channel = channel
        self.last: list[Reply] = []

    def _inbound(self, **kw: str) -> Inbound:
        return Inbound(
            channel=self.channel, update_key=str(next(_update_ids)), user_id=self.user_id,
            chat_id=self.user_id, display_name=self.name, **kw,
        )

    async def send(self, text: str) -> str:
        self.last = await self.engine.handle(self._inbound(text=text))
        return text_of(self.last, self.channel)

    async def deliver(self, inbound: Inbound) -> list[Reply]:
        self.last = await self.engine.handle(inbound)
        return self.last

    def option(self, label: str, replies: list[Reply] | None = None) -> Option:
        for reply in replies or self.last:
            for row in reply.options:
                for option in row:
                    if plain_text(option.label) == label or option.key == label:
                        return option
        raise AssertionError(f"no button {label!r} in {[r.options for r in replies or self.last]}")

    async def tap(self, label: str, replies: list[Reply] | None = None) -> str:
        option = self.option(label, replies)
        self.last = await self.engine.handle(self._inbound(choice=option.data))
        return text_of(self.last, self.channel)

    async def tap_data(self, data: str) -> str:
        self.last = await self.engine.handle(self._inbound(choice=data))
        return text_of(self.last, self.channel)


async def joined_village(engine: Engine, demo: Demo, index: int, user_id: str, leader: bool = False) -> ChatUser:
    """A user who joined the demo's village ``index`` (as its leader with ``leader``), named "Người USER_ID"."""
    user = ChatUser(engine, user_id, f"Người {user_id}")
    village = demo.villages[index]
    assert "Chào mừng" in await user.send(f"/start {village.leader_code if leader else village.member_code}")
    return user


def demo_staff(engine: Engine, demo: Demo) -> ChatUser:
    """The demo commune's staff member, on the terminal chat."""
    return ChatUser(engine, demo.staff_user, channel="terminal")


async def add_members(db: Database, demo: Demo, clock, count: int, first_id: int = 50_000) -> list[int]:
    """``count`` members over the demo's villages, on Telegram as chats ``first_id`` and on; their chat ids."""
    ids = []
    async with db.uow() as uow:
        for n in range(count):
            village = demo.villages[n % len(demo.villages)].village
            member = await uow.members.add(f"TV {n}", "member", village.id, clock.now())
            await uow.members.link_identity(member.id, CHANNEL, str(first_id + n), str(first_id + n), clock.now())
            ids.append(first_id + n)
    return ids
