"""Text helpers shared by the parser and the flows: diacritic folding and clean-up."""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

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


# fold and clean are pure: one message is folded (and cleaned) several times on its way through
# the engine, the answers and the parser; the last few results are kept (a few kilobytes).
_MEMO = 256


@lru_cache(maxsize=_MEMO)
def fold(text: str) -> str:
    """Lower-case, strip Vietnamese diacritics and collapse white space.

    ``"Chữ Kí Số"`` and ``"chu  ki so"`` both fold to ``"chu ki so"``; ``đ`` becomes ``d``.
    Used wherever users may type with or without diacritics.
    """
    return _SPACES.sub(" ", text.lower().translate(_FOLD)).strip()


# --------------------------------------------------------------------------- clean-up of inbound text

REORDER_MARK = "\ufffd"
"""What :func:`clean` leaves in place of a right-to-left bidi control (see there)."""

# Right-to-left marks, embeddings, overrides and isolates: they can make digits show in
# another order than they are stored ("<RLO>51" shows as 15), so they are not silently removed.
_RTL_CONTROLS = ("\u061c", "\u200f", "\u202b", "\u202e", "\u2067")
# Thin spaces (used to group digits, "1 000"): removed between two digits, a space elsewhere.
_THIN_SPACES = ("\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u202f", "\u205f")
_THIN = "\u2009"
_SPECIAL: dict[int, str | None] = {
    **{ord(c): c for c in "\t\n\r"},
    0x85: "\n",  # next line
    **{ord(c): REORDER_MARK for c in _RTL_CONTROLS},
    **{ord(c): _THIN for c in _THIN_SPACES},
    0x200D: "\u200d",  # zero-width joiner and emoji presentation selectors: kept inside emoji only
    0xFE0E: "\ufe0e",
    0xFE0F: "\ufe0f",
    0x20E3: "\u20e3",  # combining enclosing keycap: "5️⃣" is a digit 5
    0x034F: None,  # combining grapheme joiner
    0x115F: None,  # Hangul fillers: letters that show as nothing
    0x1160: None,
    0x3164: None,
    0xFFA0: None,
    0x2800: " ",  # braille blank shows as a space
}
_DROP_CATEGORIES = frozenset({"Cf", "Cs", "Cc"})  # format (zero-width, bidi, soft hyphen, BOM), surrogates, controls


def _clean_char(code: int) -> str | None:
    special = _SPECIAL.get(code, "")
    if special != "":
        return special
    char = chr(code)
    category = unicodedata.category(char)
    if category == "Nd":  # any decimal digit (full-width, Arabic-Indic, Devanagari, bold...) to 0-9
        return str(unicodedata.decimal(char))
    if category == "Zs":
        return " "
    if category in ("Zl", "Zp"):
        return "\n"
    if category in _DROP_CATEGORIES:
        return None
    if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII ("ｖｎｅｉｄ") to ASCII
        return chr(code - 0xFEE0)
    if 0xFE00 <= code <= 0xFE0D or 0xE0100 <= code <= 0xE01EF:  # variation selectors
        return None
    return char


class _CleanTable(dict[int, str | None]):
    """``str.translate`` table filled on first sight of each character (bounded)."""

    def __missing__(self, code: int) -> str | None:
        value = _clean_char(code)
        if len(self) < 50_000:
            self[code] = value
        return value


_CLEAN = _CleanTable()
# Text made only of these is already clean: printable ASCII, tab and line breaks, and the Latin
# letters of Vietnamese (precomposed, NFC-stable; no digit, space or format character among them).
_ALREADY_CLEAN = re.compile("[\t\n\r\x20-\x7e\u00c0-\u024f\u1e00-\u1eff]*")
_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NEEDS_CONTEXT = re.compile("[\u200d\ufe0e\ufe0f\u20e3\u2009]")
_KEYCAP = re.compile("([0-9#*])[\ufe0e\ufe0f]?\u20e3")
_JOINERS = re.compile("[\u200d\ufe0e\ufe0f\u20e3]+")
_THIN_IN_NUMBER = re.compile("(?<=[0-9])\u2009(?=[0-9])")
_RTL_TEXT = re.compile(
    "[\ufffd\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def _is_symbol(char: str) -> bool:
    return unicodedata.category(char)[0] in "SP"  # emoji are symbols; "#" and "*" have keycaps


def _emoji_joiners(text: str, start: int, end: int) -> str:
    """A run of joiners and presentation selectors is kept only inside an emoji sequence."""
    if start == 0 or not _is_symbol(text[start - 1]):
        return ""  # after a letter, mark, digit, space or at the start: invisible noise
    run = text[start:end]
    if end == len(text) or not _is_symbol(text[end]):
        run = run.replace("\u200d", "")  # a joiner joins two emoji or nothing
    return run


@lru_cache(maxsize=_MEMO)
def clean(text: str) -> str:
    """What a person sees, as plain characters: applied to every inbound text.

    * invisible characters are removed: zero-width spaces and joiners, the word joiner
      U+2060, soft hyphens, byte-order marks, left-to-right bidi controls, variation
      selectors, Hangul fillers, control characters (tab and line breaks stay);
      ``vne\\u2060id`` is ``vneid``, ``1\\u200e00`` is ``100``;
    * every Unicode decimal digit becomes 0-9 (``５``, ``٣``, ``𝟓``), full-width ASCII
      becomes ASCII, a keycap emoji digit (``5️⃣``) its digit; other compatibility
      forms (``²``, ``½``, ``①``) are left alone: they are not plain digits;
    * every space character becomes a space; a thin space between two digits is
      removed (``1 000``);
    * right-to-left controls (RLM, ALM, RLE, RLO, RLI) become :data:`REORDER_MARK`:
      they can show digits in another order than they are stored, so removing them
      would read a number other than the one seen (see :func:`reorders`);
    * emoji keep their joiners and presentation selectors;
    * the result is in NFC (Vietnamese letters typed as base + combining marks are
      composed; nothing else about letters changes).

    Idempotent. Plain Vietnamese text costs one regular-expression match.
    """
    if _ALREADY_CLEAN.fullmatch(text):
        return text
    if text.isascii():
        return _ASCII_CONTROLS.sub("", text) if _ASCII_CONTROLS.search(text) else text
    out = text.translate(_CLEAN)
    if _NEEDS_CONTEXT.search(out):
        out = _KEYCAP.sub(r"\1", out)
        out = _JOINERS.sub(lambda m: _emoji_joiners(m.string, m.start(), m.end()), out)
        out = _THIN_IN_NUMBER.sub("", out).replace(_THIN, " ")
    return out if out.isascii() else unicodedata.normalize("NFC", out)


def reorders(text: str) -> bool:
    """True if ``text`` (after :func:`clean`) may show its digits in another order than stored.

    That is when it holds a right-to-left letter (Hebrew, Arabic...) or the
    :data:`REORDER_MARK` left by a right-to-left control: numbers in such a line are
    not read.
    """
    return not text.isascii() and _RTL_TEXT.search(text) is not None
