"""Resident ID numbers and phone numbers in free text, found before anything is stored.

tcns keeps counts, never residents' personal data. Staff type free text (a void reason, an
announcement, a deadline title, a village name) and sometimes paste a resident's details
into it: ``bà Lan CCCD 001203004567 sđt 0912345678``. :func:`find` says whether a text holds

- a citizen ID number: the 12-digit CCCD (also the 12-digit CMND of 2012–2016), whose first
  three digits are a province code (001–096) and fourth the century and sex (0–3); or the
  old 9-digit CMND, whose first two digits are a province code (01–38);
- a Vietnamese phone number: a mobile ``0[35789]xxxxxxxx`` or a landline ``02xxxxxxxxx``,
  also as ``+84…``/``84…``;

written in one piece or in digit groups with spaces, dots, dashes or brackets between them
(``0912 345 678``, ``001.203.004.567``, ``(+84) 912-345-678``), with full-width digits or with
invisible characters between the digits. After a word such as *CCCD*, *CMND*, *căn cước*,
*SĐT*, *điện thoại* or *Zalo*, any 9- or 12-digit number is an ID and any 9–11-digit number
a phone.

Not flagged: dates (``15/11/2026``, ``15.11.2026``), times, years, counts and household
figures (``1.200``), report numbers (``#123``), short hotlines (``1900 1234``) and amounts of
money (a number followed by *đồng*, *triệu*…, or a round one such as ``120.000.000``).

Pure: no storage, channel or content imports.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.domain.textutil import fold

ID_NUMBER = "id_number"
PHONE = "phone"

MAX_GROUPS = 6  # digit groups one written number may span: "+84 912 345 678" is four
MAX_DIGITS = 13

_GROUP = re.compile(r"\+?\d+")
# Between two digit groups of one number: "0912 345 678", "001.203.004.567", "(+84) 912-345-678".
_GAP = re.compile(r"[ .\-\u2013\u2014()]{1,3}")
_MOBILE = re.compile(r"0[35789]\d{8}")
_LANDLINE = re.compile(r"02\d{9}")
_CCCD = re.compile(r"0(\d\d)[0-3]\d{8}")
_CMND = re.compile(r"(?:0[1-9]|[12]\d|3[0-8])\d{7}")
# The words just before a number that say what it is (folded: no diacritics, lower case).
_FILLER = r"[\s:.#=\-]*(?:(?:so|la|cua|ba|ong|ca nhan)[\s:.#=\-]*)*$"
_ID_WORDS = re.compile(r"(?:\b(?:cccd|cmnd|cmt|can cuoc|chung minh|dinh danh|so dd))" + _FILLER)
_PHONE_WORDS = re.compile(r"(?:\b(?:sdt|so dt|dt|dtdd|dien thoai|zalo|tel|phone|hotline|lien he|goi))" + _FILLER)
_MONEY_WORDS = re.compile(r"^\s*(?:d|dong|vnd|k|nghin|ngan|trieu|ty|usd)\b")
_HOTLINES = ("1800", "1900")  # public service numbers, fine to announce
_CONTEXT = 32  # characters looked at before a number for one of the words above


@dataclass(frozen=True)
class Finding:
    kind: str  # ID_NUMBER | PHONE
    start: int  # where the number stands in normalise(text)
    end: int


def normalise(text: str) -> str:
    """What :func:`find` reads: NFKC (full-width digits and spaces made plain), every decimal
    digit as 0-9, and invisible format characters (zero-width, bidi marks, soft hyphen) and
    control characters dropped, so that ``0912\u200b345678`` reads as the number it looks like."""
    out = []
    for char in unicodedata.normalize("NFKC", text):
        category = unicodedata.category(char)
        if category in ("Cf", "Cs"):
            continue
        if category == "Cc":
            out.append(" ")
        elif char.isdecimal() and not char.isascii():
            out.append(str(unicodedata.decimal(char)))
        else:
            out.append(char)
    return "".join(out)


def find(text: str) -> Finding | None:
    """The first resident ID or phone number in ``text``, or None."""
    return next(_findings(normalise(text)), None)


def contains(text: str) -> bool:
    return find(text) is not None


def redact(text: str) -> str:
    """``text`` without the ID and phone numbers in it (for display names, which are cleaned, not refused)."""
    plain = normalise(text)
    spans = list(_findings(plain))
    if not spans:
        return text
    kept, at = [], 0
    for finding in spans:
        kept.append(plain[at:finding.start])
        at = finding.end
    kept.append(plain[at:])
    return " ".join("".join(kept).split())


def _chains(text: str) -> list[list[re.Match[str]]]:
    """Digit groups, chained where only a short separator stands between two of them."""
    chains: list[list[re.Match[str]]] = []
    previous: re.Match[str] | None = None
    for group in _GROUP.finditer(text):
        joined = (previous is not None and not group.group().startswith("+")
                  and _GAP.fullmatch(text, previous.end(), group.start()) is not None)
        if joined:
            chains[-1].append(group)
        else:
            chains.append([group])
        previous = group
    return chains


def _findings(text: str):  # type: ignore[no-untyped-def]
    searched_to = 0
    for chain in _chains(text):
        for i in range(len(chain)):
            for j in range(i, min(len(chain), i + MAX_GROUPS)):
                parts = chain[i:j + 1]
                if len(parts) > 1 and any(len(p.group().lstrip("+")) < 2 for p in parts):
                    break  # "5 0912345678": a lone digit is a count, not part of the number
                digits = "".join(p.group().lstrip("+") for p in parts)
                if len(digits) > MAX_DIGITS:
                    break
                start, end = parts[0].start(), parts[-1].end()
                if start < searched_to:
                    continue
                kind = _classify(digits, text, start, end, [p.group().lstrip("+") for p in parts])
                if kind is not None:
                    searched_to = end
                    yield Finding(kind, start, end)
                    break


def _classify(digits: str, text: str, start: int, end: int, groups: list[str]) -> str | None:
    before = fold(text[max(0, start - _CONTEXT):start])
    international = digits.startswith("84") and len(digits) in (11, 12)
    national = "0" + digits[2:] if international else digits
    if _MOBILE.fullmatch(national) or _LANDLINE.fullmatch(national):
        return PHONE
    if (_PHONE_WORDS.search(before) and 9 <= len(digits) <= 12 and not digits.startswith(_HOTLINES)
            and not _looks_like_money(text, end, groups)):
        return PHONE
    if _ID_WORDS.search(before) and len(digits) in (9, 12):
        return ID_NUMBER
    if _looks_like_money(text, end, groups):
        return None
    cccd = _CCCD.fullmatch(digits)
    if cccd is not None and 1 <= int(cccd.group(1)) <= 96:
        return ID_NUMBER
    if _CMND.fullmatch(digits):
        return ID_NUMBER
    return None


def _looks_like_money(text: str, end: int, groups: list[str]) -> bool:
    """``250.000.000 đồng``, ``120.000.000``: an amount, not an ID."""
    if _MONEY_WORDS.match(fold(text[end:end + 8])):
        return True
    return groups[-1].endswith("000")
