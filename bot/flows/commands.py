"""Chat commands and who may use them: the one permission table.

Each feature declares its commands in its ``FEATURE``; ``bot.flows.registry`` collects them. A command names
the roles allowed to run it (``guest`` is a user who has not joined yet); anyone else
gets a short answer and nothing happens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain.messages import Reply
from bot.flows.context import Context

GUEST = "guest"
MEMBERS = frozenset({"member", "leader"})
STAFF = frozenset({"staff", "admin"})
REGISTERED = MEMBERS | STAFF
EVERYONE = REGISTERED | {GUEST}

Handler = Callable[[Context, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]  # ASCII (Telegram allows nothing else); the first is canonical
    handler: Handler
    roles: frozenset[str]
    keeps_flow: bool = False  # True: the handler decides what happens to an ongoing flow


def role_of(ctx: Context) -> str:
    return ctx.member.role if ctx.member is not None else GUEST
