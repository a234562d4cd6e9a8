"""The permission table, checked for every command and every role (where each may look and act:
tests/flows/test_scope.py)."""

from __future__ import annotations

from datetime import date

import pytest
from support import peek
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


# The commands of the monthly cycle (issue 13), with their arguments, and who may use them,
# written out here rather than read from the command table: a change to who may close a
# period or add a member fails this test until it is meant.
CYCLE = frozenset({"staff", "admin"})
TEAM = frozenset({"leader", "staff", "admin"})
ISSUE_13: tuple[tuple[str, frozenset[str]], ...] = (
    ("/chot", frozenset({"member", "leader"})),
    ("/chot dung 11", frozenset({"member", "leader"})),
    ("/khoaky 10", CYCLE),
    ("/moky 10", CYCLE),
    ("/themtv Mỹ Thạnh Bà Mười", TEAM),
    ("/thanhvien", TEAM),
    ("/baothay {no_phone} không có", TEAM),
    ("/hanchot", frozenset({"member", "leader", "staff", "admin"})),
    ('/hanchot them 30/12 "Đợt thử quyền"', CYCLE),
    ("/hanchot xoa {deadline}", CYCLE),
    ("/xuat word 11", frozenset({"staff", "admin", "province_staff"})),
)
# The answers that refuse a subcommand of a command a role may use otherwise.
SUB_REFUSALS = ("Chỉ cán bộ xã mới thêm được", "Chỉ cán bộ xã mới xóa được")
# What a refused command must leave as it was.
TABLES = ("members", "reports", "confirmations", "period_locks", "custom_deadlines", "audit")


async def _counts(db: Database) -> dict[str, int]:
    return {table: await peek.count(db, table) for table in TABLES}


@pytest.mark.parametrize("role", ROLES)
async def test_the_cycle_commands_answer_each_role_as_meant(role, engine: Engine, demo: Demo, db: Database, clock):
    async with db.uow() as uow:  # what the commands act on: a member without a phone, a campaign deadline
        no_phone = await uow.members.add("Bà Chín", "member", demo.villages[0].village.id, clock.now())
        custom = await uow.reminders.add_deadline(demo.commune.id, "Đợt cũ", clock.now().date(),
                                                  date(2026, 12, 28), None, clock.now())
    assert custom is not None
    user = await user_with_role(role, engine, demo, db, clock)
    for template, allowed in ISSUE_13:
        text = template.format(no_phone=no_phone.id, deadline=custom.id)
        before = await _counts(db)
        answer = text_of(await user.engine.handle(user._inbound(text=text)))
        refused = any(phrase in answer for phrase in (*REFUSALS, *SUB_REFUSALS))
        assert refused != (role in allowed), f"{text} for {role}: answered {answer[:100]!r}"
        if refused:
            assert await _counts(db) == before, f"{text} for {role} was refused but changed something"
        await user.send("/huy")


@pytest.mark.parametrize("role", ROLES)
async def test_a_phone_for_a_member_without_one_is_handed_over_by_their_team_only(role, engine: Engine, demo: Demo,
                                                                                  db: Database, clock):
    async with db.uow() as uow:
        no_phone = await uow.members.add("Bà Chín", "member", demo.villages[0].village.id, clock.now())
    user = await user_with_role(role, engine, demo, db, clock)
    answer = await user.send(f"/lienket {no_phone.id}")
    if role in TEAM:
        assert "Mã cho #" in answer
    else:  # a member or province staff: their own account is joined; a guest: not a code
        assert "Mã cho #" not in answer and ("đã tham gia rồi" in answer or "Mã liên kết không đúng" in answer)
    assert await peek.count(db, "link_codes") == (1 if role in TEAM else 0)
