"""The registry: every feature of the chat, and the routing tables the engine reads.

Each feature module ends with ``FEATURE = Feature(...)`` (``bot.flows.feature``): its
commands, its flow and steps, its global actions, its text file. The tables below are built
from those declarations; a command, global action or flow name declared twice stops the
import with the two features named.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from bot.flows import (
    admin,
    announce,
    corrections,
    cycle,
    deadlines,
    guides,
    join,
    link,
    mine,
    report,
    smalltalk,
    undo,
    villages,
)
from bot.flows import help as help_flow
from bot.flows import tally as tally_flow
from bot.flows.commands import Command
from bot.flows.feature import Feature, Flow, GlobalAction

T = TypeVar("T")

FEATURE_MODULES = (join, help_flow, report, undo, mine, tally_flow, deadlines, cycle, admin, announce, corrections,
                   villages, guides, smalltalk, link)
FEATURES: tuple[Feature, ...] = tuple(module.FEATURE for module in FEATURE_MODULES)

# The text file every key outside a feature's own file lives in: buttons, errors, roles, the menu.
SHARED_TEXTS = "texts/shared.yaml"


def _table(entries: Iterable[tuple[str, T, Feature]], what: str) -> dict[str, T]:
    table: dict[str, T] = {}
    owner: dict[str, Feature] = {}
    for name, value, feature in entries:
        if name in table:
            raise ValueError(f"{what} {name!r} is declared by both {owner[name].name} and {feature.name}")
        table[name], owner[name] = value, feature
    return table


# /name -> the command (every alias of it).
COMMANDS: Mapping[str, Command] = _table(
    ((name, command, feature) for feature in FEATURES for command in feature.commands for name in command.names),
    "command")
# Buttons that stay valid whatever the chat does next: "g:<name>:<data>" -> handler(ctx, data).
GLOBAL_ACTIONS: Mapping[str, GlobalAction] = _table(
    ((name, action, feature) for feature in FEATURES for name, action in feature.global_actions.items()),
    "global action")
# The flow a chat is in (its stored name) -> its steps' handlers.
FLOWS: Mapping[str, Flow] = _table(
    ((feature.flow.name, feature.flow, feature) for feature in FEATURES if feature.flow is not None), "flow")
# Menu buttons (the persistent keyboard) send their label as text: label key -> command. The
# engine reads every role's labels; a command checks who runs it.
MENU: Mapping[str, str] = {"menu.report": "baocao", "menu.mine": "cuatoi", "menu.recent": "gannhat",
                           "menu.month": "thang", "menu.deadlines": "hanchot", "menu.members": "thanhvien",
                           "menu.help": "help"}
# Each role's keyboard, in rows of label keys (each row in the order of MENU).
MENUS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "member": (("menu.report", "menu.mine"), ("menu.help",)),
    "leader": (("menu.report", "menu.mine"), ("menu.recent", "menu.help")),
    "staff": (("menu.month", "menu.deadlines"), ("menu.members", "menu.help")),
    "admin": (("menu.month", "menu.members"), ("menu.help",)),
}
for _role, _rows in MENUS.items():
    for _key in (key for row in _rows for key in row):
        if _key not in MENU or MENU[_key] not in COMMANDS or _role not in COMMANDS[MENU[_key]].roles:
            raise ValueError(f"the {_role} menu button {_key} names no command the role can run")
