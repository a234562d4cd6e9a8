"""Rendering for text-only channels (terminal, Zalo): options become ``[key] label`` lines."""

from __future__ import annotations

import html
import re
from pathlib import Path

from bot.flows.types import Attachment, Reply

_TAG = re.compile(r"</?(?:b|i|u|s|code|pre)>")


def plain_text(markup: str) -> str:
    """Telegram-HTML to plain text: drop the few tags we use, unescape entities."""
    return html.unescape(_TAG.sub("", markup))


def render_plain(reply: Reply) -> str:
    lines = [plain_text(reply.text)]
    for row in reply.options:
        lines.append("   ".join(f"[{option.key}] {plain_text(option.label)}" for option in row))
    return "\n".join(lines)


def save_attachment(attachment: Attachment, directory: Path) -> Path:
    """Write a reply's file where a text-only user can open it; an existing name gets a suffix."""
    directory.mkdir(parents=True, exist_ok=True)
    name = Path(attachment.filename).name or "tcns.bin"
    path = directory / name
    stem, suffix, n = path.stem, path.suffix, 1
    while path.exists():
        n += 1
        path = directory / f"{stem}-{n}{suffix}"
    path.write_bytes(attachment.data)
    return path
