"""Telegram's command menu follows the user's role: members see theirs, team leaders and
commune staff see the commands they can use, and a role change moves the menu."""

from __future__ import annotations

from support import peek
from support.fakebotapi import FakeBotApi
from support.telegram import join

from bot.content import Content
from bot.domain.messages import Markup, Reply
from bot.flows.engine import COMMANDS
from bot.handlers.telegram import CHANNEL, menu_commands
from bot.handlers.telegram_outbox import telegram_delivery
from bot.services.outbox import OutboxSender
from bot.services.reminders import payload, reply_of

STAFF_ONLY = {"moi", "thongbao", "xuat", "vaitro", "thon", "chitieu"}
LEADER_TOO = {"gannhat", "xoabc", "baothay"}
ROLES = ("member", "leader", "staff", "province_staff", "admin")


def names(commands: list[dict]) -> set[str]:
    return {c["command"] for c in commands}


def chat_menu(server: FakeBotApi, chat_id: int) -> set[str]:
    return names(server.commands_for({"type": "chat", "chat_id": chat_id}))


def test_every_role_has_a_menu_the_command_registry_allows(content: Content):
    for role in ROLES:
        menu = menu_commands(content, role)
        assert menu, role
        for command in menu:
            assert command.command == "start" or role in COMMANDS[command.command].roles
            assert 1 <= len(command.description) <= 256  # Telegram's limit
    member = {c.command for c in menu_commands(content, "member")}
    assert "start" in member and not member & (STAFF_ONLY | LEADER_TOO)
    assert {c.command for c in menu_commands(content, "leader")} >= LEADER_TOO
    assert {c.command for c in menu_commands(content, "staff")} >= (STAFF_ONLY | LEADER_TOO)
    province = {c.command for c in menu_commands(content, "province_staff")}
    assert province >= {"tuan", "thang", "quy", "nam", "ky", "bieudo", "xuat", "chitieu", "help"}
    assert not province & {"baocao", "moi", "thanhvien", "thongbao", "vaitro"}  # reads, never runs a commune


def test_a_menu_travels_with_an_outbox_message():
    told = Reply(Markup("Vai trò của bạn nay là <b>tổ trưởng</b>."), commands_for="leader")
    assert reply_of(payload(told)) == told
    assert "commands_for" not in payload(Reply(Markup("Nhắc báo cáo")))


async def test_each_role_gets_its_menu_when_joining(telegram_commune):
    server, app, _, _, demo, staff_code = telegram_commune
    await app.bot_data["adapter"].post_init(app)
    default = names(server.commands_for())
    assert {"baocao", "cuatoi", "huy", "help", "start"} <= default and not default & STAFF_ONLY

    can_bo, lan, tu = server.user(5001, "Cán bộ"), server.user(5002, "Lan"), server.user(5003, "Tư")
    await join(can_bo, staff_code)
    await join(lan, demo.villages[0].member_code)
    await join(tu, demo.villages[1].leader_code)

    assert chat_menu(server, can_bo.id) >= (STAFF_ONLY | LEADER_TOO)
    assert chat_menu(server, lan.id) == set()  # members keep the default menu
    leader = chat_menu(server, tu.id)
    assert leader >= LEADER_TOO and not leader & STAFF_ONLY


async def test_a_role_change_tells_the_member_and_moves_their_menu(telegram_commune, content: Content):
    server, app, db, clock, demo, staff_code = telegram_commune
    can_bo, lan = server.user(5001, "Cán bộ"), server.user(5002, "Lan")
    await join(can_bo, staff_code)
    await join(lan, demo.villages[0].member_code)
    number = await peek.member_id(db, "Lan")
    sender = OutboxSender(db, {CHANNEL: telegram_delivery(app.bot, content)}, clock, rate=1000, per_chat_interval=0)

    await can_bo.send(f"/vaitro {number} totruong")
    assert "thành tổ trưởng" in (await can_bo.next_reply()).plain_text
    assert (await sender.drain()).sent == 1
    told = await lan.next_reply()
    assert "nay là tổ trưởng" in told.plain_text and "/trogiup" in told.plain_text
    assert chat_menu(server, lan.id) >= LEADER_TOO

    await can_bo.send(f"/vaitro {number} thanhvien")
    await can_bo.next_reply()
    assert (await sender.drain()).sent == 1
    assert "nay là thành viên" in (await lan.next_reply()).plain_text
    assert chat_menu(server, lan.id) == set()  # back to the default menu

    # /help refreshes the menu too: a chat whose menu was lost gets it back.
    await can_bo.send(f"/vaitro {number} totruong")
    await can_bo.next_reply()
    server._commands_by_scope.clear()
    await lan.send("/help")
    await lan.next_reply()
    await server.wait_until(lambda: chat_menu(server, lan.id) >= LEADER_TOO, what="the menu after /help")
