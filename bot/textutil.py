"""Text helpers shared by the parser and the flows: diacritic folding and clean-up."""

from __future__ import annotations

import itertools
import re
import unicodedata

_SPACES = re.compile(r"\s+")


def _fold_table() -> dict[int, str | None]:
    """Every accented Latin letter to its base letter; lone combining marks removed; đ to d."""
    table: dict[int, str | None] = {}
    for code in itertools.chain(range(0xC0, 0x250), range(0x1E00, 0x1F00)):
        char = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn")
        if base != char:
            table[code] = base
    for code in range(0x300, 0x370):
        table[code] = None
    table[ord("đ")], table[ord("Đ")] = "d", "D"
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lower-case, strip Vietnamese diacritics and collapse white space.

    ``"Chữ Kí Số"`` and ``"chu  ki so"`` both fold to ``"chu ki so"``; ``đ`` becomes ``d``.
    Used wherever users may type with or without diacritics.
    """
    return _SPACES.sub(" ", text.lower().translate(_FOLD)).strip()
