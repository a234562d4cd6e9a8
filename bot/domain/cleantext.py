"""One-line text that people give the bot to keep (display names, village names, reasons):
cleaned so that it can always be stored and shown, never fatal.

A channel may hand over anything: a lone surrogate (a broken emoji; SQLite cannot store it
as UTF-8), control characters, bidi overrides and zero-width characters, a name made only of
invisible "blank" letters (U+3164 and the like), stacks of combining marks, 10,000 characters.
:func:`clean_line` keeps what a person sees and drops the rest. Pure: no storage or channel imports.
"""

from __future__ import annotations

import unicodedata

# Letters and symbols that render as nothing; used for "invisible" names.
BLANKS = frozenset("\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")
ZWJ = "\u200d"  # kept: it joins emoji (👨‍👩‍👧)
MAX_MARKS = 2  # combining marks on one letter: Vietnamese needs at most two (ệ = e + ̂ + ̣)


def clean_line(text: str | None, max_chars: int | None) -> str:
    """``text`` as one clean line of at most ``max_chars`` characters (None: any length, for
    callers that refuse a text too long rather than cut it); ``""`` if nothing visible is left.

    NFC; lone surrogates, control and format characters (zero-width, bidi, soft hyphen) and
    blank letters dropped; every kind of space or line break one space; at most
    :data:`MAX_MARKS` combining marks per letter; cut at ``max_chars`` without leaving a
    letter's marks or a dangling space behind.
    """
    if not text:
        return ""
    out: list[str] = []
    marks = 0
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char in BLANKS or category in ("Cs", "Co") or (category == "Cf" and char != ZWJ):
            continue
        if category[0] == "Z" or category == "Cc":
            out.append(" ")  # tabs, line breaks and other controls end a word
            marks = 0
            continue
        if category in ("Mn", "Me"):
            if marks >= MAX_MARKS or not out or out[-1] == " ":
                continue
            marks += 1
        else:
            marks = 0
        out.append(char)
    words = "".join(out).split()
    if not any(_visible(char) for word in words for char in word):
        return ""
    line = " ".join(words)
    if max_chars is not None and len(line) > max_chars:
        cut = max_chars
        while cut > 0 and unicodedata.category(line[cut]) in ("Mn", "Me"):
            cut -= 1  # the marks past the cut would lose their letter: cut before the letter
        line = line[:cut].rstrip(" " + ZWJ)
    return line


def _visible(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNPS" and char not in BLANKS
