"""What crosses between channel adapters and the conversation core.

Adapters turn a channel update into an :class:`Inbound` and render each
:class:`Reply`: buttons where the channel has them, ``key) label`` lines where it
does not (a text-only user answers with the key).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Markup


@dataclass(frozen=True)
class Inbound:
    channel: str  # telegram | terminal | zalo
    update_key: str  # unique per channel: a redelivery carries the same key
    user_id: str
    chat_id: str
    display_name: str | None = None
    text: str | None = None  # a typed message
    choice: str | None = None  # the data of a tapped button


@dataclass(frozen=True)
class Option:
    label: str
    data: str  # opaque to adapters; Telegram callback data, well under 64 bytes
    key: str  # what a text-only user types to choose it


@dataclass(frozen=True)
class Reply:
    text: Markup  # Telegram-HTML: <b>, <i> only; user text already escaped
    options: tuple[tuple[Option, ...], ...] = ()  # rows of buttons
    menu: bool = False  # (re)show the persistent main menu keyboard
