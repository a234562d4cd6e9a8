"""Parse a free-text report line into per-service household counts.

Village team members type one short line, often without diacritics::

    vneid 5 cks 2            VNeID: 12; CKS: 4         15/11 thanh toán 3
    hom qua vneid 3, ssk 2   cks 2 vneid5              Thôn 5 vneid 4
    hôm qua hỗ trợ 7 hộ kích hoạt VNeID và 3 hộ cài chữ ký số

:func:`parse_report` is a pure function. All Vietnamese words live in
``content/parser.yaml`` (:class:`ParserLexicon`) and ``content/services.yaml``
(the :class:`~bot.content.Catalogue`); none are hard-coded here.

How a line is read
==================

1. **Clean-up.** :func:`bot.domain.textutil.clean` first (as the engine does for every message):
   invisible characters (zero-width, word joiner, soft hyphen, BOM, left-to-right bidi
   controls, variation selectors) are removed, so ``1<LRM>00`` is ``100`` and
   ``vne<WJ>id`` is ``vneid``; every Unicode decimal digit (``５``, ``٣``) and
   full-width letter becomes ASCII. A line holding right-to-left letters or controls
   (``<RLO>51`` shows as 15) and any digit gets the single issue ``reordered``: its
   numbers may show in another order than they are stored, so none is read. Only the
   first :data:`MAX_CHARS` characters are read. Line breaks become ``;``, Unicode dashes
   become ``-``, then :func:`bot.domain.textutil.fold` removes diacritics and case. Each word
   goes through ``variants`` (``ko``/``k``/``hok`` -> ``không``, ``kí`` -> ``ký``,
   ``kĩ`` -> ``kỹ``...), so aliases and lexicon phrases match however they are typed.

2. **Tokens.** Letters and digits are split apart (``vneid5`` = ``vneid 5``,
   ``5hộ`` = ``5 hộ``). Number shapes are recognised first, in this order: phone
   numbers written in groups (``0912 345 678``, ``0912.345.678``, ``+84 912 345 678``),
   dates ``dd/mm``, ``dd-mm``, ``dd.mm`` with an optional ``/yy`` or ``/yyyy``,
   thousands (``1.000``), times (``8h``, ``8h30``, ``8g30``, ``14:30``), percentages,
   negatives (``-3`` after a space, ``:`` or ``=``), decimals (``2,5``, ``2.5``) and
   plain integers. *Odd* shapes are one unit that is never a number: exponents
   (``1e9``, ``1.5e3``, ``1e+9``), hex (``0x10``) and any digits, letters, digits glued
   together (``5e2``, ``2x3``) unless the letters are a service or household word
   (``5cks2``); with a ``measure_words`` word in the middle (``1tr5``) it is money.
   ``,`` ``;`` ``|`` ``!`` ``?``, a line break, ``.`` followed by a space and the
   ``conjunctions`` words (``và``...) split the message into *parts*; ``:`` ``=``
   ``-`` ``+`` and other symbols are ignored.

3. **Phrases.** Runs of words are matched against every service alias (with the
   ``extra_aliases`` of the lexicon) and every lexicon phrase, longest first, whole
   words only (``qr`` never matches inside ``qrcode``). A service alias wins over a
   lexicon phrase of the same words.

4. **Numbers that are not counts** (they never pair and never cause an error):
   a number right after a ``unit_words`` word (``Thôn 5``, ``Ấp 3``, ``mức độ 2``,
   ``thôn số 5``) or after a ``day_words`` word (``ngày 15``: a day of the month);
   a number right before a ``measure_words`` word (``8 giờ``) or glued to letters
   that are neither a service nor a household word (``50k``, ``3tr``); digit runs of
   :data:`LONG_DIGITS` or more digits (phones, ID numbers) except where a count is
   expected; a lone 4-digit year 1900-2100; dates, times (``8h30p``), percentages,
   grouped phone numbers, money (``1tr5``); odd shapes except where a count is expected.
   *Where a count is expected* means right after a service (``vneid 2.5``, ``vneid:
   1e9``) or right before a household word (``2.5 hộ``): there an odd shape is
   ``not_a_number`` and a long digit run is ``too_large`` (shown cut to 4 digits, it may
   be a phone number). ``dd.mm`` is read as a decimal (``fraction`` error) only where a
   count is expected; otherwise it is a date when it is a plausible day and month.

5. **Pairing**, separately inside each part. Within a part, services (S), count
   numbers (N) and negations (X) form a sequence. Two readings are tried:

   * *forward* (service then number): each S takes the first N after it, before
     the next S or X;
   * *backward* (number then service): each S takes the last N before it, after
     the previous S or X.

   A service with no number but a negation right next to it is *explicitly none*
   (``cks không``): no item and no error. A service with no number that is paired
   elsewhere in the same part is a repeated mention (``VNeID (định danh điện tử) 5
   hộ``, ``CKS 3 hộ (VNPT SmartCA)``): no error. The reading chosen is the better one by,
   in order: more services resolved (paired or explicitly none); more services
   paired; more *attached* pairs (``vneid5``, ``vneid:5``, ``vneid=5``, ``5vneid``);
   fewer words between each service and its number (unknown words, unit and measure
   words and non-count numbers; filler and household words are free); more paired
   numbers followed by a household word (``5 hộ vneid 3`` gives vneid 5); and finally
   *forward*. So ``vneid 5 cks 2`` and ``5 vneid 2 cks`` both give vneid 5, cks 2;
   ``7 hộ kích hoạt VNeID`` pairs backward; ``đi 2 thôn vneid 5`` gives vneid 5
   (``thôn`` stands between 2 and the service, nothing between it and 5); the
   ambiguous ``3 vneid 5`` (and ``1) vneid 5``) gives vneid 5 (forward). Numbers left
   unpaired are ignored. A service named twice adds up. Items are listed in order of
   first appearance.

6. **Errors** (then ``items`` is empty, nothing is recorded): a paired number that is
   negative, zero, fractional, an odd shape (``not_a_number``) or above ``max_count`` (also a service's total when it is
   named more than once: the value is then the total); a service with no number that
   is not explicitly none (``missing_count``); the day named is impossible
   (``bad_date``), after today (``future_date``) or "tomorrow" (``tomorrow``). Date errors are reported even
   when the message names no service (a lone ``31/02``), so the same function can
   read a typed answer to "which day?".

7. **The day**, from the first of: a ``today``/``yesterday``/``day_before_yesterday``
   phrase; a date ``dd/mm[/yyyy]``; ``ngày N``. ``dd/mm`` without a year is in today's
   year, or in the previous year if that would be more than :data:`FUTURE_SLACK_DAYS`
   days after today (so ``28/12`` typed on 5 January means last December); a date
   after today is ``future_date``. Two-digit years are 20yy. ``ngày N`` is the N-th of
   this month, or of the previous month when N is after today's day. No day named:
   ``date`` is ``None``. A line may name several days: each applies to what follows it,
   and what comes before the first day takes the first day (``hôm qua vneid 3 hôm nay cks
   2``: vneid on yesterday, cks today); a line that opens with a service names its days
   after them (``vneid 3 hôm qua, cks 2 hôm nay``). A day named after a service begins a
   new part. Each item carries its day (``ParsedItem.date``); ``date`` is the first day
   named. The same service on the same day adds up.

7b. **Numbers in words** (``spoken_numbers`` in the lexicon: một…chín, mười/mươi, mốt, tư,
   lăm, linh/lẻ, trăm; up to 999) are counts only where a count is expected: right after a
   service or right before a household word (``ssk ba hộ``, ``hai mươi lăm hộ cài định
   danh``, ``vneid năm``). Elsewhere they stay words (``chị Ba``, ``năm nay``, ``sau đó``);
   a lone digit word before a ``not_after`` word or a 4-digit year is no number.

8. **Nothing to report** (``nothing=True``): no count and no service other than
   explicitly-none ones, at least one ``nothing_phrases`` phrase or lone ``0`` (or a
   negation next to a named service: ``vneid không``), and every other word is a
   filler, household, unit, number or date word: ``không có``, ``ko co ho nao``,
   ``0 hộ``, ``tuần này không có``. A bare negation (``không``, ``ko``, ``k``, ``chưa``)
   is not nothing: it answers some question, it is not a report. ``không có mạng``
   is not nothing (unknown word), ``không có vneid 3`` is a report of vneid 3,
   ``không có vneid`` is nothing.

Anything else without a service (greetings, emoji, HTML) gives an empty result with
no issues and ``nothing=False``: the caller shows a format example.

The matcher built from a (catalogue, lexicon) pair is cached (a few entries, by
identity); a typical line takes a few tens of microseconds.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from bot.domain.catalogue import Catalogue
from bot.domain.textutil import clean, fold, reorders

MAX_CHARS = 1000
"""Only this many characters of a message are read."""

FUTURE_SLACK_DAYS = 31
"""A ``dd/mm`` without a year up to this many days after today stays in this year (and is
then ``future_date``); further ahead it means the same day last year."""

ISSUE_CODES = ("negative", "zero", "fraction", "too_large", "not_a_number", "missing_count", "bad_date",
               "future_date", "tomorrow", "reordered")

LONG_DIGITS = 9
"""A digit run this long is a phone or ID number (ignored), or "too large" where a count stands."""

_WORD = re.compile(r"[^\W\d_]+")

# Words first (most tokens are words; no other shape starts with a letter), then number
# shapes, most specific first.
_TOKEN = re.compile(
    r"""
    (?P<word>[^\W\d_]+)
  | (?P<odd>(?<![0-9.,])(?:0x[0-9a-f]+|[0-9]+(?:[.,][0-9]+)?e[+-]?[0-9]+)(?![0-9]))
  | (?P<phone>(?<![0-9.,/])(?:
        (?:\+?84[ .-]?|0)[0-9]{2,3}[ .-][0-9]{3}[ .-][0-9]{3,4}
      | (?:\+?84[ .-]?|0)[0-9]{2,3}[ .-][0-9]{4}[ .-][0-9]{3}
      | (?:\+?84[ .-]?|0)[0-9]{3}[ .-][0-9]{2}[ .-][0-9]{2}[ .-][0-9]{2}
    )(?![0-9]))
  | (?P<date>(?<![0-9.,/])[0-9]{1,2}(?P<ds>[/.-])[0-9]{1,2}(?:(?P=ds)[0-9]{2,4})?(?![0-9/]))
  | (?P<thou>(?<![0-9.,])[0-9]{1,3}(?:\.[0-9]{3})+(?![0-9]|[.,][0-9]))
  | (?P<time>(?<![0-9.,/:])[0-9]{1,2}(?::[0-9]{2}|[hg](?:[0-9]{1,2}(?:ph|p)?)?)(?![^\W_]))
  | (?P<pct>[0-9]+(?:[.,][0-9]+)?\ ?%)
  | (?P<neg>(?:(?<=[\s:=(])|^)-[0-9]+(?:[.,][0-9]+)?)
  | (?P<dec>[0-9]+[.,][0-9]+)
  | (?P<int>[0-9]+)
  | (?P<sep>[,;|!?]|\.(?=\s|$))
    """,
    re.VERBOSE,
)

_PREPARE = str.maketrans(
    {
        "\n": " ; ",
        "\r": " ",
        "\u2212": "-",  # minus sign
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
    }
)


# --------------------------------------------------------------------------- public types


class SpokenNumbers(BaseModel):
    """Numbers written as words (``content/parser.yaml``, ``spoken_numbers``): "ba hộ",
    "hai mươi lăm hộ", "một trăm linh năm". Read as counts only where a count is expected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digits: dict[str, int] = {}  # một 1 … chín 9
    after_tens: dict[str, int] = {}  # the forms of 1, 4, 5 after a ten: hai mươi mốt, tư, lăm
    ten: tuple[str, ...] = ()  # mười (10) and mươi (tens: hai mươi)
    hundred: tuple[str, ...] = ()  # trăm
    zero_tens: tuple[str, ...] = ()  # linh, lẻ: một trăm linh năm
    not_after: tuple[str, ...] = ()  # "năm nay": a word after which a lone digit word is no number

    @field_validator("digits", "after_tens")
    @classmethod
    def _digit_values(cls, value: dict[str, int]) -> dict[str, int]:
        for word, number in value.items():
            if not 0 <= number <= 9 or len(_WORD.findall(fold(word))) != 1:
                raise ValueError(f"{word!r}: {number}: one word for one digit")
        return value


class ParserLexicon(BaseModel):
    """The words of ``content/parser.yaml`` (see the comments in that file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variants: dict[str, str] = {}
    extra_aliases: dict[str, tuple[str, ...]] = {}
    today: tuple[str, ...] = ()
    yesterday: tuple[str, ...] = ()
    day_before_yesterday: tuple[str, ...] = ()
    tomorrow: tuple[str, ...] = ()
    day_words: tuple[str, ...] = ()
    unit_words: tuple[str, ...] = ()
    number_words: tuple[str, ...] = ()
    measure_words: tuple[str, ...] = ()
    household_words: tuple[str, ...] = ()
    filler_words: tuple[str, ...] = ()
    conjunctions: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()
    nothing_phrases: tuple[str, ...] = ()
    spoken_numbers: SpokenNumbers = SpokenNumbers()

    @field_validator(
        "today",
        "yesterday",
        "day_before_yesterday",
        "tomorrow",
        "day_words",
        "unit_words",
        "number_words",
        "measure_words",
        "household_words",
        "filler_words",
        "conjunctions",
        "negations",
        "nothing_phrases",
    )
    @classmethod
    def _phrases_have_words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for phrase in value:
            if not _WORD.search(fold(phrase)):
                raise ValueError(f"{phrase!r} has no word")
        return value

    @field_validator("variants")
    @classmethod
    def _single_words(cls, value: dict[str, str]) -> dict[str, str]:
        for key, target in value.items():
            for word in (key, target):
                if len(_WORD.findall(fold(word))) != 1:
                    raise ValueError(f"variant {key!r}: {target!r}: each side must be one word")
        return value

    @field_validator("extra_aliases")
    @classmethod
    def _aliases_have_words(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for code, aliases in value.items():
            for alias in aliases:
                if not _WORD.search(fold(alias)):
                    raise ValueError(f"{code}: alias {alias!r} has no word")
        return value


@dataclass(frozen=True)
class ParsedItem:
    service: str
    count: int
    date: datetime.date | None = None  # the day named before it (or the line's first day); None: not named


@dataclass(frozen=True)
class ParseIssue:
    """An error as a code plus parameters; the text shown to the user is rendered elsewhere."""

    code: str  # one of ISSUE_CODES
    service: str | None = None
    value: str | None = None  # the offending token as typed (without diacritics): "-3", "2,5", "31/02"


@dataclass(frozen=True)
class ParseResult:
    items: tuple[ParsedItem, ...]
    date: datetime.date | None
    issues: tuple[ParseIssue, ...]
    nothing: bool = False

    @property
    def is_report(self) -> bool:
        return bool(self.items) and not self.issues


# --------------------------------------------------------------------------- compiled lexicon

# Phrase kinds, lowest priority first: a later kind overrides an earlier one for the
# same words; service aliases override everything.
_KIND_FIELDS = (
    ("fill", "filler_words"),
    ("conj", "conjunctions"),
    ("meas", "measure_words"),
    ("numw", "number_words"),
    ("unit", "unit_words"),
    ("day", "day_words"),
    ("hh", "household_words"),
    ("neg", "negations"),
    ("neg", "nothing_phrases"),
)
_REL_FIELDS = (("today", 0), ("yesterday", 1), ("day_before_yesterday", 2), ("tomorrow", -1))

# Gap weight of a unit lying between a service and its number.
_WEIGHT = {"word": 1, "unit": 1, "meas": 1}
# Units allowed around a "nothing" marker.
_NOTHING_OK = frozenset({"fill", "hh", "unit", "numw", "day", "rel", "neg", "sep", "conj"})
_COUNT_KINDS = frozenset({"int", "neg", "dec", "thou"})


class _Compiled:
    __slots__ = ("after_tens", "digits", "hundred", "not_after", "number_vocab", "phrases", "quick", "starts",
                 "ten", "variants", "zero_tens")

    def __init__(self, catalogue: Catalogue, lexicon: ParserLexicon) -> None:
        self.variants = {fold(k): fold(v) for k, v in lexicon.variants.items()}
        spoken = lexicon.spoken_numbers
        self.digits = {fold(k): v for k, v in spoken.digits.items()}
        self.after_tens = {**self.digits, **{fold(k): v for k, v in spoken.after_tens.items()}}
        self.ten = frozenset(fold(w) for w in spoken.ten)
        self.hundred = frozenset(fold(w) for w in spoken.hundred)
        self.zero_tens = frozenset(fold(w) for w in spoken.zero_tens)
        self.not_after = frozenset(fold(w) for w in spoken.not_after)
        self.number_vocab = frozenset(self.after_tens) | self.ten | self.hundred | self.zero_tens
        self.phrases: dict[tuple[str, ...], tuple[str, Any]] = {}
        for kind, field in _KIND_FIELDS:
            marker = "nothing" if field == "nothing_phrases" else None  # a plain negation is not "nothing"
            for phrase in getattr(lexicon, field):
                self._add(phrase, (kind, marker))
        for field, days in _REL_FIELDS:
            for phrase in getattr(lexicon, field):
                self._add(phrase, ("rel", days))
        codes = set(catalogue.codes)
        for code, aliases in lexicon.extra_aliases.items():
            if code in codes:  # aliases of unknown codes are ignored
                for alias in aliases:
                    self._add(alias, ("svc", code))
        for service in catalogue.services:  # the catalogue wins
            for alias in (*service.aliases, service.code):
                self._add(alias, ("svc", service.code))
        self.starts: dict[str, int] = {}
        for words in self.phrases:
            self.starts[words[0]] = max(self.starts.get(words[0], 0), len(words))
        # One-word service aliases, what _quick reads (a longer phrase never begins there: a
        # number follows, and phrases are words).
        self.quick = {words[0]: value[1] for words, value in self.phrases.items()
                      if len(words) == 1 and value[0] == "svc"}

    def words(self, text: str) -> tuple[str, ...]:
        return tuple(self.variants.get(w, w) for w in _WORD.findall(fold(text)))

    def _add(self, phrase: str, value: tuple[str, Any]) -> None:
        words = self.words(phrase)
        if words:
            self.phrases[words] = value


# Matchers built so far, by identity of (catalogue, lexicon); both are kept referenced so
# their ids stay valid. Small: a process normally has one pair (tests may build a few).
_CACHE: dict[tuple[int, int], tuple[Catalogue, ParserLexicon, _Compiled]] = {}
_CACHE_SIZE = 8


def _compile(catalogue: Catalogue, lexicon: ParserLexicon) -> _Compiled:
    key = (id(catalogue), id(lexicon))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is catalogue and hit[1] is lexicon:
        return hit[2]
    compiled = _Compiled(catalogue, lexicon)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[key] = (catalogue, lexicon, compiled)
    return compiled


# --------------------------------------------------------------------------- scanning


class _U:
    """One unit of the message: a phrase, a number or a separator."""

    __slots__ = ("end", "kind", "raw", "role", "start", "val")

    def __init__(self, kind: str, val: Any, raw: str, start: int, end: int) -> None:
        self.kind = kind  # svc hh unit numw day rel neg conj fill meas word num sep
        self.val = val  # service code, days ago, or the number shape
        self.raw = raw
        self.start = start
        self.end = end
        self.role = ""  # numbers: "count", "date", "day", "name" (after a unit word) or "" (ignored)


def _scan(text: str, comp: _Compiled) -> list[_U]:
    toks: list[tuple[str, str, int, int]] = []
    variants = comp.variants
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or ""
        raw = m.group()
        if kind == "word":
            raw = variants.get(raw, raw)
        toks.append((kind, raw, m.start(), m.end()))

    units: list[_U] = []
    phrases, starts = comp.phrases, comp.starts
    i, n = 0, len(toks)
    while i < n:
        kind, raw, start, end = toks[i]
        last = units[-1] if units else None
        # "0x1f", "1e9e9", "1tr5k": still one shape; a known word glued after it is read as usual
        glued_to_odd = last is not None and last.val in ("odd", "money") and last.end == start
        if glued_to_odd and kind != "sep" and (kind != "word" or raw not in starts):
            last.raw, last.end = text[last.start : end], end
            i += 1
            continue
        if kind != "word":
            units.append(_U("sep" if kind == "sep" else "num", kind, raw, start, end))
            i += 1
            continue
        glued = i > 0 and toks[i - 1][3] == start and toks[i - 1][0] not in ("word", "sep")
        longest = starts.get(raw, 0)
        hit = None
        if longest:
            j = i
            words: list[str] = []
            while j < n and j - i < longest and toks[j][0] == "word":
                words.append(toks[j][1])
                j += 1
            for size in range(len(words), 0, -1):
                hit = phrases.get(tuple(words[:size]))
                if hit is not None and glued and hit[0] not in ("svc", "hh"):
                    hit = None  # "50k", "3tr": letters glued to a number are a measure
                if hit is not None:
                    last = toks[i + size - 1]
                    units.append(_U(hit[0], hit[1], " ".join(words[:size]), start, last[3]))
                    i += size
                    break
        if hit is None:
            nxt = toks[i + 1] if i + 1 < n else None
            if glued and last is not None and nxt is not None and nxt[2] == end and nxt[0] not in ("word", "sep"):
                # digits, letters, digits glued: "1e9", "5e2", "2x3" are not counts; "1tr5" is money
                shape = "money" if phrases.get((raw,), ("",))[0] == "meas" else "odd"
                last.kind, last.val, last.raw, last.end = "num", shape, text[last.start : nxt[3]], nxt[3]
                i += 2
                continue
            units.append(_U("meas" if glued else "word", None, raw, start, end))
            i += 1
    return units


def _spoken_tens(words: list[str], comp: _Compiled) -> int | None:
    """1-99 in words: "ba", "mười", "mười lăm", "hai mươi", "hai mươi mốt"."""
    digits, ten = comp.digits, comp.ten
    if len(words) == 1:
        return digits.get(words[0]) or (10 if words[0] in ten else None)
    if len(words) == 2 and words[0] in ten:
        return 10 + comp.after_tens[words[1]] if comp.after_tens.get(words[1]) else None
    if len(words) in (2, 3) and digits.get(words[0], 0) >= 2 and words[1] in ten:
        if len(words) == 2:
            return digits[words[0]] * 10
        return digits[words[0]] * 10 + comp.after_tens[words[2]] if comp.after_tens.get(words[2]) else None
    return None


def _spoken_value(words: list[str], comp: _Compiled) -> int | None:
    """A whole number in words, up to 999 ("một trăm linh năm"), or None."""
    if len(words) >= 2 and comp.digits.get(words[0]) and words[1] in comp.hundred:
        hundreds, rest = comp.digits[words[0]] * 100, words[2:]
        if not rest:
            return hundreds
        if rest[0] in comp.zero_tens:
            return hundreds + comp.digits[rest[1]] if len(rest) == 2 and comp.digits.get(rest[1]) else None
        tens = _spoken_tens(rest, comp)
        return hundreds + tens if tens is not None else None
    return _spoken_tens(words, comp)


def _read_spoken_numbers(units: list[_U], text: str, comp: _Compiled) -> list[_U]:
    """Numbers typed (or voice-typed) as words become counts where a count is expected: right
    after a service or right before a household word ("ssk ba hộ", "hai mươi lăm hộ cài định
    danh", "vneid năm"). Elsewhere the words stay words ("năm nay", "chị Ba", "sau đó")."""
    vocab = comp.number_vocab
    if not vocab or not any(u.raw in vocab for u in units):
        return units
    out: list[_U] = []
    i, n = 0, len(units)
    while i < n:
        u = units[i]
        if u.raw not in vocab or u.kind in ("svc", "hh", "rel", "sep"):
            out.append(u)
            i += 1
            continue
        j = i + 1  # the run of number words, written apart by spaces only
        while (j < n and j - i < 7 and units[j].raw in vocab and units[j].kind not in ("svc", "hh", "rel", "sep")
               and not text[units[j - 1].end : units[j].start].strip()):
            j += 1
        words = [units[k].raw for k in range(i, j)]
        size, value = len(words), None
        while size and value is None:
            value = _spoken_value(words[:size], comp)
            size -= value is None
        if value is not None:
            prev = out[-1] if out else None
            nxt = units[i + size] if i + size < n else None
            in_slot = (prev is not None and prev.kind == "svc") or (nxt is not None and nxt.kind == "hh")
            a_year = size == 1 and nxt is not None and (
                nxt.raw in comp.not_after or (nxt.kind == "num" and nxt.val == "int" and len(nxt.raw) == 4))
            if in_slot and not a_year:
                out.append(_U("num", "int", str(value), u.start, units[i + size - 1].end))
                i += size
                continue
        out.append(u)
        i += 1
    return out


def _classify_numbers(units: list[_U]) -> None:
    """Give every number its role: a count candidate, a date, a day of month, or nothing."""
    n = len(units)
    for i, u in enumerate(units):
        if u.kind != "num" or u.role:
            continue
        shape = u.val
        nxt = units[i + 1] if i + 1 < n else None
        prev = units[i - 1] if i > 0 else None
        # Where a count is expected: right after a service or right before a household word.
        in_slot = (prev is not None and prev.kind == "svc") or (nxt is not None and nxt.kind == "hh")
        if shape == "odd":  # "1e9", "0x10": refused where a count stands, ignored elsewhere ("1tr5")
            u.role = "count" if in_slot else ""
            continue
        if shape == "date":
            if u.raw.count(".") == 1:  # dd.mm: a date, or a decimal where a count is expected
                day, month = (int(p) for p in u.raw.split("."))
                if in_slot or not (1 <= day <= 31 and 1 <= month <= 12):
                    u.val = "dec"
                    shape = "dec"
            if shape == "date":
                u.role = "date"
                continue
        if shape not in _COUNT_KINDS:
            continue
        if shape == "int" and len(u.raw) >= LONG_DIGITS and not in_slot:
            continue  # phone or ID number; where a count stands it is "too large"
        if shape == "int" and len(u.raw) == 4 and 1900 <= int(u.raw) <= 2100:
            continue  # year
        if nxt is not None and nxt.kind == "meas":
            continue  # "8 giờ", "50k"
        u.role = "count"
    for i, u in enumerate(units):
        if u.kind not in ("unit", "day"):
            continue
        j = i + 1
        while j < n and units[j].kind == "numw":
            j += 1
        if j < n and units[j].kind == "num" and units[j].role == "count":
            target = units[j]
            is_day = u.kind == "day" and target.val == "int" and 1 <= int(target.raw) <= 31
            target.role = "day" if is_day else "name"


# --------------------------------------------------------------------------- dates


def _resolve_date(u: _U, today: datetime.date) -> tuple[datetime.date | None, ParseIssue | None]:
    if u.kind == "rel":
        if u.val < 0:  # "ngày mai": work not done yet is not reported
            return None, ParseIssue("tomorrow")
        return today - datetime.timedelta(days=u.val), None
    bad = (None, ParseIssue("bad_date", value=u.raw))
    if u.role == "day":
        day = int(u.raw)
        year, month = today.year, today.month
        if day > today.day:
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        try:
            return datetime.date(year, month, day), None
        except ValueError:
            return bad
    parts = re.split(r"[/.-]", u.raw)
    day, month = int(parts[0]), int(parts[1])
    if len(parts) == 3:
        if len(parts[2]) == 2:
            year = 2000 + int(parts[2])
        elif len(parts[2]) == 4:
            year = int(parts[2])
        else:
            return bad
    else:
        year = today.year
        try:
            if datetime.date(year, month, day) - today > datetime.timedelta(days=FUTURE_SLACK_DAYS):
                year -= 1
        except ValueError:
            return bad
    try:
        when = datetime.date(year, month, day)
    except ValueError:
        return bad
    if when > today:
        return None, ParseIssue("future_date", value=u.raw)
    return when, None


# --------------------------------------------------------------------------- pairing


class _Reading:
    __slots__ = ("attached", "gap", "hh", "none", "pairs")

    def __init__(self) -> None:
        self.pairs: dict[int, int] = {}  # element index of service -> element index of number
        self.none: set[int] = set()
        self.attached = self.gap = self.hh = 0


def _read(
    elems: list[tuple[str, int]],
    units: list[_U],
    weights: list[int],
    text: str,
    forward: bool,
) -> _Reading:
    reading = _Reading()
    m = len(elems)
    for e, (typ, ui) in enumerate(elems):
        if typ != "S":
            continue
        rng = range(e + 1, m) if forward else range(e - 1, -1, -1)
        for f in rng:
            other, uj = elems[f]
            if other != "N":
                break
            reading.pairs[e] = f
            lo, hi = (ui, uj) if forward else (uj, ui)
            between = text[units[lo].end : units[hi].start]
            if between == "" or (forward and between.replace(" ", "") in (":", "=")):
                reading.attached += 1
            reading.gap += weights[hi] - weights[lo + 1]
            if uj + 1 < len(units) and units[uj + 1].kind == "hh":
                reading.hh += 1
            break
        if e in reading.pairs:
            continue
        if (e + 1 < m and elems[e + 1][0] == "X") or (e > 0 and elems[e - 1][0] == "X"):
            reading.none.add(e)
    return reading


def _key(reading: _Reading, forward: bool) -> tuple[int, ...]:
    paired = len(reading.pairs)
    return (paired + len(reading.none), paired, reading.attached, -reading.gap, reading.hh, forward)


def _count_issue(u: _U, code: str, max_count: int) -> tuple[int, ParseIssue | None]:
    shape = u.val
    if shape == "odd":
        return 0, ParseIssue("not_a_number", code, u.raw)
    if shape == "neg":
        return 0, ParseIssue("negative", code, u.raw)
    if shape == "dec":
        return 0, ParseIssue("fraction", code, u.raw)
    digits = u.raw.replace(".", "").lstrip("0") or "0"
    if len(digits) >= LONG_DIGITS or int(digits) > max_count:
        # a long digit run may be a phone or ID number: shown cut short, never in full
        shown = u.raw if len(digits) < LONG_DIGITS else u.raw[:4] + "…"
        return 0, ParseIssue("too_large", code, shown)
    value = int(digits)
    if value == 0:
        return 0, ParseIssue("zero", code, u.raw)
    return value, None


# --------------------------------------------------------------------------- entry point


def _weight(u: _U) -> int:
    if u.kind == "num":
        return 0 if u.role in ("count", "name", "day") else 1
    return _WEIGHT.get(u.kind, 0)


def _pair_part(
    elems: list[tuple[str, int]],
    units: list[_U],
    weights: list[int],
    text: str,
    max_count: int,
    totals: dict[tuple[str, int], int],
    issues: list[ParseIssue],
    dates_before: dict[int, int],
) -> None:
    """Pair the services and numbers of one part of the message into ``totals`` (by service and
    the number of days named before it) or ``issues``."""
    fwd = _read(elems, units, weights, text, True)
    bwd = _read(elems, units, weights, text, False)
    best = fwd if _key(fwd, True) >= _key(bwd, False) else bwd
    paired_codes = {units[elems[e][1]].val for e in best.pairs}
    for e, (typ, ui) in enumerate(elems):
        if typ != "S":
            continue
        code = units[ui].val
        key = (code, dates_before[ui])
        totals.setdefault(key, 0)
        if e in best.pairs:
            value, issue = _count_issue(units[elems[best.pairs[e]][1]], code, max_count)
            if issue is None:
                totals[key] += value
            else:
                issues.append(issue)
        elif e not in best.none and code not in paired_codes:  # not a repeated mention
            issues.append(ParseIssue("missing_count", code))


def _quick(prepared: str, comp: _Compiled, max_count: int) -> ParseResult | None:
    """The commonest line, read without the general machinery: ``service count`` pairs only
    (``vneid 5 cks 12``), each service a one-word alias, each count 1-999 in plain digits, words
    and numbers apart by single spaces (``prepared`` is folded), within ``max_count``. For
    these the rules above read each count as its service's and add up a service named twice;
    anything else (None) goes the general way, which also gives every error. About a fifth of
    the time the general way takes; tests/unit/test_report_parser.py checks both agree."""
    words = prepared.split(" ")
    if len(words) % 2:
        return None
    variants, quick = comp.variants, comp.quick
    totals: dict[str, int] = {}
    for k in range(0, len(words), 2):
        word, number = words[k], words[k + 1]
        code = quick.get(variants.get(word, word))
        if code is None or not (number.isdigit() and number.isascii() and len(number) <= 3 and number[0] != "0"):
            return None
        totals[code] = totals.get(code, 0) + int(number)
    if any(total > max_count for total in totals.values()):
        return None
    return ParseResult(tuple(ParsedItem(code, total) for code, total in totals.items()), None, (), False)


def parse_report(
    text: str,
    *,
    today: datetime.date,
    catalogue: Catalogue,
    lexicon: ParserLexicon,
    max_count: int,
    quick: bool = True,
) -> ParseResult:
    """Read one free-text report line; see the module docstring for the rules. ``quick=False``:
    the commonest lines too go the general way (:func:`_quick`; for tests)."""
    comp = _compile(catalogue, lexicon)
    cleaned = clean(text[: 10 * MAX_CHARS])[:MAX_CHARS]
    prepared = fold(cleaned.translate(_PREPARE))
    if cleaned.isascii() and quick:  # ASCII: nothing to reorder (right-to-left letters or controls)
        result = _quick(prepared, comp, max_count)
        if result is not None:
            return result
    units = _scan(prepared, comp)
    if reorders(cleaned) and any(u.kind == "num" for u in units):
        return ParseResult((), None, (ParseIssue("reordered"),), False)
    units = _read_spoken_numbers(units, prepared, comp)
    _classify_numbers(units)

    weights = [0]  # prefix sums: weights[k] is the gap weight of units[:k]
    for u in units:
        weights.append(weights[-1] + _weight(u))

    totals: dict[tuple[str, int], int] = {}  # (service, days named before it) -> count, in order of appearance
    issues: list[ParseIssue] = []
    has_marker = has_negation = named = blocked = False
    date_units: list[_U] = []  # every day named, in order
    first_service = -1  # how many days were named before the first service
    dates_before: dict[int, int] = {}  # unit index of a service -> how many days were named before it
    elems: list[tuple[str, int]] = []  # the current part: ("S" | "N" | "X", unit index)
    has_s = False
    for idx, u in enumerate(units):
        kind = u.kind
        if kind == "svc":
            elems.append(("S", idx))
            dates_before[idx] = len(date_units)
            if first_service < 0:
                first_service = len(date_units)
            has_s = named = True
        elif kind == "num":
            if u.role == "count":
                elems.append(("N", idx))
                if u.val == "int" and not u.raw.strip("0"):
                    has_marker = True
                else:
                    blocked = True
            elif u.role in ("date", "day"):
                date_units.append(u)
                if has_s:  # a day named after a service begins a new part: "hôm qua vneid 3 hôm nay ba hộ cks"
                    _pair_part(elems, units, weights, prepared, max_count, totals, issues, dates_before)
                    elems, has_s = [], False
        elif kind == "neg":
            elems.append(("X", idx))
            if u.val == "nothing":
                has_marker = True
            else:
                has_negation = True
        elif kind == "rel":
            date_units.append(u)
            if has_s:
                _pair_part(elems, units, weights, prepared, max_count, totals, issues, dates_before)
                elems, has_s = [], False
        elif kind in ("sep", "conj"):
            if has_s:
                _pair_part(elems, units, weights, prepared, max_count, totals, issues, dates_before)
            elems, has_s = [], False
        elif kind not in _NOTHING_OK:
            blocked = True  # an unknown word or a measure: not a plain "nothing"
    if has_s:
        _pair_part(elems, units, weights, prepared, max_count, totals, issues, dates_before)

    days: list[datetime.date | None] = []
    date_issues = []
    for date_unit in date_units:
        when, date_issue = _resolve_date(date_unit, today)
        days.append(when)
        if date_issue is not None:
            date_issues.append(date_issue)
    issues[:0] = date_issues
    day = days[0] if days else None

    # Each service's day. "hôm qua vneid 3 hôm nay cks 2": a day applies to what follows it
    # (and what comes before the first day takes the first day). A line that opens with a
    # service names its days after them ("vneid 3 hôm qua, cks 2 hôm nay"): a day then applies
    # to what comes before it, since the previous day.
    trailing = first_service == 0 and bool(date_units)

    def day_of(before: int) -> datetime.date | None:
        if not days:
            return None
        return days[min(before, len(days) - 1)] if trailing else days[max(before - 1, 0)]

    by_day: dict[tuple[str, datetime.date | None], int] = {}
    for (code, before), count in totals.items():
        key = (code, day_of(before))
        by_day[key] = by_day.get(key, 0) + count
    for (code, _), total in by_day.items():
        if total > max_count:  # each number is within the limit but their sum is not
            issues.append(ParseIssue("too_large", code, str(total)))
    if issues:
        return ParseResult((), day, tuple(dict.fromkeys(issues)), False)
    items = tuple(ParsedItem(code, count, when) for (code, when), count in by_day.items() if count > 0)
    # A bare negation ("không", "ko", "k") answers a question; it is "nothing" only next to a service.
    nothing = not items and not blocked and (has_marker or (has_negation and named))
    return ParseResult(items, day, (), nothing)
