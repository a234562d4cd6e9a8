"""The permission table, checked for every command and every role (where each may look and act:
tests/flows/test_scope.py)."""

from __future__ import annotations

import pytest
from support.helpers import ChatUser, text_of

from bot.flows.commands import GUEST
from bot.flows.engine import COMMANDS, Engine
from bot.services.demo import Demo
from storage import Database

ROLES = (GUEST, "member", "leader", "staff", "province_staff", "admin")
REFUSALS = ("Vai trò của bạn không dùng được lệnh này", "Bạn chưa tham gia", "Các lệnh của bạn: /trogiup, ví dụ")


async def user_with_role(role: str, engine: Engine, demo: Demo, db: Database, clock) -> ChatUser:
    user = ChatUser(engine, f"perm-{role}", f"Người {role}")
    if role == GUEST:
        return user
    unit = demo.commune if role in ("staff", "admin") else demo.villages[0].village
    if role == "province_staff":
        async with db.uow() as uow:
            unit = await uow.units.get(demo.commune.parent_id or 0)
    async with db.uow() as uow:
        member = await uow.members.add(user.name, role, unit.id, clock.now())
        await uow.members.link_identity(member.id, "telegram", user.user_id, user.user_id, clock.now())
    return user


@pytest.mark.parametrize("role", ROLES)
async def test_every_command_answers_every_role(role, engine: Engine, demo: Demo, db: Database, clock):
    user = await user_with_role(role, engine, demo, db, clock)
    for name, command in sorted(COMMANDS.items()):
        replies = await user.engine.handle(user._inbound(text=f"/{name}"))
        answer = text_of(replies)
        assert answer, f"/{name} left a {role} without an answer"
        refused = any(phrase in answer for phrase in REFUSALS)
        allowed = role in command.roles
        assert refused != allowed, f"/{name} for {role}: allowed={allowed} but answered {answer[:80]!r}"
        await user.send("/huy")  # leave any flow the command opened
