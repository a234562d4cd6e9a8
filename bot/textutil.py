"""Text helpers shared by the parser and the flows: diacritic folding and clean-up."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, strip Vietnamese diacritics and collapse white space.

    ``"Chữ Kí Số"`` and ``"chu  ky so"`` both fold to ``"chu ki so"`` / ``"chu ky so"``;
    ``đ`` becomes ``d``. Used wherever users may type with or without diacritics.
    """
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", text.lower()).strip()
