"""Rendering for text-only channels (terminal, Zalo): options become ``[key] label`` lines."""

from __future__ import annotations

import html
import re

from bot.flows.types import Reply

_TAG = re.compile(r"</?(?:b|i|u|s|code|pre)>")


def plain_text(markup: str) -> str:
    """Telegram-HTML to plain text: drop the few tags we use, unescape entities."""
    return html.unescape(_TAG.sub("", markup))


def render_plain(reply: Reply) -> str:
    lines = [plain_text(reply.text)]
    for row in reply.options:
        lines.append("   ".join(f"[{option.key}] {plain_text(option.label)}" for option in row))
    return "\n".join(lines)
