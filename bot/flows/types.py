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
    invite_link: str | None = None  # where the channel has deep links: the prefix an invite code completes


@dataclass(frozen=True)
class Option:
    label: str
    data: str  # opaque to adapters; Telegram callback data, well under 64 bytes
    key: str  # what a text-only user types to choose it


@dataclass(frozen=True)
class Attachment:
    """A file sent with a reply: a photo (shown inline) or a document (downloaded)."""

    kind: str  # photo | document
    data: bytes
    filename: str
    mime_type: str

    def __repr__(self) -> str:
        return f"Attachment({self.kind!r}, {self.filename!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Reply:
    text: Markup  # Telegram-HTML: <b>, <i> only; user text already escaped (a caption if attachment is set)
    options: tuple[tuple[Option, ...], ...] = ()  # rows of buttons
    menu: bool = False  # (re)show the persistent main menu keyboard
    attachment: Attachment | None = None
