"""What crosses between channel adapters and the conversation core.

Adapters turn a channel update into an :class:`Inbound` and render each
:class:`Reply`: buttons where the channel has them, ``key) label`` lines where it
does not (a text-only user answers with the key).
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any


class Markup(str):
    """Text that is already safe Telegram-HTML (a rendered template); never escaped again."""

    @classmethod
    def lines(cls, parts: list[Markup] | tuple[Markup, ...]) -> Markup:
        return cls("\n".join(parts))


_TAG = re.compile(r"</?(?:b|i|u|s|code|pre)>")

# Words that depend on the channel: "bấm" where there are buttons, "gõ" where people type. A
# text says ``{tap}`` (content/texts/shared.yaml, ``channel_words``); it is rendered as both
# words between private-use marks, and each adapter keeps the one that fits it: Telegram
# ``for_buttons``, text-only channels (terminal, Zalo) ``for_typing`` (``plain_text`` does it).
_OPEN, _OR, _CLOSE = "\ue000", "\ue001", "\ue002"
_VARIANT = re.compile(f"{_OPEN}([^{_OR}{_CLOSE}]*){_OR}([^{_CLOSE}]*){_CLOSE}")


def channel_variant(buttons: str, typed: str) -> str:
    """One word for each kind of channel, chosen when the text is rendered."""
    return f"{_OPEN}{buttons}{_OR}{typed}{_CLOSE}"


def for_buttons(text: str) -> str:
    return _VARIANT.sub(r"\1", text) if _OPEN in text else text


def for_typing(text: str) -> str:
    return _VARIANT.sub(r"\2", text) if _OPEN in text else text


def plain_text(markup: str) -> str:
    """Telegram-HTML to plain text for a text-only channel: drop the few tags we use, unescape
    entities, keep the words for typing."""
    return html.unescape(_TAG.sub("", for_typing(markup)))


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
    media: bool = False  # a photo, file or voice came with it (never kept); ``text`` is then its caption


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
class PendingAttachment:
    """A file built after the transaction: ``build`` is CPU work on data already read
    (a chart, a spreadsheet), run in a worker thread while the database serves others."""

    kind: str  # photo | document
    build: Callable[[], bytes]
    filename: str
    mime_type: str

    async def built(self) -> Attachment:
        return Attachment(self.kind, await asyncio.to_thread(self.build), self.filename, self.mime_type)


@dataclass(frozen=True)
class Reply:
    text: Markup  # Telegram-HTML: <b>, <i> only; user text already escaped (a caption if attachment is set)
    options: tuple[tuple[Option, ...], ...] = ()  # rows of buttons
    menu: bool = False  # (re)show the persistent main menu keyboard
    attachment: Attachment | PendingAttachment | None = None
    # Set the chat's command menu to this role's commands (channels that have one: Telegram).
    commands_for: str | None = None
    menu_role: str | None = None  # whose main menu ``menu`` shows (each role has its own buttons)


def with_buttons(reply: Reply) -> Reply:
    """The reply as a channel with buttons shows it: the words for tapping."""
    if _OPEN not in reply.text and not any(_OPEN in o.label for row in reply.options for o in row):
        return reply
    rows = tuple(tuple(replace(o, label=for_buttons(o.label)) for o in row) for row in reply.options)
    return replace(reply, text=Markup(for_buttons(reply.text)), options=rows)


async def build_attachments(replies: Sequence[Reply]) -> list[Reply]:
    """Replies with every :class:`PendingAttachment` built: what adapters send."""
    return [replace(r, attachment=await r.attachment.built()) if isinstance(r.attachment, PendingAttachment) else r
            for r in replies]


def payload(reply: Reply) -> dict[str, Any]:
    """A reply as an outbox row stores it (JSON-able)."""
    return {
        "text": str(reply.text),
        "options": [[{"label": o.label, "data": o.data, "key": o.key} for o in row] for row in reply.options],
        **({"commands_for": reply.commands_for} if reply.commands_for else {}),
    }


def reply_of(payload: dict[str, Any]) -> Reply:
    """The :class:`Reply` an adapter renders for an outbox payload."""
    rows = tuple(tuple(Option(o["label"], o["data"], o["key"]) for o in row) for row in payload.get("options", ()))
    return Reply(Markup(payload["text"]), rows, commands_for=payload.get("commands_for"))
