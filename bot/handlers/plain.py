"""Rendering for text-only channels (terminal, Zalo): options become ``[key] label`` lines."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.domain.messages import Attachment, Reply, plain_text


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


# Splitting long replies -------------------------------------------------------------------------
# A reply longer than a channel takes (Telegram: 4,096 characters, Zalo: 2,000) goes out in
# parts. Atoms are what a cut never falls inside: a tag, an entity, a word with the spaces
# after it, a run of spaces.
_ATOM = re.compile(r"<[^<>]*>|&#?[0-9A-Za-z]+;|[^\s<&]+\s*|\s+|[<&]")
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][\w-]*)")
_ANY_TAG = re.compile(r"<[^<>]*>")


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


class _Parts:
    """Fills parts greedily; with ``markup``, tags open at a cut are closed at the end of the
    part and opened again at the start of the next one, so every part is balanced HTML."""

    def __init__(self, limit: int, markup: bool, length: Callable[[str], int]) -> None:
        self.limit, self.markup, self.length = limit, markup, length
        self.parts: list[str] = []
        self.stack: list[tuple[str, str]] = []  # (name, opening tag) open at the end of the current part
        self.current, self.size, self.has_text = "", 0, False

    def _closing(self, stack: list[tuple[str, str]]) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(stack))

    def _after(self, piece: str) -> list[tuple[str, str]]:
        if not self.markup or "<" not in piece:
            return self.stack
        stack = list(self.stack)
        for tag in _ANY_TAG.finditer(piece):
            found = _TAG_NAME.match(tag.group())
            if found is None:
                continue
            closing, name = found.group(1), found.group(2).lower()
            if not closing:
                stack.append((name, tag.group()))
            elif stack and stack[-1][0] == name:
                stack.pop()
        return stack

    def add(self, piece: str, separator: str = "", force: bool = False) -> bool:
        """Append ``piece`` (after ``separator`` unless the part is still empty) if it fits."""
        if not self.has_text and not piece:
            return True  # no blank line at the start of a part
        addition = separator + piece if self.has_text else piece
        stack = self._after(piece)
        size = self.size + self.length(addition)
        if not force and size + self.length(self._closing(stack)) > self.limit:
            return False
        self.current += addition
        self.size, self.stack, self.has_text = size, stack, True
        return True

    def cut(self) -> None:
        if self.has_text:
            self.parts.append(self.current + self._closing(self.stack))
        reopen = "".join(tag for _, tag in self.stack)
        self.current, self.size, self.has_text = reopen, self.length(reopen), False


def _atoms(line: str, budget: int, length: Callable[[str], int]) -> Iterator[str]:
    for match in _ATOM.finditer(line):
        atom = match.group()
        while length(atom) > budget:  # a word longer than half a part: cut inside it
            take = budget
            while length(atom[:take]) > budget:
                take -= (length(atom[:take]) - budget + 1) // 2 or 1
            yield atom[:take]
            atom = atom[take:]
        if atom:
            yield atom


def split_text(text: str, limit: int, *, markup: bool = False, length: Callable[[str], int] = len) -> list[str]:
    """``text`` in parts of at most ``limit`` (as ``length`` counts), cut at line ends where
    possible, else between words, else inside a word.

    With ``markup`` (Telegram HTML) a cut never falls inside a tag or an entity, and each part
    is balanced HTML on its own (tags open at a cut are closed, then opened again in the next
    part). Parts with nothing visible are left out.
    """
    parts = _Parts(limit, markup, length)
    for line in text.split("\n"):
        if parts.add(line, "\n"):
            continue
        parts.cut()  # the line does not fit here: a fresh part, if it fits whole there
        if parts.add(line):
            continue
        for atom in _atoms(line, max(1, limit // 2), length):
            if not parts.add(atom):
                parts.cut()
                parts.add(atom, force=True)  # fits, unless the tags to reopen take half a part
    parts.cut()
    visible = [p for p in parts.parts if (_ANY_TAG.sub("", p) if markup else p).strip()]
    return visible or [text]
