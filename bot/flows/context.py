"""The per-update context a flow step works with.

A step reads the member, the stored conversation and the unit of work, and
returns replies. Buttons it offers are tied to the conversation's next version:
a stale or doubled tap on an old button is recognised and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from bot.content import Content, answer_key
from bot.domain.messages import Inbound, Markup, Option, Reply
from storage import UnitOfWork
from storage.models import Conversation, Member

GLOBAL_PREFIX = "g:"
KEYS_FIELD = "_keys"
# Keys of the options of pushes sent to the chat since its last message (bot.flows.pushed): they
# answer the next message, after the pending step's own keys and typed answers.
PUSHED_FIELD = "_pushed"
MEMORY_FIELD = "_recent"  # kept across flows: the chat's recent reports, to recognise a repeat without a query
MAX_KEY_CHARS = 40  # longer typed text is never a key or a menu label
# What a text-only user types for an option (Zalo, terminal): short digits, the same one for the
# same thing in every step. The options of a step are 1, 2, 3...; "0" takes back: it cancels a
# flow at any step, and undoes the report just recorded ("hủy" both ways).
CANCEL_KEY = "0"
UNDO_KEY = CANCEL_KEY


class Refusal(Exception):
    """A command cannot do what was asked: ``replies`` say why and what to type instead.

    Raised before any effect (nothing is written first); the engine answers with the replies."""

    def __init__(self, *replies: Reply) -> None:
        super().__init__(*(r.text for r in replies))
        self.replies = list(replies)


@dataclass
class Context:
    uow: UnitOfWork
    content: Content
    now: datetime
    tz: ZoneInfo
    inbound: Inbound
    member: Member | None
    conv: Conversation
    # The code of the member's commune, when the catalogue counts a service differently in some
    # commune (set by the engine; None otherwise: every service counts as the catalogue says).
    commune_code: str | None = None
    _keys: dict[str, str] = field(default_factory=dict)
    _reoffer: bool = False  # asking the same step again: its buttons keep their version

    @property
    def t(self) -> Any:
        return self.content.texts

    @cached_property
    def today(self) -> date:  # ``now`` is fixed for the context's one update
        return self.now.astimezone(self.tz).date()

    def unit_word(self, service: str | None) -> str:
        """The word after a count of ``service`` here: "hộ", "người", "lượt" (households for None)."""
        catalogue = self.content.catalogue
        return catalogue.unit_word(service, self.commune_code) if service else catalogue.word("households")

    @property
    def next_version(self) -> int:
        return self.conv.version if self._reoffer else self.conv.version + 1

    def reoffer(self) -> None:
        """The step is asked again, unchanged: the buttons already on screen stay valid
        (same version), and the ones offered now are the same buttons."""
        self._reoffer = True

    # Buttons -------------------------------------------------------------
    def option(self, label: str, action: str, key: str) -> Option:
        """A button valid only for the prompt it comes with.

        On a text-only channel it is chosen by typing ``key``; typing its label works too
        ("Giữ lại", "ghi nhan"), on every channel.
        """
        data = f"{self.next_version}:{action}"
        self._keys[key] = data
        typed = answer_key(label) if any(c.isalpha() for c in label) else ""
        if typed and len(typed) <= MAX_KEY_CHARS:
            self._keys.setdefault(typed, data)
        return Option(label, data, key)

    def global_option(self, label: str, action: str, key: str, key_action: str | None = None) -> Option:
        """A button that stays valid whatever happens next in the chat (e.g. undo).

        ``key_action`` is what typing ``key`` does on a text-only channel, where there is no
        message to tap on, if it should differ from the button (e.g. "undo my last report").
        """
        data = f"{GLOBAL_PREFIX}{action}"
        self._keys[key] = f"{GLOBAL_PREFIX}{key_action or action}"
        typed = answer_key(label) if any(c.isalpha() for c in label) else ""
        if typed and len(typed) <= MAX_KEY_CHARS:
            self._keys.setdefault(typed, self._keys[key])
        return Option(label, data, key)

    def cancel_option(self) -> Option:
        return self.option(self.t("buttons.cancel"), "cancel", CANCEL_KEY)

    # Replies -------------------------------------------------------------
    def say(self, key: str, /, **params: Any) -> Reply:
        return Reply(self.t(key, **params))

    def reply(self, text: Markup, rows: list[list[Option]] | None = None, menu: bool = False,
              commands_for: str | None = None) -> Reply:
        role = (self.member.role if self.member is not None else None) if menu else None
        return Reply(text, tuple(tuple(row) for row in rows or ()), menu, commands_for=commands_for,
                     menu_role=commands_for or role)

    # Conversation state --------------------------------------------------
    def goto(self, flow: str, step: str, **data: Any) -> None:
        self.conv.flow, self.conv.step = flow, step
        self.conv.data = {**{k: v for k, v in self.conv.data.items() if k != KEYS_FIELD}, **data}

    def end(self) -> None:
        """Leave any flow; only the chat's memory (``MEMORY_FIELD``) stays."""
        memory = self.conv.data.get(MEMORY_FIELD)
        self.conv.flow, self.conv.step = "", ""
        self.conv.data = {MEMORY_FIELD: memory} if memory else {}

    def remember(self, value: Any) -> None:
        """What this chat keeps between messages, whatever flow comes and goes (small)."""
        if value:
            self.conv.data[MEMORY_FIELD] = value
        else:
            self.conv.data.pop(MEMORY_FIELD, None)

    @property
    def memory(self) -> Any:
        return self.conv.data.get(MEMORY_FIELD)

    def finish(self, loaded: tuple[str, str, dict[str, Any]]) -> Conversation:
        """The conversation to store: the keys of the buttons just offered, and a new version
        if anything changed. A reply that offered nothing new in a step that did not change
        (an error, a hint) leaves the buttons on screen and their keys valid."""
        keyed = (KEYS_FIELD, PUSHED_FIELD)
        data = {k: v for k, v in self.conv.data.items() if k not in keyed}
        if not self._keys and self.conv.flow and (self.conv.flow, self.conv.step) == loaded[:2] \
                and data == {k: v for k, v in loaded[2].items() if k not in keyed}:
            return Conversation(self.conv.flow, self.conv.step, dict(loaded[2]), self.conv.version)
        if self._keys:
            data[KEYS_FIELD] = self._keys
        return Conversation(self.conv.flow, self.conv.step, data, self.next_version)
